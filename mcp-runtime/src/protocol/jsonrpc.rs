//! JSON-RPC 2.0 framing: classifying incoming messages and encoding outgoing ones.
//!
//! Outgoing messages are written straight into byte buffers: a response splices the request id
//! and an already-serialised result, so a result cached at registration (such as `tools/list`)
//! is never serialised again.

pub use super::id::RequestId;

use super::era_meta::{self, StatelessMeta, Text};
use super::error::{ErrorCode, ErrorObject};
use super::method::{Method, WireMethod, parse_wire};
use super::params::{CallSeed, Params};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::fmt;

/// One incoming message, classified.
#[derive(Debug)]
pub enum Incoming {
    /// A request: answer it with a response carrying the same id.
    Request {
        /// The id to echo.
        id: RequestId,
        /// The method, or the name of one MCP does not define.
        method: WireMethod,
        /// The parameters, if any, without the stateless era's keys of their `_meta`.
        params: Params,
        /// The stateless era's keys of `params._meta`, as sent ([`StatelessMeta`]).
        stateless: StatelessMeta,
    },
    /// A notification: never answered.
    Notification {
        /// The method, or the name of one MCP does not define.
        method: WireMethod,
        /// The parameters, if any.
        params: Option<Value>,
    },
    /// A response to a request this side sent.
    Response {
        /// The id of the request it answers.
        id: RequestId,
        /// The result, as sent (read into its type by whoever waits for it), or the error object.
        outcome: Result<Box<RawValue>, ErrorObject>,
    },
    /// Not a valid JSON-RPC message: answer with this error (and the id, when it was readable).
    Invalid {
        /// The request id, when it could be read.
        id: Option<RequestId>,
        /// The error to send back.
        error: ErrorObject,
    },
}

/// A parsed frame: one message or a batch of them.
#[derive(Debug)]
// One message is the common case, moved once to where it is handled; boxing it would cost an
// allocation per message to save a few hundred bytes of stack in the rare batch.
#[allow(clippy::large_enum_variant)]
pub enum Frame {
    /// A single message.
    Single(Incoming),
    /// A JSON array of messages (2025-03-26 batches).
    Batch(Vec<Incoming>),
}

#[derive(Deserialize)]
struct RawMessage {
    #[serde(default)]
    jsonrpc: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    #[serde(default)]
    method: Option<Value>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    result: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

/// A well-formed message, read in one pass with no copy of what it need not own: the
/// version and method are borrowed, the stateless era's keys of `_meta` are kept as text, and
/// the params of a call (`tools/call`, `prompts/get`) named before them are read straight into
/// their type. Anything this does not take (a field of the wrong type, a duplicate key) goes
/// through [`RawMessage`] instead.
struct FastMessage<'a> {
    jsonrpc: Text<'a>,
    /// `"id": null` is `Some(Value::Null)`.
    id: Option<Value>,
    /// Named once, as it is read: a method MCP defines without a copy of its name.
    method: Option<WireMethod>,
    params: Option<(Params, StatelessMeta)>,
    result: Option<Box<RawValue>>,
    error: Option<Value>,
}

impl<'de: 'a, 'a> Deserialize<'de> for FastMessage<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FastVisitor(std::marker::PhantomData))
    }
}

struct FastVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for FastVisitor<'a> {
    type Value = FastMessage<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        fn once<T, E: de::Error>(slot: &Option<T>, name: &'static str) -> Result<(), E> {
            match slot {
                Some(_) => Err(E::duplicate_field(name)),
                None => Ok(()),
            }
        }
        let (mut jsonrpc, mut id, mut method) = (None, None, None::<WireMethod>);
        let (mut params, mut result, mut error) = (None, None, None);
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match &*key {
                "jsonrpc" => {
                    once(&jsonrpc, "jsonrpc")?;
                    jsonrpc = Some(map.next_value::<Text<'a>>()?);
                }
                "id" => {
                    once(&id, "id")?;
                    id = Some(map.next_value::<Value>()?);
                }
                "method" => {
                    once(&method, "method")?;
                    let Text(name) = map.next_value::<Text<'de>>()?;
                    method = Some(Method::parse(&name).ok_or_else(|| name.into_owned()));
                }
                "params" => {
                    once(&params, "params")?;
                    let call = matches!(method, Some(Ok(Method::ToolsCall | Method::PromptsGet)));
                    params = Some(if call {
                        let (call, era) = map.next_value_seed(CallSeed)?;
                        (Params::Call(call), era)
                    } else {
                        let (value, era) = map.next_value_seed(era_meta::ParamsSeed)?;
                        (Params::Value(Some(value)), era)
                    });
                }
                "result" => {
                    once(&result, "result")?;
                    result = Some(map.next_value::<Box<RawValue>>()?);
                }
                "error" => {
                    once(&error, "error")?;
                    error = Some(map.next_value::<Value>()?);
                }
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(FastMessage {
            jsonrpc: jsonrpc.ok_or_else(|| de::Error::missing_field("jsonrpc"))?,
            id,
            method,
            params,
            result,
            error,
        })
    }
}

