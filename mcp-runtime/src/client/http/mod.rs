//! Streamable HTTP for the [`Client`](super::Client), in both protocol eras: [`HttpTransport`].
//!
//! Every message the client sends is a POST of its own, on a connection from one pool, so
//! requests never wait for each other. What the server answers is read, in order, into the
//! reader half: one JSON message, or an event stream carrying the request's notifications, the
//! server's own requests (sampling, elicitation, roots: the client's answers are POSTed like any
//! message) and then the answer.
//!
//! - **Stateless era (2026-07-28)**: each POST carries `MCP-Protocol-Version` (from the request's
//!   `_meta`), `Mcp-Method`, and for `tools/call`, `prompts/get`, `resources/read` and `tasks/*`
//!   `Mcp-Name`. A `tools/call` also carries `Mcp-Param-*` for the arguments the tool marks
//!   `x-mcp-header`, as learnt from the `tools/list` answers that went through the transport
//!   (list the tools before calling one that has such arguments). A cancelled request's POST
//!   is closed, which is how this era cancels.
//! - **Handshake era**: the `Mcp-Session-Id` the server gives with its `initialize` answer and
//!   the negotiated `MCP-Protocol-Version` go on every later request. Once the client sent
//!   `notifications/initialized`, a GET stream carries what the server sends outside any
//!   request; it is reopened when it drops (with `Last-Event-ID`), and left closed after `405`.
//!   A POST's event stream that ends before its answer is resumed the same way. Closing sends
//!   DELETE to end the session (and so does dropping the client, as well as it can).
//!
//! Nothing waits in vain: a request whose POST fails gets an error answer. An HTTP error with a
//! JSON-RPC body is that body (with the request's id when the server left it out); one without
//! is `-32603` with `data.httpStatus`. When the server cannot be reached at all (or the
//! connection breaks), the request fails with [`Error::Io`]. No message, log
//! line or `Debug` output shows credentials: the URL is shown without its user information and
//! query, and header values are not shown.
//!
//! ```no_run
//! # async fn demo() -> mcp_runtime::Result<()> {
//! use mcp_runtime::client::{Client, ClientOptions, HttpTransport};
//! let client = Client::connect_http("http://127.0.0.1:3000/mcp", ClientOptions::default()).await?;
//! let tools = client.list_all_tools().await?;
//! client.close().await?;
//!
//! // With a token, over a transport built by hand:
//! let transport = HttpTransport::new("http://127.0.0.1:3000/mcp")?.bearer_token("s3cret")?;
//! let client = Client::connect(transport, ClientOptions::default()).await?;
//! # Ok(()) }
//! ```
//!
//! Its files, by job: this one (the transport, its POSTs, the GET stream, DELETE), `target`
//! (the URL and its credentials), `outgoing` (what a message's headers say), `sse` (reading
//! events), `answer` (which messages answer a POST's requests) and `failure` (the error
//! answers made when they do not come).

mod answer;
mod failure;
mod outgoing;
mod sse;
mod target;

pub(super) use self::failure::transport_failure;

use self::answer::{Seen, Waiting};
use self::failure::{Failure, chain, io_kind};
use self::outgoing::{Outgoing, header_params, header_value};
use self::sse::SseReader;
use self::target::Target;
use crate::error::{Error, Result};
use crate::protocol::jsonrpc::encode_error;
use crate::protocol::{Method as McpMethod, ProtocolVersion, RequestId};
use crate::transport::{DEFAULT_MAX_MESSAGE_BYTES, FrameReader, FrameWriter, ReadFrame, Transport};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client as Pool;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

const SESSION: HeaderName = HeaderName::from_static("mcp-session-id");
const VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
const METHOD: HeaderName = HeaderName::from_static("mcp-method");
const NAME: HeaderName = HeaderName::from_static("mcp-name");
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const JSON_OR_SSE: HeaderValue = HeaderValue::from_static("application/json, text/event-stream");
const SSE: HeaderValue = HeaderValue::from_static("text/event-stream");

