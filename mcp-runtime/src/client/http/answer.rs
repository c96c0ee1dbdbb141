//! Reading a POST's answers: which messages answer which of its requests (and what they
//! teach), without building them.

use crate::protocol::RequestId;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

/// The requests of one POST still waiting for their answers.
pub(super) struct Waiting {
    pub(super) ids: Vec<RequestId>,
    /// The POST is one request (an error without an id answers it).
    pub(super) single: bool,
    /// The method of its one request.
    pub(super) method: Option<String>,
}

impl Waiting {
    /// Marks `id` answered; whether it was waiting.
    pub(super) fn answered(&mut self, id: &RequestId) -> bool {
        let before = self.ids.len();
        self.ids.retain(|waiting| waiting != id);
        self.ids.len() < before
    }
}

/// What a message from the server is, as far as a POST's waiting requests care.
pub(super) enum Seen<'a> {
    /// A response: its id (when it has a valid one) and its result (when it succeeded).
    Response {
        id: Option<RequestId>,
        result: Option<&'a RawValue>,
    },
    /// A batch: the ids of the responses in it.
    Batch(Vec<RequestId>),
    /// A request or a notification.
    Message,
    /// Not JSON-RPC at all.
    NotJsonRpc,
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(default)]
    jsonrpc: Option<IgnoredAny>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<IgnoredAny>,
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

/// Keeps `"result": null` apart from no result.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

impl Peek<'_> {
    fn is_response(&self) -> bool {
        self.jsonrpc.is_some() && self.method.is_none() && (self.result.is_some() || self.error.is_some())
    }
}

impl<'a> Seen<'a> {
    pub(super) fn of(message: &'a [u8]) -> Self {
        if message.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return match serde_json::from_slice::<Vec<Peek<'a>>>(message) {
                Ok(batch) if !batch.is_empty() && batch.iter().all(|p| p.jsonrpc.is_some()) => Self::Batch(
                    batch
                        .iter()
                        .filter(|p| p.is_response())
                        .filter_map(|p| RequestId::from_value(p.id.as_ref()?))
                        .collect(),
                ),
                _ => Self::NotJsonRpc,
            };
        }
        match serde_json::from_slice::<Peek<'a>>(message) {
            Ok(peek) if peek.is_response() => Self::Response {
                id: peek.id.as_ref().and_then(RequestId::from_value),
                result: peek.result,
            },
            Ok(peek) if peek.jsonrpc.is_some() && peek.method.is_some() => Self::Message,
            _ => Self::NotJsonRpc,
        }
    }
}