/// The fields of one message object, whichever way it was read.
struct Fields {
    /// `jsonrpc` is `"2.0"`.
    jsonrpc: bool,
    id: Option<Value>,
    /// The method; `Err` when it is not a string.
    method: Option<Result<WireMethod, ()>>,
    params: Params,
    stateless: StatelessMeta,
    result: Option<Box<RawValue>>,
    error: Option<Value>,
}

impl From<RawMessage> for Fields {
    fn from(raw: RawMessage) -> Self {
        let mut params = raw.params;
        let stateless = StatelessMeta::take_from(params.as_mut());
        Self {
            jsonrpc: raw.jsonrpc.as_ref().and_then(Value::as_str) == Some("2.0"),
            id: raw.id,
            method: raw.method.map(|m| match m {
                Value::String(name) => Ok(parse_wire(name)),
                _ => Err(()),
            }),
            params: Params::Value(params),
            stateless,
            result: raw
                .result
                .map(|v| serde_json::value::to_raw_value(&v).expect("a JSON value serialises")),
            error: raw.error,
        }
    }
}

impl From<FastMessage<'_>> for Fields {
    fn from(raw: FastMessage<'_>) -> Self {
        let (params, stateless) = raw.params.unwrap_or_default();
        Self {
            jsonrpc: raw.jsonrpc.0 == "2.0",
            id: raw.id,
            method: raw.method.map(Ok),
            params,
            stateless,
            result: raw.result,
            error: raw.error,
        }
    }
}

/// Keeps `null` apart from absent: `"id": null` is `Some(Value::Null)`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The [`Value`] of a response's result. It fails only where the text holds what a `Value`
/// cannot (a number out of range), which the raw text does not check.
pub fn raw_to_value(raw: &RawValue) -> Result<Value, ErrorObject> {
    serde_json::from_str(raw.get()).map_err(|e| ErrorObject::new(ErrorCode::PARSE_ERROR, format!("Parse error: {e}")))
}

/// Parses one frame of bytes (one line on stdio, one body on HTTP).
///
/// Errors are returned as [`Incoming::Invalid`] so that the caller answers them like any
/// other message; a frame never panics and never needs to be dropped silently.
pub fn parse_frame(bytes: &[u8]) -> Frame {
    // The common case, one well-formed object, in one pass with no intermediate `Value`; anything
    // else (a batch, a non-object, a duplicate key, bad JSON) takes the path below, whose errors
    // say precisely what is wrong.
    // (UTF-8 is checked first: skipping an unknown field does not check it.)
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(raw) = serde_json::from_str::<FastMessage<'_>>(text)
    {
        return Frame::Single(from_fields(raw.into()));
    }
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            let msg = if std::str::from_utf8(bytes).is_err() {
                "Parse error: the message is not valid UTF-8".to_owned()
            } else {
                format!("Parse error: {e}")
            };
            return Frame::Single(Incoming::Invalid {
                id: None,
                error: ErrorObject::new(ErrorCode::PARSE_ERROR, msg),
            });
        }
    };
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Frame::Single(Incoming::Invalid {
                    id: None,
                    error: ErrorObject::invalid_request("Invalid Request: empty batch"),
                });
            }
            Frame::Batch(items.into_iter().map(classify).collect())
        }
        other => Frame::Single(classify(other)),
    }
}

/// Classifies one JSON value as a JSON-RPC message.
pub fn classify(value: Value) -> Incoming {
    if !value.is_object() {
        return invalid(None, "Invalid Request: a message must be a JSON object");
    }
    match serde_json::from_value::<RawMessage>(value) {
        Ok(raw) => from_fields(raw.into()),
        Err(e) => invalid(None, format!("Invalid Request: {e}")),
    }
}

