//! Streamable HTTP, both protocol eras on one endpoint.
//!
//! - **Stateless era (2026-07-28)**: every POST carries one request whose `_meta` names the
//!   protocol version. It is answered as JSON, or as an SSE stream when progress or log messages
//!   come before the answer. Closing the connection cancels the request. `MCP-Protocol-Version`,
//!   `Mcp-Method` and `Mcp-Name` must agree with the body (else `400` and `-32020`).
//! - **Handshake era (2025-03-26 … 2025-11-25)**: `initialize` opens a session, named by a random
//!   `Mcp-Session-Id`. Its POSTs are answered as JSON or SSE. Requests the server makes for a call
//!   (sampling, elicitation, roots) go on that call's stream, and their answers come back as
//!   POSTs. A GET opens a stream for everything else, and DELETE ends the session.
//!
//! By default the server binds loopback and accepts only loopback `Host` and `Origin` values
//! (anything else is `403`, against DNS rebinding).

use crate::error::{Error, Result};
use crate::protocol::jsonrpc::{self, encode_error};
use crate::protocol::types::meta_keys;
use crate::protocol::{ErrorCode, ErrorObject, Frame, Incoming, ProtocolVersion, RequestId};
use crate::server::context::Principal;
use crate::server::dispatch::{Connection, Out, Routed, Router};
use crate::server::seal::{hex, random};
use crate::server::{Core, Service};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

/// How the HTTP endpoint behaves.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// The path of the MCP endpoint (default `/mcp`).
    pub path: String,
    /// Host names (without port) accepted in `Host` and `Origin`; default loopback only.
    pub allowed_hosts: Vec<String>,
    /// The largest request body, in bytes (default 4 MiB); larger ones get `413`.
    pub max_body_bytes: usize,
    /// How long a handshake-era session may sit idle before it is dropped (default 30 minutes).
    pub session_idle: Duration,
    /// Bearer-token authorization; none by default (bind loopback, or put one in front).
    pub authorization: Option<super::auth::Authorization>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            path: "/mcp".into(),
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()],
            max_body_bytes: 4 * 1024 * 1024,
            session_idle: Duration::from_secs(30 * 60),
            authorization: None,
        }
    }
}

impl HttpOptions {
    /// Serves the endpoint at `path`.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Requires a bearer token on every request, checked as `authorization` says.
    #[must_use]
    pub fn authorization(mut self, authorization: super::auth::Authorization) -> Self {
        self.authorization = Some(authorization);
        self
    }

    /// Also accepts `host` in `Host` and `Origin` (when the server is reached by that name).
    #[must_use]
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into().to_ascii_lowercase());
        self
    }
}

struct Session {
    /// Who opened it: only they may use it.
    owner: Option<String>,
    /// The session's SSE events, kept for resumption with `Last-Event-ID`.
    replay: Arc<Replay>,
    conn: Arc<Connection>,
    router: Arc<Router>,
    last_used: Mutex<Instant>,
    events: AbortHandle,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.events.abort();
        self.conn.abort_all();
    }
}

struct Shared {
    #[cfg(feature = "legacy-sse")]
    legacy: Arc<super::legacy_sse::LegacySessions>,
    core: Arc<Core>,
    options: HttpOptions,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    /// When idle sessions were last looked for.
    swept: Mutex<Instant>,
}

impl Service {
    /// The MCP endpoint as an axum router, with default [`HttpOptions`]: nest it in an
    /// application, add tower layers, serve it with `axum::serve`.
    pub fn into_router(self) -> axum::Router {
        self.into_router_with(HttpOptions::default())
    }

