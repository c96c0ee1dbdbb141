//! The JSON-RPC the load generator writes and reads: raw bytes, no MCP SDK, so that it favours
//! no server. Reading borrows from the line or event it was handed and parses a result fully only
//! when it must (an `input_required` round).

use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;

/// Which protocol era a run speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// 2025-11-25: `initialize` first, sampling as a server-to-client request.
    Handshake,
    /// 2026-07-28: no handshake, `_meta` on every request, sampling through `input_required`.
    Stateless,
}

impl Era {
    /// The version string this era sends.
    pub fn version(self) -> &'static str {
        match self {
            Era::Handshake => "2025-11-25",
            Era::Stateless => "2026-07-28",
        }
    }

    /// The short name used in the table.
    pub fn label(self) -> &'static str {
        match self {
            Era::Handshake => "2025-11",
            Era::Stateless => "2026-07",
        }
    }
}

/// The `_meta` a stateless request carries.
const STATELESS_META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{}},"io.modelcontextprotocol/clientInfo":{"name":"mcp-bench","version":"0"}}"#;

/// The `_meta` of a stateless request that declares the tasks extension.
const TASKS_META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}},"io.modelcontextprotocol/clientInfo":{"name":"mcp-bench","version":"0"}}"#;

/// The text every call sends.
pub const TEXT: &str = "The quick brown fox jumps over the lazy dog";

/// The answer the load generator's "model" gives to every sampling request.
pub const SAMPLE_RESULT: &str =
    r#"{"role":"assistant","content":{"type":"text","text":"A fox jumps a dog."},"model":"bench"}"#;

/// `initialize` with the sampling capability.
pub fn initialize(id: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{"sampling":{{}}}},"clientInfo":{{"name":"mcp-bench","version":"0"}}}}}}"#
    )
}

/// `notifications/initialized`.
pub const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// What a call asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `tools/call` of `echo`.
    Echo,
    /// `tools/call` of `ask`: one sampling round trip.
    Ask,
    /// `tools/list`.
    List,
    /// `tools/call` of `job` as a task (stateless era, tasks extension), then `tasks/get` until
    /// it is done.
    Task,
    /// A whole handshake-era session per call (HTTP): `initialize`, `notifications/initialized`,
    /// `tools/call` of `lookup` (one Redis `GET`), then `DELETE` when the server gave a session.
    SessionPerCall,
}

/// The key the `lookup` tool reads, and the value the benchmark stores under it.
pub const LOOKUP_KEY: &str = "bench:lookup";
/// The value stored under [`LOOKUP_KEY`].
pub const LOOKUP_VALUE: &str = "a value from Redis";

impl Call {
    /// The MCP method and, for a tool call, the tool's name (for the HTTP `Mcp-*` headers).
    pub fn method_and_name(self) -> (&'static str, Option<&'static str>) {
        match self {
            Call::Echo => ("tools/call", Some("echo")),
            Call::Ask => ("tools/call", Some("ask")),
            Call::List => ("tools/list", None),
            Call::Task => ("tools/call", Some("job")),
            Call::SessionPerCall => ("tools/call", Some("lookup")),
        }
    }
}

/// A request, with the state of an `input_required` retry when there is one.
pub fn request(out: &mut Vec<u8>, id: u64, call: Call, era: Era, retry: Option<&Retry>) {
    use std::io::Write;
    let meta = if era == Era::Stateless { STATELESS_META } else { "" };
    match call {
        Call::List => {
            let _ = write!(
                out,
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list","params":{{{meta}}}}}"#
            );
        }
        Call::Task => {
            let _ = write!(
                out,
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"job","arguments":{{"text":"{TEXT}"}},{TASKS_META}}}}}"#
            );
        }
        Call::SessionPerCall => {
            let _ = write!(
                out,
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"lookup","arguments":{{"key":"{LOOKUP_KEY}"}}}}}}"#
            );
        }
        Call::Echo | Call::Ask => {
            let name = if call == Call::Echo { "echo" } else { "ask" };
            let _ = write!(
                out,
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{name}","arguments":{{"text":"{TEXT}"}}"#
            );
            if let Some(retry) = retry {
                let _ = write!(out, r#","requestState":{},"inputResponses":{{"#, retry.state);
                for (i, key) in retry.keys.iter().enumerate() {
                    let comma = if i == 0 { "" } else { "," };
                    let _ = write!(out, "{comma}{key}:{SAMPLE_RESULT}");
                }
                out.push(b'}');
            }
            if !meta.is_empty() {
                out.push(b',');
                out.extend_from_slice(meta.as_bytes());
            }
            out.extend_from_slice(b"}}");
        }
    }
    out.push(b'\n');
}

