//! A proxy: a server that serves what another MCP server (the *upstream*) has, forwarding each
//! call to it over one connection that every call shares.
//!
//! What the upstream asks of its client while a call runs (sampling, elicitation, roots) is
//! asked of the proxy's own client, through the call's [`Context`], so it works across eras:
//!
//! - a 2026-07-28 client in front of a 2025-11-25 upstream: the upstream's
//!   `sampling/createMessage` request becomes an `input_required` round for the client, and its
//!   answer goes back to the upstream as the request's response;
//! - a 2025-11-25 client in front of a 2026-07-28 upstream: the upstream's `input_required`
//!   rounds become real requests to the client, and their answers the upstream's retry.
//!
//! Progress and log messages of the upstream reach the call they belong to; a cancelled call
//! cancels its upstream request; a change in the upstream's lists is followed (and the
//! proxy's clients are told).
//!
//! ```no_run
//! # async fn run() -> mcp_runtime::Result<()> {
//! use mcp_runtime::proxy::Upstream;
//! let upstream = Upstream::command("python", ["-m", "weather_server"]);
//! mcp_runtime::Server::proxy(upstream).await?.serve_http("127.0.0.1:3000").await
//! # }
//! ```

use crate::Server;
use crate::client::{Client, ClientOptions, Era};
use crate::error::{Error, Result};
use crate::protocol::types::meta_keys;
use crate::protocol::{CallToolResult, ErrorObject, LogLevel, Method, Prompt, Resource, ResourceTemplate, Tool};
use crate::server::call::ToolCall;
use crate::server::context::Context;
use crate::server::prompt::{PromptDef, PromptOutput};
use crate::server::resource::{ResourceDef, ResourceOutput};
use crate::server::service::Service;
use crate::server::tool::{ToolDef, ToolOutput};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::process::Command;

/// The server a proxy forwards to, and the era the proxy speaks to it.
pub struct Upstream {
    target: Target,
    era: Era,
}

enum Target {
    /// A server started as a child process, spoken to over its stdin and stdout.
    Command(Command),
    /// A server reached over Streamable HTTP.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // needs the HTTP client
    Url(String),
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Command(c) => f.debug_tuple("Command").field(&c.as_std().get_program()).finish(),
            // Never the URL itself: it may carry credentials.
            Target::Url(_) => f.write_str("Url(..)"),
        }
    }
}

impl Upstream {
    /// `program` with `args`, started by the proxy (and stopped with it).
    pub fn command(program: impl AsRef<OsStr>, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Self {
        let mut command = Command::new(program);
        command.args(args);
        Self {
            target: Target::Command(command),
            era: Era::Auto,
        }
    }

    /// A Streamable HTTP endpoint, such as `http://127.0.0.1:8000/mcp`.
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            target: Target::Url(url.into()),
            era: Era::Auto,
        }
    }

    /// Speaks `era` to the upstream (by default the newest it answers).
    #[must_use]
    pub fn era(mut self, era: Era) -> Self {
        self.era = era;
        self
    }
}

/// The calls in flight through the proxy, and the progress tokens it gave them upstream.
#[derive(Default)]
struct Relay {
    next: AtomicU64,
    /// `(progress token, the call's context)`, oldest first.
    calls: Mutex<Vec<(String, Context)>>,
}

impl Relay {
    fn enter(self: &Arc<Self>, ctx: &Context) -> InFlight {
        let token = format!("proxy-{}", self.next.fetch_add(1, Ordering::Relaxed));
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((token.clone(), ctx.clone()));
        InFlight {
            relay: Arc::clone(self),
            token,
        }
    }

    /// The call a request or log message of the upstream's belongs to, when the wire does not
    /// say (a 2025-11-25 upstream asks on its own, untagged): the one in flight, or the latest
    /// when all in flight come from the same client. Calls of different clients in flight at
    /// once make it ambiguous: then `None`, so that one client's prompt never reaches another.
    fn current(&self) -> Option<Context> {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, last) = calls.last()?;
        calls.iter().all(|(_, ctx)| ctx.same_client(last)).then(|| last.clone())
    }

    fn by_token(&self, token: &str) -> Option<Context> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(t, _)| t == token)
            .map(|(_, ctx)| ctx.clone())
    }
}