/// How long connecting may take, unless [`HttpTransport::connect_timeout`] says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long closing waits for the last notifications and answers to go out, and then for the
/// DELETE that ends the session.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// How long to wait before reopening a stream, when the server did not say (`retry:`).
const RETRY: Duration = Duration::from_secs(1);
/// The longest wait before reopening a stream, however often it failed.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How many times in a row a stream may fail to reopen before the transport gives up on it.
const REOPEN_ATTEMPTS: u32 = 8;
/// How long to wait for the end of an answer's stream once the answer is in, so that its
/// connection goes back to the pool.
const DRAIN: Duration = Duration::from_millis(100);
/// Messages read but not yet taken by the reader half.
const QUEUE: usize = 1024;

/// A Streamable HTTP connection to the MCP server at one URL, for
/// [`Client::connect`](super::Client::connect) (or use
/// [`Client::connect_http`](super::Client::connect_http)). See the [module docs](self).
pub struct HttpTransport {
    target: Target,
    headers: HeaderMap,
    connect_timeout: Duration,
    max_message_bytes: usize,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("url", &self.target.shown)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("connect_timeout", &self.connect_timeout)
            .field("max_message_bytes", &self.max_message_bytes)
            .finish()
    }
}

fn invalid_input(message: String) -> Error {
    Error::Io(io::Error::new(io::ErrorKind::InvalidInput, message))
}

impl HttpTransport {
    /// A transport to the MCP endpoint at `url` (such as `http://127.0.0.1:3000/mcp`). A
    /// `user:password@` in the URL is sent as `Authorization: Basic`. Only `http` URLs are
    /// supported: this transport has no TLS.
    ///
    /// # Errors
    /// [`Error::Io`] (`InvalidInput`) when `url` is not an `http` URL with a host; the
    /// message never repeats the URL.
    pub fn new(url: &str) -> Result<Self> {
        let target = Target::parse(url).map_err(invalid_input)?;
        let mut headers = HeaderMap::new();
        if let Some(basic) = &target.basic {
            headers.insert(hyper::header::AUTHORIZATION, basic.clone());
        }
        Ok(Self {
            target,
            headers,
            connect_timeout: CONNECT_TIMEOUT,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        })
    }

    /// Sends the header `name: value` on every request, replacing any earlier value of it.
    /// The headers the protocol needs (`Content-Type`, `Accept`, `MCP-Protocol-Version`,
    /// `Mcp-Session-Id`, `Mcp-Method`, `Mcp-Name`, `Last-Event-ID`) are the transport's own.
    ///
    /// # Errors
    /// [`Error::Io`] (`InvalidInput`) when the name or the value is not valid in a header.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid_input(format!("`{name}` is not a valid header name")))?;
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| invalid_input(format!("the value given for header `{name}` is not valid in a header")))?;
        value.set_sensitive(true);
        self.headers.insert(name, value);
        Ok(self)
    }

    /// Sends `Authorization: Bearer <token>` on every request.
    ///
    /// # Errors
    /// [`Error::Io`] (`InvalidInput`) when the token is not valid in a header.
    pub fn bearer_token(self, token: &str) -> Result<Self> {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// How long connecting to the server may take (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The largest message accepted from the server (default 16 MiB); a request whose answer
    /// is larger fails, and a larger event on the GET stream is dropped.
    #[must_use]
    pub fn max_message_bytes(mut self, limit: usize) -> Self {
        self.max_message_bytes = limit;
        self
    }

    /// The server's URL as it may be shown: without user information or query.
    pub fn url(&self) -> &str {
        &self.target.shown
    }
}

impl Transport for HttpTransport {
    type Reader = HttpReader;
    type Writer = HttpWriter;

    fn split(self) -> (HttpReader, HttpWriter) {
        let mut connector = HttpConnector::new();
        // Nagle's algorithm would hold each small message back for tens of milliseconds.
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(self.connect_timeout));
        let pool = Pool::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(connector);
        let (incoming, rx) = mpsc::channel(QUEUE);
        let shared = Arc::new(Shared {
            pool,
            target: self.target,
            headers: self.headers,
            max_message_bytes: self.max_message_bytes,
            incoming,
            state: Mutex::default(),
        });
        let writer = HttpWriter {
            shared,
            requests: JoinSet::new(),
            others: JoinSet::new(),
            in_flight: HashMap::new(),
            closed: false,
        };
        (HttpReader { rx }, writer)
    }
}

