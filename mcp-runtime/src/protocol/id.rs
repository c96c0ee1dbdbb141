//! The id of a JSON-RPC request, which its response echoes.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// A request id: a string or an integer, never null.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// An integer id.
    Number(i64),
    /// A string id.
    String(String),
}

impl RequestId {
    pub(crate) fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Number(n) => n.as_i64().map(Self::Number),
            Value::String(s) => Some(Self::String(s.clone())),
            _ => None,
        }
    }

    /// Appends the id's JSON form to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Self::Number(n) => {
                use std::io::Write as _;
                write!(out, "{n}").expect("writing to a Vec cannot fail");
            }
            Self::String(s) => serde_json::to_writer(&mut *out, s).expect("a string serialises"),
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => n.fmt(f),
            Self::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for RequestId {
    fn from(n: i64) -> Self {
        Self::Number(n)
    }
}
