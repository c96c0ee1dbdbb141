//! One connection: reading frames, deciding each request's era, answering.
//!
//! A request whose `params._meta` names a protocol version is served statelessly (2026-07-28);
//! `initialize` starts the handshake era for the connection; anything else before `initialize`
//! gets an error, never silence. Cheap requests are answered inline by the reader; tool calls
//! run as their own tasks, so a slow tool blocks nothing else.

use super::context::RequestParts;
use super::tool::{ToolCall, ToolFuture};
use super::{Core, close_modern, decode_cursor};
use crate::error::{Error, Result};
use crate::protocol::jsonrpc::{self, encode_error, encode_result, encode_result_value};
use crate::protocol::types::meta_keys;
use crate::protocol::{
    CallToolResult, ClientCapabilities, ErrorCode, ErrorObject, Frame, Implementation, Incoming,
    ProtocolVersion, RequestId,
};
use crate::transport::{FrameReader, FrameWriter, ReadFrame, Transport};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context as TaskContext, Poll};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::AbortHandle;

/// Log levels in order of severity (RFC 5424, as MCP names them).
pub(crate) const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

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

pub(crate) async fn serve<T: Transport>(core: Arc<Core>, transport: T) -> Result<()> {
    let (mut reader, writer) = transport.split();
    let (tx, rx) = mpsc::channel::<Vec<u8>>(1024);
    let shutdown = Arc::new(Notify::new());
    let mut writer_task = tokio::spawn(write_loop(writer, rx, Arc::clone(&shutdown)));
    let conn = Arc::new(Connection::new(core, tx));
    let mut result = Ok(());
    loop {
        tokio::select! {
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
                None => return Ok(()),
            },
            () = shutdown.notified() => {
                while let Ok(m) = rx.try_recv() {
                    batch.push(m);
                }
                if !batch.is_empty() {
                    writer.write_frames(&mut batch).await?;
                }
                return Ok(());
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

/// Where the answer to a request goes: straight out, or into the answer to a batch.
enum Responder {
    Direct,
    Collect(oneshot::Sender<Vec<u8>>),
}

pub(crate) struct Connection {
    core: Arc<Core>,
    out: mpsc::Sender<Vec<u8>>,
    session: OnceLock<Session>,
    initialized: AtomicBool,
    log_level: AtomicU8,
    in_flight: Mutex<HashMap<RequestId, AbortHandle>>,
    idle: Notify,
}

impl Connection {
    fn new(core: Arc<Core>, out: mpsc::Sender<Vec<u8>>) -> Self {
        Self {
            core,
            out,
            session: OnceLock::new(),
            initialized: AtomicBool::new(false),
            log_level: AtomicU8::new(1),
            in_flight: Mutex::new(HashMap::new()),
            idle: Notify::new(),
        }
    }

    async fn send(&self, bytes: Vec<u8>) {
        // A send fails only when the writer has stopped; the serve loop sees that itself.
        let _ = self.out.send(bytes).await;
    }

    async fn handle_bytes(self: &Arc<Self>, bytes: &[u8]) {
        match jsonrpc::parse_frame(bytes) {
            Frame::Single(message) => {
                if let Some(reply) = self.handle(message, Responder::Direct) {
                    self.send(reply).await;
                }
            }
            Frame::Batch(items) => self.handle_batch(items).await,
        }
    }

    async fn handle_batch(self: &Arc<Self>, items: Vec<Incoming>) {
        let allowed = self
            .session
            .get()
            .is_some_and(|s| s.version.allows_batches());
        if !allowed {
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
            if let Some(reply) = self.handle(item, Responder::Collect(tx)) {
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

    /// Handles one message; returns the answer when it is ready now.
    fn handle(self: &Arc<Self>, message: Incoming, responder: Responder) -> Option<Vec<u8>> {
        match message {
            Incoming::Request { id, method, params } => {
                self.request(id, &method, params, responder)
            }
            Incoming::Notification { method, params } => {
                self.notification(&method, params.as_ref());
                None
            }
            Incoming::Response { id, .. } => {
                tracing::debug!(%id, "ignored a response to a request this server never sent");
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
        responder: Responder,
    ) -> Option<Vec<u8>> {
        let meta = params
            .as_ref()
            .and_then(|p| p.get("_meta"))
            .and_then(Value::as_object);
        if let Some(meta) = meta.filter(|m| m.contains_key(meta_keys::PROTOCOL_VERSION)) {
            return match stateless_request(meta) {
                Ok(req) => self.stateless(id, method, params, req, responder),
                Err(e) => Some(encode_error(Some(&id), &e)),
            };
        }
        match method {
            "initialize" => Some(self.initialize(&id, params.as_ref())),
            "ping" => Some(encode_result(&id, b"{}")),
            "server/discover" => Some(encode_error(Some(&id), &missing_meta(method))),
            _ => match self.session.get() {
                Some(session) => self.handshake(id, method, params, session, responder),
                None if HANDSHAKE_METHODS.contains(&method) => {
                    Some(encode_error(Some(&id), &missing_meta(method)))
                }
                None => Some(encode_error(
                    Some(&id),
                    &ErrorObject::method_not_found(method),
                )),
            },
        }
    }

    fn stateless(
        self: &Arc<Self>,
        id: RequestId,
        method: &str,
        params: Option<Value>,
        req: StatelessRequest,
        responder: Responder,
    ) -> Option<Vec<u8>> {
        let core = &self.core;
        match method {
            "server/discover" => Some(encode_result(&id, &core.discover)),
            "tools/list" if !core.tools.is_empty() => {
                Some(self.list_tools(&id, params.as_ref(), true))
            }
            "tools/call" if !core.tools.is_empty() => self.call_tool(
                id,
                params,
                req.version,
                req.capabilities,
                req.client_info,
                responder,
            ),
            _ if REMOVED_IN_STATELESS.contains(&method) => Some(encode_error(
                Some(&id),
                &ErrorObject::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    format!(
                        "Method not found: `{method}` is not part of protocol version {}",
                        req.version
                    ),
                ),
            )),
            _ => Some(encode_error(
                Some(&id),
                &ErrorObject::method_not_found(method),
            )),
        }
    }

    fn handshake(
        self: &Arc<Self>,
        id: RequestId,
        method: &str,
        params: Option<Value>,
        session: &Session,
        responder: Responder,
    ) -> Option<Vec<u8>> {
        let core = &self.core;
        match method {
            "tools/list" if !core.tools.is_empty() => {
                Some(self.list_tools(&id, params.as_ref(), false))
            }
            "tools/call" if !core.tools.is_empty() => self.call_tool(
                id,
                params,
                session.version,
                Arc::clone(&session.capabilities),
                session.client_info.clone(),
                responder,
            ),
            "logging/setLevel" => Some(self.set_level(&id, params.as_ref())),
            _ => Some(encode_error(
                Some(&id),
                &ErrorObject::method_not_found(method),
            )),
        }
    }

    fn initialize(&self, id: &RequestId, params: Option<&Value>) -> Vec<u8> {
        let Some(params) = params.and_then(Value::as_object) else {
            return encode_error(
                Some(id),
                &ErrorObject::invalid_params("initialize needs params"),
            );
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
                &ErrorObject::invalid_request(
                    "Invalid Request: the connection is already initialized",
                ),
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
                self.log_level
                    .store(u8::try_from(i).unwrap_or(0), Ordering::Relaxed);
                encode_result(id, b"{}")
            }
            None => encode_error(
                Some(id),
                &ErrorObject::invalid_params(format!(
                    "`level` must be one of {}",
                    LOG_LEVELS.join(", ")
                )),
            ),
        }
    }

    fn list_tools(&self, id: &RequestId, params: Option<&Value>, stateless: bool) -> Vec<u8> {
        let page = match params.and_then(|p| p.get("cursor")) {
            None | Some(Value::Null) => Some(0),
            Some(Value::String(c)) => decode_cursor(c),
            Some(_) => None,
        };
        let pages = if stateless {
            &self.core.tools_pages_modern
        } else {
            &self.core.tools_pages_legacy
        };
        match page.and_then(|p| pages.get(p)) {
            Some(bytes) => encode_result(id, bytes),
            None => encode_error(Some(id), &ErrorObject::invalid_params("Invalid cursor")),
        }
    }

    fn call_tool(
        self: &Arc<Self>,
        id: RequestId,
        params: Option<Value>,
        version: ProtocolVersion,
        capabilities: Arc<ClientCapabilities>,
        client_info: Option<Arc<Implementation>>,
        responder: Responder,
    ) -> Option<Vec<u8>> {
        let fail = |id: &RequestId, e: ErrorObject| Some(encode_error(Some(id), &e));
        let Some(Value::Object(mut params)) = params else {
            return fail(
                &id,
                ErrorObject::invalid_params("tools/call needs params with a `name`"),
            );
        };
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return fail(
                &id,
                ErrorObject::invalid_params("tools/call: `name` must be a string"),
            );
        };
        let Some(&index) = self.core.tool_index.get(name) else {
            return fail(
                &id,
                ErrorObject::invalid_params(format!("Unknown tool: {name}")),
            );
        };
        let args = match params.remove("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => {
                return fail(
                    &id,
                    ErrorObject::invalid_params("tools/call: `arguments` must be an object"),
                );
            }
        };
        let meta = match params.remove("_meta") {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        };
        let entry = &self.core.tools[index];
        let parts = Arc::new(RequestParts {
            request_id: id.clone(),
            version,
            client_capabilities: capabilities,
            client_info,
            meta,
            state: Arc::clone(&self.core.state),
        });
        let call = ToolCall::new(Arc::clone(&entry.name), args, parts, entry.def.wrap);
        let handler = Arc::clone(&entry.def.handler);

        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if in_flight.contains_key(&id) {
            return fail(
                &id,
                ErrorObject::invalid_request(format!(
                    "Invalid Request: id {id} is already in use by a request in flight"
                )),
            );
        }
        let conn = Arc::clone(self);
        let task_id = id.clone();
        let task = tokio::spawn(async move {
            let name = Arc::clone(&call.name);
            let result = run_tool(&*handler, call, &name).await;
            let reply = conn.encode_call_result(&task_id, version, result);
            conn.finish(&task_id);
            match responder {
                Responder::Direct => conn.send(reply).await,
                Responder::Collect(tx) => {
                    let _ = tx.send(reply);
                }
            }
        });
        in_flight.insert(id, task.abort_handle());
        None
    }

    fn encode_call_result(
        &self,
        id: &RequestId,
        version: ProtocolVersion,
        mut result: CallToolResult,
    ) -> Vec<u8> {
        if !version.is_stateless() {
            return encode_result_value(id, &result);
        }
        match &mut result.meta {
            None => {
                let body = serde_json::to_vec(&result).expect("results serialise");
                encode_result(id, &close_modern(body, &self.core.modern_suffix))
            }
            Some(meta) => {
                meta.insert(
                    meta_keys::SERVER_INFO.into(),
                    self.core.server_info_json.clone(),
                );
                let mut value = serde_json::to_value(&result).expect("results serialise");
                value["resultType"] = json!("complete");
                encode_result_value(id, &value)
            }
        }
    }

    fn finish(&self, id: &RequestId) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
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
                    let handle = self
                        .in_flight
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&id);
                    if let Some(handle) = handle {
                        // A cancelled request gets no answer.
                        handle.abort();
                    }
                    let empty = self
                        .in_flight
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .is_empty();
                    if empty {
                        self.idle.notify_waiters();
                    }
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
            if self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
            {
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

    fn abort_all(&self) {
        for (_, handle) in self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
        {
            handle.abort();
        }
    }
}

struct StatelessRequest {
    version: ProtocolVersion,
    capabilities: Arc<ClientCapabilities>,
    client_info: Option<Arc<Implementation>>,
}

/// Reads and checks the stateless-era keys of a request's `_meta`.
fn stateless_request(meta: &Map<String, Value>) -> Result<StatelessRequest, ErrorObject> {
    let Some(requested) = meta
        .get(meta_keys::PROTOCOL_VERSION)
        .and_then(Value::as_str)
    else {
        return Err(ErrorObject::invalid_params(format!(
            "`_meta.{}` must be a string",
            meta_keys::PROTOCOL_VERSION
        )));
    };
    let Some(capabilities) = meta
        .get(meta_keys::CLIENT_CAPABILITIES)
        .and_then(Value::as_object)
    else {
        return Err(ErrorObject::invalid_params(format!(
            "`_meta.{}` is required (an object; `{{}}` declares no optional capability)",
            meta_keys::CLIENT_CAPABILITIES
        )));
    };
    let Some(version) = ProtocolVersion::parse(requested).filter(|v| v.is_stateless()) else {
        let supported: Vec<&str> = ProtocolVersion::STATELESS
            .iter()
            .map(|v| v.as_str())
            .collect();
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
    Ok(StatelessRequest {
        version,
        capabilities: Arc::new(ClientCapabilities(capabilities.clone())),
        client_info,
    })
}

fn missing_meta(method: &str) -> ErrorObject {
    ErrorObject::invalid_params(format!(
        "`{method}` needs `_meta.{}` and `_meta.{}` (protocol 2026-07-28), or an `initialize` handshake first (protocol 2025-11-25 and earlier)",
        meta_keys::PROTOCOL_VERSION,
        meta_keys::CLIENT_CAPABILITIES
    ))
}

/// Runs a tool; a panic in it becomes an error result and harms nothing else.
async fn run_tool(
    handler: &(dyn Fn(ToolCall) -> ToolFuture + Send + Sync),
    call: ToolCall,
    name: &str,
) -> CallToolResult {
    let panicked = || {
        tracing::error!(tool = name, "the tool panicked");
        CallToolResult::error(format!(
            "the tool `{name}` failed: it panicked (the server logged the details)"
        ))
    };
    let Ok(future) = catch_unwind(AssertUnwindSafe(|| handler(call))) else {
        return panicked();
    };
    CatchUnwind(future).await.unwrap_or_else(|()| panicked())
}

struct CatchUnwind(ToolFuture);

impl Future for CatchUnwind {
    type Output = Result<CallToolResult, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}