/// The receiving half of an [`HttpTransport`]: every message the server sent, on any POST's
/// answer or the GET stream, each stream's in order.
pub struct HttpReader {
    rx: mpsc::Receiver<Vec<u8>>,
}

impl fmt::Debug for HttpReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpReader").finish_non_exhaustive()
    }
}

impl FrameReader for HttpReader {
    async fn read_frame(&mut self) -> io::Result<Option<ReadFrame>> {
        Ok(self.rx.recv().await.map(ReadFrame::Message))
    }
}

/// The sending half of an [`HttpTransport`]: each message is POSTed on a task of its own.
/// [`close`](FrameWriter::close) ends the session; dropping the writer without closing it
/// stops its streams and ends the session in the background.
pub struct HttpWriter {
    shared: Arc<Shared>,
    /// The POSTs of requests: their answers are awaited, and a cancelled one is closed.
    requests: JoinSet<()>,
    /// The POSTs of notifications and answers, which closing lets finish.
    others: JoinSet<()>,
    /// The POST of each request in flight, by id.
    in_flight: HashMap<RequestId, AbortHandle>,
    closed: bool,
}

impl fmt::Debug for HttpWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpWriter")
            .field("url", &self.shared.target.shown)
            .field("requests_in_flight", &self.requests.len())
            .finish_non_exhaustive()
    }
}

impl FrameWriter for HttpWriter {
    async fn write_frames(&mut self, frames: &mut Vec<Vec<u8>>) -> io::Result<()> {
        while self.requests.try_join_next().is_some() {}
        while self.others.try_join_next().is_some() {}
        self.in_flight.retain(|_, post| !post.is_finished());
        for frame in frames.drain(..) {
            self.send(frame);
        }
        Ok(())
    }

    async fn close(&mut self) -> io::Result<()> {
        self.closed = true;
        self.shared.lock().closed = true;
        // The last answers and notifications go out; requests still in flight are given up.
        let _ = tokio::time::timeout(CLOSE_GRACE, async { while self.others.join_next().await.is_some() {} }).await;
        self.requests.shutdown().await;
        self.others.shutdown().await;
        match self.shared.stop() {
            Some(session) => self.shared.end_session(session).await,
            None => Ok(()),
        }
    }
}

impl Drop for HttpWriter {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        // The tasks of the `JoinSet`s are aborted as they drop; the session is ended as well
        // as a destructor can: in the background.
        if let Some(session) = self.shared.stop()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let shared = Arc::clone(&self.shared);
            runtime.spawn(async move {
                if let Err(e) = shared.end_session(session).await {
                    tracing::debug!(error = %e, "the MCP session could not be ended");
                }
            });
        }
    }
}

impl HttpWriter {
    /// POSTs one frame on a task of its own.
    fn send(&mut self, frame: Vec<u8>) {
        let out = Outgoing::read(&frame);
        // Closing a request's POST is how the stateless era cancels it; in the handshake era
        // the server hears the notification, and the stream would only linger.
        if let Some(cancelled) = &out.cancels
            && let Some(post) = self.in_flight.remove(cancelled)
        {
            post.abort();
        }
        let request = self.shared.post_request(&out, Bytes::from(frame));
        let ids = out.requests.clone();
        let post = Post::new(Arc::clone(&self.shared), out).run(request);
        if ids.is_empty() {
            self.others.spawn(post);
        } else {
            let post = self.requests.spawn(post);
            for id in ids {
                self.in_flight.insert(id, post.clone());
            }
        }
    }
}

/// What the halves and their tasks share.
struct Shared {
    pool: Pool<HttpConnector, Full<Bytes>>,
    target: Target,
    /// The headers every request carries (credentials, the user's own).
    headers: HeaderMap,
    max_message_bytes: usize,
    /// To the reader half.
    incoming: mpsc::Sender<Vec<u8>>,
    state: Mutex<State>,
}

