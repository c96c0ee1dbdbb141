//! `ctx.sample(..)`, `ctx.elicit::<T>(..)`, `ctx.elicit_url(..)` and `ctx.roots()`.

use super::call::ToolCall;
use super::context::Context;
use super::engine::seal;
use super::schema;
use super::tool::{ToolDef, ToolOutput};
use crate::error::{Error, Result};
use crate::protocol::{
    CreateMessageResult, ElicitAction, ElicitResult, Method, Role, Root, SamplingContent, SamplingMessage,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;

/// The `maxTokens` of a sampling request unless [`Sample::max_tokens`] says otherwise.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

/// The most model turns a tool loop runs before it gives up (see [`Sample::max_rounds`]).
pub const DEFAULT_MAX_ROUNDS: usize = 8;

/// Whether the client should add context from its other MCP servers (deprecated by the protocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeContext {
    /// Nothing but this request.
    None,
    /// Context from this server (needs the client's `sampling.context`).
    ThisServer,
    /// Context from every server (needs the client's `sampling.context`).
    AllServers,
}

/// The params of `sampling/createMessage`, written straight from a [`Sample`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateMessageParams<'a> {
    messages: &'a [SamplingMessage],
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    model_preferences: Option<ModelPreferences<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    include_context: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a [Value]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'a Value>,
}

/// `modelPreferences`: the priorities given, and the model hints.
#[derive(Serialize)]
struct ModelPreferences<'a> {
    #[serde(flatten)]
    preferences: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "<[Value]>::is_empty")]
    hints: &'a [Value],
}

/// A sampling request to the client's model, built step by step and sent by `.await`.
///
/// ```no_run
/// # async fn f(ctx: mcp_runtime::Context) -> mcp_runtime::Result<()> {
/// let reply = ctx
///     .sample("Name a color.")
///     .system("Answer in one word.")
///     .max_tokens(10)
///     .temperature(0.0)
///     .await?;
/// println!("{} said {}", reply.model, reply.text());
/// # Ok(()) }
/// ```
#[must_use = "a sampling request does nothing until awaited"]
pub struct Sample {
    ctx: Context,
    messages: Vec<SamplingMessage>,
    system: Option<String>,
    max_tokens: u32,
    temperature: Option<f64>,
    stop: Vec<String>,
    preferences: Map<String, Value>,
    hints: Vec<Value>,
    metadata: Option<Value>,
    include_context: Option<IncludeContext>,
    key: Option<String>,
    tools: Vec<ToolDef>,
    max_rounds: usize,
}

impl std::fmt::Debug for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sample")
            .field("messages", &self.messages)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// Asks the client's model for a completion of `message` (a `&str` or `String` is a user
    /// message). Needs the client's `sampling` capability; without it the result is
    /// [`Error::MissingCapability`].
    pub fn sample(&self, message: impl Into<SamplingMessage>) -> Sample {
        Sample {
            ctx: self.clone(),
            messages: vec![message.into()],
            system: None,
            max_tokens: DEFAULT_MAX_TOKENS,
            temperature: None,
            stop: Vec::new(),
            preferences: Map::new(),
            hints: Vec::new(),
            metadata: None,
            include_context: None,
            key: None,
            tools: Vec::new(),
            max_rounds: DEFAULT_MAX_ROUNDS,
        }
    }
}

impl Sample {
    /// Adds a message to the conversation.
    pub fn message(mut self, message: SamplingMessage) -> Self {
        self.messages.push(message);
        self
    }

    /// Adds a user message.
    pub fn user(self, text: impl Into<String>) -> Self {
        self.message(SamplingMessage::user(text))
    }

    /// Adds an assistant message.
    pub fn assistant(self, text: impl Into<String>) -> Self {
        self.message(SamplingMessage::assistant(text))
    }

    /// The system prompt.
    pub fn system(mut self, prompt: impl Into<String>) -> Self {
        self.system = Some(prompt.into());
        self
    }

