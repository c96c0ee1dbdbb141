//! The params of every request the server serves, and of the notifications it reads, typed.
//!
//! Each is read from the request's `params` with [`FromParams`], which moves the values out (no
//! copy) and says precisely what is wrong, as `-32602`.

use super::capabilities::ClientCapabilities;
use super::era_meta::{MetaSeed, StatelessMeta, Text};
use super::error::ErrorObject;
use super::id::RequestId;
use super::method::Method;
use super::types::{Implementation, LogLevel};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Params read from a request.
pub trait FromParams: Sized {
    /// Reads them from `params` (absent when the request had none).
    fn from_params(params: Option<Value>) -> Result<Self, ErrorObject>;
}

fn invalid(message: impl Into<String>) -> ErrorObject {
    ErrorObject::invalid_params(message)
}

/// `params` as an object; `None` when absent or not an object.
fn object(params: Option<Value>) -> Option<Map<String, Value>> {
    match params {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// `_meta`, moved out of the params when it is an object.
fn take_meta(params: &mut Map<String, Value>) -> Option<Map<String, Value>> {
    match params.remove("_meta") {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// `initialize`.
#[derive(Clone, Debug)]
pub struct InitializeParams {
    /// The version the client asks for.
    pub protocol_version: String,
    /// What the client can do.
    pub capabilities: ClientCapabilities,
    /// Who the client is, when it said (and said it well).
    pub client_info: Option<Implementation>,
}

impl FromParams for InitializeParams {
    fn from_params(params: Option<Value>) -> Result<Self, ErrorObject> {
        let mut params = object(params).ok_or_else(|| invalid("initialize needs params"))?;
        let Some(Value::String(protocol_version)) = params.remove("protocolVersion") else {
            return Err(invalid("initialize: `protocolVersion` must be a string"));
        };
        let capabilities = match params.remove("capabilities") {
            Some(Value::Object(m)) => ClientCapabilities::from(m),
            _ => ClientCapabilities::default(),
        };
        let client_info = params
            .remove("clientInfo")
            .and_then(|v| serde_json::from_value::<Implementation>(v).ok());
        Ok(Self {
            protocol_version,
            capabilities,
            client_info,
        })
    }
}

/// The list methods: `tools/list`, `prompts/list`, `resources/list`, `resources/templates/list`.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    /// Where the page starts; `None` for the first.
    pub cursor: Option<String>,
}

impl FromParams for ListParams {
    fn from_params(params: Option<Value>) -> Result<Self, ErrorObject> {
        match object(params).and_then(|mut p| p.remove("cursor")) {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(Value::String(cursor)) => Ok(Self { cursor: Some(cursor) }),
            Some(_) => Err(invalid("Invalid cursor")),
        }
    }
}

/// What a stateless-era retry carries: the client's answers, and the state it echoes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InputParams {
    /// `inputResponses`: answers to the previous round's input requests, by key.
    pub input_responses: Option<InputResponses>,
    /// `requestState`, echoed as the server sent it.
    pub request_state: Option<String>,
}

impl InputParams {
    fn take(method: Method, params: &mut Map<String, Value>) -> Result<Self, ErrorObject> {
        let input_responses = match params.remove("inputResponses") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(InputResponses::from_values(m)),
            Some(_) => return Err(invalid(format!("{method}: `inputResponses` must be an object"))),
        };
        let request_state = match params.remove("requestState") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(invalid(format!("{method}: `requestState` must be a string"))),
        };
        Ok(Self {
            input_responses,
            request_state,
        })
    }
}

/// A retry's `inputResponses`: the client's answers by key, each kept as the JSON text it sent.
///
/// An answer is read into its type once, by whoever waits for it (`ctx.sample(..)` reads a
/// [`CreateMessageResult`](super::CreateMessageResult)), and is written into the next sealed
/// state as it came: no [`Value`] is built between. Cloning shares the texts.
#[derive(Clone, Default)]
pub struct InputResponses(BTreeMap<String, Arc<RawValue>>);

