//! One connection: reading frames, deciding each request's era, answering.
//!
//! A request whose `params._meta` names a protocol version is served statelessly (2026-07-28);
//! `initialize` starts the handshake era for the connection; anything else before `initialize`
//! gets an error, never silence. Cheap requests are answered inline by the reader; tool calls
//! run as their own tasks, so a slow tool blocks nothing else.

use super::context::{Cancel, Exchange, Principal, RequestParts, Round};
use super::mrtr::Mrtr;
use super::prompt::PromptOutput;
use super::resource::{self, ResourceOutput};
use super::seal::{Payload, hex, random, request_digest};
use super::tool::{InputRequired, ToolCall, ToolFuture, ToolOutput};
use super::uri_template::Refused;
use super::{Core, ListKind, close_modern, decode_cursor};
use crate::error::{Error, Result};
use crate::protocol::jsonrpc::{self, encode_error, encode_result, encode_result_value};
use crate::protocol::types::meta_keys;
use crate::protocol::{
    CallToolResult, ClientCapabilities, ErrorCode, ErrorObject, Frame, Implementation, Incoming, ProtocolVersion,
    RequestId,
};
use crate::transport::{FrameReader, FrameWriter, ReadFrame, Transport};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::AbortHandle;

/// Log levels in order of severity (RFC 5424, as MCP names them).
pub(crate) const LOG_LEVELS: [&str; 8] = super::context::LogLevel::NAMES;

/// Methods this server knows in the handshake era (used to tell "initialize first" apart from
/// "no such method").
const HANDSHAKE_METHODS: &[&str] = &["tools/list", "tools/call", "logging/setLevel"];

/// Methods the stateless era removed.
const REMOVED_IN_STATELESS: &[&str] = &[
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
    "notifications/initialized",
];

pub(crate) async fn serve<T: Transport>(
    core: Arc<Core>,
    transport: T,
    stop: impl Future<Output = ()> + Send,
) -> Result<()> {
    tokio::pin!(stop);
    let (mut reader, writer) = transport.split();
    let (tx, rx) = mpsc::channel::<Vec<u8>>(1024);
    let shutdown = Arc::new(Notify::new());
    let mut writer_task = tokio::spawn(write_loop(writer, rx, Arc::clone(&shutdown)));
    let conn = Arc::new(Connection::new(core, Out::Stream(tx)));
    let events = tokio::spawn(Arc::clone(&conn).forward_events());
    let _stop_events = AbortOnDrop(events.abort_handle());
    let mut result = Ok(());
    loop {
        tokio::select! {
            // Asked to stop: read no more, let calls in flight finish (the drain below).
            () = &mut stop => break,
            done = &mut writer_task => {
                // The peer stopped reading: nothing more can be answered.
                conn.abort_all();
                return match done {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    Ok(Err(e)) => Err(Error::Io(e)),
                    Err(e) => Err(Error::Io(std::io::Error::other(e))),
                };
            }
            frame = reader.read_frame() => match frame {
                Ok(Some(ReadFrame::Message(bytes))) => conn.handle_bytes(&bytes).await,
                Ok(Some(ReadFrame::TooLarge { size, limit })) => {
                    let error = ErrorObject::invalid_request(format!(
                        "Invalid Request: the message has {size} bytes, over the limit of {limit}"
                    ));
                    conn.send(encode_error(None, &error)).await;
                }
                Ok(None) => break,
                Err(e) => {
                    result = Err(Error::Io(e));
                    break;
                }
            }
        }
    }
    conn.drain().await;
    shutdown.notify_one();
    match writer_task.await {
        Ok(Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe && result.is_ok() => {
            result = Err(Error::Io(e));
        }
        _ => {}
    }
    result
}

async fn write_loop<W: FrameWriter>(
    mut writer: W,
    mut rx: mpsc::Receiver<Vec<u8>>,
    shutdown: Arc<Notify>,
) -> std::io::Result<()> {
    let mut batch = Vec::with_capacity(64);
    loop {
        tokio::select! {
            message = rx.recv() => match message {
                Some(m) => batch.push(m),
                None => return writer.close().await,
            },
            () = shutdown.notified() => {
                while let Ok(m) = rx.try_recv() {
                    batch.push(m);
                }
                if !batch.is_empty() {
                    writer.write_frames(&mut batch).await?;
                }
                return writer.close().await;
            }
        }
        // Everything already queued goes out with one flush.
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        writer.write_frames(&mut batch).await?;
    }
}

struct Session {
    version: ProtocolVersion,
    capabilities: Arc<ClientCapabilities>,
    client_info: Option<Arc<Implementation>>,
}

/// Where the answer to one request goes, and the connection whose in-flight table holds it.
pub(crate) struct Responder {
    id: RequestId,
    conn: Arc<Connection>,
    collect: Option<oneshot::Sender<Vec<u8>>>,
}

impl Responder {
    async fn send(self, reply: Vec<u8>) {
        self.conn.finish(&self.id);
        match self.collect {
            Some(tx) => {
                let _ = tx.send(reply);
            }
            None => self.conn.send_for(reply, &self.id, true).await,
        }
    }
}

/// A retry that resumes a parked call: who to answer now, and this round's request details.
pub(crate) struct Retry {
    responder: Responder,
    progress_token: Option<Value>,
    log_level: Option<usize>,
}

/// A tool call parked between rounds, waiting for the client's retry.
pub(crate) struct Parked {
    retry: mpsc::Sender<Retry>,
    mrtr: Arc<Mrtr>,
    abort: AbortHandle,
    cancel: Arc<Cancel>,
}

type PendingOut = HashMap<RequestId, oneshot::Sender<Result<Value, ErrorObject>>>;

/// Where a connection's outgoing messages go.
pub(crate) enum Out {
    /// One stream for everything, in order (stdio, in-memory).
    Stream(mpsc::Sender<Vec<u8>>),
    /// Streamable HTTP: each request's messages on that request's own stream, the rest on the
    /// session's GET stream.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP transport
    Routed(Arc<Router>),
}

/// A message for an HTTP request's stream, and whether it is that request's answer (the last).
pub(crate) type Routed = (Vec<u8>, bool);

/// Streams of the requests in flight over HTTP, and the stream for everything else.
#[derive(Default)]
pub(crate) struct Router {
    pub(crate) streams: Mutex<HashMap<RequestId, mpsc::Sender<Routed>>>,
    pub(crate) standalone: Mutex<Option<mpsc::Sender<Routed>>>,
}

impl Router {
    fn target(&self, related: Option<&RequestId>, last: bool) -> Option<mpsc::Sender<Routed>> {
        if let Some(id) = related {
            let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
            let found = if last {
                streams.remove(id)
            } else {
                streams.get(id).cloned()
            };
            if found.is_some() {
                return found;
            }
        }
        self.standalone.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Out {
    async fn send(&self, bytes: Vec<u8>, related: Option<&RequestId>, last: bool) {
        match self {
            // A send fails only when the writer has stopped; the serve loop sees that itself.
            Self::Stream(tx) => {
                let _ = tx.send(bytes).await;
            }
            Self::Routed(router) => {
                if let Some(tx) = router.target(related, last) {
                    let _ = tx.send((bytes, last)).await;
                }
            }
        }
    }

    fn try_send(&self, bytes: Vec<u8>, related: Option<&RequestId>) {
        let full = match self {
            Self::Stream(tx) => matches!(tx.try_send(bytes), Err(mpsc::error::TrySendError::Full(_))),
            Self::Routed(router) => router
                .target(related, false)
                .is_some_and(|tx| matches!(tx.try_send((bytes, false)), Err(mpsc::error::TrySendError::Full(_)))),
        };
        if full {
            tracing::warn!("dropped a notification: the client is not reading fast enough");
        }
    }
}

pub(crate) struct Connection {
    pub(crate) core: Arc<Core>,
    out: Out,
    session: OnceLock<Session>,
    initialized: AtomicBool,
    log_level: AtomicU8,
    in_flight: Mutex<HashMap<RequestId, (AbortHandle, Arc<Cancel>)>>,
    idle: Notify,
    pending_out: Mutex<PendingOut>,
    next_out_id: AtomicI64,
    /// Handshake era: the URIs this client subscribed to.
    subscriptions: Mutex<std::collections::HashSet<String>>,
    /// Stateless era: open `subscriptions/listen` requests and what each follows.
    listens: Mutex<HashMap<RequestId, Listen>>,
    /// Who is on the other end, when the transport verified a token.
    pub(crate) principal: Option<Arc<Principal>>,
}

/// Removes an outbound request that was never answered, and tells the client it is cancelled.
struct OutGuard<'a> {
    conn: &'a Connection,
    id: RequestId,
    related: Option<RequestId>,
}

impl Drop for OutGuard<'_> {
    fn drop(&mut self) {
        let unanswered = self
            .conn
            .pending_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id)
            .is_some();
        if unanswered {
            let params = json!({ "requestId": self.id, "reason": "no longer needed" });
            self.conn.send_now(
                jsonrpc::encode_notification("notifications/cancelled", &params),
                self.related.as_ref(),
            );
        }
    }
}

