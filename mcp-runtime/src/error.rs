//! The crate's error type.

use crate::protocol::ErrorObject;
use std::fmt;
use std::io;

/// `Result<T, mcp::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong serving or calling MCP, or inside a tool.
///
/// A tool may return `mcp::Result<T>`: an `Err` becomes an error result (`isError: true`) whose
/// text is the error's message, which the model can read and act on.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The peer answered with a JSON-RPC error.
    Protocol(ErrorObject),
    /// Reading or writing the transport failed.
    Io(io::Error),
    /// The connection closed before the answer came.
    Closed,
    /// No answer came in time.
    Timeout,
    /// The server's configuration is inconsistent (found when it starts).
    Config(String),
    /// A message: what a tool says went wrong.
    Message(String),
    /// The client did not declare a capability the request needs (`sampling`,
    /// `sampling.tools`, `elicitation`, `elicitation.url`, `roots`). A tool may handle it (fall
    /// back); if it fails with it instead, a stateless-era client gets `-32021`.
    MissingCapability(String),
}

impl Error {
    /// An error with a message, for a tool to return.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self::Message(message.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => write!(f, "the peer answered with an error: {e}"),
            Self::Io(e) => write!(f, "transport error: {e}"),
            Self::Closed => f.write_str("the connection is closed"),
            Self::Timeout => f.write_str("timed out waiting for an answer"),
            Self::Config(m) => write!(f, "invalid server configuration: {m}"),
            Self::Message(m) => f.write_str(m),
            Self::MissingCapability(c) => write!(f, "the client did not declare the `{c}` capability this needs"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Protocol(e) => Some(e),
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<ErrorObject> for Error {
    fn from(e: ErrorObject) -> Self {
        Self::Protocol(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::Message(e.to_string())
    }
}

impl From<String> for Error {
    fn from(m: String) -> Self {
        Self::Message(m)
    }
}

impl From<&str> for Error {
    fn from(m: &str) -> Self {
        Self::Message(m.to_owned())
    }
}
