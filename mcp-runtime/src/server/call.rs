//! The call machinery that tools, prompts and resources share: one call's arguments and
//! context ([`ToolCall`]), and the `input_required` answer a handler may write by hand.

use super::context::{Context, RequestParts};
use crate::protocol::ErrorObject;
use crate::protocol::method::MethodName;
use serde_json::{Map, Value, json};
use std::fmt;
use std::sync::Arc;

/// An `input_required` answer written by hand (stateless era): what the client must supply, and
/// state to get back with its retry. Most tools never need this: `ctx.sample`, `ctx.elicit` and
/// `ctx.roots` do it for you.
///
/// The server seals `request_state` (HMAC, expiry, bound to the request), so on the retry
/// [`Context::request_state`] returns it exactly as given, and a tampered one is refused.
#[derive(Clone, Debug, Default)]
pub struct InputRequired {
    /// What to ask the client, by key: `{"method": .., "params": ..}` objects.
    pub input_requests: Map<String, Value>,
    /// State for the retry.
    pub request_state: Option<String>,
}

impl InputRequired {
    /// An empty request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the client `method` with `params` under `key`.
    #[must_use]
    pub fn request(mut self, key: impl Into<String>, method: impl MethodName, params: Value) -> Self {
        self.input_requests
            .insert(key.into(), json!({ "method": method.method_name(), "params": params }));
        self
    }

    /// Sets the state returned with the retry.
    #[must_use]
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.request_state = Some(state.into());
        self
    }
}

/// One call of a tool: its arguments and its request's context.
pub struct ToolCall {
    pub(crate) args: Map<String, Value>,
    pub(crate) ctx: Context,
    pub(crate) name: Arc<str>,
    pub(crate) wrap: bool,
    /// For a resource read: the URI read, and the declared MIME type.
    pub(crate) uri: Option<String>,
    pub(crate) mime: Option<String>,
    pub(crate) errors: Vec<String>,
}

impl fmt::Debug for ToolCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolCall")
            .field("name", &self.name)
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}

impl ToolCall {
    pub(crate) fn new(name: Arc<str>, args: Map<String, Value>, parts: Arc<RequestParts>, wrap: bool) -> Self {
        Self {
            args,
            ctx: Context::new(parts),
            name,
            wrap,
            uri: None,
            mime: None,
            errors: Vec::new(),
        }
    }

    /// The URI being read, for a resource.
    pub fn uri(&self) -> Option<&str> {
        self.uri.as_deref()
    }

    /// The arguments not yet taken by a parameter.
    pub fn arguments(&self) -> &Map<String, Value> {
        &self.args
    }

    /// The request's context.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The tool's name.
    pub fn tool_name(&self) -> &str {
        &self.name
    }

    /// What went wrong with the arguments, as one message. Not a stable API.
    #[doc(hidden)]
    pub fn rejection(&self, kind: &str) -> ErrorObject {
        let mut msg = format!("Invalid arguments for {kind} `{}`:", self.name);
        for e in &self.errors {
            msg.push_str("\n- ");
            msg.push_str(e);
        }
        ErrorObject::invalid_params(msg)
    }

    pub(crate) fn unknown_arguments(&mut self) {
        let unknown: Vec<&String> = self.args.keys().collect();
        if !unknown.is_empty() {
            let list = unknown.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
            self.errors.push(format!(
                "unknown argument{} {list}",
                if unknown.len() > 1 { "s" } else { "" }
            ));
        }
    }
}