impl Connection {
    pub(crate) fn new(core: Arc<Core>, out: Out) -> Self {
        Self {
            core,
            out,
            session: OnceLock::new(),
            initialized: AtomicBool::new(false),
            log_level: AtomicU8::new(0),
            in_flight: Mutex::new(HashMap::new()),
            idle: Notify::new(),
            pending_out: Mutex::new(HashMap::new()),
            next_out_id: AtomicI64::new(1),
            subscriptions: Mutex::new(std::collections::HashSet::new()),
            listens: Mutex::new(HashMap::new()),
            principal: None,
        }
    }

    /// Sends a message that belongs to no request in particular.
    async fn send(&self, bytes: Vec<u8>) {
        self.out.send(bytes, None, false).await;
    }

    /// Sends a message about request `related` (on its stream, over HTTP); `last` for its answer.
    pub(crate) async fn send_for(&self, bytes: Vec<u8>, related: &RequestId, last: bool) {
        self.out.send(bytes, Some(related), last).await;
    }

    /// Queues a notification without waiting; dropped (and logged) if the client is not reading.
    pub(crate) fn send_now(&self, bytes: Vec<u8>, related: Option<&RequestId>) {
        self.out.try_send(bytes, related);
    }

    /// The handshake-era log level, as an index into the levels.
    pub(crate) fn log_level(&self) -> usize {
        usize::from(self.log_level.load(Ordering::Relaxed))
    }