/// Checks the fields of one message object.
fn from_fields(raw: Fields) -> Incoming {
    let id = match &raw.id {
        None => None,
        Some(v) => match RequestId::from_value(v) {
            Some(id) => Some(id),
            None => {
                return invalid(None, "Invalid Request: `id` must be a string or an integer");
            }
        },
    };
    if !raw.jsonrpc {
        return invalid(id, "Invalid Request: `jsonrpc` must be \"2.0\"");
    }
    if let Some(method) = raw.method {
        let Ok(method) = method else {
            return invalid(id, "Invalid Request: `method` must be a string");
        };
        if let Params::Value(Some(p)) = &raw.params
            && !p.is_object()
            && !p.is_array()
        {
            return invalid(id, "Invalid Request: `params` must be an object or an array");
        }
        return match id {
            Some(id) => Incoming::Request {
                id,
                method,
                params: raw.params,
                stateless: raw.stateless,
            },
            None => {
                // A notification's params stay as sent.
                let mut params = raw.params.into_value();
                raw.stateless.restore_into(&mut params);
                Incoming::Notification { method, params }
            }
        };
    }
    let Some(id) = id else {
        return invalid(None, "Invalid Request: no `method`, and no `id` to answer");
    };
    match (raw.result, raw.error) {
        (Some(result), None) => Incoming::Response {
            id,
            outcome: Ok(result),
        },
        (None, Some(error)) => match serde_json::from_value::<ErrorObject>(error) {
            Ok(e) => Incoming::Response { id, outcome: Err(e) },
            Err(e) => invalid(Some(id), format!("Invalid Request: malformed `error`: {e}")),
        },
        _ => invalid(
            Some(id),
            "Invalid Request: a response has exactly one of `result` and `error`",
        ),
    }
}

fn invalid(id: Option<RequestId>, message: impl Into<String>) -> Incoming {
    Incoming::Invalid {
        id,
        error: ErrorObject::invalid_request(message),
    }
}

const HEAD: &[u8] = br#"{"jsonrpc":"2.0","id":"#;