impl InputResponses {
    /// No answers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers given as values.
    pub fn from_values(values: Map<String, Value>) -> Self {
        values
            .into_iter()
            .map(|(key, value)| {
                let text = serde_json::value::to_raw_value(&value).expect("a JSON value serialises");
                (key, Arc::from(text))
            })
            .collect()
    }

    /// The answers as values. An answer read from a message always reads as one; one inserted
    /// by hand that nests deeper than `serde_json` reads (128 levels) reads as `null`.
    pub fn to_values(&self) -> Map<String, Value> {
        self.iter()
            .map(|(key, text)| (key.to_owned(), serde_json::from_str(text.get()).unwrap_or(Value::Null)))
            .collect()
    }

    /// The answer under `key`, as the client wrote it.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.get(key).map(|text| &**text)
    }

    /// The answer under `key`, shared.
    pub fn get_shared(&self, key: &str) -> Option<&Arc<RawValue>> {
        self.0.get(key)
    }

    /// The answer under `key`, read as a `T`.
    pub fn parse<T: de::DeserializeOwned>(&self, key: &str) -> Option<serde_json::Result<T>> {
        self.get(key).map(|text| serde_json::from_str(text.get()))
    }

    /// Adds an answer (replacing one under the same key).
    pub fn insert(&mut self, key: String, answer: Arc<RawValue>) {
        self.0.insert(key, answer);
    }

    /// Adds an answer unless one is known under its key already.
    pub fn insert_new(&mut self, key: String, answer: Arc<RawValue>) {
        self.0.entry(key).or_insert(answer);
    }

    /// Takes out the answer under `key`.
    pub fn remove(&mut self, key: &str) -> Option<Arc<RawValue>> {
        self.0.remove(key)
    }

    /// Whether an answer is known under `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// How many answers there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The answers in order of their keys.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.0.iter().map(|(key, text)| (key.as_str(), &**text))
    }
}

impl FromIterator<(String, Arc<RawValue>)> for InputResponses {
    fn from_iter<I: IntoIterator<Item = (String, Arc<RawValue>)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl IntoIterator for InputResponses {
    type Item = (String, Arc<RawValue>);
    type IntoIter = std::collections::btree_map::IntoIter<String, Arc<RawValue>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Debug for InputResponses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter().map(|(k, v)| (k, v.get()))).finish()
    }
}

/// Equal when the same keys hold the same texts.
impl PartialEq for InputResponses {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((a, x), (b, y))| a == b && x.get() == y.get())
    }
}

impl Serialize for InputResponses {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for InputResponses {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AnswersVisitor;
        impl<'de> Visitor<'de> for AnswersVisitor {
            type Value = InputResponses;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of answers by key")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<InputResponses, A::Error> {
                let mut answers = BTreeMap::new();
                while let Some((key, text)) = map.next_entry::<String, Box<RawValue>>()? {
                    if !nests_within(text.get(), MAX_ANSWER_DEPTH) {
                        return Err(de::Error::custom("an answer in inputResponses is nested too deeply"));
                    }
                    answers.insert(key, Arc::from(text));
                }
                Ok(InputResponses(answers))
            }
        }
        d.deserialize_map(AnswersVisitor)
    }
}

/// How deep an answer kept as text may nest. Taking it as text skips `serde_json`'s limit for
/// reading a `Value` (128 levels), which every answer must stay within: it may be read as one
/// ([`InputResponses::to_values`]).
const MAX_ANSWER_DEPTH: usize = 100;

/// Whether valid JSON text nests arrays and objects at most `limit` deep.
fn nests_within(json: &str, limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// A call of something by name with arguments: `tools/call` and `prompts/get`.
#[derive(Clone, Debug, PartialEq)]
pub struct CallParams {
    /// The tool's or prompt's name.
    pub name: String,
    /// The arguments (empty when absent).
    pub arguments: Map<String, Value>,
    /// The retry part (stateless era).
    pub input: InputParams,
    /// `_meta`, when it is an object.
    pub meta: Option<Map<String, Value>>,
    /// `task` (2025-11-25): run the call as a task.
    pub task: Option<TaskRequest>,
    /// The members not read into a field above (`task` among them, as sent): kept so that the
    /// params can be given back whole ([`Params::into_value`]).
    pub rest: Map<String, Value>,
}

/// `params.task` of a 2025-11-25 `tools/call`: the client asks for the call to run as a task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskRequest {
    /// How long, in milliseconds from its creation, the client wants the task kept.
    pub ttl_ms: Option<u64>,
}