    /// Sends a request to the client and waits for its answer (handshake era).
    pub(crate) async fn client_request(
        &self,
        method: &str,
        params: &Value,
        timeout: Duration,
        related: Option<RequestId>,
    ) -> Result<Value> {
        let id = RequestId::Number(self.next_out_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.pending_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), tx);
        let _guard = OutGuard {
            conn: self,
            id: id.clone(),
            related: related.clone(),
        };
        self.out
            .send(jsonrpc::encode_request(&id, method, params), related.as_ref(), false)
            .await;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(Error::Protocol(e)),
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => Err(Error::Timeout),
        }
    }

    pub(crate) async fn handle_bytes(self: &Arc<Self>, bytes: &[u8]) {
        match jsonrpc::parse_frame(bytes) {
            Frame::Single(message) => {
                if let Some(reply) = self.handle(message, None) {
                    self.send(reply).await;
                }
            }
            Frame::Batch(items) => self.handle_batch(items).await,
        }
    }

    async fn handle_batch(self: &Arc<Self>, items: Vec<Incoming>) {
        if !self.allows_batches() {
            let error = ErrorObject::invalid_request(
                "Invalid Request: JSON-RPC batches belong to protocol version 2025-03-26 only; send one message at a time",
            );
            self.send(encode_error(None, &error)).await;
            return;
        }
        let mut ready = Vec::new();
        let mut waiting = Vec::new();
        for item in items {
            let (tx, rx) = oneshot::channel();
            if let Some(reply) = self.handle(item, Some(tx)) {
                ready.push(reply);
            } else {
                waiting.push(rx);
            }
        }
        let conn = Arc::clone(self);
        tokio::spawn(async move {
            for rx in waiting {
                // A notification, or a cancelled request, has no answer.
                if let Ok(reply) = rx.await {
                    ready.push(reply);
                }
            }
            if !ready.is_empty() {
                conn.send(jsonrpc::encode_batch(&ready)).await;
            }
        });
    }

    fn responder(self: &Arc<Self>, id: RequestId, collect: Option<oneshot::Sender<Vec<u8>>>) -> Responder {
        Responder {
            id,
            conn: Arc::clone(self),
            collect,
        }
    }

    /// Handles one message; returns the answer when it is ready now.
    pub(crate) fn handle(
        self: &Arc<Self>,
        message: Incoming,
        collect: Option<oneshot::Sender<Vec<u8>>>,
    ) -> Option<Vec<u8>> {
        match message {
            Incoming::Request { id, method, params } => self.request(id, &method, params, collect),
            Incoming::Notification { method, params } => {
                self.notification(&method, params.as_ref());
                None
            }
            Incoming::Response { id, outcome } => {
                let waiter = self
                    .pending_out
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
                match waiter {
                    Some(tx) => {
                        let _ = tx.send(outcome);
                    }
                    None => tracing::debug!(%id, "ignored a response to no request in flight"),
                }
                None
            }
            Incoming::Invalid { id, error } => Some(encode_error(id.as_ref(), &error)),
        }
    }

    fn request(
        self: &Arc<Self>,
        id: RequestId,
        method: &str,
        params: Option<Value>,
        collect: Option<oneshot::Sender<Vec<u8>>>,
    ) -> Option<Vec<u8>> {
        let meta = params.as_ref().and_then(|p| p.get("_meta")).and_then(Value::as_object);
        if let Some(meta) = meta.filter(|m| m.contains_key(meta_keys::PROTOCOL_VERSION)) {
            return match stateless_request(meta) {
                Ok(req) => self.route(id, method, params, req, collect),
                Err(e) => Some(encode_error(Some(&id), &e)),
            };
        }
        match method {
            "initialize" => Some(self.initialize(&id, params.as_ref())),
            "ping" => Some(encode_result(&id, b"{}")),
            "server/discover" => Some(encode_error(Some(&id), &missing_meta(method))),
            _ => match self.session.get() {
                Some(session) => {
                    let req = Requester {
                        version: session.version,
                        capabilities: Arc::clone(&session.capabilities),
                        client_info: session.client_info.clone(),
                        log_level: None,
                    };
                    self.route(id, method, params, req, collect)
                }
                None if HANDSHAKE_METHODS.contains(&method) => Some(encode_error(Some(&id), &missing_meta(method))),
                None => Some(encode_error(Some(&id), &ErrorObject::method_not_found(method))),
            },
        }
    }

    /// Routes a request of either era; the era decides which methods exist.
    fn route(
        self: &Arc<Self>,
        id: RequestId,
        method: &str,
        params: Option<Value>,
        req: Requester,
        collect: Option<oneshot::Sender<Vec<u8>>>,
    ) -> Option<Vec<u8>> {
        let core = &self.core;
        let stateless = req.version.is_stateless();
        let catalog = core.catalog();
        let offers = |kind: &str, present: bool| present || core.capabilities.get(kind).is_some();
        let has_tools = offers("tools", !catalog.tools.is_empty());
        let has_prompts = offers("prompts", !catalog.prompts.is_empty());
        let has_resources = offers("resources", !catalog.resources.is_empty());
        match method {
            "server/discover" if stateless => Some(encode_result(&id, &core.discover)),
            "tools/list" if has_tools => Some(list_page(
                &id,
                params.as_ref(),
                era_pages(&catalog.tool_pages, stateless),
            )),
            "tools/call" if has_tools => self.call_tool(id, params, req, collect),
            "prompts/list" if has_prompts => Some(list_page(
                &id,
                params.as_ref(),
                era_pages(&catalog.prompt_pages, stateless),
            )),
            "prompts/get" if has_prompts => self.get_prompt(id, params, req, collect),
            "resources/list" if has_resources && core.lister.is_some() => self.list_dynamic(id, stateless, collect),
            "resources/list" if has_resources => Some(list_page(
                &id,
                params.as_ref(),
                era_pages(&catalog.resource_pages, stateless),
            )),
            "resources/templates/list" if has_resources => Some(list_page(
                &id,
                params.as_ref(),
                era_pages(&catalog.template_pages, stateless),
            )),
            "resources/read" if has_resources => self.read_resource(id, params, req, collect),
            "resources/subscribe" | "resources/unsubscribe" if has_resources && !stateless => {
                Some(self.subscribe(&id, method == "resources/subscribe", params.as_ref()))
            }
            "subscriptions/listen" if stateless => self.listen(&id, params.as_ref()),
            "completion/complete" if core.capabilities.get("completions").is_some() || catalog.has_completions() => {
                self.complete(id, params, req.version, collect)
            }
            "logging/setLevel" if !stateless => Some(self.set_level(&id, params.as_ref())),
            _ if stateless && REMOVED_IN_STATELESS.contains(&method) => Some(encode_error(
                Some(&id),
                &ErrorObject::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    format!(
                        "Method not found: `{method}` is not part of protocol version {}",
                        req.version
                    ),
                ),
            )),
            _ => Some(encode_error(Some(&id), &ErrorObject::method_not_found(method))),
        }
    }

    /// `resources/list` with a lister: the fixed resources and what the lister returns, one page.
    fn list_dynamic(
        self: &Arc<Self>,
        id: RequestId,
        stateless: bool,
        collect: Option<oneshot::Sender<Vec<u8>>>,
    ) -> Option<Vec<u8>> {
        let lister = Arc::clone(self.core.lister.as_ref().expect("checked by the caller"));
        let catalog = self.core.catalog();
        let mut resources: Vec<Value> = catalog
            .resources
            .iter()
            .filter_map(|r| match &r.kind {
                resource::Kind::Fixed(res) => serde_json::to_value(res).ok(),
                resource::Kind::Template { .. } => None,
            })
            .collect();
        let responder = self.responder(id, collect);
        let core = Arc::clone(&self.core);
        tokio::spawn(async move {
            resources.extend(lister().await.iter().filter_map(|r| serde_json::to_value(r).ok()));
            let body = serde_json::to_vec(&json!({ "resources": resources })).expect("serialises");
            let body = if stateless {
                close_modern(body, &core.cacheable_suffix)
            } else {
                body
            };
            let reply = encode_result(&responder.id, &body);
            responder.send(reply).await;
        });
        None
    }

    fn subscribe(&self, id: &RequestId, on: bool, params: Option<&Value>) -> Vec<u8> {
        let Some(uri) = params.and_then(|p| p.get("uri")).and_then(Value::as_str) else {
            return encode_error(Some(id), &ErrorObject::invalid_params("`uri` must be a string"));
        };
        let mut subs = self.subscriptions.lock().unwrap_or_else(PoisonError::into_inner);
        if on {
            subs.insert(uri.to_owned());
        } else {
            subs.remove(uri);
        }
        encode_result(id, b"{}")
    }

    /// `subscriptions/listen` (stateless era): acknowledge what is honoured, then stream it.
    fn listen(&self, id: &RequestId, params: Option<&Value>) -> Option<Vec<u8>> {
        let wanted = params.and_then(|p| p.get("notifications")).and_then(Value::as_object);
        let asked = |flag: &str| wanted.and_then(|w| w.get(flag)).and_then(Value::as_bool) == Some(true);
        let mut honoured = Map::new();
        let mut listen = Listen::default();
        for (kind, capability) in [
            (ListKind::Tools, "tools"),
            (ListKind::Prompts, "prompts"),
            (ListKind::Resources, "resources"),
        ] {
            let flag = kind.names().1;
            if asked(flag) && self.core.capabilities.get(capability).is_some() {
                honoured.insert(flag.into(), json!(true));
                listen.lists.push(kind);
            }
        }
        if self.core.capabilities.get("resources").is_some() {
            listen.uris = wanted
                .and_then(|w| w.get("resourceSubscriptions"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            if !listen.uris.is_empty() {
                honoured.insert("resourceSubscriptions".into(), json!(listen.uris));
            }
        }
        self.listens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), listen);
        let params = json!({
            "notifications": honoured,
            "_meta": { meta_keys::SUBSCRIPTION_ID: id },
        });
        Some(jsonrpc::encode_notification(
            "notifications/subscriptions/acknowledged",
            &params,
        ))
    }

    /// The open `subscriptions/listen` requests that want an event.
    fn listeners(&self, wants: impl Fn(&Listen) -> bool) -> Vec<RequestId> {
        let listens = self.listens.lock().unwrap_or_else(PoisonError::into_inner);
        listens
            .iter()
            .filter(|(_, l)| wants(l))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Forwards server events to this connection's subscribers until the task is aborted.
    pub(crate) async fn forward_events(self: Arc<Self>) {
        let mut rx = self.core.events.subscribe();
        loop {
            match rx.recv().await {
                Ok(super::Event::ResourceUpdated(uri)) => {
                    if self
                        .subscriptions
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .contains(&uri)
                    {
                        let params = json!({ "uri": uri });
                        self.send_now(
                            jsonrpc::encode_notification("notifications/resources/updated", &params),
                            None,
                        );
                    }
                    for listener in self.listeners(|l| l.uris.contains(&uri)) {
                        let params = json!({ "uri": uri, "_meta": { meta_keys::SUBSCRIPTION_ID: listener } });
                        self.send_now(
                            jsonrpc::encode_notification("notifications/resources/updated", &params),
                            Some(&listener),
                        );
                    }
                }
                Ok(super::Event::ListChanged(kind)) => {
                    let method = kind.names().0;
                    if self.session.get().is_some() {
                        self.send_now(jsonrpc::encode_notification(method, &json!({})), None);
                    }
                    for listener in self.listeners(|l| l.lists.contains(&kind)) {
                        let params = json!({ "_meta": { meta_keys::SUBSCRIPTION_ID: listener } });
                        self.send_now(jsonrpc::encode_notification(method, &params), Some(&listener));
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    fn complete(
        self: &Arc<Self>,
        id: RequestId,
        params: Option<Value>,
        version: ProtocolVersion,
        collect: Option<oneshot::Sender<Vec<u8>>>,
    ) -> Option<Vec<u8>> {
        let fail = |e: ErrorObject| Some(encode_error(Some(&id), &e));
        let params = params.unwrap_or(Value::Null);
        let reference = &params["ref"];
        let Some(argument) = params["argument"]["name"].as_str() else {
            return fail(ErrorObject::invalid_params(
                "completion/complete: `argument.name` must be a string",
            ));
        };
        let value = params["argument"]["value"].as_str().unwrap_or_default().to_owned();
        let catalog = self.core.catalog();
        let completers = match reference["type"].as_str() {
            Some("ref/prompt") => {
                let name = reference["name"].as_str().unwrap_or_default();
                match catalog.prompt_index.get(name) {
                    Some(&i) => &catalog.prompts[i].completers,
                    None => {
                        return fail(ErrorObject::invalid_params(format!("Unknown prompt: {name}")));
                    }
                }
            }
            Some("ref/resource") => {
                let uri = reference["uri"].as_str().unwrap_or_default();
                match catalog.resources.iter().find(|r| r.uri() == uri) {
                    Some(r) => &r.completers,
                    None => {
                        return fail(ErrorObject::invalid_params(format!(
                            "Unknown resource or template: {uri}"
                        )));
                    }
                }
            }
            _ => {
                return fail(ErrorObject::invalid_params(
                    "completion/complete: `ref.type` must be ref/prompt or ref/resource",
                ));
            }
        };
        let completer = completers
            .iter()
            .find(|(name, _)| name == argument)
            .map(|(_, c)| c.clone());
        let responder = self.responder(id, collect);
        let core = Arc::clone(&self.core);
        tokio::spawn(async move {
            let completion = match completer {
                Some(c) => c.complete(value).await,
                None => json!({ "values": [], "total": 0, "hasMore": false }),
            };
            let reply = encode_plain(&core, &responder.id, version, &json!({ "completion": completion }));
            responder.send(reply).await;
        });
        None
    }

    fn initialize(&self, id: &RequestId, params: Option<&Value>) -> Vec<u8> {
        let Some(params) = params.and_then(Value::as_object) else {
            return encode_error(Some(id), &ErrorObject::invalid_params("initialize needs params"));
        };
        let Some(requested) = params.get("protocolVersion").and_then(Value::as_str) else {
            return encode_error(
                Some(id),
                &ErrorObject::invalid_params("initialize: `protocolVersion` must be a string"),
            );
        };
        // Echo a handshake version we speak; otherwise offer our newest one (a result, not an error).
        let version = ProtocolVersion::parse(requested)
            .filter(|v| !v.is_stateless())
            .unwrap_or(ProtocolVersion::LATEST_HANDSHAKE);
        let capabilities = params
            .get("capabilities")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let client_info = params
            .get("clientInfo")
            .and_then(|v| serde_json::from_value::<Implementation>(v.clone()).ok());
        let session = Session {
            version,
            capabilities: Arc::new(ClientCapabilities(capabilities)),
            client_info: client_info.map(Arc::new),
        };
        if self.session.set(session).is_err() {
            return encode_error(
                Some(id),
                &ErrorObject::invalid_request("Invalid Request: the connection is already initialized"),
            );
        }
        let core = &self.core;
        let mut result = json!({
            "protocolVersion": version,
            "capabilities": core.capabilities,
            "serverInfo": core.server_info_json,
        });
        if let Some(i) = &core.instructions {
            result["instructions"] = json!(i);
        }
        encode_result_value(id, &result)
    }

    fn set_level(&self, id: &RequestId, params: Option<&Value>) -> Vec<u8> {
        let level = params.and_then(|p| p.get("level")).and_then(Value::as_str);
        match level.and_then(|l| LOG_LEVELS.iter().position(|x| *x == l)) {
            Some(i) => {
                self.log_level.store(u8::try_from(i).unwrap_or(0), Ordering::Relaxed);
                encode_result(id, b"{}")
            }
            None => encode_error(
                Some(id),
                &ErrorObject::invalid_params(format!("`level` must be one of {}", LOG_LEVELS.join(", "))),
            ),
        }
    }

    fn call_tool(
        self: &Arc<Self>,
        id: RequestId,
        params: Option<Value>,
        req: Requester,
        collect: Option<oneshot::Sender<Vec<u8>>>,
    ) -> Option<Vec<u8>> {
        let (params, name, args) = match named_call("tools/call", params) {
            Ok(parts) => parts,
            Err(e) => return Some(encode_error(Some(&id), &e)),
        };
        let catalog = self.core.catalog();
        let Some(&index) = catalog.tool_index.get(name.as_str()) else {
            return Some(encode_error(
                Some(&id),
                &ErrorObject::invalid_params(format!("Unknown tool: {name}")),
            ));
        };
        let entry = &catalog.tools[index];
        let identity = if needs_digest(&req, entry.def.uses_context, &params) {
            json!({ "name": name, "arguments": args })
        } else {
            Value::Null
        };
        let handler = Arc::clone(&entry.def.handler);
        let (tool_name, wrap) = (Arc::clone(&entry.name), entry.def.wrap);
        let timeout = self.core.options.call_timeout;
        self.start(
            id,
            "tools/call",
            identity,
            params,
            req,
            entry.def.uses_context,
            collect,
            move |parts| {
                let call = ToolCall::new(Arc::clone(&tool_name), args, parts, wrap);
                Box::pin(async move {
                    let name = Arc::clone(&call.name);
                    let run = run_tool(&*handler, call, &name);
                    let output = match timeout {
                        None => run.await,
                        Some(limit) => tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
                            ToolOutput::Result(CallToolResult::error(format!(
                                "the tool `{name}` did not finish within {} ms",
                                limit.as_millis()
                            )))
                        }),
                    };
                    Outcome::Tool(output)
                })
            },
        )
    }

    fn get_prompt(
        self: &Arc<Self>,
        id: RequestId,
        params: Option<Value>,
        req: Requester,
        collect: Option<oneshot::Sender<Vec<u8>>>,
    ) -> Option<Vec<u8>> {
        let (params, name, args) = match named_call("prompts/get", params) {
            Ok(parts) => parts,
            Err(e) => return Some(encode_error(Some(&id), &e)),
        };
        let catalog = self.core.catalog();
        let Some(&index) = catalog.prompt_index.get(&name) else {
            return Some(encode_error(
                Some(&id),
                &ErrorObject::invalid_params(format!("Unknown prompt: {name}")),
            ));
        };
        let def = &catalog.prompts[index];
        let identity = if needs_digest(&req, def.uses_context, &params) {
            json!({ "name": name, "arguments": args })
        } else {
            Value::Null
        };
        let handler = Arc::clone(&def.handler);
        let prompt_name: Arc<str> = Arc::from(name.as_str());
        self.start(
            id,
            "prompts/get",
            identity,
            params,
            req,
            def.uses_context,
            collect,
            move |parts| {
                let call = ToolCall::new(prompt_name, args, parts, false);
                Box::pin(async move {
                    Outcome::Prompt(catch(|| handler(call), || PromptOutput::Error(panicked("prompt"))).await)
                })
            },
        )
    }

    fn read_resource(
        self: &Arc<Self>,
        id: RequestId,
        params: Option<Value>,
        req: Requester,
        collect: Option<oneshot::Sender<Vec<u8>>>,
    ) -> Option<Vec<u8>> {
        let fail = |id: &RequestId, e: ErrorObject| Some(encode_error(Some(id), &e));
        let Some(Value::Object(params)) = params else {
            return fail(
                &id,
                ErrorObject::invalid_params("resources/read needs params with a `uri`"),
            );
        };
        let Some(uri) = params.get("uri").and_then(Value::as_str).map(str::to_owned) else {
            return fail(
                &id,
                ErrorObject::invalid_params("resources/read: `uri` must be a string"),
            );
        };
        let catalog = self.core.catalog();
        let found = match catalog.resource_index.get(&uri) {
            Some(&i) => Some((i, Map::new())),
            None => {
                let mut found = None;
                for &i in &catalog.templates {
                    let resource::Kind::Template {
                        parsed,
                        allow_traversal,
                        ..
                    } = &catalog.resources[i].kind
                    else {
                        continue;
                    };
                    match parsed.match_uri(&uri, *allow_traversal) {
                        None => {}
                        Some(Ok(vars)) => {
                            found = Some((i, vars.into_iter().map(|(k, v)| (k, Value::String(v))).collect()));
                            break;
                        }
                        Some(Err(Refused::Unsafe(var))) => {
                            return fail(
                                &id,
                                ErrorObject::invalid_params(format!(
                                    "refused `{uri}`: its `{var}` climbs out with `..` or holds a NUL byte"
                                )),
                            );
                        }
                    }
                }
                found
            }
        };
        let Some((index, vars)) = found else {
            return Some(encode_error(Some(&id), &not_found(req.version, &uri)));
        };
        let def = &catalog.resources[index];
        let identity = json!({ "uri": uri });
        let handler = Arc::clone(&def.handler);
        let mime = def.mime_type.clone();
        let name: Arc<str> = Arc::from(def.name());
        let uri_for_outcome: Arc<str> = Arc::from(uri.as_str());
        self.start(
            id,
            "resources/read",
            identity,
            params,
            req,
            def.uses_context,
            collect,
            move |parts| {
                let mut call = ToolCall::new(name, vars, parts, false);
                call.uri = Some(uri);
                call.mime = mime;
                Box::pin(async move {
                    let output = catch(|| handler(call), || ResourceOutput::Error(panicked("resource"))).await;
                    Outcome::Resource(output, uri_for_outcome)
                })
            },
        )
    }

    /// Starts a call of any kind: prepares its exchange with the client (resuming a parked call
    /// when a retry says so), then runs it: to its end at once when it does not wait, else on a
    /// task of its own.
    #[allow(clippy::too_many_arguments)]
    fn start(
        self: &Arc<Self>,
        id: RequestId,
        method: &str,
        identity: Value,
        mut params: Map<String, Value>,
        req: Requester,
        uses_context: bool,
        collect: Option<oneshot::Sender<Vec<u8>>>,
        make: impl FnOnce(Arc<RequestParts>) -> OutcomeFuture,
    ) -> Option<Vec<u8>> {
        let fail = |id: &RequestId, e: ErrorObject| Some(encode_error(Some(id), &e));
        let meta = match params.remove("_meta") {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        };
        let progress_token = meta.as_ref().and_then(|m| m.get("progressToken")).cloned();
        if self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&id)
        {
            return fail(&id, ErrorObject::id_in_use(&id));
        }
        let mut digest = String::new();
        let exchange = if req.version.is_stateless() {
            let input_responses = match params.remove("inputResponses") {
                None | Some(Value::Null) => None,
                Some(Value::Object(m)) => Some(m),
                Some(_) => {
                    return fail(
                        &id,
                        ErrorObject::invalid_params(format!("{method}: `inputResponses` must be an object")),
                    );
                }
            };
            let state = params.remove("requestState");
            if needs_digest(&req, uses_context, &params) || state.is_some() {
                // Bound to who asks: another principal's state does not open.
                let who = self.principal.as_ref().map(|p| p.subject.as_str());
                digest = request_digest(method, &json!({ "request": identity, "principal": who }));
            }
            let mut answers = input_responses.clone().unwrap_or_default();
            let mut user_state = None;
            let mut replay = false;
            match state {
                None | Some(Value::Null) => {}
                Some(Value::String(token)) => {
                    let payload = match self.core.sealer.open(&token, &digest) {
                        Ok(p) => p,
                        Err(refusal) => {
                            return fail(&id, ErrorObject::invalid_params(refusal.to_string()));
                        }
                    };
                    if let Some(continuation) = &payload.continuation {
                        let parked = self
                            .core
                            .parked
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(continuation);
                        if let Some(parked) = parked {
                            return self.resume(
                                id,
                                parked,
                                input_responses.unwrap_or_default(),
                                progress_token,
                                req,
                                collect,
                            );
                        }
                        if !self.core.options.replay {
                            return fail(
                                &id,
                                ErrorObject::invalid_params(
                                    "the call this requestState continues is gone (expired, restarted or served elsewhere) and replay is off; call again without requestState",
                                ),
                            );
                        }
                        replay = true;
                    }
                    for (k, v) in payload.answers {
                        answers.entry(k).or_insert(v);
                    }
                    user_state = payload.user;
                }
                Some(_) => {
                    return fail(
                        &id,
                        ErrorObject::invalid_params(format!("{method}: `requestState` must be a string")),
                    );
                }
            }
            Exchange::Stateless {
                mrtr: Arc::new(Mrtr::new(answers)),
                input_responses,
                user_state,
                replay,
            }
        } else {
            Exchange::Handshake(Arc::clone(self))
        };

        let cancel = Arc::new(Cancel::default());
        let parts = Arc::new(RequestParts {
            request_id: id.clone(),
            version: req.version,
            client_capabilities: req.capabilities,
            client_info: req.client_info,
            meta,
            state: Arc::clone(&self.core.state),
            exchange,
            round: Mutex::new(Round {
                request_id: id.clone(),
                conn: Arc::clone(self),
                progress_token,
                log_level: req.log_level,
                last_progress: None,
                finished: false,
            }),
            cancel: Arc::clone(&cancel),
            missing_capability: Mutex::new(None),
            client_timeout: self.core.options.client_timeout,
            service: super::Service {
                core: Arc::clone(&self.core),
            },
            principal: self.principal.clone(),
        });
        let scoped = super::context::Context::new(Arc::clone(&parts));
        let inner = make(Arc::clone(&parts));
        let mut future: OutcomeFuture = Box::pin(super::log_layer::scope(scoped, inner));
        // Most calls have nothing to wait for and end on their first poll: answer those here,
        // with no task spawned and no thread woken. The rest move to a task of their own, which
        // polls them again at once (registering its own waker in place of this no-op one).
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if let Poll::Ready(outcome) = future.as_mut().poll(&mut cx) {
            let reply = encode_outcome(&self.core, &parts, &id, outcome, &digest);
            parts.round().finished = true;
            return Some(reply);
        }
        let responder = self.responder(id.clone(), collect);
        let core = Arc::clone(&self.core);
        let own_abort = Arc::new(OnceLock::new());
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        let task = tokio::spawn(drive(core, parts, future, responder, digest, Arc::clone(&own_abort)));
        let _ = own_abort.set(task.abort_handle());
        in_flight.insert(id, (task.abort_handle(), cancel));
        None
    }

    /// A retry for a parked call: hand it the answers and the new request to answer.
    fn resume(
        self: &Arc<Self>,
        id: RequestId,
        parked: Parked,
        input_responses: Map<String, Value>,
        progress_token: Option<Value>,
        req: Requester,
        collect: Option<oneshot::Sender<Vec<u8>>>,
    ) -> Option<Vec<u8>> {
        if let Err(e) = parked.mrtr.deliver(&input_responses) {
            return Some(encode_error(Some(&id), &e));
        }
        let retry = Retry {
            responder: self.responder(id.clone(), collect),
            progress_token,
            log_level: req.log_level,
        };
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), (parked.abort.clone(), parked.cancel));
        if let Err(mpsc::error::TrySendError::Closed(retry) | mpsc::error::TrySendError::Full(retry)) =
            parked.retry.try_send(retry)
        {
            // The parked call ended in the meantime.
            self.finish(&id);
            let error = ErrorObject::invalid_params(
                "the call this requestState continues has ended; call again without requestState",
            );
            drop(retry);
            return Some(encode_error(Some(&id), &error));
        }
        None
    }

    /// Whether the session speaks 2025-03-26, the one revision with batches.
    pub(crate) fn allows_batches(&self) -> bool {
        self.session.get().is_some_and(|s| s.version.allows_batches())
    }

    /// Cancels a request in flight, as `notifications/cancelled` does: it gets no answer.
    pub(crate) fn cancel_request(&self, id: &RequestId) {
        self.listens.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
        let entry = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
        if let Some((handle, cancel)) = entry {
            cancel.cancel();
            handle.abort();
        }
        self.finish(id); // wakes a drain waiting for the last call
    }

    fn finish(&self, id: &RequestId) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        in_flight.remove(id);
        if in_flight.is_empty() {
            self.idle.notify_waiters();
        }
    }

    fn notification(&self, method: &str, params: Option<&Value>) {
        match method {
            "notifications/initialized" => self.initialized.store(true, Ordering::Relaxed),
            "notifications/cancelled" => {
                let id = params
                    .and_then(|p| p.get("requestId"))
                    .and_then(|v| serde_json::from_value::<RequestId>(v.clone()).ok());
                if let Some(id) = id {
                    self.cancel_request(&id);
                }
            }
            _ => tracing::debug!(method, "ignored a notification"),
        }
    }

    /// Lets in-flight calls finish (up to the drain timeout), then cancels the rest.
    async fn drain(&self) {
        let deadline = tokio::time::Instant::now() + self.core.options.drain_timeout;
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
                return;
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline) => {
                    self.abort_all();
                    return;
                }
            }
        }
    }

    pub(crate) fn abort_all(&self) {
        for (_, (handle, cancel)) in self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).drain() {
            cancel.cancel();
            handle.abort();
        }
        // Outbound requests can no longer be answered.
        self.pending_out.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

