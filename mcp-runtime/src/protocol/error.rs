//! JSON-RPC error objects and the error codes of both protocol eras.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// A JSON-RPC error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorCode(pub i32);

impl ErrorCode {
    /// `-32700`: the message is not valid JSON.
    pub const PARSE_ERROR: Self = Self(-32700);
    /// `-32600`: the message is JSON but not a valid JSON-RPC request.
    pub const INVALID_REQUEST: Self = Self(-32600);
    /// `-32601`: unknown method, or a capability the server did not advertise.
    pub const METHOD_NOT_FOUND: Self = Self(-32601);
    /// `-32602`: invalid parameters (unknown tool, bad cursor, missing `_meta`, …).
    pub const INVALID_PARAMS: Self = Self(-32602);
    /// `-32603`: an internal error of the server.
    pub const INTERNAL_ERROR: Self = Self(-32603);
    /// `-32002`: resource not found, handshake era only (retired in 2026-07-28).
    pub const RESOURCE_NOT_FOUND_LEGACY: Self = Self(-32002);
    /// `-32020`: an HTTP header disagrees with the body (2026-07-28).
    pub const HEADER_MISMATCH: Self = Self(-32020);
    /// `-32021`: the request needs a client capability the client did not declare (2026-07-28).
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: Self = Self(-32021);
    /// `-32022`: the request's protocol version is not supported (2026-07-28).
    pub const UNSUPPORTED_PROTOCOL_VERSION: Self = Self(-32022);
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The `error` member of a JSON-RPC error response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// The error code.
    pub code: ErrorCode,
    /// A short, human-readable message.
    pub message: String,
    /// Structured detail, such as `{supported, requested}` for `-32022`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// The same error with `data` attached.
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// `-32602` with a message.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_PARAMS, message)
    }

    /// `-32601` for `method`.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(ErrorCode::METHOD_NOT_FOUND, format!("Method not found: {method}"))
    }

    /// `-32600` with a message.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_REQUEST, message)
    }

    /// `-32600`: a request reused the id of a request still in flight.
    pub fn id_in_use(id: &impl std::fmt::Display) -> Self {
        Self::invalid_request(format!(
            "Invalid Request: id {id} is already in use by a request in flight"
        ))
    }

    /// `-32603` with a message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INTERNAL_ERROR, message)
    }
}

impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for ErrorObject {}