    /// The most tokens the model may produce (default [`DEFAULT_MAX_TOKENS`]).
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = n;
        self
    }

    /// Sampling temperature.
    pub fn temperature(mut self, t: f64) -> Self {
        self.temperature = Some(t);
        self
    }

    /// Adds a stop sequence.
    pub fn stop(mut self, sequence: impl Into<String>) -> Self {
        self.stop.push(sequence.into());
        self
    }

    /// Adds a model hint (a name or part of one, in order of preference).
    pub fn model_hint(mut self, name: impl Into<String>) -> Self {
        self.hints.push(json!({ "name": name.into() }));
        self
    }

    /// How much cost matters, 0 to 1.
    pub fn cost_priority(mut self, p: f64) -> Self {
        self.preferences.insert("costPriority".into(), json!(p));
        self
    }

    /// How much speed matters, 0 to 1.
    pub fn speed_priority(mut self, p: f64) -> Self {
        self.preferences.insert("speedPriority".into(), json!(p));
        self
    }

    /// How much capability matters, 0 to 1.
    pub fn intelligence_priority(mut self, p: f64) -> Self {
        self.preferences.insert("intelligencePriority".into(), json!(p));
        self
    }

    /// Provider-specific metadata.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Context from the client's servers (deprecated by the protocol; `ThisServer` and
    /// `AllServers` need the client's `sampling.context`).
    pub fn include_context(mut self, include: IncludeContext) -> Self {
        self.include_context = Some(include);
        self
    }

    /// The key of this request among the call's input requests (stateless era). Keys are
    /// `sample-1`, `sample-2`, … by default; give one to match a key a client expects.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Offers tools to the model: when it calls one, the framework runs it here, in-process,
    /// and sends the result back, for at most [`max_rounds`](Sample::max_rounds) model turns.
    /// Needs the client's `sampling.tools` capability. Pass `mcp::tools![..]`.
    pub fn tools(mut self, tools: impl IntoIterator<Item = ToolDef>) -> Self {
        self.tools.extend(tools);
        self
    }

    /// The most model turns of a tool loop (default [`DEFAULT_MAX_ROUNDS`]); the last one is
    /// sent with `toolChoice: none`.
    pub fn max_rounds(mut self, n: usize) -> Self {
        self.max_rounds = n.max(1);
        self
    }

    /// Asks for a `T`: the model answers through a forced `final_answer` tool whose schema is
    /// `T`'s (or, if the client cannot sample with tools, with JSON text). An answer that does
    /// not deserialize is sent back with the error, up to three more times.
    pub async fn json<T: DeserializeOwned + JsonSchema>(mut self) -> Result<T> {
        const ATTEMPTS: usize = 4;
        let mut output_schema = schema::root_schema::<T>();
        let wrapped = !schema::is_object_schema(&output_schema);
        if wrapped {
            output_schema = json!({"type": "object", "properties": {"value": output_schema}, "required": ["value"]});
        }
        let with_tools = self.ctx.client_capabilities().sampling_tools();
        if !with_tools {
            let instruction = format!(
                "Reply with only a JSON value, no prose and no code fence, that matches this JSON Schema:\n{output_schema}"
            );
            self.system = Some(match self.system.take() {
                Some(s) => format!("{s}\n\n{instruction}"),
                None => instruction,
            });
        }
        let mut last_error = String::new();
        let final_answer = [json!({
            "name": "final_answer",
            "description": "Give the final answer. Call this exactly once.",
            "inputSchema": output_schema,
        })];
        let required = json!({"mode": "required"});
        for attempt in 0..ATTEMPTS {
            let params = self.params(with_tools.then_some(&final_answer[..]), with_tools.then_some(&required))?;
            let reply = self.send(params, attempt).await?;
            let (candidate, tool_use_id) = if with_tools {
                match reply.content.iter().find_map(|c| match c {
                    SamplingContent::ToolUse { id, name, input } if name == "final_answer" => {
                        Some((input.clone(), id.clone()))
                    }
                    _ => None,
                }) {
                    Some((input, id)) => (Ok(input), Some(id)),
                    None => (Err("the reply did not call `final_answer`".to_owned()), None),
                }
            } else {
                (
                    serde_json::from_str::<Value>(strip_fence(&reply.text()))
                        .map_err(|e| format!("the reply is not JSON: {e}")),
                    None,
                )
            };
            let parsed = candidate.and_then(|v| {
                let v = if wrapped && with_tools {
                    v.get("value").cloned().unwrap_or(Value::Null)
                } else {
                    v
                };
                serde_json::from_value::<T>(v).map_err(|e| format!("the answer does not match the schema: {e}"))
            });
            match parsed {
                Ok(t) => return Ok(t),
                Err(why) => {
                    last_error = why.clone();
                    self.messages.push(SamplingMessage {
                        role: Role::Assistant,
                        content: reply.content,
                    });
                    self.messages.push(match tool_use_id {
                        Some(id) => SamplingMessage {
                            role: Role::User,
                            content: vec![SamplingContent::ToolResult {
                                tool_use_id: id,
                                content: vec![crate::protocol::Content::text(why)],
                                structured_content: None,
                                is_error: Some(true),
                            }],
                        },
                        None => SamplingMessage::user(format!("{why}. Reply again with only the JSON.")),
                    });
                }
            }
        }
        Err(Error::Message(format!(
            "the model gave no valid answer in {ATTEMPTS} attempts: {last_error}"
        )))
    }

    /// The request's params, written once as JSON.
    fn params(&self, tools: Option<&[Value]>, tool_choice: Option<&Value>) -> Result<Box<RawValue>> {
        let caps = self.ctx.client_capabilities();
        self.ctx.require(caps.sampling(), "sampling")?;
        if tools.is_some() {
            self.ctx.require(caps.sampling_tools(), "sampling.tools")?;
        }
        let include_context = match self.include_context {
            None => None,
            Some(ic) => {
                if ic != IncludeContext::None {
                    let has_context = caps.sampling.is_some_and(|s| s.context);
                    self.ctx.require(has_context, "sampling.context")?;
                }
                Some(match ic {
                    IncludeContext::None => "none",
                    IncludeContext::ThisServer => "thisServer",
                    IncludeContext::AllServers => "allServers",
                })
            }
        };
        let model_preferences = (!self.preferences.is_empty() || !self.hints.is_empty()).then_some(ModelPreferences {
            preferences: &self.preferences,
            hints: &self.hints,
        });
        let params = CreateMessageParams {
            messages: &self.messages,
            max_tokens: self.max_tokens,
            system_prompt: self.system.as_deref(),
            temperature: self.temperature,
            stop_sequences: &self.stop,
            model_preferences,
            metadata: self.metadata.as_ref(),
            include_context,
            tools,
            tool_choice,
        };
        Ok(serde_json::value::to_raw_value(&params)?)
    }

    async fn send(&self, params: Box<RawValue>, round: usize) -> Result<CreateMessageResult> {
        let key = self.key.as_ref().map(|k| {
            if round == 0 {
                k.clone()
            } else {
                format!("{k}-{}", round + 1)
            }
        });
        let answer = self
            .ctx
            .ask(Method::SamplingCreateMessage.as_str().into(), params, key, "sample")
            .await?;
        answer
            .into_sampled()
            .map_err(|e| Error::Message(format!("the client's sampling answer is malformed: {e}")))
    }

    /// One request and its answer: a sampling request without tools.
    async fn once(self) -> Result<CreateMessageResult> {
        let params = self.params(None, None)?;
        self.send(params, 0).await
    }

    /// The tool loop: the model's tool calls are run and answered, up to `max_rounds`.
    async fn run(mut self) -> Result<CreateMessageResult> {
        let definitions: Vec<Value> = self
            .tools
            .iter()
            .map(|t| {
                let d = t.definition();
                json!({ "name": d.name, "description": d.description, "inputSchema": d.input_schema })
            })
            .collect();
        for round in 0..self.max_rounds {
            let last = round + 1 == self.max_rounds;
            let choice = last.then(|| json!({"mode": "none"}));
            let params = self.params(Some(&definitions), choice.as_ref())?;
            let reply = self.send(params, round).await?;
            let calls: Vec<(String, String, Value)> = reply
                .content
                .iter()
                .filter_map(|c| match c {
                    SamplingContent::ToolUse { id, name, input } => Some((id.clone(), name.clone(), input.clone())),
                    _ => None,
                })
                .collect();
            if calls.is_empty() {
                return Ok(reply);
            }
            self.messages.push(SamplingMessage {
                role: Role::Assistant,
                content: reply.content,
            });
            let mut results = Vec::with_capacity(calls.len());
            for (id, name, input) in calls {
                results.push(self.run_tool(id, &name, input).await);
            }
            self.messages.push(SamplingMessage {
                role: Role::User,
                content: results,
            });
        }
        Err(Error::Message(format!(
            "the model was still calling tools after {} rounds",
            self.max_rounds
        )))
    }

    async fn run_tool(&self, id: String, name: &str, input: Value) -> SamplingContent {
        let failed = |text: String| SamplingContent::ToolResult {
            tool_use_id: id.clone(),
            content: vec![crate::protocol::Content::text(text)],
            structured_content: None,
            is_error: Some(true),
        };
        let Some(tool) = self.tools.iter().find(|t| t.name() == name) else {
            return failed(format!("no tool is named `{name}`"));
        };
        let Value::Object(args) = input else {
            return failed("the tool's input must be an object".into());
        };
        let call = ToolCall::new(std::sync::Arc::from(name), args, self.ctx.parts.clone(), tool.wrap);
        match (tool.handler)(call).await {
            ToolOutput::Result(r) => SamplingContent::ToolResult {
                tool_use_id: id,
                content: r.content,
                structured_content: r.structured_content,
                is_error: r.is_error.then_some(true),
            },
            ToolOutput::InputRequired(_) => {
                failed("the tool asked for input, which a tool run inside sampling cannot".into())
            }
        }
    }
}

