//! The handshake: `initialize` and `logging/setLevel` (`ping` and `server/discover` are answered
//! from what is already serialised).

use crate::protocol::jsonrpc::{encode_error, encode_result};
use crate::protocol::params::{FromParams, InitializeParams, SetLevelParams};
use crate::protocol::{ErrorObject, ProtocolVersion, RequestId};
use crate::server::connection::{Connection, Session};
use serde_json::Value;
use std::sync::Arc;

impl Connection {
    pub(crate) fn initialize(&self, id: &RequestId, params: Option<Value>) -> Vec<u8> {
        let params = match InitializeParams::from_params(params) {
            Ok(p) => p,
            Err(e) => return encode_error(Some(id), &e),
        };
        // Echo a handshake version we speak; otherwise offer our newest one (a result, not an error).
        let version = ProtocolVersion::parse(&params.protocol_version)
            .filter(|v| !v.is_stateless())
            .unwrap_or(ProtocolVersion::LATEST_HANDSHAKE);
        let session = Session {
            version,
            capabilities: Arc::new(params.capabilities),
            client_info: params.client_info.map(Arc::new),
        };
        if self.session.set(session).is_err() {
            return encode_error(
                Some(id),
                &ErrorObject::invalid_request("Invalid Request: the connection is already initialized"),
            );
        }
        // All but the version is serialised once per server.
        let rest = &self.core.initialize_rest;
        let mut result = Vec::with_capacity(40 + rest.len());
        result.extend_from_slice(br#"{"protocolVersion":"#);
        serde_json::to_writer(&mut result, &version).expect("a version serialises");
        result.push(b',');
        result.extend_from_slice(rest);
        encode_result(id, &result)
    }

    pub(crate) fn set_level(&self, id: &RequestId, params: SetLevelParams) -> Vec<u8> {
        self.link.set_log_level(params.level as usize);
        encode_result(id, b"{}")
    }
}
