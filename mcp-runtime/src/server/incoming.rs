//! Reading one connection's messages: frames and batches, then each request's era, then its
//! method's handler.
//!
//! A request whose `params._meta` names a protocol version is served statelessly (2026-07-28);
//! `initialize` starts the handshake era for the connection; anything else before `initialize`
//! gets an error, never silence. Cheap requests are answered inline by the reader; calls that
//! wait run as their own tasks, so a slow tool blocks nothing else.

use super::connection::Connection;
use super::context::Cancel;
use super::engine::parked::Responder;
use super::era::{self, Requester};
use super::middleware::{self, McpService, Request, Route};
use crate::protocol::jsonrpc::{self, encode_error, encode_result};
use crate::protocol::method::{Capability, WireMethod, wire_name};
use crate::protocol::params::{CancelledParams, FromParams, Params};
use crate::protocol::{ErrorObject, Frame, Incoming, Method, RequestId, StatelessMeta};
use serde_json::Value;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use tokio::sync::oneshot;
use tower::ServiceExt;

/// Where a batched request's answer is collected (it then goes out with the batch's others).
pub(crate) type Collect = Option<oneshot::Sender<Vec<u8>>>;

/// Whether a request answered later can be cancelled by the client on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Follow {
    /// Tracked: `notifications/cancelled` drops it, and a drain waits for it.
    Tracked,
    /// Not tracked itself: what it waits on is (the request, served inside the middleware), or
    /// it is quick.
    Untracked,
}

/// The innermost service of the middleware sends each request back to its connection.
struct OnConnection {
    conn: Arc<Connection>,
    req: Requester,
}

impl Route for OnConnection {
    fn serve(
        self: Box<Self>,
        id: RequestId,
        method: Method,
        params: Option<Value>,
        reply: oneshot::Sender<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        let Self { conn, req } = *self;
        conn.dispatch(id, method, Params::Value(params), req, Some(reply))
    }
}

impl Connection {
    pub(crate) async fn handle_bytes(self: &Arc<Self>, bytes: &[u8]) {
        match jsonrpc::parse_frame(bytes) {
            Frame::Single(message) => {
                if let Some(reply) = self.handle(message, None) {
                    self.link.send(reply).await;
                }
            }
            Frame::Batch(items) => self.handle_batch(items).await,
        }
    }

