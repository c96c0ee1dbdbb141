//! Failures: why a POST did not bring the answers it should have, the error answer each
//! request still waiting gets instead, and how the client tells a made-up answer (the server
//! could not be reached) from one the server sent.

use crate::protocol::ErrorObject;
use hyper::StatusCode;
use serde_json::json;
use std::fmt;
use std::io;

/// The key of `error.data` by which this transport marks an error answer it made up because
/// the server could not be reached; [`transport_failure`] reads it.
const TRANSPORT_FAILURE: &str = "transportFailure";

/// Why a POST did not bring every answer it should have: each request still waiting gets an
/// error answer made from it.
#[derive(Debug)]
pub(super) enum Failure {
    /// No HTTP answer: connecting failed, or the connection broke.
    Unreachable { kind: io::ErrorKind, message: String },
    /// An HTTP error status without a JSON-RPC body; `detail` follows the status.
    Status { status: StatusCode, detail: String },
    /// An answer without the answer.
    NoAnswer(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable { message, .. } | Self::NoAnswer(message) => f.write_str(message),
            Self::Status { status, detail } => write!(f, "HTTP {status}{detail}"),
        }
    }
}

impl Failure {
    /// The error answer for a request to the server at `shown`.
    pub(super) fn into_error(self, shown: &str) -> ErrorObject {
        match self {
            Self::Unreachable { kind, message } => {
                ErrorObject::internal(message).with_data(json!({ TRANSPORT_FAILURE: kind_name(kind) }))
            }
            Self::Status { status, detail } => {
                ErrorObject::internal(format!("the MCP server at {shown} answered HTTP {status}{detail}"))
                    .with_data(json!({ "httpStatus": status.as_u16() }))
            }
            Self::NoAnswer(message) => ErrorObject::internal(message),
        }
    }
}

const KINDS: [(io::ErrorKind, &str); 8] = [
    (io::ErrorKind::ConnectionRefused, "connectionRefused"),
    (io::ErrorKind::ConnectionReset, "connectionReset"),
    (io::ErrorKind::ConnectionAborted, "connectionAborted"),
    (io::ErrorKind::NotConnected, "notConnected"),
    (io::ErrorKind::TimedOut, "timedOut"),
    (io::ErrorKind::UnexpectedEof, "unexpectedEof"),
    (io::ErrorKind::InvalidData, "invalidData"),
    (io::ErrorKind::Other, "other"),
];

fn kind_name(kind: io::ErrorKind) -> &'static str {
    KINDS.iter().find(|(k, _)| *k == kind).map_or("other", |(_, name)| name)
}

/// The I/O error an error answer stands for, when the HTTP transport made it up because the
/// server could not be reached (rather than the server sending it).
pub(in crate::client) fn transport_failure(error: &ErrorObject) -> Option<io::Error> {
    let name = error.data.as_ref()?.get(TRANSPORT_FAILURE)?.as_str()?;
    let kind = KINDS
        .iter()
        .find(|(_, n)| *n == name)
        .map_or(io::ErrorKind::Other, |(k, _)| *k);
    Some(io::Error::new(kind, error.message.clone()))
}

/// The kind of the first I/O error in `error`'s chain.
pub(super) fn io_kind(error: &(dyn std::error::Error + 'static)) -> io::ErrorKind {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return io.kind();
        }
        next = e.source();
    }
    io::ErrorKind::Other
}

/// `error` and its sources, joined with `: `.
pub(super) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        text.push_str(": ");
        text.push_str(&e.to_string());
        next = e.source();
    }
    text
}
