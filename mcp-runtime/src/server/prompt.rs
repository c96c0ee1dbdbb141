//! Prompts: their descriptors, calls and results.

use super::call::{InputRequired, ToolCall};
use super::completion::Completer;
use super::extract::Declaration;
use crate::protocol::{Content, ErrorObject, GetPromptResult, Icon, Prompt, PromptMessage};
use serde_json::{Map, Value};
use std::any::TypeId;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a prompt call ends with.
#[derive(Clone, Debug)]
pub enum PromptOutput {
    /// The messages.
    Result(GetPromptResult),
    /// A request for input first (stateless era).
    InputRequired(InputRequired),
    /// A JSON-RPC error (bad arguments: `-32602`; the handler failed: `-32603`).
    Error(ErrorObject),
}

/// The future a prompt call runs.
pub type PromptFuture = Pin<Box<dyn Future<Output = PromptOutput> + Send + 'static>>;

type Handler = dyn Fn(ToolCall) -> PromptFuture + Send + Sync;

/// A prompt ready to be served. `#[mcp::prompt]` makes one for each function; list them with
/// `mcp::prompts![..]`.
#[derive(Clone)]
pub struct PromptDef {
    pub(crate) prompt: Prompt,
    pub(crate) handler: Arc<Handler>,
    pub(crate) completers: Vec<(String, Completer)>,
    pub(crate) needs_state: Vec<(TypeId, &'static str)>,
    pub(crate) uses_context: bool,
}

impl fmt::Debug for PromptDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromptDef")
            .field("name", &self.prompt.name)
            .finish_non_exhaustive()
    }
}

/// The static facts `#[mcp::prompt]` gathers. Not a stable API.
#[doc(hidden)]
#[derive(Debug)]
pub struct PromptInfo {
    pub name: &'static str,
    pub title: Option<&'static str>,
    pub description: Option<&'static str>,
    pub icons: &'static [&'static str],
    pub meta: Option<fn() -> Value>,
}

impl PromptDef {
    /// Builds a prompt from what `#[mcp::prompt]` generates. Not a stable API.
    #[doc(hidden)]
    pub fn new(
        info: &PromptInfo,
        declare: fn(&mut Declaration),
        handler: impl Fn(ToolCall) -> PromptFuture + Send + Sync + 'static,
    ) -> Self {
        let mut declaration = Declaration::default();
        declare(&mut declaration);
        Self {
            prompt: Prompt {
                name: info.name.to_owned(),
                title: info.title.map(str::to_owned),
                description: info.description.map(str::to_owned),
                arguments: declaration.arguments,
                icons: info.icons.iter().map(|s| Icon::from_src(s)).collect(),
                meta: info.meta.map(|f| meta_map(f())),
            },
            handler: Arc::new(handler),
            completers: Vec::new(),
            needs_state: declaration.needs_state,
            uses_context: declaration.uses_context,
        }
    }

    /// A prompt written by hand: a definition and a function of the raw call (its arguments
    /// are [`ToolCall::arguments`]).
    pub fn from_fn<F, Fut>(prompt: Prompt, f: F) -> Self
    where
        F: Fn(ToolCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = PromptOutput> + Send + 'static,
    {
        Self {
            prompt,
            handler: Arc::new(move |call| Box::pin(f(call))),
            completers: Vec::new(),
            needs_state: Vec::new(),
            uses_context: true,
        }
    }

    /// Adds a completer for an argument. Not a stable API: use `complete(arg = f)`.
    #[doc(hidden)]
    #[must_use]
    pub fn with_completer(mut self, argument: &str, completer: Completer) -> Self {
        self.completers.push((argument.to_owned(), completer));
        self
    }

    /// The prompt's name.
    pub fn name(&self) -> &str {
        &self.prompt.name
    }

    /// The definition `prompts/list` shows.
    pub fn definition(&self) -> &Prompt {
        &self.prompt
    }
}

pub(crate) fn meta_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => Map::from_iter([("value".to_owned(), other)]),
    }
}

/// What a prompt may return: a string (one user message), a message, a list of messages, a
/// full [`GetPromptResult`], or a `Result` of one of these (`Err` is a `-32603` error).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a prompt",
    note = "return a `String`, an `mcp::PromptMessage`, a `Vec<mcp::PromptMessage>`, an `mcp::GetPromptResult`, or a `Result` of one of these"
)]
pub trait IntoPromptResult {
    /// Converts the value into what the call ends with.
    fn into_prompt_output(self) -> PromptOutput;
}

impl IntoPromptResult for GetPromptResult {
    fn into_prompt_output(self) -> PromptOutput {
        PromptOutput::Result(self)
    }
}

impl IntoPromptResult for Vec<PromptMessage> {
    fn into_prompt_output(self) -> PromptOutput {
        PromptOutput::Result(GetPromptResult {
            description: None,
            messages: self,
        })
    }
}

impl IntoPromptResult for PromptMessage {
    fn into_prompt_output(self) -> PromptOutput {
        vec![self].into_prompt_output()
    }
}

impl IntoPromptResult for String {
    fn into_prompt_output(self) -> PromptOutput {
        PromptMessage::user(Content::text(self)).into_prompt_output()
    }
}

impl IntoPromptResult for &'static str {
    fn into_prompt_output(self) -> PromptOutput {
        self.to_owned().into_prompt_output()
    }
}

impl IntoPromptResult for InputRequired {
    fn into_prompt_output(self) -> PromptOutput {
        PromptOutput::InputRequired(self)
    }
}

impl IntoPromptResult for PromptOutput {
    fn into_prompt_output(self) -> PromptOutput {
        self
    }
}

impl<T: IntoPromptResult, E: fmt::Display> IntoPromptResult for Result<T, E> {
    fn into_prompt_output(self) -> PromptOutput {
        match self {
            Ok(v) => v.into_prompt_output(),
            Err(e) => PromptOutput::Error(ErrorObject::internal(e.to_string())),
        }
    }
}