/// What one `subscriptions/listen` request follows.
#[derive(Default)]
struct Listen {
    uris: Vec<String>,
    lists: Vec<ListKind>,
}

/// The rest of the params, the `name` and the `arguments` of a call.
type NamedCall = (Map<String, Value>, String, Map<String, Value>);

/// The `params`, `name` and `arguments` of a `tools/call` or `prompts/get`.
fn named_call(method: &str, params: Option<Value>) -> Result<NamedCall, ErrorObject> {
    let Some(Value::Object(mut params)) = params else {
        return Err(ErrorObject::invalid_params(format!(
            "{method} needs params with a `name`"
        )));
    };
    let Some(name) = params.get("name").and_then(Value::as_str).map(str::to_owned) else {
        return Err(ErrorObject::invalid_params(format!(
            "{method}: `name` must be a string"
        )));
    };
    let args = match params.remove("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ErrorObject::invalid_params(format!(
                "{method}: `arguments` must be an object"
            )));
        }
    };
    Ok((params, name, args))
}

/// Aborts a task when dropped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The pages of a list as one era sends them.
fn era_pages(pages: &super::catalog::Pages, stateless: bool) -> &[Vec<u8>] {
    if stateless { &pages.1 } else { &pages.0 }
}

/// One page of a cached list, by the request's cursor.
fn list_page(id: &RequestId, params: Option<&Value>, pages: &[Vec<u8>]) -> Vec<u8> {
    let page = match params.and_then(|p| p.get("cursor")) {
        None | Some(Value::Null) => Some(0),
        Some(Value::String(c)) => decode_cursor(c),
        Some(_) => None,
    };
    match page.and_then(|p| pages.get(p)) {
        Some(bytes) => encode_result(id, bytes),
        None => encode_error(Some(id), &ErrorObject::invalid_params("Invalid cursor")),
    }
}

