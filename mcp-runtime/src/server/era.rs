//! The era seam: everything that differs between the handshake era (2024-11-05 … 2025-11-25)
//! and the stateless era (2026-07-28) outside the call engine, in one place.
//!
//! - **Who is asking**: a request whose `params._meta` names a protocol version is stateless,
//!   and its `_meta` says who the client is ([`Requester::from_meta`]); otherwise the
//!   connection's `initialize` said it.
//! - **Which methods exist**: [`gate`] decides, from the typed [`Method`]'s eras and gating
//!   capability, and [`before_initialize`] answers what comes before the handshake.
//! - **How results are framed**: stateless results close with `resultType` and the server's
//!   info, cacheable ones with `ttlMs`/`cacheScope` too ([`Framing`]); list pages are kept
//!   serialised per era ([`Pages`]); a missing resource has a different code per era.
//!
//! A third era, or an extension such as tasks, changes this module.

use crate::protocol::StatelessMeta;
use crate::protocol::era_meta::string_of;
use crate::protocol::jsonrpc::{
    encode_error, encode_result, encode_result_closed, encode_result_value, encode_result_with,
};
use crate::protocol::method::{Capability, Kind, WireMethod, wire_name};
use crate::protocol::params::ListParams;
use crate::protocol::types::meta_keys;
use crate::protocol::{
    CallToolResult, ClientCapabilities, ErrorCode, ErrorObject, Implementation, LogLevel, Method, ProtocolVersion,
    RequestId,
};
use crate::server::engine::seal::Sealed;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Who is asking, as the request's era tells it.
#[derive(Clone)]
pub(crate) struct Requester {
    pub(crate) version: ProtocolVersion,
    pub(crate) capabilities: Arc<ClientCapabilities>,
    pub(crate) client_info: Option<Arc<Implementation>>,
    /// Stateless era: the log level this request asked for, as an index into the levels.
    pub(crate) log_level: Option<usize>,
}

/// The client a stateless request last described in its `_meta`, as read: a client sends the
/// same capabilities and `clientInfo` with every request, and the next request that sends the
/// same text reuses what was read (a comparison of bytes) instead of reading it again.
#[derive(Default)]
pub(crate) struct ClientCache {
    last: std::sync::Mutex<Option<CachedClient>>,
}

struct CachedClient {
    capabilities_text: Box<str>,
    client_info_text: Option<Box<str>>,
    capabilities: Arc<ClientCapabilities>,
    client_info: Option<Arc<Implementation>>,
}

impl ClientCache {
    /// The capabilities (an object's JSON text) and client info `_meta` gives, read once per
    /// distinct client.
    fn read(&self, capabilities: &RawValue, client_info: Option<&RawValue>) -> Option<Client> {
        let info_text = client_info.map(RawValue::get);
        {
            let last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(c) = &*last
                && *c.capabilities_text == *capabilities.get()
                && c.client_info_text.as_deref() == info_text
            {
                return Some((Arc::clone(&c.capabilities), c.client_info.clone()));
            }
        }
        let map: Map<String, Value> = serde_json::from_str(capabilities.get()).ok()?;
        let read_capabilities = Arc::new(ClientCapabilities::from(map));
        let read_info = info_text
            .and_then(|text| serde_json::from_str::<Implementation>(text).ok())
            .map(Arc::new);
        *self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(CachedClient {
            capabilities_text: capabilities.get().into(),
            client_info_text: info_text.map(Into::into),
            capabilities: Arc::clone(&read_capabilities),
            client_info: read_info.clone(),
        });
        Some((read_capabilities, read_info))
    }
}

/// A client's capabilities and info, as read.
type Client = (Arc<ClientCapabilities>, Option<Arc<Implementation>>);