/// A call in flight; dropped when it ends.
struct InFlight {
    relay: Arc<Relay>,
    token: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.relay
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(t, _)| *t != self.token);
    }
}

/// A request of the upstream's, asked of the client of the call in flight.
fn relayed(
    relay: &Arc<Relay>,
    method: Method,
) -> impl Fn(Value) -> std::pin::Pin<Box<dyn Future<Output = std::result::Result<Value, ErrorObject>> + Send>>
+ Send
+ Sync
+ 'static {
    let relay = Arc::clone(relay);
    move |mut params: Value| {
        let relay = Arc::clone(&relay);
        Box::pin(async move {
            let Some(ctx) = relay.current() else {
                return Err(ErrorObject::internal(format!(
                    "the proxy cannot tell which client should answer `{method}`: no call is in flight, or calls of several clients are"
                )));
            };
            if let Some(p) = params.as_object_mut() {
                p.remove("_meta");
            }
            ctx.request(method, params, None)
                .await
                .map_err(|e| ErrorObject::internal(format!("the proxy's client did not answer `{method}`: {e}")))
        })
    }
}

/// Relays the upstream's progress to the client of the call its token belongs to.
fn relay_progress(relay: &Arc<Relay>) -> impl Fn(&Value) + Send + Sync + 'static {
    let relay = Arc::clone(relay);
    move |params: &Value| {
        let token = params["progressToken"].as_str().unwrap_or_default();
        if let Some(ctx) = relay.by_token(token) {
            let progress = params["progress"].as_f64().unwrap_or_default();
            ctx.progress(progress, params["total"].as_f64(), params["message"].as_str());
        }
    }
}

/// Relays the upstream's log messages to the client of the call in flight (see
/// [`Relay::current`]).
fn relay_log(relay: &Arc<Relay>) -> impl Fn(&Value) + Send + Sync + 'static {
    let relay = Arc::clone(relay);
    move |params: &Value| {
        let level = params["level"]
            .as_str()
            .and_then(LogLevel::parse)
            .unwrap_or(LogLevel::Info);
        if let Some(ctx) = relay.current() {
            ctx.log(level, params["data"].clone());
        }
    }
}

/// What the proxy keeps: the upstream connection and what it serves of it.
struct Proxy {
    client: Client,
    relay: Arc<Relay>,
    /// The upstream's tools the proxy serves now, by name.
    tools: Mutex<HashSet<String>>,
    service: OnceLock<Service>,
}

impl Proxy {
    fn tool(self: &Arc<Self>, mut tool: Tool) -> ToolDef {
        // Tasks are the upstream's business: its tools are offered as ordinary calls.
        tool.execution = None;
        let name = tool.name.clone();
        let proxy = Arc::clone(self);
        ToolDef::from_output_fn(tool, move |call: ToolCall| {
            let (proxy, name) = (Arc::clone(&proxy), name.clone());
            async move { proxy.call_tool(&name, call).await }
        })
    }

    async fn call_tool(&self, name: &str, call: ToolCall) -> ToolOutput {
        let ctx = call.context().clone();
        let in_flight = self.relay.enter(&ctx);
        let params = json!({
            "name": name,
            "arguments": call.arguments(),
            "_meta": { "progressToken": in_flight.token, meta_keys::LOG_LEVEL: "debug" },
        });
        let forwarded = self.forward(Method::ToolsCall, params, &ctx);
        // A cancelled call drops its upstream request, which tells the upstream.
        let result = tokio::select! {
            result = forwarded => result,
            () = ctx.cancelled() => Err(Error::Message("cancelled".into())),
        };
        drop(in_flight);
        let result = result.and_then(|v| serde_json::from_value::<CallToolResult>(v).map_err(Error::from));
        ToolOutput::Result(result.unwrap_or_else(|e| CallToolResult::error(upstream_failed(&e))))
    }