/// The model's reply: what `ctx.sample(..).await` returns.
pub type SampleReply = CreateMessageResult;

impl IntoFuture for Sample {
    type Output = Result<SampleReply>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        // Without tools the future is a fraction of the tool loop's size. The loop's is over
        // 1 KB, which glibc serves as a large allocation, consolidating its free lists first:
        // 3% of a stateless `ask`'s CPU (BENCHMARKS.md, fifth pass).
        if self.tools.is_empty() {
            Box::pin(self.once())
        } else {
            Box::pin(self.run())
        }
    }
}

fn strip_fence(text: &str) -> &str {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

/// What the user did with a form elicitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Elicitation<T> {
    /// The user submitted the form.
    Accept(T),
    /// The user said no.
    Decline,
    /// The user dismissed the request.
    Cancel,
}

/// What the user did with a URL elicitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlElicitation {
    /// The user agreed to open the URL (not that they finished there).
    Accept,
    /// The user said no.
    Decline,
    /// The user dismissed the request.
    Cancel,
}

/// A form elicitation: ask the user for a `T`, sent by `.await`.
#[must_use = "an elicitation does nothing until awaited"]
pub struct Elicit<T> {
    ctx: Context,
    message: String,
    key: Option<String>,
    _t: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Elicit<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elicit")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// Asks the user, through the client, to fill in a form for `T`. `T`'s schema must be a
    /// flat object of strings, numbers, integers, booleans, string enums and lists of string
    /// enums (what clients can render); anything else is refused before sending, naming the
    /// field. Needs the client's `elicitation` capability. Never ask for secrets this way.
    pub fn elicit<T: DeserializeOwned + JsonSchema>(&self, message: impl Into<String>) -> Elicit<T> {
        Elicit {
            ctx: self.clone(),
            message: message.into(),
            key: None,
            _t: PhantomData,
        }
    }