impl Requester {
    /// Reads and checks the stateless-era keys of a request's `_meta`.
    pub(crate) fn from_meta(meta: &StatelessMeta, cache: &ClientCache) -> Result<Self, ErrorObject> {
        let Some(requested) = meta.protocol_version() else {
            return Err(ErrorObject::invalid_params(format!(
                "`_meta.{}` must be a string",
                meta_keys::PROTOCOL_VERSION
            )));
        };
        let capabilities_required = || {
            ErrorObject::invalid_params(format!(
                "`_meta.{}` is required (an object; `{{}}` declares no optional capability)",
                meta_keys::CLIENT_CAPABILITIES
            ))
        };
        let Some(capabilities) = meta.client_capabilities.as_deref().filter(|c| c.get().starts_with('{')) else {
            return Err(capabilities_required());
        };
        let Some(version) = ProtocolVersion::parse(&requested).filter(|v| v.is_stateless()) else {
            let supported: Vec<&str> = ProtocolVersion::STATELESS.iter().map(|v| v.as_str()).collect();
            return Err(ErrorObject::new(
                ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
                format!("Unsupported protocol version: {requested}"),
            )
            .with_data(json!({ "supported": supported, "requested": requested })));
        };
        let log_level = match meta.log_level.as_deref() {
            None => None,
            Some(level) => match string_of(Some(level)).as_deref().and_then(LogLevel::parse) {
                Some(l) => Some(l as usize),
                None => {
                    return Err(ErrorObject::invalid_params(format!(
                        "`_meta.{}` must be {}",
                        meta_keys::LOG_LEVEL,
                        LogLevel::expected()
                    )));
                }
            },
        };
        let (capabilities, client_info) = cache
            .read(capabilities, meta.client_info.as_deref())
            .ok_or_else(capabilities_required)?;
        Ok(Self {
            version,
            capabilities,
            client_info,
            log_level,
        })
    }
}

/// Decides whether the server serves `method` to a client of `version`, given what it offers
/// now; the error says why not.
pub(crate) fn gate(
    method: &WireMethod,
    version: ProtocolVersion,
    offers: impl Fn(Capability) -> bool,
) -> Result<Method, ErrorObject> {
    let stateless = version.is_stateless();
    let not_found = || ErrorObject::method_not_found(wire_name(method));
    let Ok(m) = *method else {
        return Err(not_found());
    };
    if stateless && !m.in_era(true) && m.in_era(false) {
        return Err(ErrorObject::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("Method not found: `{m}` is not part of protocol version {version}"),
        ));
    }
    if m.kind() != Kind::ServerRequest || !m.in_era(stateless) || m.capability().is_some_and(|c| !offers(c)) {
        return Err(not_found());
    }
    Ok(m)
}

/// The error for a request on a handshake-era connection that has not initialized (other than
/// `initialize` and `ping`, which the caller serves): methods the server serves get a hint.
pub(crate) fn before_initialize(method: &WireMethod) -> ErrorObject {
    match method {
        Ok(m) if m.kind() == Kind::ServerRequest => missing_meta(m.as_str()),
        _ => ErrorObject::method_not_found(wire_name(method)),
    }
}

/// The error for a request that is neither stateless nor part of an initialized connection.
pub(crate) fn missing_meta(method: &str) -> ErrorObject {
    ErrorObject::invalid_params(format!(
        "`{method}` needs `_meta.{}` and `_meta.{}` (protocol 2026-07-28), or an `initialize` handshake first (protocol 2025-11-25 and earlier)",
        meta_keys::PROTOCOL_VERSION,
        meta_keys::CLIENT_CAPABILITIES
    ))
}

/// The error for a URI that names no resource, in the request's era.
pub(crate) fn not_found(version: ProtocolVersion, uri: &str) -> ErrorObject {
    let code = if version.is_stateless() {
        ErrorCode::INVALID_PARAMS
    } else {
        ErrorCode::RESOURCE_NOT_FOUND_LEGACY
    };
    ErrorObject::new(code, format!("Resource not found: {uri}")).with_data(json!({ "uri": uri }))
}

/// How long clients may cache list results, and for whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheScope {
    /// Any cache may serve the result to any user.
    Public,
    /// Only the requesting user's cache may keep it.
    Private,
}

impl CacheScope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
        }
    }
}

/// How a stateless-era result closes, serialised once per server.
pub(crate) struct Framing {
    /// `"resultType":"complete","_meta":{serverInfo}}`: closes a modern result object.
    modern_suffix: Vec<u8>,
    /// `"ttlMs":…,"cacheScope":…,` then the modern suffix: closes a cacheable modern result.
    cacheable_suffix: Vec<u8>,
    /// `"_meta":{serverInfo}}`: closes an `input_required` result.
    meta_member: Vec<u8>,
    /// The server's `Implementation`, as JSON.
    pub(crate) server_info: Value,
}