/// `tasks/get` of `task` (a raw JSON string), declaring the tasks extension.
pub fn task_get(out: &mut Vec<u8>, id: u64, task: &str) {
    use std::io::Write;
    let _ = writeln!(
        out,
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tasks/get","params":{{"taskId":{task},{TASKS_META}}}}}"#
    );
}

/// The answer to a server's `sampling/createMessage` request with id `id` (raw JSON).
pub fn sample_answer(out: &mut Vec<u8>, id: &str) {
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(br#","result":"#);
    out.extend_from_slice(SAMPLE_RESULT.as_bytes());
    out.extend_from_slice(b"}\n");
}

/// What an `input_required` result asks the retry to carry.
#[derive(Debug)]
pub struct Retry {
    /// `requestState`, raw JSON (a string).
    pub state: String,
    /// The keys of `inputRequests`, raw JSON strings.
    pub keys: Vec<String>,
}

#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Option<&'a str>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct InputRequired<'a> {
    #[serde(rename = "requestState", borrow)]
    request_state: Option<&'a RawValue>,
    #[serde(rename = "inputRequests", borrow)]
    input_requests: HashMap<String, &'a RawValue>,
}

#[derive(Deserialize)]
struct Task<'a> {
    #[serde(rename = "taskId", borrow)]
    task_id: &'a RawValue,
    #[serde(borrow)]
    status: &'a str,
}

/// One message from a server, classified.
#[derive(Debug)]
pub enum Message {
    /// A final answer to request `id`; `ok` is false for a JSON-RPC error or `isError`.
    Done { id: u64, ok: bool },
    /// `input_required` for request `id`.
    Retry { id: u64, retry: Retry },
    /// A task (created, or as `tasks/get` shows it) for request `id`: its id, raw JSON, and
    /// whether it ended, and well.
    Task {
        id: u64,
        task: String,
        ended: bool,
        ok: bool,
    },
    /// A server-to-client sampling request, with its raw id.
    Sample { id: String },
    /// A notification, or anything else not awaited.
    Other,
}

/// Classify one JSON-RPC message; `None` when it is not JSON-RPC at all.
pub fn classify(bytes: &[u8]) -> Option<Message> {
    let msg: Incoming<'_> = serde_json::from_slice(bytes).ok()?;
    if let Some(method) = msg.method {
        return Some(match (method, msg.id) {
            ("sampling/createMessage", Some(id)) => Message::Sample {
                id: id.get().to_owned(),
            },
            _ => Message::Other,
        });
    }
    let id: u64 = msg.id?.get().parse().ok()?;
    if msg.error.is_some() {
        return Some(Message::Done { id, ok: false });
    }
    let result = msg.result?.get();
    if result.contains(r#""taskId""#) {
        let task: Task<'_> = serde_json::from_str(result).ok()?;
        let ended = matches!(task.status, "completed" | "failed" | "cancelled");
        return Some(Message::Task {
            id,
            task: task.task_id.get().to_owned(),
            ended,
            ok: task.status != "failed" && task.status != "cancelled" && !result.contains(r#""isError":true"#),
        });
    }
    if result.contains(r#""input_required""#) {
        let required: InputRequired<'_> = serde_json::from_str(result).ok()?;
        let keys = required
            .input_requests
            .keys()
            .map(|k| serde_json::to_string(k).unwrap())
            .collect();
        let state = required
            .request_state
            .map_or_else(|| "null".to_owned(), |s| s.get().to_owned());
        return Some(Message::Retry {
            id,
            retry: Retry { state, keys },
        });
    }
    Some(Message::Done {
        id,
        ok: !result.contains(r#""isError":true"#),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_json() {
        for era in [Era::Handshake, Era::Stateless] {
            for call in [Call::Echo, Call::Ask, Call::List] {
                let mut out = Vec::new();
                let retry = Retry {
                    state: "\"s\"".into(),
                    keys: vec!["\"a\"".into()],
                };
                request(&mut out, 7, call, era, (call == Call::Ask).then_some(&retry));
                let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
                assert_eq!(v["id"], 7);
            }
        }
    }
}