/// `tasks/get`, `tasks/cancel` and `tasks/result`: one task, by id.
#[derive(Clone, Debug)]
pub struct TaskIdParams {
    /// The task's id.
    pub task_id: String,
}

impl FromParams for TaskIdParams {
    fn from_params(params: Option<Value>) -> Result<Self, ErrorObject> {
        match object(params).and_then(|mut p| p.remove("taskId")) {
            Some(Value::String(task_id)) => Ok(Self { task_id }),
            _ => Err(invalid("`taskId` must be a string")),
        }
    }
}

/// `tasks/update` (stateless era): answers to some of a task's input requests.
#[derive(Clone, Debug)]
pub struct TaskUpdateParams {
    /// The task's id.
    pub task_id: String,
    /// Answers, by the keys of the task's `inputRequests`.
    pub input_responses: Map<String, Value>,
}

impl FromParams for TaskUpdateParams {
    fn from_params(params: Option<Value>) -> Result<Self, ErrorObject> {
        let mut params = object(params).ok_or_else(|| invalid("tasks/update needs params with a `taskId`"))?;
        let Some(Value::String(task_id)) = params.remove("taskId") else {
            return Err(invalid("tasks/update: `taskId` must be a string"));
        };
        let input_responses = match params.remove("inputResponses") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(invalid("tasks/update: `inputResponses` must be an object")),
        };
        Ok(Self {
            task_id,
            input_responses,
        })
    }
}

impl CallParams {
    /// Reads the params of `method` (`tools/call` or `prompts/get`).
    pub fn read(method: Method, params: Option<Value>) -> Result<Self, ErrorObject> {
        let mut params = object(params).ok_or_else(|| invalid(format!("{method} needs params with a `name`")))?;
        let Some(Value::String(name)) = params.remove("name") else {
            return Err(invalid(format!("{method}: `name` must be a string")));
        };
        let arguments = match params.remove("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(invalid(format!("{method}: `arguments` must be an object"))),
        };
        let meta = take_meta(&mut params);
        let input = InputParams::take(method, &mut params)?;
        let task = params.get("task").and_then(TaskRequest::of);
        Ok(Self {
            name,
            arguments,
            input,
            meta,
            task,
            rest: params,
        })
    }

    /// The params as a value again: every member the client sent, `arguments` always, and
    /// `_meta` without the stateless era's keys (which the message keeps apart).
    pub fn into_value(self) -> Value {
        let mut params = self.rest;
        params.insert("name".to_owned(), Value::String(self.name));
        params.insert("arguments".to_owned(), Value::Object(self.arguments));
        if let Some(meta) = self.meta {
            params.insert("_meta".to_owned(), Value::Object(meta));
        }
        if let Some(answers) = self.input.input_responses {
            params.insert("inputResponses".to_owned(), Value::Object(answers.to_values()));
        }
        if let Some(state) = self.input.request_state {
            params.insert("requestState".to_owned(), Value::String(state));
        }
        Value::Object(params)
    }
}

/// Reads a `tools/call`'s or `prompts/get`'s params straight from the message's text into
/// [`CallParams`], with the stateless era's keys of `_meta` taken out as
/// [`ParamsSeed`](super::era_meta::ParamsSeed) takes them. What it does not take (a member of
/// the wrong type, a duplicate key, no `name`) is an error, and the message then takes the slow
/// path, where [`CallParams::read`] says precisely what is wrong.
pub(crate) struct CallSeed;