    async fn handle_batch(self: &Arc<Self>, items: Vec<Incoming>) {
        if !self.allows_batches() {
            self.link.send(encode_error(None, &batches_refused())).await;
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
                conn.link.send(jsonrpc::encode_batch(&ready)).await;
            }
        });
    }

    /// Handles one message; returns the answer when it is ready now.
    pub(crate) fn handle(self: &Arc<Self>, message: Incoming, collect: Collect) -> Option<Vec<u8>> {
        match message {
            #[cfg(not(feature = "otel"))]
            Incoming::Request {
                id,
                method,
                params,
                stateless,
            } => self.request(id, &method, params, &stateless, collect),
            #[cfg(feature = "otel")]
            Incoming::Request {
                id,
                method,
                params,
                stateless,
            } => {
                let operation = self.operation(Some(&id), &method, &params);
                super::otel::routing(operation, || self.request(id, &method, params, &stateless, collect))
            }
            Incoming::Notification { method, params } => {
                let params = Params::Value(params);
                #[cfg(feature = "otel")]
                let operation = self.operation(None, &method, &params);
                self.notification(&method, params.as_value());
                #[cfg(feature = "otel")]
                operation.finish(None);
                None
            }
            Incoming::Response { id, outcome } => {
                self.link.answered(&id, outcome);
                None
            }
            Incoming::Invalid { id, error } => Some(encode_error(id.as_ref(), &error)),
        }
    }

    /// Decides the request's era, then routes it.
    fn request(
        self: &Arc<Self>,
        id: RequestId,
        method: &WireMethod,
        params: Params,
        stateless: &StatelessMeta,
        collect: Collect,
    ) -> Option<Vec<u8>> {
        if stateless.is_stateless() {
            return match Requester::from_meta(stateless, &self.core.clients) {
                Ok(req) => self.route(id, method, params, req, collect),
                Err(e) => Some(encode_error(Some(&id), &e)),
            };
        }
        match method {
            Ok(Method::Initialize) => {
                let reply = self.initialize(&id, params.into_value());
                #[cfg(feature = "otel")]
                if let Some(session) = self.session.get() {
                    super::otel::routing_version(session.version);
                    self.clock.initialized(session.version);
                }
                Some(reply)
            }
            Ok(Method::Ping) => Some(encode_result(&id, b"{}")),
            _ => match self.session_requester() {
                Some(req) => self.route(id, method, params, req, collect),
                None => Some(encode_error(Some(&id), &era::before_initialize(method))),
            },
        }
    }

    /// Routes a request of either era to its method's handler; the era and what the server
    /// offers decide which methods exist.
    fn route(
        self: &Arc<Self>,
        id: RequestId,
        method: &WireMethod,
        params: Params,
        req: Requester,
        collect: Collect,
    ) -> Option<Vec<u8>> {
        let core = &self.core;
        let catalog = core.catalog();
        // Offered now, or advertised at the start (lists may have emptied since).
        let offers = |capability: Capability| {
            let present = match capability {
                Capability::Tools => !catalog.tools.is_empty(),
                Capability::Prompts => !catalog.prompts.is_empty(),
                Capability::Resources => !catalog.resources.is_empty(),
                Capability::Completions => catalog.has_completions(),
                Capability::Logging => false,
                Capability::Tasks => catalog.has_tasks(),
            };
            present || core.capabilities.offers(capability)
        };
        #[cfg(feature = "otel")]
        super::otel::routing_version(req.version);
        let method = match era::gate(method, req.version, offers) {
            Ok(m) => m,
            Err(e) => return Some(encode_error(Some(&id), &e)),
        };
        match &core.middleware {
            None => self.dispatch(id, method, params, req, collect),
            Some(layers) => self.through_layers(layers.clone(), id, method, params, req, collect),
        }
    }

    /// Serves a request through the server's layers.
    fn through_layers(
        self: &Arc<Self>,
        service: McpService,
        id: RequestId,
        method: Method,
        params: Params,
        req: Requester,
        collect: Collect,
    ) -> Option<Vec<u8>> {
        let request = Request::new(
            id.clone(),
            method,
            params.into_value(),
            req.version,
            Arc::clone(&req.capabilities),
            self.principal.clone(),
            Box::new(OnConnection {
                conn: Arc::clone(self),
                req,
            }),
        );
        let future = service.oneshot(request);
        let reply_id = id.clone();
        let work = async move {
            let Ok(response) = future.await;
            middleware::encode(&reply_id, response)
        };
        self.answer_when_ready(id, collect, work, Follow::Untracked)
    }

    /// Answers request `id` with what `work` makes: at once, when `work` is ready on its first
    /// poll (no task is spawned), else from a task of its own. `None` answers nothing (the
    /// request was cancelled).
    pub(crate) fn answer_when_ready<F>(
        self: &Arc<Self>,
        id: RequestId,
        collect: Collect,
        work: F,
        follow: Follow,
    ) -> Option<Vec<u8>>
    where
        F: Future<Output = Option<Vec<u8>>> + Send + 'static,
    {
        let mut work = Box::pin(work);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if let Poll::Ready(reply) = work.as_mut().poll(&mut cx) {
            return reply;
        }
        let responder = Responder::new(id.clone(), Arc::clone(&self.link), collect);
        let task = async move {
            if let Some(reply) = work.await {
                responder.send(reply).await;
            }
        };
        match follow {
            Follow::Tracked => {
                self.link
                    .spawn_tracked(id, Arc::new(Cancel::default()), &OnceLock::new(), task);
            }
            Follow::Untracked => {
                tokio::spawn(task);
            }
        }
        None
    }

    /// Serves a request the era and the server's capabilities let through: the innermost
    /// service of the server's middleware.
    pub(crate) fn dispatch(
        self: &Arc<Self>,
        id: RequestId,
        method: Method,
        params: Params,
        req: Requester,
        collect: Collect,
    ) -> Option<Vec<u8>> {
        let core = &self.core;
        if let Method::ToolsCall | Method::PromptsGet = method {
            let call = params.into_call(method);
            return match method {
                Method::ToolsCall => self.call_tool(id, call, req, collect),
                _ => self.get_prompt(id, call, req, collect),
            };
        }
        let params = params.into_value();
        let answer = |r: Result<Vec<u8>, ErrorObject>| Some(r.unwrap_or_else(|e| encode_error(Some(&id), &e)));
        match method {
            Method::ServerDiscover => Some(encode_result(&id, &core.discover)),
            Method::ToolsList | Method::PromptsList | Method::ResourcesTemplatesList => {
                answer(FromParams::from_params(params).map(|p| self.list(&id, method, req.version, &p)))
            }
            Method::ResourcesList if core.lister.is_some() => self.list_dynamic(id, req.version, collect),
            Method::ResourcesList => {
                answer(FromParams::from_params(params).map(|p| self.list(&id, method, req.version, &p)))
            }
            Method::ResourcesRead => self.read_resource(id, params, req, collect),
            Method::ResourcesSubscribe | Method::ResourcesUnsubscribe => answer(
                FromParams::from_params(params).map(|p| self.subscribe(&id, method == Method::ResourcesSubscribe, p)),
            ),
            Method::SubscriptionsListen => answer(FromParams::from_params(params).map(|p| self.listen(&id, p))),
            Method::CompletionComplete => match FromParams::from_params(params) {
                Ok(p) => self.complete(id, p, req.version, collect),
                Err(e) => Some(encode_error(Some(&id), &e)),
            },
            Method::LoggingSetLevel => answer(FromParams::from_params(params).map(|p| self.set_level(&id, p))),
            Method::TasksGet | Method::TasksUpdate | Method::TasksCancel | Method::TasksResult | Method::TasksList => {
                self.task_method(id, method, params, req, collect)
            }
            // `gate` lets through only the methods above; `initialize` and `ping` are answered
            // before routing.
            other => Some(encode_error(Some(&id), &ErrorObject::method_not_found(other.as_str()))),
        }
    }

    fn notification(&self, method: &WireMethod, params: Option<&Value>) {
        match method {
            Ok(Method::Cancelled) => {
                if let Some(p) = CancelledParams::read(params) {
                    self.cancel_request(&p.request_id);
                }
            }
            Ok(Method::Initialized) => {}
            _ => tracing::debug!(method = wire_name(method), "ignored a notification"),
        }
    }
}

/// Why a batch is refused: only 2025-03-26 has batches.
pub(crate) fn batches_refused() -> ErrorObject {
    ErrorObject::invalid_request(
        "Invalid Request: JSON-RPC batches belong to protocol version 2025-03-26 only; send one message at a time",
    )
}