impl Framing {
    pub(crate) fn new(info: &Implementation, cache_ttl: Duration, cache_scope: CacheScope) -> Self {
        let server_info = serde_json::to_value(info).expect("implementation info serialises");
        let ttl_ms = u64::try_from(cache_ttl.as_millis()).unwrap_or(u64::MAX);
        let mut meta_member = br#""_meta":{"io.modelcontextprotocol/serverInfo":"#.to_vec();
        serde_json::to_writer(&mut meta_member, &server_info).expect("serialises");
        meta_member.extend_from_slice(b"}}");
        let mut modern_suffix = br#""resultType":"complete","#.to_vec();
        modern_suffix.extend_from_slice(&meta_member);
        let mut cacheable_suffix = format!(r#""ttlMs":{ttl_ms},"cacheScope":"{}","#, cache_scope.as_str()).into_bytes();
        cacheable_suffix.extend_from_slice(&modern_suffix);
        Self {
            modern_suffix,
            cacheable_suffix,
            meta_member,
            server_info,
        }
    }

    /// A serialised result object, closed as a stateless-era result clients may cache.
    pub(crate) fn cacheable(&self, object: Vec<u8>) -> Vec<u8> {
        close(object, &self.cacheable_suffix)
    }

    /// A result of a kind nobody caches (`prompts/get`, `completion/complete`), in `version`.
    pub(crate) fn plain<T: Serialize>(&self, id: &RequestId, version: ProtocolVersion, result: &T) -> Vec<u8> {
        if version.is_stateless() {
            encode_result_closed(id, result, &self.modern_suffix)
        } else {
            encode_result_value(id, result)
        }
    }

    /// A result clients may cache (`resources/read`, a list built per request), in `version`.
    pub(crate) fn cached<T: Serialize>(&self, id: &RequestId, version: ProtocolVersion, result: &T) -> Vec<u8> {
        if version.is_stateless() {
            encode_result_closed(id, result, &self.cacheable_suffix)
        } else {
            encode_result_value(id, result)
        }
    }

    /// A tool's result, in `version`.
    pub(crate) fn call_result(&self, id: &RequestId, version: ProtocolVersion, mut result: CallToolResult) -> Vec<u8> {
        if !version.is_stateless() {
            return encode_result_value(id, &result);
        }
        match &mut result.meta {
            None => encode_result_closed(id, &result, &self.modern_suffix),
            Some(meta) => {
                meta.insert(meta_keys::SERVER_INFO.into(), self.server_info.clone());
                let mut value = serde_json::to_value(&result).expect("results serialise");
                value["resultType"] = json!("complete");
                encode_result_value(id, &value)
            }
        }
    }

    /// `input_required` (stateless era only): what the client must answer, and the sealed state.
    /// Written by hand around the requests: the state needs no escaping, and the server's info
    /// was written once.
    pub(crate) fn input_required(&self, id: &RequestId, requests: &impl Serialize, state: &Sealed) -> Vec<u8> {
        // The state, the requests (a few hundred bytes each, often) and the server's info.
        encode_result_with(id, 512 + state.len() + self.meta_member.len(), |out| {
            out.extend_from_slice(br#"{"resultType":"input_required","inputRequests":"#);
            serde_json::to_writer(&mut *out, requests).expect("input requests serialise");
            out.extend_from_slice(br#","requestState":""#);
            out.extend_from_slice(state.as_bytes());
            out.extend_from_slice(b"\",");
            out.extend_from_slice(&self.meta_member);
        })
    }
}

/// Turns a serialised result object into a modern one by replacing its closing brace.
fn close(mut object: Vec<u8>, suffix: &[u8]) -> Vec<u8> {
    debug_assert_eq!(object.last(), Some(&b'}'));
    object.pop();
    if object.len() > 1 {
        object.push(b',');
    }
    object.extend_from_slice(suffix);
    object
}

/// The pages of one list, serialised for each era once per catalog change.
#[derive(Default)]
pub(crate) struct Pages {
    handshake: Vec<Vec<u8>>,
    stateless: Vec<Vec<u8>>,
}

impl Pages {
    /// Serialises `items` under `key` in pages of `page_size` (all in one page by default), for
    /// both eras.
    pub(crate) fn build(key: &str, items: &[Value], page_size: Option<usize>, framing: &Framing) -> Self {
        let size = page_size.unwrap_or(items.len()).max(1);
        let chunks: Vec<&[Value]> = if items.is_empty() {
            vec![&[]]
        } else {
            items.chunks(size).collect()
        };
        let mut pages = Self::default();
        for (i, chunk) in chunks.iter().enumerate() {
            let mut page = Map::new();
            page.insert(key.into(), Value::Array(chunk.to_vec()));
            if i + 1 < chunks.len() {
                page.insert("nextCursor".into(), json!(encode_cursor(i + 1)));
            }
            pages
                .handshake
                .push(serde_json::to_vec(&page).expect("lists serialise"));
            // The stateless era has no `execution`: with the tasks extension, the server alone
            // decides which calls run as tasks.
            if let Some(Value::Array(items)) = page.get_mut(key) {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    item.remove("execution");
                }
            }
            let body = serde_json::to_vec(&page).expect("lists serialise");
            pages.stateless.push(framing.cacheable(body));
        }
        pages
    }

    /// The pages as `version` sends them.
    pub(crate) fn for_version(&self, version: ProtocolVersion) -> &[Vec<u8>] {
        if version.is_stateless() {
            &self.stateless
        } else {
            &self.handshake
        }
    }

    /// One page, by the request's cursor.
    pub(crate) fn answer(&self, id: &RequestId, version: ProtocolVersion, params: &ListParams) -> Vec<u8> {
        let page = match &params.cursor {
            None => Some(0),
            Some(c) => decode_cursor(c),
        };
        match page.and_then(|p| self.for_version(version).get(p)) {
            Some(bytes) => encode_result(id, bytes),
            None => encode_error(Some(id), &ErrorObject::invalid_params("Invalid cursor")),
        }
    }
}

fn encode_cursor(page: usize) -> String {
    format!("page:{page}")
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    if cursor.is_empty() {
        return Some(0);
    }
    cursor.strip_prefix("page:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offers_all(_: Capability) -> bool {
        true
    }

    #[test]
    fn each_era_has_its_methods() {
        let stateless = ProtocolVersion::LATEST;
        let handshake = ProtocolVersion::LATEST_HANDSHAKE;
        assert_eq!(
            gate(&Ok(Method::ToolsCall), stateless, offers_all),
            Ok(Method::ToolsCall)
        );
        let removed = gate(&Ok(Method::Ping), stateless, offers_all).unwrap_err();
        assert!(removed.message.contains("not part of protocol version 2026-07-28"));
        let e = gate(&Ok(Method::ServerDiscover), handshake, offers_all).unwrap_err();
        assert_eq!(e.code, ErrorCode::METHOD_NOT_FOUND);
        let e = gate(&Ok(Method::ToolsList), handshake, |c| c != Capability::Tools).unwrap_err();
        assert_eq!(e.code, ErrorCode::METHOD_NOT_FOUND);
        let e = gate(&Err("x/y".into()), handshake, offers_all).unwrap_err();
        assert!(e.message.contains("x/y"));
        assert_eq!(
            before_initialize(&Ok(Method::PromptsList)).code,
            ErrorCode::INVALID_PARAMS
        );
        assert_eq!(
            before_initialize(&Ok(Method::Progress)).code,
            ErrorCode::METHOD_NOT_FOUND
        );
    }

    #[test]
    fn stateless_results_close_with_their_result_type() {
        let framing = Framing::new(&Implementation::default(), Duration::from_secs(1), CacheScope::Private);
        let closed = String::from_utf8(framing.cacheable(b"{}".to_vec())).unwrap();
        assert!(closed.starts_with(r#"{"ttlMs":1000,"cacheScope":"private","resultType":"complete""#));
        let pages = Pages::build("tools", &[json!(1), json!(2), json!(3)], Some(2), &framing);
        assert_eq!(pages.for_version(ProtocolVersion::LATEST_HANDSHAKE).len(), 2);
        assert_eq!(decode_cursor(""), Some(0));
        assert_eq!(decode_cursor("page:1"), Some(1));
    }
}