/// What a call of any kind ends with.
pub(crate) enum Outcome {
    Tool(ToolOutput),
    Prompt(PromptOutput),
    /// A read, and the URI read.
    Resource(ResourceOutput, Arc<str>),
}

type OutcomeFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// Runs one call to its end: at once in the handshake era; in rounds in the stateless era.
async fn drive(
    core: Arc<Core>,
    parts: Arc<RequestParts>,
    call: OutcomeFuture,
    mut responder: Responder,
    digest: String,
    own_abort: Arc<OnceLock<AbortHandle>>,
) {
    let mut call = call;
    let Exchange::Stateless { mrtr, .. } = &parts.exchange else {
        let outcome = call.await;
        let reply = encode_outcome(&core, &parts, &responder.id, outcome, &digest);
        parts.round().finished = true;
        responder.send(reply).await;
        return;
    };
    let mrtr = Arc::clone(mrtr);
    // Named only when a round ends: a call that never asks the client costs no randomness.
    let mut continuation = String::new();
    let (retry_tx, mut retry_rx) = mpsc::channel::<Retry>(1);
    loop {
        // Run the call until it ends, or until it does nothing but wait for input. A few more
        // polls let requests made side by side (`join!`) land in the same round.
        let mut settle = 0u8;
        let ended = std::future::poll_fn(|cx| match call.as_mut().poll(cx) {
            Poll::Ready(outcome) => Poll::Ready(Some(outcome)),
            Poll::Pending if mrtr.has_unanswered() => {
                if settle < 3 {
                    settle += 1;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                } else {
                    Poll::Ready(None)
                }
            }
            Poll::Pending => {
                settle = 0;
                Poll::Pending
            }
        })
        .await;
        if let Some(outcome) = ended {
            let reply = encode_outcome(&core, &parts, &responder.id, outcome, &digest);
            parts.round().finished = true;
            responder.send(reply).await;
            return;
        }

        // End of a round: answer `input_required`, park, and wait for the retry.
        if continuation.is_empty() {
            continuation = hex(&random::<16>());
        }
        let state = core.sealer.seal(Payload {
            digest: digest.clone(),
            continuation: Some(continuation.clone()),
            answers: if core.options.replay {
                mrtr.answers()
            } else {
                Map::new()
            },
            ..Payload::default()
        });
        if let Some(abort) = own_abort.get() {
            core.parked.lock().unwrap_or_else(PoisonError::into_inner).insert(
                continuation.clone(),
                Parked {
                    retry: retry_tx.clone(),
                    mrtr: Arc::clone(&mrtr),
                    abort: abort.clone(),
                    cancel: Arc::clone(&parts.cancel),
                },
            );
        }
        parts.round().finished = true;
        let id = responder.id.clone();
        responder
            .send(encode_input_required(&core, &id, &mrtr.unanswered(), &state))
            .await;

        let expires = tokio::time::Instant::now() + core.options.state_ttl;
        let next = tokio::select! {
            retry = retry_rx.recv() => retry,
            outcome = &mut call => {
                // Done without the answers it asked for: give the result to the next retry.
                let retry = tokio::select! {
                    r = retry_rx.recv() => r,
                    () = tokio::time::sleep_until(expires) => None,
                };
                core.parked.lock().unwrap_or_else(PoisonError::into_inner).remove(&continuation);
                if let Some(retry) = retry {
                    let reply = encode_outcome(&core, &parts, &retry.responder.id, outcome, &digest);
                    retry.responder.send(reply).await;
                }
                return;
            }
            () = tokio::time::sleep_until(expires) => None,
        };
        let Some(retry) = next else {
            core.parked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&continuation);
            return;
        };
        {
            let mut round = parts.round();
            round.conn = Arc::clone(&retry.responder.conn);
            round.request_id = retry.responder.id.clone();
            round.progress_token = retry.progress_token;
            round.log_level = retry.log_level;
            round.last_progress = None;
            round.finished = false;
        }
        responder = retry.responder;
    }
}

