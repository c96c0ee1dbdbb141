//! JSON answers: a body sent as `application/json`, and the HTTP status a JSON-RPC answer
//! gets (in the stateless era, its error code decides).

use crate::protocol::ErrorCode;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `body` as `application/json`, with `status`.
pub(super) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The HTTP status of an answer: JSON-RPC errors of the stateless era map to 4xx.
pub(super) fn status_of(reply: &[u8], stateless: bool) -> StatusCode {
    // A success (most answers) is known from its first bytes, without reading the rest.
    if !stateless || crate::protocol::jsonrpc::is_written_result(reply) {
        return StatusCode::OK;
    }
    // Only the top-level `error.code` is read; everything else is skipped, not built.
    #[derive(serde::Deserialize)]
    struct Reply {
        error: Option<Code>,
    }
    #[derive(serde::Deserialize)]
    struct Code {
        code: ErrorCode,
        #[serde(default)]
        data: Option<Data>,
    }
    #[derive(serde::Deserialize)]
    struct Data {
        #[serde(default)]
        error: Option<String>,
    }
    let error = serde_json::from_slice::<Reply>(reply).ok().and_then(|r| r.error);
    // A tool whose scopes the token lacks: `403`, as for a token without the server's scopes.
    if error
        .as_ref()
        .and_then(|e| e.data.as_ref())
        .and_then(|d| d.error.as_deref())
        == Some("insufficient_scope")
    {
        return StatusCode::FORBIDDEN;
    }
    let code = error.map(|e| e.code);
    match code {
        Some(ErrorCode::METHOD_NOT_FOUND) => StatusCode::NOT_FOUND,
        Some(
            ErrorCode::PARSE_ERROR
            | ErrorCode::INVALID_REQUEST
            | ErrorCode::INVALID_PARAMS
            | ErrorCode::HEADER_MISMATCH
            | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
            | ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
        ) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

#[cfg(test)]
mod tests {
    use crate::http::response::*;

    #[test]
    fn stateless_errors_get_4xx_and_everything_else_200() {
        let reply = |code: i64| format!(r#"{{"jsonrpc":"2.0","id":1,"error":{{"code":{code},"message":"m"}}}}"#);
        assert_eq!(status_of(reply(-32601).as_bytes(), true), StatusCode::NOT_FOUND);
        for code in [-32700, -32600, -32602, -32020, -32021, -32022] {
            assert_eq!(
                status_of(reply(code).as_bytes(), true),
                StatusCode::BAD_REQUEST,
                "{code}"
            );
        }
        for code in [-32603, -32002, -1, 1 << 40] {
            assert_eq!(status_of(reply(code).as_bytes(), true), StatusCode::OK, "{code}");
        }
        assert_eq!(status_of(reply(-32601).as_bytes(), false), StatusCode::OK);
        assert_eq!(
            status_of(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#, true),
            StatusCode::OK
        );
    }
}