    /// The MCP endpoint as an axum router.
    pub fn into_router_with(self, options: HttpOptions) -> axum::Router {
        let path = options.path.clone();
        let limit = options.max_body_bytes;
        let metadata = options.authorization.as_ref().map(super::auth::Authorization::metadata);
        let shared = Arc::new(Shared {
            #[cfg(feature = "legacy-sse")]
            legacy: Arc::default(),
            core: self.core,
            options,
            sessions: Mutex::new(HashMap::new()),
            swept: Mutex::new(Instant::now()),
        });
        let mut router = axum::Router::new().route(&path, axum::routing::any(endpoint));
        if let Some(doc) = metadata {
            // RFC 9728: at the root, and with the endpoint's path inserted.
            let body: Arc<[u8]> = serde_json::to_vec(&doc).expect("metadata serialises").into();
            let serve = move || {
                let body = Arc::clone(&body);
                async move { json_response(StatusCode::OK, body.to_vec()) }
            };
            router = router
                .route(
                    "/.well-known/oauth-protected-resource",
                    axum::routing::get(serve.clone()),
                )
                .route(
                    &format!("/.well-known/oauth-protected-resource{path}"),
                    axum::routing::get(serve),
                );
        }
        #[cfg(feature = "legacy-sse")]
        {
            router = router
                .route("/sse", axum::routing::get(legacy_open))
                .route("/messages", axum::routing::post(legacy_post));
        }
        router.layer(DefaultBodyLimit::max(limit)).with_state(shared)
    }

    /// Serves Streamable HTTP at `addr` (the endpoint is `/mcp`) until the process ends.
    pub async fn serve_http(self, addr: impl tokio::net::ToSocketAddrs) -> Result<()> {
        self.serve_http_with(addr, HttpOptions::default(), std::future::pending())
            .await
    }

    /// Serves Streamable HTTP at `addr` until `shutdown` resolves, then lets requests in
    /// flight finish.
    pub async fn serve_http_with(
        self,
        addr: impl tokio::net::ToSocketAddrs,
        options: HttpOptions,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        use axum::serve::ListenerExt as _;
        // Nagle's algorithm would hold each small answer back for tens of milliseconds.
        let listener = tokio::net::TcpListener::bind(addr).await?.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = self.into_router_with(options);
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(Error::Io)
    }
}

impl crate::Server {
    /// Serves Streamable HTTP at `addr` (such as `127.0.0.1:3000`; the endpoint is `/mcp`).
    pub async fn serve_http(self, addr: impl tokio::net::ToSocketAddrs) -> Result<()> {
        self.build()?.serve_http(addr).await
    }
}

/// `GET /sse` (2024-11-05 HTTP+SSE): the same checks as the endpoint, then a stream.
#[cfg(feature = "legacy-sse")]
async fn legacy_open(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(refused) = admit(&shared, &headers).await {
        return refused;
    }
    super::legacy_sse::open(&shared.core, &shared.legacy, "/messages")
}

/// `POST /messages?session_id=…` (2024-11-05 HTTP+SSE).
#[cfg(feature = "legacy-sse")]
async fn legacy_post(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = admit(&shared, &headers).await {
        return refused;
    }
    super::legacy_sse::post(&shared.legacy, uri.query(), &body).await
}

/// The `Host`/`Origin` checks and, when configured, the bearer token.
#[cfg(feature = "legacy-sse")]
async fn admit(shared: &Shared, headers: &HeaderMap) -> std::result::Result<(), Response> {
    check_host_and_origin(&shared.options, headers)?;
    if let Some(auth) = &shared.options.authorization {
        auth.check(headers).await?;
    }
    Ok(())
}

