//! A real MCP client, over a child process's stdio, Streamable HTTP (feature `http`:
//! [`Client::connect_http`], [`HttpTransport`]) or any [`Transport`].
//!
//! It speaks either era: [`Era::Auto`] (the default) probes `server/discover` and falls back to
//! the `initialize` handshake, as the official SDKs do. The project's own tests use it, and so
//! can yours:
//!
//! ```no_run
//! # async fn demo() -> mcp_runtime::Result<()> {
//! use mcp_runtime::client::{Client, ClientOptions};
//! let cmd = tokio::process::Command::new("target/debug/examples/quickstart");
//! let client = Client::spawn(cmd, ClientOptions::default()).await?;
//! let result = client.call_tool("add", serde_json::json!({"a": 2, "b": 3})).await?;
//! assert_eq!(result.structured_content, Some(serde_json::json!({"result": 5})));
//! client.close().await?;
//! # Ok(()) }
//! ```
//!
//! A tool that supports tasks can also be called as one, in either era:
//! [`call_tool_as_task`](Client::call_tool_as_task) returns a [`TaskHandle`] to poll, answer,
//! cancel and wait on (see the [`task`] module).

use crate::error::{Error, Result};
use crate::protocol::jsonrpc::{self, encode_notification, encode_request};
use crate::protocol::method::{Method, wire_name};
use crate::protocol::types::{TASKS_EXTENSION, meta_keys};
use crate::protocol::{
    CallToolResult, ErrorObject, Frame, Implementation, Incoming, ListToolsResult, ProtocolVersion, RequestId, Tool,
};
use crate::transport::stdio::LineTransport;
use crate::transport::{FrameReader, FrameWriter, ReadFrame, Transport};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

#[cfg(feature = "http")]
pub mod http;
pub mod task;

#[cfg(feature = "http")]
pub use http::HttpTransport;
pub use task::{Task, TaskCall, TaskHandle, TaskStatus};

/// Which protocol era the client speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Era {
    /// Probe `server/discover`; fall back to `initialize` if the server does not answer it.
    #[default]
    Auto,
    /// 2026-07-28: no handshake, version and capabilities in every request's `_meta`.
    Stateless,
    /// `initialize` at the given handshake-era version.
    Handshake(ProtocolVersion),
}

/// What one request declares on top of the client's own capabilities (stateless era, where
/// every request declares them in its `_meta`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Declare {
    /// The capabilities of the [`ClientOptions`], as they are.
    Options,
    /// Those and the tasks extension (`io.modelcontextprotocol/tasks`): a request about tasks,
    /// or a call the server may run as one.
    Tasks,
}

/// Answers a request the server sends the client (sampling, elicitation, roots): its params in,
/// its result (or a JSON-RPC error) out.
pub type Handler =
    Arc<dyn Fn(Value) -> Pin<Box<dyn Future<Output = std::result::Result<Value, ErrorObject>> + Send>> + Send + Sync>;

/// Sees a notification the server sends, on the connection's reader: called in order, before
/// anything the server sent after it is handled, so it must be quick and must not block.
pub type Observer = Arc<dyn Fn(&Value) + Send + Sync>;

/// How a client connects.
#[derive(Clone)]
pub struct ClientOptions {
    /// The era to speak.
    pub era: Era,
    /// The client's name and version.
    pub info: Implementation,
    /// The capabilities the client declares.
    pub capabilities: Map<String, Value>,
    /// How long to wait for any one answer.
    pub timeout: Duration,
    /// Answers to the server's requests, by method (`sampling/createMessage`,
    /// `elicitation/create`, `roots/list`).
    pub handlers: HashMap<Method, Handler>,
    /// Notifications seen as they arrive, by method, in place of
    /// [`Client::next_notification`]: see [`on_notification`](Self::on_notification).
    pub observers: HashMap<Method, Observer>,
    /// The most `input_required` rounds one call may take, or one task's wait may answer
    /// (stateless era).
    pub max_rounds: usize,
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("era", &self.era)
            .field("info", &self.info)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<Value, ErrorObject>> + Send + 'static,
{
    Arc::new(move |params| Box::pin(f(params)))
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            era: Era::Auto,
            info: Implementation {
                name: "mcp-rust-client".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Implementation::default()
            },
            capabilities: Map::new(),
            timeout: Duration::from_secs(30),
            handlers: HashMap::new(),
            observers: HashMap::new(),
            max_rounds: 16,
        }
    }
}