impl<'de> DeserializeSeed<'de> for CallSeed {
    type Value = (CallParams, StatelessMeta);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CallSeed {
    type Value = (CallParams, StatelessMeta);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the params of a call")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut era = StatelessMeta::default();
        let (mut name, mut arguments, mut meta) = (None, None, None);
        let (mut input_responses, mut request_state) = (None, None);
        let mut rest = Map::new();
        let duplicate = || de::Error::custom("duplicate key");
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match &*key {
                "name" if name.is_none() => name = Some(map.next_value::<Text<'de>>()?.0.into_owned()),
                "arguments" if arguments.is_none() => {
                    arguments = Some(map.next_value::<Option<Map<String, Value>>>()?.unwrap_or_default());
                }
                "_meta" if meta.is_none() => meta = Some(map.next_value_seed(MetaSeed(&mut era))?),
                "inputResponses" if input_responses.is_none() => {
                    input_responses = Some(map.next_value::<Option<InputResponses>>()?);
                }
                "requestState" if request_state.is_none() => {
                    request_state = Some(map.next_value::<Option<String>>()?);
                }
                "name" | "arguments" | "_meta" | "inputResponses" | "requestState" => return Err(duplicate()),
                _ if rest.contains_key(&*key) => return Err(duplicate()),
                _ => {
                    let value = map.next_value::<Value>()?;
                    rest.insert(key.into_owned(), value);
                }
            }
        }
        let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
        let meta = match meta {
            Some(Value::Object(m)) if era.keeps(&m) => Some(m),
            _ => None,
        };
        let task = rest.get("task").and_then(TaskRequest::of);
        let call = CallParams {
            name,
            arguments: arguments.unwrap_or_default(),
            input: InputParams {
                input_responses: input_responses.flatten(),
                request_state: request_state.flatten(),
            },
            meta,
            task,
            rest,
        };
        Ok((call, era))
    }
}

impl TaskRequest {
    /// `params.task`, when it is an object.
    fn of(task: &Value) -> Option<Self> {
        task.as_object().map(|t| Self {
            ttl_ms: t.get("ttl").and_then(Value::as_u64),
        })
    }
}

/// A request's params as the message was read: a `tools/call`'s or `prompts/get`'s straight
/// into their type (no `Value` between, when the message names its method before its params,
/// as clients do), anything else as a value.
#[derive(Clone, Debug, PartialEq)]
pub enum Params {
    /// Absent (`None`), or read as a value.
    Value(Option<Value>),
    /// The params of a `tools/call` or `prompts/get`, read into their type.
    Call(CallParams),
}

impl Default for Params {
    fn default() -> Self {
        Self::Value(None)
    }
}

impl Params {
    /// The params as a value (`None` when absent).
    pub fn into_value(self) -> Option<Value> {
        match self {
            Self::Value(params) => params,
            Self::Call(call) => Some(call.into_value()),
        }
    }

    /// The call params of `method` (`tools/call` or `prompts/get`), read from a value if they
    /// were not read into their type already.
    pub fn into_call(self, method: Method) -> Result<CallParams, ErrorObject> {
        match self {
            Self::Call(call) => Ok(call),
            Self::Value(params) => CallParams::read(method, params),
        }
    }

    /// The params when they were read as a value (`None` when absent, or read into a type).
    pub fn as_value(&self) -> Option<&Value> {
        match self {
            Self::Value(params) => params.as_ref(),
            Self::Call(_) => None,
        }
    }

    /// The string member `key` (such as `name`, `uri` or `taskId`), when it is one.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        match self {
            Self::Value(params) => params.as_ref()?.get(key)?.as_str(),
            Self::Call(call) => match key {
                "name" => Some(&call.name),
                "requestState" => call.input.request_state.as_deref(),
                _ => call.rest.get(key)?.as_str(),
            },
        }
    }

    /// The call's argument `name`, when there is one.
    pub fn argument(&self, name: &str) -> Option<&Value> {
        match self {
            Self::Value(params) => params.as_ref()?.get("arguments")?.get(name),
            Self::Call(call) => call.arguments.get(name),
        }
    }

    /// `_meta`, when it is an object.
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        match self {
            Self::Value(params) => params.as_ref()?.get("_meta")?.as_object(),
            Self::Call(call) => call.meta.as_ref(),
        }
    }
}