async fn endpoint(State(shared): State<Arc<Shared>>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = check_host_and_origin(&shared.options, &headers) {
        return refused;
    }
    let principal = match &shared.options.authorization {
        Some(auth) => match auth.check(&headers).await {
            Ok(p) => Some(p),
            Err(refused) => return refused,
        },
        None => None,
    };
    let session = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match method {
        Method::POST => post(&shared, &headers, session, &body, principal).await,
        Method::GET => {
            let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
            get(&shared, session.as_deref(), principal.as_deref(), last)
        }
        Method::DELETE => match session {
            Some(id) => {
                let mut sessions = shared.sessions.lock().unwrap_or_else(PoisonError::into_inner);
                let removed = sessions.remove(&id);
                shrink_when_sparse(&mut sessions);
                match removed {
                    Some(_) => StatusCode::NO_CONTENT.into_response(),
                    None => session_not_found(),
                }
            }
            None => StatusCode::METHOD_NOT_ALLOWED.into_response(),
        },
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

/// `403` for a `Host` or `Origin` that is not allowed (DNS rebinding).
#[allow(clippy::result_large_err)]
fn check_host_and_origin(options: &HttpOptions, headers: &HeaderMap) -> std::result::Result<(), Response> {
    let allowed = |host: &str| {
        let host = host.to_ascii_lowercase();
        let name = if host.starts_with('[') {
            host.split_once(']').map_or(host.clone(), |(h, _)| format!("{h}]"))
        } else {
            host.split(':').next().unwrap_or("").to_owned()
        };
        options.allowed_hosts.contains(&name)
    };
    let forbidden = |what: &str| {
        let error = ErrorObject::new(ErrorCode::INVALID_REQUEST, format!("Forbidden: {what} is not allowed"));
        json_response(StatusCode::FORBIDDEN, encode_error(None, &error))
    };
    if let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok())
        && !allowed(host)
    {
        return Err(forbidden("this Host"));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = origin
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(""));
        if !host.is_some_and(allowed) {
            return Err(forbidden("this Origin"));
        }
    }
    Ok(())
}

async fn post(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    session: Option<String>,
    body: &[u8],
    principal: Option<Arc<Principal>>,
) -> Response {
    let owner = principal.as_ref().map(|p| p.subject.clone());
    let connection = |router: &Arc<Router>| {
        let mut c = Connection::new(Arc::clone(&shared.core), Out::Routed(Arc::clone(router)));
        c.principal = principal.clone();
        Arc::new(c)
    };
    let message = match jsonrpc::parse_frame(body) {
        Frame::Single(Incoming::Invalid { id, error }) => {
            return json_response(StatusCode::BAD_REQUEST, encode_error(id.as_ref(), &error));
        }
        Frame::Single(m) => m,
        Frame::Batch(items) => return batch(shared, session, items).await,
    };
    let stateless = matches!(&message, Incoming::Request { params: Some(p), .. }
        if p.get("_meta").and_then(|m| m.get(meta_keys::PROTOCOL_VERSION)).is_some());
    if stateless {
        if let Err(error) = check_headers(&shared.core, headers, &message) {
            let id = request_id(&message);
            return json_response(StatusCode::BAD_REQUEST, encode_error(id.as_ref(), &error));
        }
        let router = Arc::new(Router::default());
        let conn = connection(&router);
        return request(conn, &router, message, true).await;
    }
    if let Some(version) = headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok())
        && ProtocolVersion::parse(version).is_none()
    {
        let error = ErrorObject::invalid_request(format!("Unsupported MCP-Protocol-Version: {version}"));
        return json_response(
            StatusCode::BAD_REQUEST,
            encode_error(request_id(&message).as_ref(), &error),
        );
    }
    match (session, &message) {
        (None, Incoming::Request { method, .. }) if method == "initialize" => {
            sweep(shared);
            let router = Arc::new(Router::default());
            let conn = connection(&router);
            let events = tokio::spawn(Arc::clone(&conn).forward_events()).abort_handle();
            let id = hex(&random::<32>());
            let mut response = request(Arc::clone(&conn), &router, message, false).await;
            if response.status() == StatusCode::OK {
                let session = Session {
                    owner,
                    replay: Arc::new(Replay::default()),
                    conn,
                    router,
                    last_used: Mutex::new(Instant::now()),
                    events,
                };
                shared
                    .sessions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id.clone(), Arc::new(session));
                response.headers_mut().insert(
                    SESSION_HEADER,
                    HeaderValue::from_str(&id).expect("hex is a valid header"),
                );
            }
            response
        }
        (Some(id), _) => {
            let found = shared
                .sessions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&id)
                .cloned();
            // Someone else's session is, for this principal, no session at all.
            let Some(session) = found.filter(|s| s.owner == owner) else {
                return session_not_found();
            };
            *session.last_used.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
            match message {
                Incoming::Request { .. } => {
                    request_in(
                        Arc::clone(&session.conn),
                        &session.router,
                        message,
                        false,
                        Some(&session.replay),
                    )
                    .await
                }
                other => {
                    let _ = session.conn.handle(other, None);
                    StatusCode::ACCEPTED.into_response()
                }
            }
        }
        (None, Incoming::Request { .. }) => {
            // Neither stateless `_meta` nor a session: answered (with an error) by a connection
            // of its own, with the stateless era's status codes.
            let router = Arc::new(Router::default());
            let conn = connection(&router);
            request(conn, &router, message, true).await
        }
        (None, _) => StatusCode::ACCEPTED.into_response(),
    }
}