impl ClientOptions {
    /// These options, speaking `era`.
    #[must_use]
    pub fn era(mut self, era: Era) -> Self {
        self.era = era;
        self
    }

    /// Answers the server's sampling requests with `f` (params in, `CreateMessageResult` out),
    /// and declares the `sampling` capability.
    #[must_use]
    pub fn on_sampling<F, Fut>(self, f: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Value, ErrorObject>> + Send + 'static,
    {
        let declared = self.capabilities.get("sampling").cloned().unwrap_or_else(|| json!({}));
        self.on(Method::SamplingCreateMessage, "sampling", declared, f)
    }

    /// Declares `sampling.tools`: the sampling handler understands tools.
    #[must_use]
    pub fn sampling_with_tools(mut self) -> Self {
        self.capabilities.insert("sampling".into(), json!({ "tools": {} }));
        self
    }

    /// Answers the server's elicitation requests with `f`, and declares `elicitation` (form and
    /// URL modes).
    #[must_use]
    pub fn on_elicitation<F, Fut>(self, f: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Value, ErrorObject>> + Send + 'static,
    {
        self.on(
            Method::ElicitationCreate,
            "elicitation",
            json!({ "form": {}, "url": {} }),
            f,
        )
    }

    /// Answers the server's `roots/list` with `f`, and declares `roots`.
    #[must_use]
    pub fn on_roots<F, Fut>(self, f: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Value, ErrorObject>> + Send + 'static,
    {
        self.on(Method::RootsList, "roots", json!({}), f)
    }

    /// Sees every `method` notification the server sends with `f`, on the connection's reader,
    /// in order: a progress notification is seen before the answer to its request is, which
    /// [`Client::next_notification`] (a queue read elsewhere) cannot promise. `f` must be quick;
    /// notifications it sees are not queued for [`Client::next_notification`].
    #[must_use]
    pub fn on_notification<F>(mut self, method: Method, f: F) -> Self
    where
        F: Fn(&Value) + Send + Sync + 'static,
    {
        self.observers.insert(method, Arc::new(f));
        self
    }

    fn on<F, Fut>(mut self, method: Method, capability: &str, declared: Value, f: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Value, ErrorObject>> + Send + 'static,
    {
        self.capabilities.insert(capability.into(), declared);
        self.handlers.insert(method, handler(f));
        self
    }

    fn handler_for(&self, method: &str) -> Option<&Handler> {
        self.handlers.get(&Method::parse(method)?)
    }
}

/// What the connection settled on.
#[derive(Clone, Debug)]
pub struct Negotiated {
    /// The protocol version in use.
    pub version: ProtocolVersion,
    /// The server's name and version.
    pub server_info: Option<Implementation>,
    /// The server's capabilities.
    pub capabilities: Value,
    /// The server's instructions for the model.
    pub instructions: Option<String>,
}

type Pending = Mutex<HashMap<RequestId, oneshot::Sender<Result<Value, ErrorObject>>>>;

struct Inner {
    out: mpsc::Sender<Vec<u8>>,
    pending: Pending,
    next_id: AtomicI64,
    negotiated: OnceLock<Negotiated>,
    options: ClientOptions,
    notifications: mpsc::UnboundedSender<(String, Value)>,
}

/// A connected MCP client.
pub struct Client {
    inner: Arc<Inner>,
    reader: JoinHandle<()>,
    writer: JoinHandle<std::io::Result<()>>,
    notifications: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    close: Option<oneshot::Sender<()>>,
    child: Option<Child>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("negotiated", &self.inner.negotiated.get())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts `command` with piped stdin and stdout (stderr is inherited) and connects to it.
    pub async fn spawn(mut command: Command, options: ClientOptions) -> Result<Self> {
        command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let stdin = child.stdin.take().ok_or(Error::Closed)?;
        let stdout = child.stdout.take().ok_or(Error::Closed)?;
        let mut client = Self::start(LineTransport::new(stdout, stdin), options);
        client.child = Some(child);
        client.negotiate().await?;
        Ok(client)
    }

    /// Connects over a transport (an in-memory pair, say).
    pub async fn connect<T: Transport>(transport: T, options: ClientOptions) -> Result<Self> {
        let client = Self::start(transport, options);
        client.negotiate().await?;
        Ok(client)
    }

    /// Connects to the MCP endpoint at `url` (such as `http://127.0.0.1:3000/mcp`) over
    /// Streamable HTTP: [`connect`](Self::connect) with [`HttpTransport::new`]. Build the
    /// transport by hand for a token or other headers.
    ///
    /// # Errors
    /// [`Error::Io`] when `url` is not an `http` URL or the server cannot be reached, and
    /// whatever the server answers the handshake with.
    #[cfg(feature = "http")]
    pub async fn connect_http(url: &str, options: ClientOptions) -> Result<Self> {
        Self::connect(HttpTransport::new(url)?, options).await
    }

    fn start<T: Transport>(transport: T, options: ClientOptions) -> Self {
        let (reader, writer) = transport.split();
        let (out, rx) = mpsc::channel(1024);
        let (note_tx, note_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            out,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicI64::new(1),
            negotiated: OnceLock::new(),
            options,
            notifications: note_tx,
        });
        let reader = tokio::spawn(read_loop(reader, Arc::clone(&inner)));
        let (close, close_rx) = oneshot::channel();
        let writer = tokio::spawn(write_loop(writer, rx, close_rx));
        Self {
            inner,
            reader,
            writer,
            notifications: tokio::sync::Mutex::new(note_rx),
            close: Some(close),
            child: None,
        }
    }

    async fn negotiate(&self) -> Result<()> {
        let opts = &self.inner.options;
        match opts.era {
            Era::Stateless => self.discover().await,
            Era::Handshake(v) => self.initialize(v).await,
            Era::Auto => match self.discover().await {
                Ok(()) => Ok(()),
                Err(Error::Protocol(_)) => self.initialize(ProtocolVersion::LATEST_HANDSHAKE).await,
                Err(e) => Err(e),
            },
        }
    }

    async fn discover(&self) -> Result<()> {
        let params = self.stateless_params(json!({}), ProtocolVersion::LATEST, Declare::Options);
        let result = self.raw_request(Method::ServerDiscover.as_str(), params).await?;
        let supports = result
            .get("supportedVersions")
            .and_then(Value::as_array)
            .is_some_and(|v| v.iter().any(|s| s.as_str() == Some(ProtocolVersion::LATEST.as_str())));
        if !supports {
            return Err(Error::Protocol(ErrorObject::invalid_request(
                "the server supports no stateless protocol version",
            )));
        }
        self.set_negotiated(ProtocolVersion::LATEST, &result);
        Ok(())
    }

    async fn initialize(&self, version: ProtocolVersion) -> Result<()> {
        let opts = &self.inner.options;
        let params = json!({
            "protocolVersion": version,
            "capabilities": opts.capabilities,
            "clientInfo": opts.info,
        });
        let result = self.raw_request(Method::Initialize.as_str(), params).await?;
        let answered = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(version) = ProtocolVersion::parse(answered).filter(|v| !v.is_stateless()) else {
            return Err(Error::Protocol(ErrorObject::invalid_request(format!(
                "the server answered initialize with protocol version {answered:?}, which this client does not speak"
            ))));
        };
        self.set_negotiated(version, &result);
        self.notify(Method::Initialized.as_str(), json!({})).await
    }

    fn set_negotiated(&self, version: ProtocolVersion, result: &Value) {
        let server_info = result
            .get("serverInfo")
            .or_else(|| result.get("_meta").and_then(|m| m.get(meta_keys::SERVER_INFO)))
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let _ = self.inner.negotiated.set(Negotiated {
            version,
            server_info,
            capabilities: result.get("capabilities").cloned().unwrap_or_else(|| json!({})),
            instructions: result.get("instructions").and_then(Value::as_str).map(str::to_owned),
        });
    }

    fn stateless_params(&self, mut params: Value, version: ProtocolVersion, declare: Declare) -> Value {
        let opts = &self.inner.options;
        let mut capabilities = opts.capabilities.clone();
        if declare == Declare::Tasks {
            let extensions = capabilities.entry("extensions").or_insert_with(|| json!({}));
            if let Some(extensions) = extensions.as_object_mut() {
                extensions.entry(TASKS_EXTENSION).or_insert_with(|| json!({}));
            }
        }
        if !params.is_object() {
            params = json!({});
        }
        let meta = params
            .as_object_mut()
            .expect("an object")
            .entry("_meta")
            .or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(meta_keys::PROTOCOL_VERSION.into(), json!(version));
            meta.insert(meta_keys::CLIENT_CAPABILITIES.into(), Value::Object(capabilities));
            meta.insert(meta_keys::CLIENT_INFO.into(), json!(opts.info));
        }
        params
    }

    /// What the connection settled on.
    pub fn negotiated(&self) -> &Negotiated {
        self.inner.negotiated.get().expect("a connected client has negotiated")
    }

    /// The protocol version in use.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.negotiated().version
    }

    /// The server's name and version.
    pub fn server_info(&self) -> Option<&Implementation> {
        self.negotiated().server_info.as_ref()
    }

    /// Sends a request in the connection's era (adding the stateless `_meta` when needed) and
    /// waits for its result.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value> {
        self.request_declaring(method, params, Declare::Options).await
    }

