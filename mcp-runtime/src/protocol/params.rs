//! The params of every request the server serves, and of the notifications it reads, typed.
//!
//! Each is read from the request's `params` with [`FromParams`], which moves the values out (no
//! copy) and says precisely what is wrong, as `-32602`.

use super::capabilities::ClientCapabilities;
use super::error::ErrorObject;
use super::jsonrpc::RequestId;
use super::method::Method;
use super::types::{Implementation, LogLevel};
use serde_json::{Map, Value};

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
#[derive(Clone, Debug, Default)]
pub struct InputParams {
    /// `inputResponses`: answers to the previous round's input requests, by key.
    pub input_responses: Option<Map<String, Value>>,
    /// `requestState`, echoed as the server sent it.
    pub request_state: Option<String>,
}

impl InputParams {
    fn take(method: Method, params: &mut Map<String, Value>) -> Result<Self, ErrorObject> {
        let input_responses = match params.remove("inputResponses") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
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

/// A call of something by name with arguments: `tools/call` and `prompts/get`.
#[derive(Clone, Debug)]
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
        let task = match params.remove("task") {
            Some(Value::Object(t)) => Some(TaskRequest {
                ttl_ms: t.get("ttl").and_then(Value::as_u64),
            }),
            _ => None,
        };
        Ok(Self {
            name,
            arguments,
            input,
            meta,
            task,
        })
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