/// Whether `reply` is a success response as this module writes them: its `result` member comes
/// right after its id. `false` does not say it is an error, only that it is not known to be a
/// success without reading it (an error, or a response written elsewhere).
#[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP front end
pub(crate) fn is_written_result(reply: &[u8]) -> bool {
    let Some(rest) = reply.strip_prefix(HEAD) else {
        return false;
    };
    let id_len = if rest.first() == Some(&b'"') {
        // A string id: up to its closing quote, stepping over escapes.
        let mut i = 1;
        loop {
            match rest.get(i) {
                Some(b'\\') => i += 2,
                Some(b'"') => break i + 1,
                Some(_) => i += 1,
                None => return false,
            }
        }
    } else {
        // A number: up to the comma after it.
        match rest.iter().position(|&b| b == b',') {
            Some(i) => i,
            None => return false,
        }
    };
    rest.get(id_len..)
        .is_some_and(|after| after.starts_with(br#","result":"#))
}

/// Encodes a success response from an already-serialised result.
pub fn encode_result(id: &RequestId, result: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD.len() + result.len() + 24);
    write_result(&mut out, id, result);
    out
}

/// Appends a success response to `out`.
pub fn write_result(out: &mut Vec<u8>, id: &RequestId, result: &[u8]) {
    out.extend_from_slice(HEAD);
    id.write_json(out);
    out.extend_from_slice(br#","result":"#);
    out.extend_from_slice(result);
    out.push(b'}');
}

/// Encodes a success response, serialising `result` (an object) with `suffix` in place of its
/// closing brace: more members, then `}`. One buffer, no copy of the serialised result.
pub fn encode_result_closed<T: Serialize + ?Sized>(id: &RequestId, result: &T, suffix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + suffix.len());
    out.extend_from_slice(HEAD);
    id.write_json(&mut out);
    out.extend_from_slice(br#","result":"#);
    let start = out.len();
    serde_json::to_writer(&mut out, result).expect("results serialise");
    debug_assert_eq!(out.last(), Some(&b'}'), "a result is an object");
    out.pop();
    if out.len() > start + 1 {
        out.push(b',');
    }
    out.extend_from_slice(suffix);
    out.push(b'}');
    out
}

/// Encodes a success response, serialising `result`.
pub fn encode_result_value<T: Serialize + ?Sized>(id: &RequestId, result: &T) -> Vec<u8> {
    encode_result_sized(id, result, 256)
}

/// [`encode_result_value`] into a buffer made for `capacity` bytes: one allocation when the
/// caller knows about how long the answer is.
pub fn encode_result_sized<T: Serialize + ?Sized>(id: &RequestId, result: &T, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(HEAD);
    id.write_json(&mut out);
    out.extend_from_slice(br#","result":"#);
    serde_json::to_writer(&mut out, result).expect("results serialise");
    out.push(b'}');
    out
}

/// Encodes a success response whose result `write` appends, into a buffer made for `capacity`
/// bytes.
pub(crate) fn encode_result_with(id: &RequestId, capacity: usize, write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(HEAD);
    id.write_json(&mut out);
    out.extend_from_slice(br#","result":"#);
    write(&mut out);
    out.push(b'}');
    out
}

/// Encodes an error response. `id` is `None` when the request's id could not be read.
pub fn encode_error(id: Option<&RequestId>, error: &ErrorObject) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(HEAD);
    match id {
        Some(id) => id.write_json(&mut out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","error":"#);
    serde_json::to_writer(&mut out, error).expect("errors serialise");
    out.push(b'}');
    out
}

/// Encodes a request this side sends.
pub fn encode_request<P: Serialize + ?Sized>(id: &RequestId, method: &str, params: &P) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_request_head(&mut out, id, method);
    serde_json::to_writer(&mut out, params).expect("params serialise");
    out.push(b'}');
    out
}

/// [`encode_request`] for params already written as JSON: one buffer of the right size.
pub fn encode_request_raw(id: &RequestId, method: &str, params: &RawValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + method.len() + params.get().len());
    write_request_head(&mut out, id, method);
    out.extend_from_slice(params.get().as_bytes());
    out.push(b'}');
    out
}

/// A request up to its params: `{"jsonrpc":"2.0","id":…,"method":…,"params":`.
fn write_request_head(out: &mut Vec<u8>, id: &RequestId, method: &str) {
    out.extend_from_slice(HEAD);
    id.write_json(out);
    out.extend_from_slice(br#","method":"#);
    serde_json::to_writer(&mut *out, method).expect("a string serialises");
    out.extend_from_slice(br#","params":"#);
}

/// Encodes a notification.
pub fn encode_notification<P: Serialize + ?Sized>(method: &str, params: &P) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(br#"{"jsonrpc":"2.0","method":"#);
    serde_json::to_writer(&mut out, method).expect("a string serialises");
    out.extend_from_slice(br#","params":"#);
    serde_json::to_writer(&mut out, params).expect("params serialise");
    out.push(b'}');
    out
}

/// Joins encoded messages into one JSON array (the answer to a batch).
pub fn encode_batch(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(p);
    }
    out.push(b']');
    out
}

/// A result serialised once, kept as raw JSON.
pub type RawResult = Box<RawValue>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(s: &str) -> Incoming {
        match parse_frame(s.as_bytes()) {
            Frame::Single(m) => m,
            Frame::Batch(_) => panic!("expected one message"),
        }
    }

    #[test]
    fn the_one_pass_reading_and_the_value_reading_agree() {
        for text in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"e","arguments":{"t":"x"},"_meta":{"progressToken":3,"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{}},"io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},"io.modelcontextprotocol/logLevel":"info"}}}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"no/such","params":[1,{"b":null}]}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":3,"result":{"ok":true}}"#,
            r#"{"jsonrpc":"1.0","id":4,"method":"ping"}"#,
        ] {
            // A call's params are compared as the call each reading gives.
            let norm = |m: Incoming| match m {
                Incoming::Request {
                    id,
                    method: Ok(method @ (Method::ToolsCall | Method::PromptsGet)),
                    params,
                    stateless,
                } => Incoming::Request {
                    id,
                    method: Ok(method),
                    params: Params::Call(params.into_call(method).unwrap()),
                    stateless,
                },
                other => other,
            };
            let fast = format!("{:?}", norm(one(text)));
            let slow = format!("{:?}", norm(classify(serde_json::from_str(text).unwrap())));
            assert_eq!(fast, slow, "{text}");
        }
        // The era's keys are read apart; a notification keeps them.
        let Incoming::Request { params, stateless, .. } = one(
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
        ) else {
            panic!("a request")
        };
        assert_eq!(params, Params::Value(Some(serde_json::json!({}))));
        assert!(stateless.is_stateless());
        let Incoming::Notification { params, .. } = one(
            r#"{"jsonrpc":"2.0","method":"x","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
        ) else {
            panic!("a notification")
        };
        assert_eq!(
            params,
            Some(serde_json::json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}))
        );
    }

    #[test]
    fn a_calls_params_read_into_their_type_equal_those_read_as_a_value() {
        let era = r#""io.modelcontextprotocol/protocolVersion":"2026-07-28""#;
        let call =
            |method: &str, params: &str| format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
        let cases = [
            r#"{"name":"echo","arguments":{"text":"hi","n":[1,{"a":null}]}}"#.to_owned(),
            r#"{"name":"echo"}"#.to_owned(),
            r#"{"name":"echo","arguments":null,"inputResponses":null,"requestState":null}"#.to_owned(),
            format!(r#"{{"name":"echo","_meta":{{{era},"progressToken":"p"}},"requestState":"s"}}"#),
            format!(r#"{{"name":"echo","_meta":{{{era}}},"inputResponses":{{"k":{{"x":1}}}}}}"#),
            r#"{"name":"echo","_meta":{},"task":{"ttl":500,"x":1},"extra":[true]}"#.to_owned(),
            // What the typed reading does not take goes the slow way, and fails there or not.
            r#"{"name":3}"#.to_owned(),
            r#"{"arguments":{}}"#.to_owned(),
            r#"{"name":"a","arguments":[1]}"#.to_owned(),
            r#"{"name":"a","inputResponses":1}"#.to_owned(),
            r#"{"name":"a","requestState":{}}"#.to_owned(),
            r#"{"name":"a","_meta":7}"#.to_owned(),
            r#"{"name":"a","name":"b"}"#.to_owned(),
            r#"{"name":"a","x":1,"x":2}"#.to_owned(),
            "[1]".to_owned(),
            "7".to_owned(),
        ];
        for method in ["tools/call", "prompts/get"] {
            let typed = Method::parse(method).unwrap();
            for params in &cases {
                let text = call(method, params);
                let (fast, slow) = (one(&text), classify(serde_json::from_str(&text).unwrap()));
                let read = |m: Incoming| match m {
                    Incoming::Request { params, stateless, .. } => {
                        (params.into_call(typed).map_err(|e| e.message), stateless.is_stateless())
                    }
                    other => (Err(format!("{other:?}")), false),
                };
                assert_eq!(read(fast), read(slow), "{text}");
            }
        }
        // A well-formed call is read into its type; the whole params come back as a value.
        let text = call("tools/call", &cases[5]);
        let Incoming::Request { params, .. } = one(&text) else {
            panic!("a request")
        };
        assert!(
            matches!(&params, Params::Call(c) if c.task == Some(super::super::params::TaskRequest { ttl_ms: Some(500) }))
        );
        assert_eq!(params.str_field("name"), Some("echo"));
        assert_eq!(
            params.into_value(),
            Some(
                serde_json::json!({"name": "echo", "arguments": {}, "_meta": {}, "task": {"ttl": 500, "x": 1}, "extra": [true]})
            )
        );
        // Params before the method are read as a value, and give the same call.
        let text = r#"{"jsonrpc":"2.0","params":{"name":"echo"},"id":1,"method":"tools/call"}"#;
        let Incoming::Request { params, .. } = one(text) else {
            panic!("a request")
        };
        assert!(matches!(params, Params::Value(_)));
        assert_eq!(params.into_call(Method::ToolsCall).unwrap().name, "echo");
    }

    fn code(m: &Incoming) -> (Option<RequestId>, i32) {
        match m {
            Incoming::Invalid { id, error } => (id.clone(), error.code.0),
            other => panic!("expected an invalid message, got {other:?}"),
        }
    }

    #[test]
    fn classifies_requests_notifications_and_responses() {
        assert!(matches!(
            one(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Incoming::Request {
                id: RequestId::Number(1),
                ..
            }
        ));
        assert!(matches!(
            one(r#"{"jsonrpc":"2.0","id":"a","method":"ping","params":{}}"#),
            Incoming::Request {
                id: RequestId::String(_),
                ..
            }
        ));
        assert!(matches!(
            one(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Incoming::Notification { .. }
        ));
        assert!(matches!(
            one(r#"{"jsonrpc":"2.0","id":7,"result":{}}"#),
            Incoming::Response { outcome: Ok(_), .. }
        ));
        assert!(matches!(
            one(r#"{"jsonrpc":"2.0","id":7,"error":{"code":-1,"message":"no"}}"#),
            Incoming::Response { outcome: Err(_), .. }
        ));
    }

    #[test]
    fn rejects_bad_messages_with_the_right_codes() {
        assert_eq!(code(&one("{not json")), (None, -32700));
        assert_eq!(code(&one("[1,2")).1, -32700);
        assert_eq!(code(&one("[]")).1, -32600);
        assert_eq!(code(&one("42")).1, -32600);
        assert_eq!(
            code(&one(r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#)),
            (None, -32600)
        );
        assert_eq!(code(&one(r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#)), (None, -32600));
        assert_eq!(code(&one(r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#)), (None, -32600));
        assert_eq!(
            code(&one(r#"{"jsonrpc":"1.0","id":3,"method":"x"}"#)),
            (Some(3.into()), -32600)
        );
        assert_eq!(code(&one(r#"{"id":3,"method":"x"}"#)), (Some(3.into()), -32600));
        assert_eq!(code(&one(r#"{"jsonrpc":"2.0","id":3,"method":7}"#)).1, -32600);
        assert_eq!(
            code(&one(r#"{"jsonrpc":"2.0","id":3,"method":"x","params":5}"#)).1,
            -32600
        );
        assert_eq!(code(&one(r#"{"jsonrpc":"2.0","id":3}"#)).1, -32600);
        // A raw control character inside a JSON string is not JSON.
        assert_eq!(code(&one("\"\u{0}\"")).1, -32700);
        let bad_utf8 = parse_frame(b"{\"a\":\"\xff\"}");
        let Frame::Single(Incoming::Invalid { error, .. }) = bad_utf8 else {
            panic!()
        };
        assert_eq!(error.code.0, -32700);
        assert!(error.message.contains("UTF-8"), "{}", error.message);
    }

    #[test]
    fn a_batch_is_classified_item_by_item() {
        let Frame::Batch(items) = parse_frame(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}, 5]"#) else {
            panic!("expected a batch")
        };
        assert!(matches!(items[0], Incoming::Request { .. }));
        assert!(matches!(items[1], Incoming::Invalid { .. }));
    }

    #[test]
    fn encodes_byte_exact_envelopes() {
        let id = RequestId::String("x\"y".into());
        let r = encode_result(&id, b"{}");
        assert_eq!(
            std::str::from_utf8(&r).unwrap(),
            r#"{"jsonrpc":"2.0","id":"x\"y","result":{}}"#
        );
        let e = encode_error(None, &ErrorObject::new(ErrorCode::PARSE_ERROR, "bad"));
        let v: Value = serde_json::from_slice(&e).unwrap();
        assert_eq!(
            v,
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}})
        );
        let b = encode_batch(&[r.clone(), r]);
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_written_result_is_told_from_its_first_bytes() {
        let error = ErrorObject::new(ErrorCode::INVALID_PARAMS, "bad");
        for id in [
            RequestId::Number(7),
            RequestId::Number(-12),
            RequestId::String("plain".into()),
            // An id that looks like the member it is followed by.
            RequestId::String(r#"x\","result":"#.into()),
            RequestId::String(r#"x","error":"#.into()),
        ] {
            assert!(is_written_result(&encode_result(&id, b"{}")), "{id}");
            assert!(is_written_result(&encode_result_value(&id, &json!({"a": 1}))), "{id}");
            assert!(!is_written_result(&encode_error(Some(&id), &error)), "{id}");
        }
        assert!(!is_written_result(&encode_error(None, &error)));
        // Written elsewhere, or cut short: not known to be a success.
        for other in [
            &br#"{"id":1,"jsonrpc":"2.0","result":{}}"#[..],
            br#"{"jsonrpc":"2.0","id":"unclosed"#,
            br#"{"jsonrpc":"2.0","id":"a\"#,
            br#"{"jsonrpc":"2.0","id":1"#,
            b"",
        ] {
            assert!(!is_written_result(other), "{}", String::from_utf8_lossy(other));
        }
    }
}