    async fn request_declaring(&self, method: &str, params: Value, declare: Declare) -> Result<Value> {
        let params = if self.protocol_version().is_stateless() {
            self.stateless_params(params, self.protocol_version(), declare)
        } else {
            params
        };
        self.raw_request(method, params).await
    }

    /// Sends a request exactly as given, with no `_meta` added.
    pub async fn raw_request(&self, method: &str, params: Value) -> Result<Value> {
        let id = RequestId::Number(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.inner
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), tx);
        // Dropped before its answer (the caller gave up): the server is told.
        let mut guard = Outstanding {
            inner: &self.inner,
            id: Some(id.clone()),
        };
        self.send(encode_request(&id, method, &params)).await?;
        let answer = tokio::time::timeout(self.inner.options.timeout, rx).await;
        guard.id = None;
        match answer {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(error_answer(e)),
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => {
                self.inner
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
                let _ = self
                    .notify(
                        Method::Cancelled.as_str(),
                        json!({"requestId": id, "reason": "timed out"}),
                    )
                    .await;
                Err(Error::Timeout)
            }
        }
    }

    /// Sends bytes as they are, as one frame: for testing how a server takes malformed input.
    pub async fn send_raw(&self, frame: Vec<u8>) -> Result<()> {
        self.send(frame).await
    }

    /// Sends a notification.
    pub async fn notify(&self, method: &str, params: Value) -> Result<()> {
        self.send(encode_notification(method, &params)).await
    }

    async fn send(&self, frame: Vec<u8>) -> Result<()> {
        self.inner.out.send(frame).await.map_err(|_| Error::Closed)
    }

    /// The next notification the server sent, with its params, or `None` once the connection
    /// closed. Notifications are queued from the start, so none is missed.
    pub async fn next_notification(&self) -> Option<(String, Value)> {
        self.notifications.lock().await.recv().await
    }

    /// `ping` (handshake era only; the stateless era removed it).
    pub async fn ping(&self) -> Result<()> {
        self.request(Method::Ping.as_str(), json!({})).await.map(drop)
    }

    /// One page of tools.
    pub async fn list_tools(&self, cursor: Option<&str>) -> Result<ListToolsResult> {
        let params = match cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let v = self.request(Method::ToolsList.as_str(), params).await?;
        Ok(serde_json::from_value(v)?)
    }

    /// Every tool, following `nextCursor` to the last page.
    pub async fn list_all_tools(&self) -> Result<Vec<Tool>> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list_tools(cursor.as_deref()).await?;
            tools.extend(page.tools);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(tools),
            }
        }
    }

    /// Calls a tool. A tool's own failure is `Ok` with `is_error: true`; a protocol error
    /// (unknown tool, say) is `Err`. In the stateless era, `input_required` answers are
    /// handled here: the handlers answer each input request and the call is sent again.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<CallToolResult> {
        self.call_tool_with(name, arguments, None).await
    }

    /// [`call_tool`](Client::call_tool) with a `_meta` (a `progressToken`, say).
    pub async fn call_tool_with(&self, name: &str, arguments: Value, meta: Option<Value>) -> Result<CallToolResult> {
        let mut params = json!({ "name": name, "arguments": arguments });
        if let Some(meta) = meta {
            params["_meta"] = meta;
        }
        Ok(serde_json::from_value(
            self.request_with_input(Method::ToolsCall.as_str(), params).await?,
        )?)
    }

    /// Sends a request that may be answered with `input_required` (stateless era): the
    /// handlers answer each input request and the request is sent again, up to `max_rounds`.
    pub async fn request_with_input(&self, method: &str, params: Value) -> Result<Value> {
        self.request_with_input_declaring(method, params, Declare::Options)
            .await
    }

    async fn request_with_input_declaring(&self, method: &str, mut params: Value, declare: Declare) -> Result<Value> {
        for _ in 0..self.inner.options.max_rounds {
            let result = self.request_declaring(method, params.clone(), declare).await?;
            if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
                return Ok(result);
            }
            let requests = result.get("inputRequests").and_then(Value::as_object);
            params["inputResponses"] = Value::Object(self.answer_all(requests.into_iter().flatten()).await?);
            match result.get("requestState") {
                Some(state) => params["requestState"] = state.clone(),
                None => {
                    params.as_object_mut().expect("an object").remove("requestState");
                }
            }
        }
        Err(Error::Message(format!(
            "the server still wanted input after {} rounds",
            self.inner.options.max_rounds
        )))
    }

    /// Every prompt, following `nextCursor`.
    pub async fn list_prompts(&self) -> Result<Vec<crate::protocol::Prompt>> {
        self.list_all(Method::PromptsList.as_str(), "prompts").await
    }

    /// Gets a prompt with its (string) arguments.
    pub async fn get_prompt(&self, name: &str, arguments: Value) -> Result<crate::protocol::GetPromptResult> {
        let v = self
            .request_with_input(
                Method::PromptsGet.as_str(),
                json!({ "name": name, "arguments": arguments }),
            )
            .await?;
        Ok(serde_json::from_value(v)?)
    }

    /// Every fixed resource, following `nextCursor`.
    pub async fn list_resources(&self) -> Result<Vec<crate::protocol::Resource>> {
        self.list_all(Method::ResourcesList.as_str(), "resources").await
    }

    /// Every resource template, following `nextCursor`.
    pub async fn list_resource_templates(&self) -> Result<Vec<crate::protocol::ResourceTemplate>> {
        self.list_all(Method::ResourcesTemplatesList.as_str(), "resourceTemplates")
            .await
    }

    /// Reads a resource.
    pub async fn read_resource(&self, uri: &str) -> Result<crate::protocol::ReadResourceResult> {
        let v = self
            .request_with_input(Method::ResourcesRead.as_str(), json!({ "uri": uri }))
            .await?;
        Ok(serde_json::from_value(v)?)
    }

    /// Asks for completions of `argument` (partially `value`) of a prompt (`ref/prompt`) or a
    /// resource template (`ref/resource`); returns the `completion` object.
    pub async fn complete(&self, reference: Value, argument: &str, value: &str) -> Result<Value> {
        let v = self
            .request(
                Method::CompletionComplete.as_str(),
                json!({ "ref": reference, "argument": { "name": argument, "value": value } }),
            )
            .await?;
        Ok(v.get("completion").cloned().unwrap_or(Value::Null))
    }

    async fn list_all<T: serde::de::DeserializeOwned>(&self, method: &str, key: &str) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let params = match &cursor {
                Some(c) => json!({ "cursor": c }),
                None => json!({}),
            };
            let page = self.request(method, params).await?;
            out.extend(serde_json::from_value::<Vec<T>>(
                page.get(key).cloned().unwrap_or_else(|| json!([])),
            )?);
            match page.get("nextCursor").and_then(Value::as_str) {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(out),
            }
        }
    }

    /// Answers input requests (`{method, params}` by key) with the handlers, by the same keys.
    async fn answer_all<'r>(
        &self,
        requests: impl IntoIterator<Item = (&'r String, &'r Value)>,
    ) -> Result<Map<String, Value>> {
        let mut responses = Map::new();
        for (key, request) in requests {
            let method = request.get("method").and_then(Value::as_str).unwrap_or_default();
            let params = request.get("params").cloned().unwrap_or_else(|| json!({}));
            responses.insert(key.clone(), self.answer(method, params).await?);
        }
        Ok(responses)
    }

    async fn answer(&self, method: &str, params: Value) -> Result<Value> {
        match self.inner.options.handler_for(method) {
            Some(h) => h(params).await.map_err(Error::Protocol),
            None => Err(Error::Protocol(ErrorObject::method_not_found(method))),
        }
    }

    /// Closes the connection: the server sees end of input (over HTTP: the last notifications
    /// and answers go out, then DELETE ends the session); a child process gets five seconds
    /// to exit before it is killed.
    pub async fn close(mut self) -> Result<()> {
        if let Some(tx) = self.close.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.writer).await;
        if let Some(mut child) = self.child.take() {
            match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
                Ok(status) => {
                    status?;
                }
                Err(_) => child.kill().await?,
            }
        }
        self.reader.abort();
        Ok(())
    }
}