    /// Sends a request upstream, and answers the `input_required` rounds of a 2026-07-28
    /// upstream with the call's own client: each of the upstream's input requests is asked
    /// through the call's `Context` (all of a round's at once), and the request is sent again
    /// with the answers.
    async fn forward(&self, method: Method, mut params: Value, ctx: &Context) -> Result<Value> {
        for round in 0..MAX_ROUNDS {
            let result = self.client.request(method.as_str(), params.clone()).await?;
            if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
                return Ok(result);
            }
            let mut asking = tokio::task::JoinSet::new();
            for (key, request) in result["inputRequests"].as_object().into_iter().flatten() {
                let (ctx, key) = (ctx.clone(), key.clone());
                let asked = request["method"].as_str().unwrap_or_default().to_owned();
                let request_params = request.get("params").cloned().unwrap_or_else(|| json!({}));
                // Keys the client sees are the proxy's: the same on a replay of the call.
                let front_key = format!("upstream-{round}-{key}");
                asking.spawn(async move {
                    let answer = ctx.request(asked.as_str(), request_params, Some(&front_key)).await;
                    (key, answer)
                });
            }
            let mut answers = serde_json::Map::new();
            while let Some(joined) = asking.join_next().await {
                let (key, answer) = joined.map_err(|e| Error::Message(e.to_string()))?;
                answers.insert(key, answer?);
            }
            params["inputResponses"] = Value::Object(answers);
            match result.get("requestState") {
                Some(state) => params["requestState"] = state.clone(),
                None => {
                    if let Some(p) = params.as_object_mut() {
                        p.remove("requestState");
                    }
                }
            }
        }
        Err(Error::Message(format!(
            "the upstream still wanted input after {MAX_ROUNDS} rounds"
        )))
    }

    fn prompt(self: &Arc<Self>, prompt: Prompt) -> PromptDef {
        let name = prompt.name.clone();
        let proxy = Arc::clone(self);
        PromptDef::from_fn(prompt, move |call: ToolCall| {
            let (proxy, name) = (Arc::clone(&proxy), name.clone());
            async move {
                let _in_flight = proxy.relay.enter(call.context());
                let params = json!({ "name": name, "arguments": call.arguments() });
                let result = proxy.forward(Method::PromptsGet, params, call.context()).await;
                match result.and_then(|v| serde_json::from_value(v).map_err(Error::from)) {
                    Ok(result) => PromptOutput::Result(result),
                    Err(Error::Protocol(e)) => PromptOutput::Error(e),
                    Err(e) => PromptOutput::Error(ErrorObject::internal(upstream_failed(&e))),
                }
            }
        })
    }

    async fn read(&self, call: ToolCall) -> ResourceOutput {
        let _in_flight = self.relay.enter(call.context());
        let params = json!({ "uri": call.uri().unwrap_or_default() });
        let result = self.forward(Method::ResourcesRead, params, call.context()).await;
        match result.and_then(|v| serde_json::from_value(v).map_err(Error::from)) {
            Ok(result) => ResourceOutput::Result(result),
            Err(Error::Protocol(e)) => ResourceOutput::Error(e),
            Err(e) => ResourceOutput::Error(ErrorObject::internal(upstream_failed(&e))),
        }
    }

    fn resource(self: &Arc<Self>, resource: Resource) -> ResourceDef {
        let proxy = Arc::clone(self);
        ResourceDef::from_fn(resource, move |call: ToolCall| {
            let proxy = Arc::clone(&proxy);
            async move { proxy.read(call).await }
        })
    }

    fn template(self: &Arc<Self>, template: ResourceTemplate) -> Option<ResourceDef> {
        let proxy = Arc::clone(self);
        let uri = template.uri_template.clone();
        ResourceDef::template_from_fn(template, move |call: ToolCall| {
            let proxy = Arc::clone(&proxy);
            async move { proxy.read(call).await }
        })
        .map_err(|e| tracing::warn!(template = %uri, error = %e, "an upstream resource template is not served"))
        .ok()
    }

    /// Relays the upstream's notifications while the proxy lives.
    async fn relay_notifications(self: Arc<Self>) {
        while let Some((method, params)) = self.client.next_notification().await {
            match Method::parse(&method) {
                Some(Method::ToolsListChanged) => self.refresh_tools().await,
                Some(Method::ResourceUpdated) => {
                    if let (Some(service), Some(uri)) = (self.service.get(), params["uri"].as_str()) {
                        service.resource_updated(uri);
                    }
                }
                _ => {}
            }
        }
        tracing::warn!("the upstream server closed its connection; the proxy's calls will fail");
    }

    /// Follows a change in the upstream's tools: new ones added, gone ones removed (each
    /// change tells the proxy's clients).
    async fn refresh_tools(self: &Arc<Self>) {
        let (Some(service), Ok(tools)) = (self.service.get(), self.client.list_all_tools().await) else {
            return;
        };
        let now: HashSet<String> = tools.iter().map(|t| t.name.clone()).collect();
        let before = std::mem::replace(
            &mut *self.tools.lock().unwrap_or_else(PoisonError::into_inner),
            now.clone(),
        );
        for gone in before.difference(&now) {
            let _ = service.remove_tool(gone);
        }
        for tool in tools.into_iter().filter(|t| !before.contains(&t.name)) {
            if let Err(e) = service.add_tool(self.tool(tool)) {
                tracing::warn!(error = %e, "an upstream tool could not be served");
            }
        }
    }
}