/// `resources/read`.
#[derive(Clone, Debug)]
pub struct ReadResourceParams {
    /// The URI to read.
    pub uri: String,
    /// The retry part (stateless era).
    pub input: InputParams,
    /// `_meta`, when it is an object.
    pub meta: Option<Map<String, Value>>,
}

impl FromParams for ReadResourceParams {
    fn from_params(params: Option<Value>) -> Result<Self, ErrorObject> {
        let mut params = object(params).ok_or_else(|| invalid("resources/read needs params with a `uri`"))?;
        let Some(Value::String(uri)) = params.remove("uri") else {
            return Err(invalid("resources/read: `uri` must be a string"));
        };
        let meta = take_meta(&mut params);
        let input = InputParams::take(Method::ResourcesRead, &mut params)?;
        Ok(Self { uri, input, meta })
    }
}

/// `resources/subscribe` and `resources/unsubscribe`.
#[derive(Clone, Debug)]
pub struct SubscribeParams {
    /// The resource's URI.
    pub uri: String,
}

impl FromParams for SubscribeParams {
    fn from_params(params: Option<Value>) -> Result<Self, ErrorObject> {
        match object(params).and_then(|mut p| p.remove("uri")) {
            Some(Value::String(uri)) => Ok(Self { uri }),
            _ => Err(invalid("`uri` must be a string")),
        }
    }
}

/// What `completion/complete` completes an argument of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompletionRef {
    /// `ref/prompt`, by the prompt's name.
    Prompt(String),
    /// `ref/resource`, by the resource's URI or URI template.
    Resource(String),
}

/// `completion/complete`.
#[derive(Clone, Debug)]
pub struct CompleteParams {
    /// The prompt or resource.
    pub reference: CompletionRef,
    /// The argument's name.
    pub argument: String,
    /// What the user has typed so far.
    pub value: String,
}

