//! Header checks: `Host` and `Origin` against DNS rebinding, and the stateless era's
//! `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` and `Mcp-Param-*` headers, which must agree
//! with the body (values may be `=?base64?…?=`-encoded).

use super::options::HttpOptions;
use super::response::json_response;
use crate::protocol::jsonrpc::encode_error;
use crate::protocol::method::wire_name;
use crate::protocol::{ErrorCode, ErrorObject, Incoming, Method};
use crate::server::core::Core;
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use std::borrow::Cow;

/// `MCP-Protocol-Version`. The names are built once: looking one up by text parses it first.
pub(super) static VERSION_HEADER: HeaderName = HeaderName::from_static("mcp-protocol-version");
static METHOD_HEADER: HeaderName = HeaderName::from_static("mcp-method");
static NAME_HEADER: HeaderName = HeaderName::from_static("mcp-name");

/// `403` for a `Host` or `Origin` that is not allowed (DNS rebinding).
#[allow(clippy::result_large_err)]
pub(super) fn check_host_and_origin(options: &HttpOptions, headers: &HeaderMap) -> std::result::Result<(), Response> {
    // The name without its port, compared with no copy (the allowed names are lowercase).
    let allowed = |host: &str| {
        let name = if host.starts_with('[') {
            host.find(']').map_or(host, |end| &host[..=end])
        } else {
            host.split(':').next().unwrap_or("")
        };
        options.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
    };
    let forbidden = |what: &str| {
        let error = ErrorObject::new(ErrorCode::INVALID_REQUEST, format!("Forbidden: {what} is not allowed"));
        json_response(StatusCode::FORBIDDEN, encode_error(None, &error))
    };
    if let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok())
        && !allowed(host)
    {
        return Err(forbidden("this Host"));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = origin
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(""));
        if !host.is_some_and(allowed) {
            return Err(forbidden("this Origin"));
        }
    }
    Ok(())
}

/// The stateless era's header checks (SEP-2243): `MCP-Protocol-Version`, `Mcp-Method` and
/// `Mcp-Name` must be present and agree with the body, and so must the `Mcp-Param-*` header of
/// every `x-mcp-header` argument the body carries. Values of the form `=?base64?…?=` are decoded
/// (strictly) first; integers compare as numbers.
pub(super) fn check_headers(
    core: &Core,
    headers: &HeaderMap,
    message: &Incoming,
) -> std::result::Result<(), ErrorObject> {
    let Incoming::Request {
        method,
        params,
        stateless,
        ..
    } = message
    else {
        return Ok(());
    };
    let header = |name: &HeaderName| headers.get(name).map(|v| decode_header(v.as_bytes()));
    let mismatch = |what: &str| {
        ErrorObject::new(
            ErrorCode::HEADER_MISMATCH,
            format!("Header mismatch: {what} does not match the request body"),
        )
    };
    let missing = |what: &str| {
        ErrorObject::new(
            ErrorCode::HEADER_MISMATCH,
            format!("Header mismatch: {what} is required"),
        )
    };
    let version = stateless.protocol_version();
    let version = version.as_deref();
    match header(&VERSION_HEADER) {
        Some(Some(v)) if Some(&*v) == version => {}
        Some(_) => return Err(mismatch("MCP-Protocol-Version")),
        None => return Err(missing("MCP-Protocol-Version")),
    }
    match header(&METHOD_HEADER) {
        Some(Some(v)) if v == wire_name(method) => {}
        Some(_) => return Err(mismatch("Mcp-Method")),
        None => return Err(missing("Mcp-Method")),
    }
    let name = match method {
        Ok(Method::ToolsCall | Method::PromptsGet) => params.str_field("name"),
        Ok(Method::ResourcesRead) => params.str_field("uri"),
        _ => None,
    };
    if let Some(name) = name {
        match header(&NAME_HEADER) {
            Some(Some(v)) if v == name => {}
            Some(_) => return Err(mismatch("Mcp-Name")),
            None => return Err(missing("Mcp-Name")),
        }
    }
    // The tasks extension routes `tasks/*` by `Mcp-Name: <taskId>`. Clients in the wild do
    // not all send it yet, so it is checked when present, not required.
    if let Ok(Method::TasksGet | Method::TasksUpdate | Method::TasksCancel) = method
        && let Some(value) = header(&NAME_HEADER)
        && value.as_deref() != params.str_field("taskId")
    {
        return Err(mismatch("Mcp-Name"));
    }
    if *method == Ok(Method::ToolsCall) {
        let catalog = core.catalog();
        let tool = name
            .and_then(|n| catalog.tool_index.get(n))
            .map(|&i| &catalog.tools[i].def);
        for p in tool.map(|t| t.header_params.as_slice()).unwrap_or_default() {
            let Some(value) = params.argument(&p.argument).filter(|v| !v.is_null()) else {
                continue;
            };
            let expected = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            let what = format!("Mcp-Param-{}", p.header);
            let got = match HeaderName::try_from(format!("mcp-param-{}", p.header.to_ascii_lowercase()))
                .ok()
                .and_then(|name| header(&name))
            {
                None => return Err(missing(&what)),
                Some(None) => return Err(mismatch(&what)),
                Some(Some(v)) => v,
            };
            let same = match value {
                Value::Number(n) => got.parse::<f64>().ok() == n.as_f64(),
                _ => got == expected,
            };
            if !same {
                return Err(mismatch(&what));
            }
        }
    }
    Ok(())
}

/// A header value, with `=?base64?…?=` decoded (borrowed when it is not encoded); `None` if it
/// is not valid text.
fn decode_header(raw: &[u8]) -> Option<Cow<'_, str>> {
    let text = std::str::from_utf8(raw).ok()?.trim();
    match text.strip_prefix("=?base64?").and_then(|t| t.strip_suffix("?=")) {
        Some(b64) => String::from_utf8(crate::protocol::base64::decode_strict(b64)?)
            .ok()
            .map(Cow::Owned),
        None => Some(Cow::Borrowed(text)),
    }
}

#[cfg(test)]
mod tests {
    use crate::http::headers::*;
    use axum::http::HeaderValue;

    #[test]
    fn headers_decode_base64_and_hosts_are_checked() {
        assert_eq!(decode_header(b"=?base64?aMOpbGxv?=").as_deref(), Some("h\u{e9}llo"));
        assert_eq!(decode_header(b"=?base64?SGVsbG8?=").as_deref(), None, "bad padding");
        assert_eq!(
            decode_header(b"=?base64?SGVsbG8=").as_deref(),
            Some("=?base64?SGVsbG8="),
            "no suffix: literal"
        );
        assert_eq!(decode_header(b"tools/call").as_deref(), Some("tools/call"));
        let options = HttpOptions::default();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("localhost:3000"));
        assert!(check_host_and_origin(&options, &h).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:5173"));
        assert!(check_host_and_origin(&options, &h).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example.com"));
        assert!(check_host_and_origin(&options, &h).is_err());
        h.remove(header::ORIGIN);
        h.insert(header::HOST, HeaderValue::from_static("evil.example.com"));
        assert!(check_host_and_origin(&options, &h).is_err());
        h.insert(header::HOST, HeaderValue::from_static("[::1]:80"));
        assert!(check_host_and_origin(&options, &h).is_ok());
    }
}