    /// Asks the user to open `url` (for what must not pass through the client: credentials,
    /// payment). Needs the client's `elicitation.url` capability.
    pub async fn elicit_url(&self, message: impl Into<String>, url: impl Into<String>) -> Result<UrlElicitation> {
        let has_url = self.client_capabilities().elicitation.is_some_and(|e| e.url);
        self.require(has_url, "elicitation.url")?;
        let mut params = json!({ "mode": "url", "message": message.into(), "url": url.into() });
        if !self.is_stateless() {
            params["elicitationId"] = json!(seal::hex(&seal::random::<16>()));
        }
        let params = serde_json::value::to_raw_value(&params)?;
        let answer = self
            .ask(Method::ElicitationCreate.as_str().into(), params, None, "elicit")
            .await?;
        let result: ElicitResult = answer
            .parse()
            .map_err(|e| Error::Message(format!("the client's elicitation answer is malformed: {e}")))?;
        Ok(match result.action {
            ElicitAction::Accept => UrlElicitation::Accept,
            ElicitAction::Decline => UrlElicitation::Decline,
            ElicitAction::Cancel => UrlElicitation::Cancel,
        })
    }

    /// The client's roots (`file://` URIs it exposes). Needs the client's `roots` capability.
    pub async fn roots(&self) -> Result<Vec<Root>> {
        self.require(self.client_capabilities().roots(), "roots")?;
        let params = serde_json::value::to_raw_value(&json!({}))?;
        let answer = self
            .ask(Method::RootsList.as_str().into(), params, None, "roots")
            .await?;
        /// `roots/list`'s result.
        #[derive(serde::Deserialize)]
        struct Roots {
            #[serde(default)]
            roots: Option<Vec<Root>>,
        }
        let roots: Roots = answer
            .parse()
            .map_err(|e| Error::Message(format!("the client's roots are malformed: {e}")))?;
        roots
            .roots
            .ok_or_else(|| Error::Message("the client's roots are malformed: no `roots`".to_owned()))
    }
}