fn encode_input_required(core: &Core, id: &RequestId, requests: &Map<String, Value>, state: &str) -> Vec<u8> {
    let body = json!({
        "resultType": "input_required",
        "inputRequests": requests,
        "requestState": state,
        "_meta": { meta_keys::SERVER_INFO: core.server_info_json },
    });
    encode_result_value(id, &body)
}

/// A result of a kind nobody caches (`prompts/get`, `completion/complete`), in the request's era.
fn encode_plain<T: serde::Serialize>(core: &Core, id: &RequestId, version: ProtocolVersion, result: &T) -> Vec<u8> {
    if version.is_stateless() {
        let body = serde_json::to_vec(result).expect("results serialise");
        encode_result(id, &close_modern(body, &core.modern_suffix))
    } else {
        encode_result_value(id, result)
    }
}

/// The error for a URI that names no resource, in the request's era.
fn not_found(version: ProtocolVersion, uri: &str) -> ErrorObject {
    let code = if version.is_stateless() {
        ErrorCode::INVALID_PARAMS
    } else {
        ErrorCode::RESOURCE_NOT_FOUND_LEGACY
    };
    ErrorObject::new(code, format!("Resource not found: {uri}")).with_data(json!({ "uri": uri }))
}

fn panicked(kind: &str) -> ErrorObject {
    tracing::error!(kind, "a handler panicked");
    ErrorObject::internal(format!(
        "the {kind} failed: it panicked (the server logged the details)"
    ))
}

