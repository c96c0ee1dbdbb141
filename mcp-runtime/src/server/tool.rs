//! Tools: their descriptors, calls and results.

use super::extract::Declaration;
use super::schema;
use crate::protocol::{CallToolResult, Content, Icon, TaskSupport, Tool, ToolAnnotations, ToolExecution};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::any::TypeId;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use super::call::{InputRequired, ToolCall};

/// The future a tool call runs.
pub type ToolFuture = Pin<Box<dyn Future<Output = ToolOutput> + Send + 'static>>;

/// What a tool call ends with.
#[derive(Clone, Debug)]
pub enum ToolOutput {
    /// A result for the client.
    Result(CallToolResult),
    /// A request for input the client must supply before calling again (stateless era).
    InputRequired(InputRequired),
}

impl From<InputRequired> for ToolOutput {
    fn from(ir: InputRequired) -> Self {
        ToolOutput::InputRequired(ir)
    }
}

impl IntoToolResult for InputRequired {
    fn into_tool_result(self, _: Output) -> CallToolResult {
        CallToolResult::error("this tool needs input that only protocol version 2026-07-28 can carry")
    }

    fn into_tool_output(self, _: Output) -> ToolOutput {
        ToolOutput::InputRequired(self)
    }
}

pub(crate) type Handler = dyn Fn(ToolCall) -> ToolFuture + Send + Sync;

/// A tool ready to be served: what `tools/list` shows, and the handler behind it.
///
/// `#[mcp::tool]` makes one for each function; list them with `mcp::tools!` or
/// collect them all with `mcp::all_tools!`. [`ToolDef::from_fn`] makes one by hand.
#[derive(Clone)]
pub struct ToolDef {
    pub(crate) tool: Tool,
    pub(crate) handler: Arc<Handler>,
    pub(crate) needs_state: Vec<(TypeId, &'static str)>,
    pub(crate) wrap: bool,
    /// Whether the handler takes a `Context` (and so may ask the client for input): only then
    /// does a stateless call pay for binding a future `requestState` to its arguments.
    pub(crate) uses_context: bool,
    /// Arguments mirrored into `Mcp-Param-*` headers (`x-mcp-header`), checked on HTTP.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP transport
    pub(crate) header_params: Vec<HeaderParam>,
    /// Scopes the caller's token must grant.
    pub(crate) scopes: Vec<String>,
    /// What is wrong with the definition (a bad argument default), reported by `build()`.
    pub(crate) problems: Vec<String>,
}

/// An argument a client mirrors into an `Mcp-Param-<name>` header (SEP-2243).
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP transport
pub(crate) struct HeaderParam {
    pub(crate) argument: String,
    pub(crate) header: String,
}

/// The `x-mcp-header` arguments of an input schema.
fn header_params(schema: &Value) -> Vec<HeaderParam> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(argument, s)| {
            let header = s.get("x-mcp-header")?.as_str()?;
            Some(HeaderParam {
                argument: argument.clone(),
                header: header.to_owned(),
            })
        })
        .collect()
}

impl fmt::Debug for ToolDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolDef")
            .field("name", &self.tool.name)
            .finish_non_exhaustive()
    }
}

/// The static facts `#[mcp::tool]` gathers about a function. Not a stable API.
#[doc(hidden)]
#[derive(Debug)]
pub struct ToolInfo {
    pub name: &'static str,
    pub title: Option<&'static str>,
    pub description: Option<&'static str>,
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: Option<bool>,
    pub icons: &'static [&'static str],
    pub meta: Option<fn() -> Value>,
    pub input_schema: Option<fn() -> Value>,
    /// `(argument, header)`: arguments mirrored into `Mcp-Param-<header>` on HTTP.
    pub headers: &'static [(&'static str, &'static str)],
    /// Whether the tool runs as a task.
    pub task: TaskSupport,
    /// Scopes the caller's token must grant (HTTP with authorization).
    pub scopes: &'static [&'static str],
}