/// The most `input_required` rounds one forwarded request may take.
const MAX_ROUNDS: usize = 16;

fn upstream_failed(e: &Error) -> String {
    format!("the upstream server failed: {e}")
}

impl Server {
    /// A server that serves everything `upstream` has (its tools, prompts, resources and
    /// templates, under its name and instructions) and forwards each call to it over one
    /// connection. See [`proxy`](crate::proxy). Add layers, mount other servers or change the
    /// options before serving it, as for any server.
    pub async fn proxy(upstream: Upstream) -> Result<Server> {
        let relay = Arc::new(Relay::default());
        let mut options = ClientOptions::default()
            .era(upstream.era)
            .on_sampling(relayed(&relay, Method::SamplingCreateMessage))
            .on_elicitation(relayed(&relay, Method::ElicitationCreate))
            .on_roots(relayed(&relay, Method::RootsList))
            // Seen on the reader, in order: the last progress of a call reaches its client
            // before the call's answer does.
            .on_notification(Method::Progress, relay_progress(&relay))
            .on_notification(Method::LogMessage, relay_log(&relay));
        // A call may wait on a person (an elicitation) for a long time.
        options.timeout = Duration::from_secs(3600);
        let client = match upstream.target {
            Target::Command(command) => Client::spawn(command, options).await?,
            #[cfg(feature = "http")]
            Target::Url(url) => Client::connect_http(&url, options).await?,
            #[cfg(not(feature = "http"))]
            Target::Url(_) => {
                return Err(Error::Config("an HTTP upstream needs the `http` feature".into()));
            }
        };
        let negotiated = client.negotiated().clone();
        let tools = client.list_all_tools().await.unwrap_or_default();
        let prompts = client.list_prompts().await.unwrap_or_default();
        let resources = client.list_resources().await.unwrap_or_default();
        let templates = client.list_resource_templates().await.unwrap_or_default();
        let proxy = Arc::new(Proxy {
            client,
            relay,
            tools: Mutex::new(tools.iter().map(|t| t.name.clone()).collect()),
            service: OnceLock::new(),
        });
        let info = negotiated.server_info.clone().unwrap_or_default();
        let mut server = Server::new(info.name, info.version)
            .tools(tools.into_iter().map(|t| proxy.tool(t)))
            .prompts(prompts.into_iter().map(|p| proxy.prompt(p)))
            .resources(resources.into_iter().map(|r| proxy.resource(r)))
            .resources(templates.into_iter().filter_map(|t| proxy.template(t)));
        if let Some(instructions) = negotiated.instructions {
            server = server.instructions(instructions);
        }
        let follow = Arc::clone(&proxy);
        Ok(server.on_build(move |service| {
            let _ = follow.service.set(service.clone());
            tokio::spawn(follow.relay_notifications());
        }))
    }
}