/// What the transport learnt of the connection.
#[derive(Default)]
struct State {
    /// The protocol version `initialize` settled on (handshake era).
    version: Option<String>,
    /// The protocol version the last stateless request named, for the messages that name
    /// none (`notifications/cancelled`).
    stateless: Option<String>,
    /// The handshake-era session.
    session: Option<HeaderValue>,
    /// Each tool's `x-mcp-header` arguments: (argument, header).
    header_params: HashMap<String, Vec<(String, HeaderName)>>,
    /// The GET stream's task.
    standalone: Option<AbortHandle>,
    /// The writer closed: no stream opens any more.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request to the server's URL with the configured headers.
    fn request(&self, method: Method, body: Bytes) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = self.target.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }

    /// Adds the session's headers (its id, the protocol version) to `headers`.
    fn session_headers(&self, state: &State, headers: &mut HeaderMap) {
        if let Some(version) = state.version.as_deref().and_then(header_value) {
            headers.insert(VERSION, version);
        }
        if let Some(session) = &state.session {
            headers.insert(SESSION, session.clone());
        }
    }

    /// The POST of one message, with the headers its era asks for.
    fn post_request(&self, out: &Outgoing, body: Bytes) -> Request<Full<Bytes>> {
        let mut request = self.request(Method::POST, body);
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, JSON);
        headers.insert(ACCEPT, JSON_OR_SSE);
        let mut state = self.lock();
        if out.is_initialize() {
            // A new handshake: no session yet, and no version until it is settled.
            return request;
        }
        if let Some(session) = &state.session {
            headers.insert(SESSION, session.clone());
        }
        if out.version.is_some() {
            state.stateless.clone_from(&out.version);
        }
        // The message's own version, else the session's, else the stateless era's.
        let version = out
            .version
            .as_ref()
            .or(state.version.as_ref())
            .or(state.stateless.as_ref());
        if let Some(value) = version.and_then(|v| header_value(v)) {
            headers.insert(VERSION, value);
        }
        let stateless = version
            .and_then(|v| ProtocolVersion::parse(v))
            .is_some_and(ProtocolVersion::is_stateless);
        if stateless {
            if let Some(method) = out.method.as_deref().and_then(header_value) {
                headers.insert(METHOD, method);
            }
            if let Some(name) = out.name.as_deref().and_then(header_value) {
                headers.insert(NAME, name);
            }
            if let Some((tool, _)) = &out.tool_call
                && let Some(params) = state.header_params.get(tool)
            {
                for (name, value) in out.param_headers(params) {
                    headers.insert(name, value);
                }
            }
        }
        request
    }

    /// A GET for the session's event stream, resuming after `last_event_id` if given.
    fn get_request(&self, last_event_id: Option<&str>) -> Request<Full<Bytes>> {
        let mut request = self.request(Method::GET, Bytes::new());
        let headers = request.headers_mut();
        headers.insert(ACCEPT, SSE);
        self.session_headers(&self.lock(), headers);
        if let Some(id) = last_event_id.and_then(|id| HeaderValue::from_str(id).ok()) {
            headers.insert(LAST_EVENT_ID, id);
        }
        request
    }

    /// Hands one message to the reader half; `false` when the client is gone.
    async fn deliver(&self, message: Vec<u8>) -> bool {
        self.incoming.send(message).await.is_ok()
    }

    /// Hands a message from a POST's answer to the reader half, noting which of the POST's
    /// requests it answers, and what it teaches (the settled version, tools' header
    /// arguments). An error without an id is the answer to the POST's one request.
    async fn deliver_answer(&self, waiting: &mut Waiting, mut message: Vec<u8>) -> bool {
        let mut missing_id = None;
        match Seen::of(&message) {
            Seen::Response { id: Some(id), result } => {
                if waiting.answered(&id)
                    && let Some(result) = result
                {
                    self.learn(waiting.method.as_deref(), result);
                }
            }
            Seen::Response { id: None, .. } if waiting.single => missing_id = waiting.ids.pop(),
            Seen::Batch(ids) => {
                for id in &ids {
                    waiting.answered(id);
                }
            }
            _ => {}
        }
        if let Some(id) = missing_id
            && let Ok(mut value) = serde_json::from_slice::<Value>(&message)
        {
            value["id"] = json!(id);
            message = serde_json::to_vec(&value).expect("JSON serialises");
        }
        self.deliver(message).await
    }

    /// What the answer to `method` teaches the transport.
    fn learn(&self, method: Option<&str>, result: &RawValue) {
        match method.and_then(McpMethod::parse) {
            Some(McpMethod::Initialize) => {
                #[derive(Deserialize)]
                struct Settled {
                    #[serde(rename = "protocolVersion")]
                    version: String,
                }
                if let Ok(settled) = serde_json::from_str::<Settled>(result.get()) {
                    self.lock().version = Some(settled.version);
                }
            }
            Some(McpMethod::ToolsList) => {
                let Ok(result) = serde_json::from_str::<Value>(result.get()) else {
                    return;
                };
                let mut state = self.lock();
                for (tool, params) in header_params(&result) {
                    if params.is_empty() {
                        state.header_params.remove(&tool);
                    } else {
                        state.header_params.insert(tool, params);
                    }
                }
            }
            _ => {}
        }
    }

    /// Reads an event stream into the reader half until it ends or, for a POST's stream
    /// (`waiting`), until the POST's requests are answered.
    async fn read_stream(
        &self,
        mut body: Incoming,
        events: &mut SseReader,
        mut waiting: Option<&mut Waiting>,
    ) -> std::result::Result<(), Failure> {
        let mut messages = Vec::new();
        loop {
            let frame = match body.frame().await {
                None => return Ok(()),
                Some(Err(e)) => return Err(self.broken(&e)),
                Some(Ok(frame)) => frame,
            };
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            events.feed(&chunk, &mut messages);
            for message in messages.drain(..) {
                let delivered = match waiting.as_deref_mut() {
                    Some(waiting) => self.deliver_answer(waiting, message).await,
                    None => self.deliver(message).await,
                };
                if !delivered {
                    return Ok(());
                }
            }
            if waiting.as_ref().is_some_and(|w| w.ids.is_empty()) {
                // The answer is in, and the server ends the stream now: read its end, so that
                // the connection goes back to the pool.
                let _ = tokio::time::timeout(DRAIN, async { while let Some(Ok(_)) = body.frame().await {} }).await;
                return Ok(());
            }
        }
    }

    /// A whole JSON body, up to the message limit.
    async fn read_body(&self, body: Incoming) -> std::result::Result<Bytes, Failure> {
        match Limited::new(body, self.max_message_bytes).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<LengthLimitError>() => Err(Failure::Unreachable {
                kind: io::ErrorKind::InvalidData,
                message: format!(
                    "the MCP server at {} answered with more than the limit of {} bytes",
                    self.target.shown, self.max_message_bytes
                ),
            }),
            Err(e) => Err(self.broken(&*e)),
        }
    }

    /// The server could not be reached.
    fn unreachable(&self, error: &(dyn std::error::Error + 'static)) -> Failure {
        Failure::Unreachable {
            kind: io_kind(error),
            message: format!(
                "could not reach the MCP server at {}: {}",
                self.target.shown,
                chain(error)
            ),
        }
    }

    /// The connection broke while an answer was being read.
    fn broken(&self, error: &(dyn std::error::Error + 'static)) -> Failure {
        Failure::Unreachable {
            kind: io_kind(error),
            message: format!(
                "the connection to the MCP server at {} broke before the answer: {}",
                self.target.shown,
                chain(error)
            ),
        }
    }

    /// Resumes a POST's event stream that ended before its answer, with GET and
    /// `Last-Event-ID` (handshake era, when the server gave event ids), for as long as the
    /// server lets it; `ended` is how the stream ended. A server that polls (closes each
    /// stream early) is followed until the answer comes or the request is cancelled, which
    /// aborts this; only failures to reopen count against the attempts.
    async fn resume(
        &self,
        events: &mut SseReader,
        waiting: &mut Waiting,
        mut ended: std::result::Result<(), Failure>,
    ) -> std::result::Result<(), Failure> {
        let mut failures = 0;
        while failures < REOPEN_ATTEMPTS {
            let Some(last) = events.last_id.clone() else { break };
            if self.lock().session.is_none() {
                break;
            }
            tokio::time::sleep(events.retry.unwrap_or(RETRY).min(MAX_RETRY)).await;
            events.reconnected();
            ended = match self.pool.request(self.get_request(Some(&last))).await {
                Ok(response) if response.status().is_success() && is_event_stream(response.headers()) => {
                    failures = 0;
                    self.read_stream(response.into_body(), events, Some(waiting)).await
                }
                Ok(response) => {
                    return Err(Failure::Status {
                        status: response.status(),
                        detail: " when the answer's event stream was resumed".to_owned(),
                    });
                }
                Err(e) => {
                    failures += 1;
                    Err(self.unreachable(&e))
                }
            };
            if waiting.ids.is_empty() {
                return Ok(());
            }
        }
        ended?;
        Err(Failure::NoAnswer(format!(
            "the MCP server at {} ended the answer's event stream without the answer",
            self.target.shown
        )))
    }

    /// Opens the session's GET stream, if there is a session and it is not open yet.
    fn open_standalone(self: &Arc<Self>) {
        let mut state = self.lock();
        let open = state.standalone.as_ref().is_some_and(|stream| !stream.is_finished());
        if state.closed || state.session.is_none() || open {
            return;
        }
        state.standalone = Some(tokio::spawn(Arc::clone(self).standalone()).abort_handle());
    }

    /// The session's GET stream: what the server sends outside any request. Reopened when it
    /// drops (resuming after the last event id), left closed when the server refuses it
    /// (`405`: it has none) or stays unreachable.
    async fn standalone(self: Arc<Self>) {
        let mut events = SseReader::new(self.max_message_bytes);
        let mut failures = 0u32;
        loop {
            let request = self.get_request(events.last_id.as_deref());
            match self.pool.request(request).await {
                Ok(response) if response.status() == StatusCode::METHOD_NOT_ALLOWED => {
                    tracing::debug!(url = %self.target.shown, "the MCP server has no GET stream (405)");
                    return;
                }
                Ok(response) if response.status().is_success() && is_event_stream(response.headers()) => {
                    failures = 0;
                    events.reconnected();
                    if let Err(failure) = self.read_stream(response.into_body(), &mut events, None).await {
                        tracing::debug!(url = %self.target.shown, error = %failure, "the MCP GET stream dropped");
                    }
                    if self.incoming.is_closed() {
                        return;
                    }
                }
                Ok(response)
                    if response.status().is_client_error()
                        && !matches!(
                            response.status(),
                            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
                        ) =>
                {
                    tracing::warn!(url = %self.target.shown, status = %response.status(), "the MCP server refused the GET stream");
                    return;
                }
                Ok(response) => {
                    failures += 1;
                    tracing::debug!(url = %self.target.shown, status = %response.status(), "the MCP GET stream did not open");
                }
                Err(e) => {
                    failures += 1;
                    tracing::debug!(url = %self.target.shown, error = %chain(&e), "the MCP GET stream did not open");
                }
            }
            if failures >= REOPEN_ATTEMPTS {
                tracing::warn!(url = %self.target.shown, "gave up reopening the MCP GET stream");
                return;
            }
            let backoff = events.retry.unwrap_or(RETRY).saturating_mul(1 << failures.min(5));
            tokio::time::sleep(backoff.min(MAX_RETRY)).await;
        }
    }

    /// Marks the transport closed and stops its GET stream; the session to end, if any.
    fn stop(&self) -> Option<HeaderValue> {
        let mut state = self.lock();
        state.closed = true;
        if let Some(stream) = state.standalone.take() {
            stream.abort();
        }
        state.session.take()
    }

    /// DELETE: ends `session`. `404` (already gone) and `405` (the server does not let
    /// clients end sessions) are fine.
    async fn end_session(&self, session: HeaderValue) -> io::Result<()> {
        let mut request = self.request(Method::DELETE, Bytes::new());
        if let Some(version) = self.lock().version.as_deref().and_then(header_value) {
            request.headers_mut().insert(VERSION, version);
        }
        request.headers_mut().insert(SESSION, session);
        let shown = &self.target.shown;
        match tokio::time::timeout(CLOSE_GRACE, self.pool.request(request)).await {
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the MCP server at {shown} did not answer the DELETE that ends the session"),
            )),
            Ok(Err(e)) => Err(io::Error::new(
                io_kind(&e),
                format!("could not end the session at {shown}: {}", chain(&e)),
            )),
            Ok(Ok(response)) => match response.status() {
                s if s.is_success() || s == StatusCode::NOT_FOUND || s == StatusCode::METHOD_NOT_ALLOWED => Ok(()),
                s => Err(io::Error::other(format!(
                    "the MCP server at {shown} answered the DELETE that ends the session with HTTP {s}"
                ))),
            },
        }
    }
}

