//! The wire: JSON-RPC 2.0 framing, MCP types, error codes and protocol versions.
//!
//! This layer depends on serde alone; it knows nothing of tasks, transports or handlers, so a
//! client, a server, a proxy or a fuzzer can share it.

pub mod base64;
pub mod capabilities;
pub mod era_meta;
pub mod error;
mod id;
pub mod jsonrpc;
pub mod method;
pub mod params;
pub mod sampling;
pub mod types;
pub mod version;

pub use capabilities::{ClientCapabilities, ServerCapabilities};
pub use era_meta::StatelessMeta;
pub use error::{ErrorCode, ErrorObject};
pub use jsonrpc::{Frame, Incoming, RequestId};
pub use method::Method;
pub use sampling::*;
pub use types::*;
pub use version::ProtocolVersion;