/// The answer that ends a call of any kind.
fn encode_outcome(core: &Core, parts: &RequestParts, id: &RequestId, outcome: Outcome, digest: &str) -> Vec<u8> {
    let version = parts.version;
    let missing = || {
        parts
            .missing_capability
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    };
    let required = |required: Value, why: String| {
        let error = ErrorObject::new(
            ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
            format!("Missing required client capability: {why}"),
        )
        .with_data(json!({ "requiredCapabilities": required }));
        encode_error(Some(id), &error)
    };
    let input_required = |ir: InputRequired| {
        let state = core.sealer.seal(Payload {
            digest: digest.to_owned(),
            user: ir.request_state,
            ..Payload::default()
        });
        encode_input_required(core, id, &ir.input_requests, &state)
    };
    match outcome {
        Outcome::Tool(ToolOutput::Result(result)) => {
            if version.is_stateless()
                && result.is_error
                && let Some(req) = missing()
            {
                return required(req, result.text_content());
            }
            encode_call_result(core, id, version, result)
        }
        Outcome::Tool(ToolOutput::InputRequired(ir)) if version.is_stateless() => input_required(ir),
        Outcome::Tool(ToolOutput::InputRequired(_)) => encode_call_result(
            core,
            id,
            version,
            CallToolResult::error("this tool needs input that only protocol version 2026-07-28 can carry"),
        ),
        Outcome::Prompt(PromptOutput::Result(r)) => encode_plain(core, id, version, &r),
        Outcome::Resource(ResourceOutput::Result(r), _) => {
            if version.is_stateless() {
                let body = serde_json::to_vec(&r).expect("results serialise");
                encode_result(id, &close_modern(body, &core.cacheable_suffix))
            } else {
                encode_result_value(id, &r)
            }
        }
        Outcome::Resource(ResourceOutput::NotFound, uri) => encode_error(Some(id), &not_found(version, &uri)),
        Outcome::Prompt(PromptOutput::InputRequired(ir)) | Outcome::Resource(ResourceOutput::InputRequired(ir), _)
            if version.is_stateless() =>
        {
            input_required(ir)
        }
        Outcome::Prompt(PromptOutput::InputRequired(_)) | Outcome::Resource(ResourceOutput::InputRequired(_), _) => {
            encode_error(
                Some(id),
                &ErrorObject::internal("this handler needs input that only protocol version 2026-07-28 can carry"),
            )
        }
        Outcome::Prompt(PromptOutput::Error(e)) | Outcome::Resource(ResourceOutput::Error(e), _) => {
            if version.is_stateless()
                && let Some(req) = missing()
            {
                return required(req, e.message);
            }
            encode_error(Some(id), &e)
        }
    }
}