/// One POST, on its task.
struct Post {
    shared: Arc<Shared>,
    out: Outgoing,
    waiting: Waiting,
}

impl Post {
    fn new(shared: Arc<Shared>, out: Outgoing) -> Self {
        let waiting = Waiting {
            ids: out.requests.clone(),
            single: out.single_request().is_some(),
            method: out.method.clone(),
        };
        Self { shared, out, waiting }
    }

    /// Sends `request` and reads its answer; a request it leaves unanswered gets an error
    /// answer.
    async fn run(mut self, request: Request<Full<Bytes>>) {
        let failure = match self.exchange(request).await {
            Ok(status) => {
                if status.is_success() && self.out.method.as_deref() == Some(McpMethod::Initialized.as_str()) {
                    self.shared.open_standalone();
                }
                if self.waiting.ids.is_empty() {
                    return;
                }
                Failure::NoAnswer(format!(
                    "the MCP server at {} answered HTTP {status} without the answer",
                    self.shared.target.shown
                ))
            }
            Err(failure) => failure,
        };
        if self.waiting.ids.is_empty() {
            tracing::warn!(
                method = self.out.method.as_deref().unwrap_or("(an answer)"),
                error = %failure,
                "a message to the MCP server was not delivered"
            );
            return;
        }
        let error = failure.into_error(&self.shared.target.shown);
        for id in std::mem::take(&mut self.waiting.ids) {
            if !self.shared.deliver(encode_error(Some(&id), &error)).await {
                return;
            }
        }
    }