/// An error answer as the caller sees it: [`Error::Io`] when the transport made it up because
/// the server could not be reached, else the server's [`Error::Protocol`].
fn error_answer(error: ErrorObject) -> Error {
    #[cfg(feature = "http")]
    if let Some(e) = http::transport_failure(&error) {
        return Error::Io(e);
    }
    Error::Protocol(error)
}

async fn write_loop<W: FrameWriter>(
    mut writer: W,
    mut rx: mpsc::Receiver<Vec<u8>>,
    mut close: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            frame = rx.recv() => match frame {
                Some(f) => batch.push(f),
                None => return writer.close().await,
            },
            _ = &mut close => {
                while let Ok(f) = rx.try_recv() {
                    batch.push(f);
                }
                if !batch.is_empty() {
                    writer.write_frames(&mut batch).await?;
                }
                // Then the transport's own goodbye (HTTP ends its session); dropping the
                // writer closes the server's input.
                return writer.close().await;
            }
        }
        while let Ok(f) = rx.try_recv() {
            batch.push(f);
        }
        writer.write_frames(&mut batch).await?;
    }
}

async fn read_loop<R: FrameReader>(mut reader: R, inner: Arc<Inner>) {
    while let Ok(Some(frame)) = reader.read_frame().await {
        let ReadFrame::Message(bytes) = frame else {
            continue;
        };
        match jsonrpc::parse_frame(&bytes) {
            Frame::Single(m) => handle(&inner, m).await,
            Frame::Batch(items) => {
                for m in items {
                    handle(&inner, m).await;
                }
            }
        }
    }
    // The server is gone: every waiting request fails with `Closed`.
    inner.pending.lock().unwrap_or_else(PoisonError::into_inner).clear();
}