fn encode_call_result(core: &Core, id: &RequestId, version: ProtocolVersion, mut result: CallToolResult) -> Vec<u8> {
    if !version.is_stateless() {
        return encode_result_value(id, &result);
    }
    match &mut result.meta {
        None => {
            let body = serde_json::to_vec(&result).expect("results serialise");
            encode_result(id, &close_modern(body, &core.modern_suffix))
        }
        Some(meta) => {
            meta.insert(meta_keys::SERVER_INFO.into(), core.server_info_json.clone());
            let mut value = serde_json::to_value(&result).expect("results serialise");
            value["resultType"] = json!("complete");
            encode_result_value(id, &value)
        }
    }
}

/// Who is asking, as the request's era tells it.
pub(crate) struct Requester {
    version: ProtocolVersion,
    capabilities: Arc<ClientCapabilities>,
    client_info: Option<Arc<Implementation>>,
    /// Stateless era: the log level this request asked for.
    log_level: Option<usize>,
}

/// Reads and checks the stateless-era keys of a request's `_meta`.
/// Whether a call's sealed state must be bound to the request: in the stateless era, when the
/// handler may ask the client something or the request continues an earlier one. Only then is
/// the request's identity (its name and arguments) worth building.
fn needs_digest(req: &Requester, uses_context: bool, params: &Map<String, Value>) -> bool {
    req.version.is_stateless() && (uses_context || params.contains_key("requestState"))
}

fn stateless_request(meta: &Map<String, Value>) -> Result<Requester, ErrorObject> {
    let Some(requested) = meta.get(meta_keys::PROTOCOL_VERSION).and_then(Value::as_str) else {
        return Err(ErrorObject::invalid_params(format!(
            "`_meta.{}` must be a string",
            meta_keys::PROTOCOL_VERSION
        )));
    };
    let Some(capabilities) = meta.get(meta_keys::CLIENT_CAPABILITIES).and_then(Value::as_object) else {
        return Err(ErrorObject::invalid_params(format!(
            "`_meta.{}` is required (an object; `{{}}` declares no optional capability)",
            meta_keys::CLIENT_CAPABILITIES
        )));
    };
    let Some(version) = ProtocolVersion::parse(requested).filter(|v| v.is_stateless()) else {
        let supported: Vec<&str> = ProtocolVersion::STATELESS.iter().map(|v| v.as_str()).collect();
        return Err(ErrorObject::new(
            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
            format!("Unsupported protocol version: {requested}"),
        )
        .with_data(json!({ "supported": supported, "requested": requested })));
    };
    let client_info = meta
        .get(meta_keys::CLIENT_INFO)
        .and_then(|v| serde_json::from_value::<Implementation>(v.clone()).ok())
        .map(Arc::new);
    let log_level = match meta.get(meta_keys::LOG_LEVEL) {
        None => None,
        Some(level) => match level.as_str().and_then(|l| LOG_LEVELS.iter().position(|x| *x == l)) {
            Some(i) => Some(i),
            None => {
                return Err(ErrorObject::invalid_params(format!(
                    "`_meta.{}` must be one of {}",
                    meta_keys::LOG_LEVEL,
                    LOG_LEVELS.join(", ")
                )));
            }
        },
    };
    Ok(Requester {
        version,
        capabilities: Arc::new(ClientCapabilities(capabilities.clone())),
        client_info,
        log_level,
    })
}

fn missing_meta(method: &str) -> ErrorObject {
    ErrorObject::invalid_params(format!(
        "`{method}` needs `_meta.{}` and `_meta.{}` (protocol 2026-07-28), or an `initialize` handshake first (protocol 2025-11-25 and earlier)",
        meta_keys::PROTOCOL_VERSION,
        meta_keys::CLIENT_CAPABILITIES
    ))
}

/// Runs a handler; a panic in it becomes `on_panic()` and harms nothing else.
async fn catch<O>(start: impl FnOnce() -> Pin<Box<dyn Future<Output = O> + Send>>, on_panic: impl FnOnce() -> O) -> O {
    let Ok(future) = catch_unwind(AssertUnwindSafe(start)) else {
        return on_panic();
    };
    CatchUnwind(future).await.unwrap_or_else(|()| on_panic())
}

/// Runs a tool; a panic in it becomes an error result and harms nothing else.
async fn run_tool(handler: &(dyn Fn(ToolCall) -> ToolFuture + Send + Sync), call: ToolCall, name: &str) -> ToolOutput {
    let panicked = || {
        tracing::error!(tool = name, "the tool panicked");
        ToolOutput::Result(CallToolResult::error(format!(
            "the tool `{name}` failed: it panicked (the server logged the details)"
        )))
    };
    catch(|| handler(call), panicked).await
}

struct CatchUnwind<O>(Pin<Box<dyn Future<Output = O> + Send>>);

impl<O> Future for CatchUnwind<O> {
    type Output = Result<O, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}
