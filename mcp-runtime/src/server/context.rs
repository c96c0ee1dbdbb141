//! What a handler can know about the request it serves, and reach through it.

use super::extract::StateMap;
use crate::protocol::{ClientCapabilities, Implementation, ProtocolVersion, RequestId};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;

/// The parts of one request that handlers and extractors read.
#[derive(Debug)]
pub struct RequestParts {
    pub(crate) request_id: RequestId,
    pub(crate) version: ProtocolVersion,
    pub(crate) client_capabilities: Arc<ClientCapabilities>,
    pub(crate) client_info: Option<Arc<Implementation>>,
    pub(crate) meta: Option<Map<String, Value>>,
    pub(crate) state: Arc<StateMap>,
}

/// The request's context, injected into any handler that takes it (under any name, by value or
/// by reference): who is asking, in which protocol era, and the server's shared state.
///
/// Cloning is cheap (one reference count).
#[derive(Clone)]
pub struct Context {
    parts: Arc<RequestParts>,
}

impl Context {
    pub(crate) fn new(parts: Arc<RequestParts>) -> Self {
        Self { parts }
    }

    /// The id of the request being served.
    pub fn request_id(&self) -> &RequestId {
        &self.parts.request_id
    }

    /// The protocol revision of this request: negotiated by `initialize` in the handshake era,
    /// carried by the request itself in the stateless era.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.parts.version
    }

    /// Whether the request is served statelessly (2026-07-28 and later).
    pub fn is_stateless(&self) -> bool {
        self.parts.version.is_stateless()
    }

    /// The capabilities the client declared.
    pub fn client_capabilities(&self) -> &ClientCapabilities {
        &self.parts.client_capabilities
    }

    /// The client's self-reported name and version, when it sent them. Never use it for
    /// security decisions.
    pub fn client_info(&self) -> Option<&Implementation> {
        self.parts.client_info.as_deref()
    }

    /// The request's `params._meta`, if any.
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        self.parts.meta.as_ref()
    }

    /// Shared state of type `T`, if the server holds one.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.parts.state.get::<T>()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.parts.request_id)
            .field("version", &self.parts.version)
            .finish_non_exhaustive()
    }
}