impl ToolDef {
    /// Builds a tool from what `#[mcp::tool]` generates. Not a stable API.
    #[doc(hidden)]
    pub fn new(
        info: &ToolInfo,
        declare: fn(&mut Declaration),
        output_schema: fn() -> Option<Value>,
        handler: impl Fn(ToolCall) -> ToolFuture + Send + Sync + 'static,
    ) -> Self {
        let mut declaration = Declaration::default();
        declare(&mut declaration);
        let mut input_schema = match info.input_schema {
            Some(f) => f(),
            None => declaration.schema.finish(),
        };
        for (argument, header) in info.headers {
            if let Some(p) = input_schema
                .get_mut("properties")
                .and_then(|p| p.get_mut(*argument))
                .and_then(Value::as_object_mut)
            {
                p.insert("x-mcp-header".into(), json!(header));
            }
        }
        let header_params = header_params(&input_schema);
        let annotations = ToolAnnotations {
            title: None,
            read_only_hint: info.read_only,
            destructive_hint: info.destructive,
            idempotent_hint: info.idempotent,
            open_world_hint: info.open_world,
        };
        let meta = info.meta.map(|f| match f() {
            Value::Object(m) => m,
            other => Map::from_iter([("value".to_owned(), other)]),
        });
        let (output_schema, wrap) = match output_schema() {
            None => (None, false),
            Some(s) if schema::is_object_schema(&s) => (Some(s), false),
            Some(s) => (Some(wrap_schema(&s)), true),
        };
        Self {
            tool: Tool {
                name: info.name.to_owned(),
                title: info.title.map(str::to_owned),
                description: info.description.map(str::to_owned),
                input_schema,
                output_schema,
                annotations: (!annotations.is_empty()).then_some(annotations),
                icons: info.icons.iter().map(|src| Icon::from_src(src)).collect(),
                meta,
                execution: execution(info.task),
            },
            handler: if declaration.defaults.is_empty() {
                Arc::new(handler)
            } else {
                let defaults = declaration.defaults;
                Arc::new(move |mut call: ToolCall| {
                    for (name, value) in &defaults {
                        match call.args.get_mut(name) {
                            Some(v) if !v.is_null() => {}
                            Some(v) => *v = value.clone(),
                            None => {
                                call.args.insert(name.clone(), value.clone());
                            }
                        }
                    }
                    handler(call)
                })
            },
            problems: declaration.problems,
            needs_state: declaration.needs_state,
            uses_context: declaration.uses_context,
            wrap,
            header_params,
            scopes: info.scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// A tool written by hand: a definition and a function of the raw call.
    ///
    /// ```
    /// use mcp_runtime::{CallToolResult, Tool, ToolDef};
    /// let tool = ToolDef::from_fn(
    ///     Tool {
    ///         name: "shout".into(),
    ///         title: None,
    ///         description: Some("Upper-cases `text`.".into()),
    ///         input_schema: serde_json::json!({
    ///             "type": "object",
    ///             "properties": {"text": {"type": "string"}},
    ///             "required": ["text"]
    ///         }),
    ///         output_schema: None,
    ///         annotations: None,
    ///         icons: vec![],
    ///         meta: None,
    ///         execution: None,
    ///     },
    ///     |call| async move {
    ///         match call.arguments().get("text").and_then(|t| t.as_str()) {
    ///             Some(t) => CallToolResult::text(t.to_uppercase()),
    ///             None => CallToolResult::error("`text` must be a string"),
    ///         }
    ///     },
    /// );
    /// assert_eq!(tool.name(), "shout");
    /// ```
    pub fn from_fn<F, Fut>(tool: Tool, f: F) -> Self
    where
        F: Fn(ToolCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CallToolResult> + Send + 'static,
    {
        Self {
            header_params: header_params(&tool.input_schema),
            tool,
            handler: Arc::new(move |call| {
                let fut = f(call);
                Box::pin(async move { ToolOutput::Result(fut.await) })
            }),
            needs_state: Vec::new(),
            problems: Vec::new(),
            wrap: false,
            uses_context: true,
            scopes: Vec::new(),
        }
    }

    /// A tool written by hand whose function returns a [`ToolOutput`]: a result, or input
    /// requests written by hand.
    pub fn from_output_fn<F, Fut>(tool: Tool, f: F) -> Self
    where
        F: Fn(ToolCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ToolOutput> + Send + 'static,
    {
        Self {
            header_params: header_params(&tool.input_schema),
            tool,
            handler: Arc::new(move |call| Box::pin(f(call))),
            needs_state: Vec::new(),
            problems: Vec::new(),
            wrap: false,
            uses_context: true,
            scopes: Vec::new(),
        }
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.tool.name
    }

    /// Runs the tool as a task: when the client can take one (`Optional`), or only then
    /// (`Required`). See [`TaskSupport`].
    #[must_use]
    pub fn task(mut self, support: TaskSupport) -> Self {
        self.tool.execution = execution(support);
        self
    }

    /// Requires the caller's token to grant every scope of `scopes` (HTTP with authorization):
    /// a caller without them does not see the tool, and calling it is refused with
    /// `insufficient_scope`.
    #[must_use]
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The scopes the caller's token must grant.
    pub fn required_scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether the tool runs as a task.
    pub fn task_support(&self) -> TaskSupport {
        self.tool.execution.map(|e| e.task_support).unwrap_or_default()
    }

    /// The definition `tools/list` shows.
    pub fn definition(&self) -> &Tool {
        &self.tool
    }
}

/// `execution` as a tool lists it: only for a tool that may run as a task.
fn execution(support: TaskSupport) -> Option<ToolExecution> {
    (support != TaskSupport::Forbidden).then_some(ToolExecution { task_support: support })
}

fn wrap_schema(inner: &Value) -> Value {
    json!({
        "type": "object",
        "properties": { "result": inner },
        "required": ["result"],
    })
}

impl ToolCall {
    /// The error result for a call whose parameters did not all extract. Not a stable API.
    #[doc(hidden)]
    pub fn reject(mut self) -> ToolFuture {
        self.unknown_arguments();
        let result = self.error_result();
        Box::pin(std::future::ready(ToolOutput::Result(result)))
    }

    /// The error result when arguments are left that no parameter took. Not a stable API.
    #[doc(hidden)]
    pub fn reject_unknown(&mut self) -> Option<ToolFuture> {
        if self.args.is_empty() {
            return None;
        }
        self.unknown_arguments();
        let result = self.error_result();
        Some(Box::pin(std::future::ready(ToolOutput::Result(result))))
    }

    fn error_result(&self) -> CallToolResult {
        let mut msg = format!("Invalid arguments for tool `{}`:", self.name);
        for e in &self.errors {
            msg.push_str("\n- ");
            msg.push_str(e);
        }
        CallToolResult::error(msg)
    }

    /// How the tool's output is shaped. Not a stable API.
    #[doc(hidden)]
    pub fn output(&self) -> Output {
        Output { wrap: self.wrap }
    }
}

/// How a tool's structured output is shaped: wrapped as `{"result": …}` when its schema is not
/// an object (legacy clients accept only object `structuredContent`).
#[derive(Clone, Copy, Debug)]
pub struct Output {
    wrap: bool,
}

impl Output {
    /// A structured result: `value` as `structuredContent` (wrapped if need be) and as JSON text.
    pub fn structured(self, value: Value) -> CallToolResult {
        let text = value.to_string();
        let structured = if self.wrap { json!({ "result": value }) } else { value };
        CallToolResult {
            content: vec![Content::text(text)],
            structured_content: Some(structured),
            ..CallToolResult::default()
        }
    }
}

/// What a tool may return.
///
/// Strings become one text block; numbers and booleans, and [`Json<T>`], become structured
/// output (with an output schema) plus the JSON as text; content blocks are sent as they are;
/// `Result<T, E>` sends `Err` as an error result with `E`'s message.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a tool",
    label = "not a tool result",
    note = "return a `String`, a number or `bool`, `mcp::Json<T>` for a serde type (structured output), `mcp::Content`, `Vec<mcp::Content>`, `mcp::CallToolResult`, or a `Result` of one of these"
)]
pub trait IntoToolResult {
    /// Converts the value into the call's result.
    fn into_tool_result(self, output: Output) -> CallToolResult;

    /// Converts the value into what the call ends with; only [`InputRequired`] overrides it.
    #[doc(hidden)]
    fn into_tool_output(self, output: Output) -> ToolOutput
    where
        Self: Sized,
    {
        ToolOutput::Result(self.into_tool_result(output))
    }

    /// The JSON Schema of the structured output, if any.
    fn output_schema() -> Option<Value> {
        None
    }
}

impl IntoToolResult for CallToolResult {
    fn into_tool_result(self, _: Output) -> CallToolResult {
        self
    }
}

impl IntoToolResult for ToolOutput {
    fn into_tool_result(self, _: Output) -> CallToolResult {
        match self {
            Self::Result(r) => r,
            Self::InputRequired(_) => {
                CallToolResult::error("this tool needs input that only protocol version 2026-07-28 can carry")
            }
        }
    }

    fn into_tool_output(self, _: Output) -> ToolOutput {
        self
    }
}

impl IntoToolResult for String {
    fn into_tool_result(self, _: Output) -> CallToolResult {
        CallToolResult::text(self)
    }
}

impl IntoToolResult for &'static str {
    fn into_tool_result(self, _: Output) -> CallToolResult {
        CallToolResult::text(self)
    }
}

impl IntoToolResult for Content {
    fn into_tool_result(self, _: Output) -> CallToolResult {
        CallToolResult::new(vec![self])
    }
}

impl IntoToolResult for Vec<Content> {
    fn into_tool_result(self, _: Output) -> CallToolResult {
        CallToolResult::new(self)
    }
}

impl IntoToolResult for () {
    fn into_tool_result(self, _: Output) -> CallToolResult {
        CallToolResult::new(Vec::new())
    }
}

macro_rules! structured_scalars {
    ($($t:ty),*) => {$(
        impl IntoToolResult for $t {
            fn into_tool_result(self, output: Output) -> CallToolResult {
                output.structured(json!(self))
            }
            fn output_schema() -> Option<Value> {
                Some(schema::root_schema::<$t>())
            }
        }
    )*};
}

structured_scalars!(bool, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);

/// Structured output: `T` is sent as `structuredContent` (and as JSON text), and its schema is
/// the tool's `outputSchema`.
///
/// Also an argument wrapper for symmetry: `Json<T>` deserializes like `T`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize + JsonSchema> IntoToolResult for Json<T> {
    fn into_tool_result(self, output: Output) -> CallToolResult {
        match serde_json::to_value(&self.0) {
            Ok(v) => output.structured(v),
            Err(e) => CallToolResult::error(format!("the tool's result could not be serialised: {e}")),
        }
    }

    fn output_schema() -> Option<Value> {
        Some(schema::root_schema::<T>())
    }
}

impl<T: IntoToolResult, E: fmt::Display> IntoToolResult for Result<T, E> {
    fn into_tool_result(self, output: Output) -> CallToolResult {
        match self {
            Ok(v) => v.into_tool_result(output),
            Err(e) => CallToolResult::error(e.to_string()),
        }
    }

    fn into_tool_output(self, output: Output) -> ToolOutput {
        match self {
            Ok(v) => v.into_tool_output(output),
            Err(e) => ToolOutput::Result(CallToolResult::error(e.to_string())),
        }
    }

    fn output_schema() -> Option<Value> {
        T::output_schema()
    }
}