impl FromParams for CompleteParams {
    fn from_params(params: Option<Value>) -> Result<Self, ErrorObject> {
        let mut params = object(params).unwrap_or_default();
        let mut argument = match params.remove("argument") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let Some(Value::String(name)) = argument.remove("name") else {
            return Err(invalid("completion/complete: `argument.name` must be a string"));
        };
        let value = match argument.remove("value") {
            Some(Value::String(v)) => v,
            _ => String::new(),
        };
        let reference = params.remove("ref").unwrap_or(Value::Null);
        let text = |key: &str| {
            reference
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let reference = match reference.get("type").and_then(Value::as_str) {
            Some("ref/prompt") => CompletionRef::Prompt(text("name")),
            Some("ref/resource") => CompletionRef::Resource(text("uri")),
            _ => {
                return Err(invalid(
                    "completion/complete: `ref.type` must be ref/prompt or ref/resource",
                ));
            }
        };
        Ok(Self {
            reference,
            argument: name,
            value,
        })
    }
}

/// `logging/setLevel`.
#[derive(Clone, Copy, Debug)]
pub struct SetLevelParams {
    /// The least severe level the client wants.
    pub level: LogLevel,
}

impl FromParams for SetLevelParams {
    fn from_params(params: Option<Value>) -> Result<Self, ErrorObject> {
        let level = params.as_ref().and_then(|p| p.get("level")).and_then(Value::as_str);
        match level.and_then(LogLevel::parse) {
            Some(level) => Ok(Self { level }),
            None => Err(invalid(format!("`level` must be {}", LogLevel::expected()))),
        }
    }
}

/// `subscriptions/listen` (stateless era): what the client wants to hear.
#[derive(Clone, Debug, Default)]
pub struct ListenParams {
    /// `toolsListChanged`.
    pub tools_list_changed: bool,
    /// `promptsListChanged`.
    pub prompts_list_changed: bool,
    /// `resourcesListChanged`.
    pub resources_list_changed: bool,
    /// `resourceSubscriptions`: URIs whose updates to hear.
    pub resource_subscriptions: Vec<String>,
    /// `taskIds`: tasks whose changes to hear (tasks extension).
    pub task_ids: Vec<String>,
}

impl FromParams for ListenParams {
    fn from_params(params: Option<Value>) -> Result<Self, ErrorObject> {
        let wanted = params
            .as_ref()
            .and_then(|p| p.get("notifications"))
            .and_then(Value::as_object);
        let flag = |name: &str| wanted.and_then(|w| w.get(name)).and_then(Value::as_bool) == Some(true);
        let strings = |name: &str| -> Vec<String> {
            wanted
                .and_then(|w| w.get(name))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        Ok(Self {
            tools_list_changed: flag("toolsListChanged"),
            prompts_list_changed: flag("promptsListChanged"),
            resources_list_changed: flag("resourcesListChanged"),
            resource_subscriptions: strings("resourceSubscriptions"),
            task_ids: strings("taskIds"),
        })
    }
}

/// `notifications/cancelled`.
#[derive(Clone, Debug)]
pub struct CancelledParams {
    /// The request to cancel.
    pub request_id: RequestId,
}

impl CancelledParams {
    /// Reads them; `None` when the request id is missing or malformed (the notification is then
    /// ignored, as notifications are never answered).
    pub fn read(params: Option<&Value>) -> Option<Self> {
        let id = params?.get("requestId")?;
        RequestId::from_value(id).map(|request_id| Self { request_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_kept_as_text_and_one_nested_too_deeply_is_refused() {
        let text = r#"{"a": {"role": "assistant", "n": [1, "]]]{"]}, "b": "\\\""}"#;
        let answers: InputResponses = serde_json::from_str(text).unwrap();
        assert_eq!(
            answers.get("a").unwrap().get(),
            r#"{"role": "assistant", "n": [1, "]]]{"]}"#
        );
        assert_eq!(answers.to_values()["b"], json!("\\\""));
        let again = InputResponses::from_values(answers.to_values());
        assert_eq!(
            again.to_values(),
            answers.to_values(),
            "values make texts that read as the same values"
        );
        let deep = |levels: usize| format!(r#"{{"k": {}1{}}}"#, "[".repeat(levels), "]".repeat(levels));
        assert!(serde_json::from_str::<InputResponses>(&deep(MAX_ANSWER_DEPTH)).is_ok());
        let e = serde_json::from_str::<InputResponses>(&deep(MAX_ANSWER_DEPTH + 1)).unwrap_err();
        assert!(e.to_string().contains("nested too deeply"), "{e}");
        assert!(
            nests_within(r#"["[[[[", "\"[["]"#, 1),
            "brackets in strings do not count"
        );
    }

    #[test]
    fn calls_move_their_parts_out_and_say_what_is_wrong() {
        let p = CallParams::read(
            Method::ToolsCall,
            Some(json!({"name": "echo", "arguments": {"a": 1}, "_meta": {"k": 1}, "requestState": "s"})),
        )
        .unwrap();
        assert_eq!((p.name.as_str(), p.arguments["a"].clone()), ("echo", json!(1)));
        assert_eq!(p.input.request_state.as_deref(), Some("s"));
        assert!(p.meta.is_some());
        let e = CallParams::read(Method::PromptsGet, Some(json!({"name": 3}))).unwrap_err();
        assert_eq!(e.message, "prompts/get: `name` must be a string");
        let e = CallParams::read(Method::ToolsCall, Some(json!({"name": "a", "inputResponses": 1}))).unwrap_err();
        assert_eq!(e.message, "tools/call: `inputResponses` must be an object");
    }

    #[test]
    fn lists_levels_and_completions() {
        assert!(ListParams::from_params(Some(json!({"cursor": 1}))).is_err());
        assert_eq!(
            SetLevelParams::from_params(Some(json!({"level": "notice"})))
                .unwrap()
                .level,
            LogLevel::Notice
        );
        let c = CompleteParams::from_params(Some(json!({
            "ref": {"type": "ref/prompt", "name": "p"}, "argument": {"name": "a", "value": "x"}
        })))
        .unwrap();
        assert_eq!(c.reference, CompletionRef::Prompt("p".into()));
        assert_eq!(
            CancelledParams::read(Some(&json!({"requestId": 7})))
                .unwrap()
                .request_id,
            RequestId::Number(7)
        );
    }
}