/// Opens the stream of request `id`'s messages; `None` when a request with that id is in flight
/// on this session already, whose stream must not be taken from it.
fn claim_stream(router: &Router, id: &RequestId) -> Option<mpsc::Receiver<Routed>> {
    let mut streams = router.streams.lock().unwrap_or_else(PoisonError::into_inner);
    match streams.entry(id.clone()) {
        std::collections::hash_map::Entry::Occupied(_) => None,
        std::collections::hash_map::Entry::Vacant(slot) => {
            let (tx, rx) = mpsc::channel::<Routed>(256);
            slot.insert(tx);
            Some(rx)
        }
    }
}

/// Answers one request: JSON when its answer is the first thing to send, SSE otherwise.
async fn request(conn: Arc<Connection>, router: &Arc<Router>, message: Incoming, stateless: bool) -> Response {
    request_in(conn, router, message, stateless, None).await
}

/// [`request`], with the session's replay log for resumable SSE.
async fn request_in(
    conn: Arc<Connection>,
    router: &Arc<Router>,
    message: Incoming,
    stateless: bool,
    replay: Option<&Arc<Replay>>,
) -> Response {
    let Some(id) = request_id(&message) else {
        return StatusCode::ACCEPTED.into_response();
    };
    let listen = matches!(&message, Incoming::Request { method, .. } if method == "subscriptions/listen");
    let Some(mut rx) = claim_stream(router, &id) else {
        let reply = encode_error(Some(&id), &ErrorObject::id_in_use(&id));
        return json_response(status_of(&reply, stateless), reply);
    };
    if let Some(reply) = conn.handle(message, None) {
        router
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        // A listen's acknowledgement starts its stream rather than answering it.
        if !listen {
            return json_response(status_of(&reply, stateless), reply);
        }
        let events = tokio::spawn(Arc::clone(&conn).forward_events()).abort_handle();
        router
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), {
                let (tx2, rx2) = mpsc::channel::<Routed>(256);
                rx = rx2;
                tx2
            });
        let guard = Guard {
            conn,
            id,
            cancel: stateless,
            events: Some(events),
        };
        return sse(Some(reply), rx, guard);
    }
    let guard = Guard {
        conn,
        id,
        cancel: stateless,
        events: None,
    };
    match rx.recv().await {
        Some((first, true)) => {
            guard.done();
            json_response(status_of(&first, stateless), first)
        }
        Some((first, false)) => match replay {
            Some(replay) => {
                let (key, live) = replay.open();
                let items = relay(Arc::clone(replay), key, Some(first), rx);
                drop(items);
                resumable_sse(replay, key, live, Some(guard))
            }
            None => sse(Some(first), rx, guard),
        },
        None => {
            guard.done();
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

async fn batch(shared: &Arc<Shared>, session: Option<String>, items: Vec<Incoming>) -> Response {
    let found = session.and_then(|id| {
        shared
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    });
    let Some(session) = found.filter(|s| s.conn.allows_batches()) else {
        let error = ErrorObject::invalid_request(
            "Invalid Request: JSON-RPC batches belong to protocol version 2025-03-26 only; send one message at a time",
        );
        return json_response(StatusCode::BAD_REQUEST, encode_error(None, &error));
    };
    let mut replies = Vec::new();
    for item in items {
        let Some(id) = request_id(&item) else {
            let _ = session.conn.handle(item, None);
            continue;
        };
        let Some(mut rx) = claim_stream(&session.router, &id) else {
            replies.push(encode_error(Some(&id), &ErrorObject::id_in_use(&id)));
            continue;
        };
        if let Some(reply) = session.conn.handle(item, None) {
            session
                .router
                .streams
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
            replies.push(reply);
            continue;
        }
        while let Some((bytes, last)) = rx.recv().await {
            if last {
                replies.push(bytes);
                break;
            }
        }
    }
    if replies.is_empty() {
        return StatusCode::ACCEPTED.into_response();
    }
    json_response(StatusCode::OK, jsonrpc::encode_batch(&replies))
}

fn get(
    shared: &Arc<Shared>,
    session: Option<&str>,
    principal: Option<&Principal>,
    last_event_id: Option<&str>,
) -> Response {
    let Some(id) = session else {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    };
    let found = shared
        .sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(id)
        .cloned();
    let owner = principal.map(|p| p.subject.clone());
    let Some(session) = found.filter(|s| s.owner == owner) else {
        return session_not_found();
    };
    if let Some(last) = last_event_id {
        // Resumption: replay what the stream missed, then continue it live if it is not over.
        return match session.replay.resume(last) {
            Some((key, live)) => resumable_sse(&session.replay, key, live, None),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    let (tx, rx) = mpsc::channel::<Routed>(256);
    *session.router.standalone.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
    let (key, live) = session.replay.open();
    drop(relay(Arc::clone(&session.replay), key, None, rx));
    resumable_sse(&session.replay, key, live, None)
}

/// The SSE events of a session's streams, kept (bounded) so that a client whose connection
/// dropped can come back with `Last-Event-ID` and get every event it missed, once.
#[derive(Default)]
pub(crate) struct Replay {
    inner: Mutex<ReplayInner>,
}

#[derive(Default)]
struct ReplayInner {
    next_key: u64,
    streams: HashMap<u64, StreamLog>,
    /// Stream keys, oldest first, for eviction.
    order: std::collections::VecDeque<u64>,
}

struct StreamLog {
    /// `(sequence, message, last)`; sequence 0 is the priming event.
    events: std::collections::VecDeque<(u64, Vec<u8>, bool)>,
    next_seq: u64,
    done: bool,
    /// The response currently reading this stream, if any.
    live: Option<mpsc::Sender<SseItem>>,
}

/// One event for an SSE response: its id (resumable streams), its data, whether it is the last.
type SseItem = (Option<String>, Vec<u8>, bool);

const STREAMS_KEPT: usize = 64;
const EVENTS_KEPT: usize = 256;

impl Replay {
    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new stream and the receiver of its live events.
    fn open(&self) -> (u64, mpsc::Receiver<SseItem>) {
        let (tx, rx) = mpsc::channel(256);
        let mut g = self.lock();
        g.next_key += 1;
        let key = g.next_key;
        g.streams.insert(
            key,
            StreamLog {
                events: Default::default(),
                next_seq: 1,
                done: false,
                live: Some(tx),
            },
        );
        g.order.push_back(key);
        while g.order.len() > STREAMS_KEPT {
            if let Some(old) = g.order.pop_front() {
                g.streams.remove(&old);
            }
        }
        (key, rx)
    }

    /// Records an event; returns its id and where to deliver it live.
    fn record(&self, key: u64, bytes: &[u8], last: bool) -> Option<(String, Option<mpsc::Sender<SseItem>>)> {
        let mut g = self.lock();
        let log = g.streams.get_mut(&key)?;
        let seq = log.next_seq;
        log.next_seq += 1;
        log.events.push_back((seq, bytes.to_vec(), last));
        if log.events.len() > EVENTS_KEPT {
            log.events.pop_front();
        }
        log.done |= last;
        Some((format!("{key}-{seq}"), log.live.clone()))
    }

    /// Forgets a stream delivered whole.
    fn forget(&self, key: u64) {
        let mut g = self.lock();
        if g.streams.remove(&key).is_some() {
            g.order.retain(|k| *k != key);
        }
    }

    fn drop_live(&self, key: u64) {
        if let Some(log) = self.lock().streams.get_mut(&key) {
            log.live = None;
        }
    }

    /// Resumes after event `last_event_id`: a receiver that first replays what followed it.
    fn resume(&self, last_event_id: &str) -> Option<(u64, mpsc::Receiver<SseItem>)> {
        let (key, seq) = last_event_id.split_once('-')?;
        let (key, seq): (u64, u64) = (key.parse().ok()?, seq.parse().ok()?);
        let mut g = self.lock();
        let log = g.streams.get_mut(&key)?;
        let backlog: Vec<SseItem> = log
            .events
            .iter()
            .filter(|(s, _, _)| *s > seq)
            .map(|(s, b, l)| (Some(format!("{key}-{s}")), b.clone(), *l))
            .collect();
        let (tx, rx) = mpsc::channel(backlog.len() + 256);
        for item in backlog {
            let _ = tx.try_send(item);
        }
        // A finished stream ends after its backlog; a live one continues on this response.
        if !log.done {
            log.live = Some(tx);
        }
        Some((key, rx))
    }
}

/// Moves a stream's messages from the router into the replay log and on to its live response.
fn relay(
    replay: Arc<Replay>,
    key: u64,
    first: Option<Vec<u8>>,
    mut rx: mpsc::Receiver<Routed>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut next = first.map(|f| (f, false));
        loop {
            let (bytes, last) = match next.take() {
                Some(item) => item,
                None => match rx.recv().await {
                    Some(item) => item,
                    None => return,
                },
            };
            let Some((id, live)) = replay.record(key, &bytes, last) else {
                return;
            };
            if let Some(tx) = live
                && tx.send((Some(id), bytes, last)).await.is_err()
            {
                // The client went away: keep recording for its resumption.
                replay.drop_live(key);
            }
            if last {
                return;
            }
        }
    })
}

/// An SSE response on a resumable stream: a priming event (its id, a `retry` hint), then the
/// stream's events.
fn resumable_sse(replay: &Arc<Replay>, key: u64, live: mpsc::Receiver<SseItem>, guard: Option<Guard>) -> Response {
    let stream = ResumableStream {
        replay: Arc::clone(replay),
        key,
        priming: true,
        rx: live,
        _guard: guard,
        ended: false,
    };
    sse_response(Body::from_stream(stream))
}

struct ResumableStream {
    replay: Arc<Replay>,
    key: u64,
    priming: bool,
    rx: mpsc::Receiver<SseItem>,
    _guard: Option<Guard>,
    ended: bool,
}

impl futures_core::Stream for ResumableStream {
    type Item = std::result::Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            // Asked for more after the last event: the whole stream went out, and nobody will
            // need to resume it. Its log goes, so that a busy session keeps no finished calls.
            self.replay.forget(self.key);
            return Poll::Ready(None);
        }
        if std::mem::take(&mut self.priming) {
            let key = self.key;
            return Poll::Ready(Some(Ok(Bytes::from(format!("id: {key}-0\nretry: 1000\ndata: \n\n")))));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some((id, bytes, last))) => {
                self.ended = last;
                let mut out = Vec::with_capacity(bytes.len() + 48);
                if let Some(id) = id {
                    out.extend_from_slice(format!("id: {id}\n").as_bytes());
                }
                out.extend_from_slice(b"event: message\ndata: ");
                out.extend_from_slice(&bytes);
                out.extend_from_slice(b"\n\n");
                Poll::Ready(Some(Ok(Bytes::from(out))))
            }
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Drops sessions idle past the limit. It looks at every session, so it runs at most once a
/// second (or once per idle limit, if that is shorter): opening sessions stays O(1) each however
/// many are open.
fn sweep(shared: &Shared) {
    let limit = shared.options.session_idle;
    {
        let mut swept = shared.swept.lock().unwrap_or_else(PoisonError::into_inner);
        if swept.elapsed() < limit.min(Duration::from_secs(1)) {
            return;
        }
        *swept = Instant::now();
    }
    let mut sessions = shared.sessions.lock().unwrap_or_else(PoisonError::into_inner);
    sessions.retain(|_, s| s.last_used.lock().unwrap_or_else(PoisonError::into_inner).elapsed() < limit);
    shrink_when_sparse(&mut sessions);
}

/// Gives back the table's room once most of it is empty: a burst of sessions must not keep
/// its memory after the sessions ended. (Shrinking to twice the size keeps this rare.)
fn shrink_when_sparse<V>(map: &mut HashMap<String, V>) {
    if map.capacity() > 64 && map.len() < map.capacity() / 8 {
        map.shrink_to(map.len() * 2);
    }
}

fn request_id(message: &Incoming) -> Option<RequestId> {
    match message {
        Incoming::Request { id, .. } => Some(id.clone()),
        _ => None,
    }
}

/// The stateless era's header checks (SEP-2243): `MCP-Protocol-Version`, `Mcp-Method` and
/// `Mcp-Name` must be present and agree with the body, and so must the `Mcp-Param-*` header of
/// every `x-mcp-header` argument the body carries. Values of the form `=?base64?…?=` are decoded
/// (strictly) first; integers compare as numbers.
fn check_headers(core: &Core, headers: &HeaderMap, message: &Incoming) -> std::result::Result<(), ErrorObject> {
    let Incoming::Request { method, params, .. } = message else {
        return Ok(());
    };
    let params = params.as_ref().unwrap_or(&Value::Null);
    let header = |name: &str| headers.get(name).map(|v| decode_header(v.as_bytes()));
    let mismatch = |what: &str| {
        ErrorObject::new(
            ErrorCode::HEADER_MISMATCH,
            format!("Header mismatch: {what} does not match the request body"),
        )
    };
    let missing = |what: &str| {
        ErrorObject::new(
            ErrorCode::HEADER_MISMATCH,
            format!("Header mismatch: {what} is required"),
        )
    };
    let version = params["_meta"][meta_keys::PROTOCOL_VERSION].as_str();
    match header(VERSION_HEADER) {
        Some(Some(v)) if Some(v.as_str()) == version => {}
        Some(_) => return Err(mismatch("MCP-Protocol-Version")),
        None => return Err(missing("MCP-Protocol-Version")),
    }
    match header("mcp-method") {
        Some(Some(v)) if v == *method => {}
        Some(_) => return Err(mismatch("Mcp-Method")),
        None => return Err(missing("Mcp-Method")),
    }
    let name = match method.as_str() {
        "tools/call" | "prompts/get" => params["name"].as_str(),
        "resources/read" => params["uri"].as_str(),
        _ => None,
    };
    if let Some(name) = name {
        match header("mcp-name") {
            Some(Some(v)) if v == name => {}
            Some(_) => return Err(mismatch("Mcp-Name")),
            None => return Err(missing("Mcp-Name")),
        }
    }
    if method == "tools/call" {
        let catalog = core.catalog();
        let tool = name
            .and_then(|n| catalog.tool_index.get(n))
            .map(|&i| &catalog.tools[i].def);
        for p in tool.map(|t| t.header_params.as_slice()).unwrap_or_default() {
            let value = &params["arguments"][p.argument.as_str()];
            if value.is_null() {
                continue;
            }
            let expected = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            let what = format!("Mcp-Param-{}", p.header);
            let got = match header(&format!("mcp-param-{}", p.header.to_ascii_lowercase())) {
                None => return Err(missing(&what)),
                Some(None) => return Err(mismatch(&what)),
                Some(Some(v)) => v,
            };
            let same = match value {
                Value::Number(n) => got.parse::<f64>().ok() == n.as_f64(),
                _ => got == expected,
            };
            if !same {
                return Err(mismatch(&what));
            }
        }
    }
    Ok(())
}

/// A header value, with `=?base64?…?=` decoded; `None` if it is not valid text.
fn decode_header(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?.trim();
    match text.strip_prefix("=?base64?").and_then(|t| t.strip_suffix("?=")) {
        Some(b64) => String::from_utf8(crate::protocol::base64::decode_strict(b64)?).ok(),
        None => Some(text.to_owned()),
    }
}

/// The HTTP status of an answer: JSON-RPC errors of the stateless era map to 4xx.
fn status_of(reply: &[u8], stateless: bool) -> StatusCode {
    if !stateless {
        return StatusCode::OK;
    }
    // Only the top-level `error.code` is read; everything else is skipped, not built.
    #[derive(serde::Deserialize)]
    struct Reply {
        error: Option<Code>,
    }
    #[derive(serde::Deserialize)]
    struct Code {
        code: i64,
    }
    let code = serde_json::from_slice::<Reply>(reply)
        .ok()
        .and_then(|r| r.error)
        .map(|e| e.code);
    match code {
        Some(-32601) => StatusCode::NOT_FOUND,
        Some(-32700 | -32600 | -32602 | -32020 | -32021 | -32022) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn session_not_found() -> Response {
    let error = ErrorObject::invalid_request("Session not found: it expired or was ended; initialize again");
    json_response(StatusCode::NOT_FOUND, encode_error(None, &error))
}

/// Cancels a stateless request whose client went away before its answer.
struct Guard {
    conn: Arc<Connection>,
    id: RequestId,
    cancel: bool,
    events: Option<AbortHandle>,
}

impl Guard {
    fn done(mut self) {
        self.cancel = false;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(events) = &self.events {
            events.abort();
        }
        if self.cancel {
            self.conn.cancel_request(&self.id);
        }
    }
}

fn sse(first: Option<Vec<u8>>, rx: mpsc::Receiver<Routed>, guard: Guard) -> Response {
    let stream = SseStream {
        first,
        rx,
        guard: Some(guard),
        ended: false,
    };
    sse_response(Body::from_stream(stream))
}

fn sse_response(body: Body) -> Response {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

/// The messages of one request as server-sent events, ending after its answer.
struct SseStream {
    first: Option<Vec<u8>>,
    rx: mpsc::Receiver<Routed>,
    guard: Option<Guard>,
    ended: bool,
}

fn event(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 24);
    out.extend_from_slice(b"event: message\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

impl futures_core::Stream for SseStream {
    type Item = std::result::Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(event(&first))));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some((bytes, last))) => {
                if last {
                    self.ended = true;
                    if let Some(g) = self.guard.take() {
                        g.done();
                    }
                }
                Poll::Ready(Some(Ok(event(&bytes))))
            }
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_decode_base64_and_hosts_are_checked() {
        assert_eq!(decode_header(b"=?base64?aMOpbGxv?=").as_deref(), Some("h\u{e9}llo"));
        assert_eq!(decode_header(b"=?base64?SGVsbG8?=").as_deref(), None, "bad padding");
        assert_eq!(
            decode_header(b"=?base64?SGVsbG8=").as_deref(),
            Some("=?base64?SGVsbG8="),
            "no suffix: literal"
        );
        assert_eq!(decode_header(b"tools/call").as_deref(), Some("tools/call"));
        let options = HttpOptions::default();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("localhost:3000"));
        assert!(check_host_and_origin(&options, &h).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:5173"));
        assert!(check_host_and_origin(&options, &h).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example.com"));
        assert!(check_host_and_origin(&options, &h).is_err());
        h.remove(header::ORIGIN);
        h.insert(header::HOST, HeaderValue::from_static("evil.example.com"));
        assert!(check_host_and_origin(&options, &h).is_err());
        h.insert(header::HOST, HeaderValue::from_static("[::1]:80"));
        assert!(check_host_and_origin(&options, &h).is_ok());
    }
}