impl<T: DeserializeOwned + JsonSchema> Elicit<T> {
    /// The key of this request among the call's input requests (stateless era).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    async fn run(self) -> Result<Elicitation<T>> {
        let schema = form_schema::<T>().map_err(Error::Message)?;
        let form = self.ctx.client_capabilities().elicitation.is_some_and(|e| e.form);
        self.ctx.require(form, "elicitation")?;
        let params = json!({ "mode": "form", "message": self.message, "requestedSchema": schema });
        let params = serde_json::value::to_raw_value(&params)?;
        let answer = self
            .ctx
            .ask(Method::ElicitationCreate.as_str().into(), params, self.key, "elicit")
            .await?;
        let result: ElicitResult = answer
            .parse()
            .map_err(|e| Error::Message(format!("the client's elicitation answer is malformed: {e}")))?;
        Ok(match result.action {
            ElicitAction::Accept => {
                let content = Value::Object(result.content.unwrap_or_default());
                let value = serde_json::from_value(content)
                    .map_err(|e| Error::Message(format!("the user's answer does not fit the form: {e}")))?;
                Elicitation::Accept(value)
            }
            ElicitAction::Decline => Elicitation::Decline,
            ElicitAction::Cancel => Elicitation::Cancel,
        })
    }
}

impl<T: DeserializeOwned + JsonSchema + Send + 'static> IntoFuture for Elicit<T> {
    type Output = Result<Elicitation<T>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// `T`'s schema as an elicitation form, or why it cannot be one.
pub(crate) fn form_schema<T: JsonSchema>() -> std::result::Result<Value, String> {
    let name = std::any::type_name::<T>();
    let schema = schema::root_schema::<T>();
    if !schema::is_object_schema(&schema) || schema.get("$defs").is_some() {
        return Err(format!(
            "elicit::<{name}>: a form must be a flat struct of primitive fields"
        ));
    }
    let mut properties = Map::new();
    for (field, s) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let ty = s.get("type").and_then(Value::as_str);
        let ok = match ty {
            Some("string" | "number" | "integer" | "boolean") => true,
            Some("array") => s
                .get("items")
                .is_some_and(|i| i.get("enum").is_some() || i.get("anyOf").is_some() || i.get("oneOf").is_some()),
            _ => s.get("oneOf").is_some_and(|alts| {
                alts.as_array()
                    .is_some_and(|a| a.iter().all(|x| x.get("const").is_some()))
            }),
        };
        if !ok {
            return Err(format!(
                "elicit::<{name}>: field `{field}` is not a string, number, integer, boolean, string enum or list of string enums, so no client can render it"
            ));
        }
        let mut s = s.clone();
        if ty.is_none() {
            s["type"] = json!("string");
        }
        properties.insert(field.clone(), s);
    }
    let mut form = json!({ "type": "object", "properties": properties });
    if let Some(r) = schema.get("required") {
        form["required"] = r.clone();
    }
    Ok(form)
}