async fn handle(inner: &Inner, message: Incoming) {
    match message {
        Incoming::Response { id, outcome } => {
            let waiter = inner.pending.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
            if let Some(tx) = waiter {
                let _ = tx.send(outcome.and_then(|raw| jsonrpc::raw_to_value(&raw)));
            }
        }
        Incoming::Invalid { id: Some(id), error } => {
            // An error the server sent about one of our requests, with an id we can match.
            let waiter = inner.pending.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
            if let Some(tx) = waiter {
                let _ = tx.send(Err(error));
            }
        }
        Incoming::Request {
            id,
            method,
            params,
            stateless,
        } => {
            // A handler sees the params as the server sent them.
            let mut params = params.into_value();
            stateless.restore_into(&mut params);
            if method == Ok(Method::Ping) {
                let _ = inner.out.send(jsonrpc::encode_result(&id, b"{}")).await;
                return;
            }
            let Some(h) = method
                .as_ref()
                .ok()
                .and_then(|m| inner.options.handlers.get(m))
                .cloned()
            else {
                let error = ErrorObject::method_not_found(wire_name(&method));
                let _ = inner.out.send(jsonrpc::encode_error(Some(&id), &error)).await;
                return;
            };
            // Answered on a task of its own: a handler may take long (a person, a model).
            let out = inner.out.clone();
            tokio::spawn(async move {
                let reply = match h(params.unwrap_or_else(|| json!({}))).await {
                    Ok(result) => jsonrpc::encode_result_value(&id, &result),
                    Err(e) => jsonrpc::encode_error(Some(&id), &e),
                };
                let _ = out.send(reply).await;
            });
        }
        Incoming::Notification { method, params } => {
            let params = params.unwrap_or(Value::Null);
            if let Some(observe) = method.as_ref().ok().and_then(|m| inner.options.observers.get(m)) {
                observe(&params);
                return;
            }
            let name = wire_name(&method).to_owned();
            let _ = inner.notifications.send((name, params));
        }
        Incoming::Invalid { id: None, .. } => {}
    }
}

/// A request sent and not yet answered: if its future is dropped, the server is told it is
/// cancelled, so that it stops working on it.
struct Outstanding<'a> {
    inner: &'a Inner,
    id: Option<RequestId>,
}

impl Drop for Outstanding<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        self.inner
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        let note = encode_notification(
            Method::Cancelled.as_str(),
            &json!({"requestId": id, "reason": "the caller stopped waiting"}),
        );
        let _ = self.inner.out.try_send(note);
    }
}
