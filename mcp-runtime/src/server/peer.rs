//! The client on the other end of a request, as a handler reaches it.
//!
//! [`Context`](super::context::Context) holds this narrow view instead of the connection: it
//! can send the client a request (handshake era) or a notification, and read the log level the
//! client set. The connection implements it; the context knows nothing else of it.

use crate::error::Result;
use crate::protocol::RequestId;
use crate::protocol::sampling::CreateMessageResult;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What answers a request the server sent the client: its result as the client wrote it.
pub(crate) type Answer<'a> = Pin<Box<dyn Future<Output = Result<Box<RawValue>>> + Send + 'a>>;

/// The client's answer to something a handler asked, in either era: read from the wire
/// (handshake era), or delivered with a retry's `inputResponses` and kept among the call's
/// answers (stateless era). Either is read straight into the type the handler wants.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A response's result, as sent.
    Raw(Box<RawValue>),
    /// An answer the call also keeps, for a later round's sealed state.
    Shared(Arc<RawValue>),
    /// A sampling answer the call also keeps, already read when it was checked on delivery.
    Sampled(Arc<RawValue>, Box<CreateMessageResult>),
}

impl Reply {
    fn text(&self) -> &RawValue {
        match self {
            Self::Raw(raw) => raw,
            Self::Shared(shared) | Self::Sampled(shared, _) => shared,
        }
    }

    /// The answer as a sampling result: read once, where it was delivered, or now.
    pub(crate) fn into_sampled(self) -> serde_json::Result<CreateMessageResult> {
        match self {
            Self::Sampled(_, read) => Ok(*read),
            other => other.parse(),
        }
    }

    /// The answer as a `T`.
    pub(crate) fn parse<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.text().get())
    }

    /// The answer as a [`Value`].
    pub(crate) fn into_value(self) -> Result<Value> {
        crate::protocol::jsonrpc::raw_to_value(self.text()).map_err(crate::error::Error::Protocol)
    }
}

/// Outbound messages to one client.
pub(crate) trait Peer: Send + Sync + 'static {
    /// Sends the client a request (handshake era) about request `related`, and waits for its
    /// answer up to `timeout`. Dropping the future withdraws the request (the client is told).
    fn request<'a>(
        &'a self,
        method: &'a str,
        params: &'a RawValue,
        timeout: Duration,
        related: RequestId,
    ) -> Answer<'a>;

    /// Queues a notification without waiting, on `related`'s stream when it has one; dropped
    /// (and logged) when the client is not reading.
    fn notify(&self, message: Vec<u8>, related: Option<&RequestId>);

    /// The handshake-era log level the client set, as an index into the levels.
    fn log_level(&self) -> usize;

    /// Whether a request sent to the client can be answered: not over HTTP without sessions.
    fn can_ask(&self) -> bool;
}

/// Why a client served without a session cannot be asked anything.
pub(crate) fn cannot_ask(what: &str) -> String {
    format!(
        "cannot ask the client for `{what}`: this server serves HTTP without sessions, so the answer would have nowhere to arrive; the client must use protocol 2026-07-28, or the server sessions"
    )
}