    /// Sends the POST and reads its answer into the reader half; the HTTP status, once the
    /// answer is read.
    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> std::result::Result<StatusCode, Failure> {
        let shared = &*self.shared;
        let response = shared.pool.request(request).await.map_err(|e| shared.unreachable(&e))?;
        let status = response.status();
        if self.out.is_initialize()
            && status.is_success()
            && let Some(session) = response.headers().get(SESSION)
        {
            shared.lock().session = Some(session.clone());
        }
        if status.is_success() && is_event_stream(response.headers()) {
            let mut events = SseReader::new(shared.max_message_bytes);
            let ended = shared
                .read_stream(response.into_body(), &mut events, Some(&mut self.waiting))
                .await;
            if !self.waiting.ids.is_empty() {
                shared.resume(&mut events, &mut self.waiting, ended).await?;
            }
            return Ok(status);
        }
        let body = shared.read_body(response.into_body()).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            if status.is_success() {
                return Ok(status);
            }
            return Err(Failure::Status {
                status,
                detail: String::new(),
            });
        }
        if matches!(Seen::of(&body), Seen::NotJsonRpc) {
            let detail = String::from_utf8_lossy(&body[..body.len().min(200)]);
            return Err(Failure::Status {
                status,
                detail: format!(", not JSON-RPC: {}", detail.trim()),
            });
        }
        shared.deliver_answer(&mut self.waiting, body.to_vec()).await;
        Ok(status)
    }
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/event-stream"))
}
