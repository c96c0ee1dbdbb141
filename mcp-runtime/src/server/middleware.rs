//! Middleware: [tower](https://docs.rs/tower) layers around the requests a server serves.
//!
//! Every request the server serves (`tools/call`, `resources/read`, `prompts/get`, the lists,
//! `completion/complete`, the task methods, …; not `initialize` and `ping`) passes through the
//! layers given to [`Server::layer`](crate::Server::layer), outermost first, as a [`Request`]
//! whose method is typed and whose params can be read, changed or refused. The innermost service
//! is the server itself; what comes back is the result object, or the JSON-RPC error.
//!
//! - [`from_fn`] writes a layer as an async function of the request and the rest of the stack;
//! - [`on`] applies a layer to some methods only (`on([Method::ToolsCall], layer)`);
//! - tower's own layers work as they are: `ConcurrencyLimitLayer`, `RateLimitLayer` (behind a
//!   `BufferLayer`, which shares its state), `TimeoutLayer`, `LoadShedLayer`. An error from a
//!   layer becomes a `-32603` answer naming it.
//!
//! A server with no layers does not build a request or take this path at all.
//!
//! ```
//! use mcp_runtime::middleware::{self, Next, Request};
//! use mcp_runtime::Method;
//!
//! /// Logs how long each tool call took.
//! async fn timing(request: Request, next: Next) -> middleware::Response {
//!     let started = std::time::Instant::now();
//!     let tool = request.tool_name().map(str::to_owned);
//!     let response = next.run(request).await;
//!     eprintln!("{tool:?} took {:?}; ok: {}", started.elapsed(), response.is_ok());
//!     response
//! }
//!
//! let server = mcp_runtime::Server::new("timed", "1.0")
//!     .layer(middleware::on([Method::ToolsCall], middleware::from_fn(timing)));
//! ```

use crate::protocol::jsonrpc::{encode_error, encode_result_value};
use crate::protocol::{ClientCapabilities, ErrorObject, Method, ProtocolVersion, RequestId};
use crate::server::principal::Principal;
use serde_json::{Map, Value, json};
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use tokio::sync::oneshot;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt};

/// What a layer's service answers: the result object, or the JSON-RPC error.
pub type Response = Result<Value, ErrorObject>;

/// The service each layer wraps: the server, with the layers inside this one.
pub type McpService = BoxCloneSyncService<Request, Response, Infallible>;

/// A boxed future of a [`Response`].
pub type ResponseFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// Values layers attach to a request for the layers inside them, by type.
#[derive(Default)]
pub struct Extensions(HashMap<TypeId, Box<dyn Any + Send + Sync>>);

impl Extensions {
    /// Attaches `value`, returning the one of its type it replaces.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.0
            .insert(TypeId::of::<T>(), Box::new(value))
            .and_then(|old| old.downcast().ok().map(|b| *b))
    }

    /// The value of type `T`, if one is attached.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0.get(&TypeId::of::<T>()).and_then(|b| b.downcast_ref())
    }

    /// Removes and returns the value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.0
            .remove(&TypeId::of::<T>())
            .and_then(|b| b.downcast().ok().map(|b| *b))
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions").field("len", &self.0.len()).finish()
    }
}

/// One request, as middleware sees it.
pub struct Request {
    id: RequestId,
    method: Method,
    params: Option<Value>,
    version: ProtocolVersion,
    capabilities: Arc<ClientCapabilities>,
    principal: Option<Arc<Principal>>,
    extensions: Extensions,
    /// Where the innermost service sends it.
    route: Box<dyn Route>,
}

/// Where the innermost service sends a request: the server's own handling of it, on the
/// connection it came on. The connection implements it (`incoming.rs`), so that middleware,
/// below the connection in the layering, needs to know nothing of connections.
pub(crate) trait Route: Send + Sync {
    /// Serves the request: its answer now, or `None` and the answer later on `reply` (dropped
    /// unanswered when the request is cancelled).
    fn serve(
        self: Box<Self>,
        id: RequestId,
        method: Method,
        params: Option<Value>,
        reply: oneshot::Sender<Vec<u8>>,
    ) -> Option<Vec<u8>>;
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// A request as the connection hands it to the first layer.
    pub(crate) fn new(
        id: RequestId,
        method: Method,
        params: Option<Value>,
        version: ProtocolVersion,
        capabilities: Arc<ClientCapabilities>,
        principal: Option<Arc<Principal>>,
        route: Box<dyn Route>,
    ) -> Self {
        Self {
            id,
            method,
            params,
            version,
            capabilities,
            principal,
            extensions: Extensions::default(),
            route,
        }
    }

    /// The request's id.
    pub fn id(&self) -> &RequestId {
        &self.id
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The params, as sent, except the stateless era's own keys of `_meta` (its protocol
    /// version, client capabilities, client info and log level), which the server has read:
    /// see [`protocol_version`](Self::protocol_version).
    pub fn params(&self) -> Option<&Value> {
        self.params.as_ref()
    }

    /// The params, to change before the server sees them.
    pub fn params_mut(&mut self) -> &mut Option<Value> {
        &mut self.params
    }

    /// The protocol revision of the request.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.version
    }

    /// The capabilities the client declared (in the handshake, or on this request).
    pub fn client_capabilities(&self) -> &ClientCapabilities {
        &self.capabilities
    }

    /// Who made the request, when the HTTP endpoint verifies tokens.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_deref()
    }

    /// Values attached by outer layers.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Values to attach for inner layers.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    fn param_str(&self, key: &str) -> Option<&str> {
        self.params.as_ref()?.get(key)?.as_str()
    }

    /// `tools/call`: the tool's name.
    pub fn tool_name(&self) -> Option<&str> {
        (self.method == Method::ToolsCall)
            .then(|| self.param_str("name"))
            .flatten()
    }

    /// `prompts/get`: the prompt's name.
    pub fn prompt_name(&self) -> Option<&str> {
        (self.method == Method::PromptsGet)
            .then(|| self.param_str("name"))
            .flatten()
    }

    /// `resources/read`: the URI.
    pub fn uri(&self) -> Option<&str> {
        (self.method == Method::ResourcesRead)
            .then(|| self.param_str("uri"))
            .flatten()
    }

    /// `tools/call` and `prompts/get`: the arguments.
    pub fn arguments(&self) -> Option<&Map<String, Value>> {
        self.params.as_ref()?.get("arguments")?.as_object()
    }
}

/// The rest of the stack, for a [`from_fn`] layer to call.
#[derive(Clone)]
pub struct Next {
    inner: McpService,
}

impl fmt::Debug for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Next")
    }
}

impl Next {
    /// Passes the request on, and returns what comes back.
    pub async fn run(self, request: Request) -> Response {
        match self.inner.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// A layer from an async function of the request and the rest of the stack: see the module's
/// example.
pub fn from_fn<F, Fut>(f: F) -> FromFnLayer<F>
where
    F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    FromFnLayer { f }
}

/// The layer [`from_fn`] makes.
#[derive(Clone)]
pub struct FromFnLayer<F> {
    f: F,
}

impl<F> fmt::Debug for FromFnLayer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FromFnLayer")
    }
}

impl<F, Fut, S> Layer<S> for FromFnLayer<F>
where
    F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    type Service = FromFn<F>;

    fn layer(&self, inner: S) -> FromFn<F> {
        FromFn {
            f: self.f.clone(),
            next: Next {
                inner: BoxCloneSyncService::new(inner),
            },
        }
    }
}

/// The service a [`from_fn`] layer makes.
#[derive(Clone)]
pub struct FromFn<F> {
    f: F,
    next: Next,
}

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FromFn")
    }
}

impl<F, Fut> Service<Request> for FromFn<F>
where
    F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let fut = (self.f)(request, self.next.clone());
        Box::pin(async move { Ok(fut.await) })
    }
}

/// Applies `layer` to the requests of `methods` only; the others go straight on.
pub fn on<L>(methods: impl IntoIterator<Item = Method>, layer: L) -> On<L> {
    On {
        methods: Arc::new(methods.into_iter().collect()),
        layer,
    }
}

/// The layer [`on`] makes.
#[derive(Clone)]
pub struct On<L> {
    methods: Arc<Vec<Method>>,
    layer: L,
}

impl<L> fmt::Debug for On<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("On")
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

impl<L, S> Layer<S> for On<L>
where
    L: Layer<S>,
    S: Clone,
{
    type Service = OnService<S, L::Service>;

    fn layer(&self, inner: S) -> Self::Service {
        OnService {
            methods: Arc::clone(&self.methods),
            layered: self.layer.layer(inner.clone()),
            inner,
        }
    }
}

/// The service an [`on`] layer makes.
#[derive(Clone)]
pub struct OnService<S, T> {
    methods: Arc<Vec<Method>>,
    inner: S,
    layered: T,
}

impl<S, T> fmt::Debug for OnService<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnService")
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

impl<S, T> Service<Request> for OnService<S, T>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    T: Service<Request, Response = Response> + Clone + Send + 'static,
    T::Error: Into<tower::BoxError>,
    T::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if self.methods.contains(&request.method) {
            let layered = self.layered.clone();
            Box::pin(async move { Ok(answer_or_error(layered.oneshot(request).await)) })
        } else {
            let inner = self.inner.clone();
            Box::pin(async move { inner.oneshot(request).await })
        }
    }
}

/// A layer's own error (a timeout, a load shed) as the answer: `-32603`, naming it.
fn answer_or_error<E: Into<tower::BoxError>>(result: Result<Response, E>) -> Response {
    result.unwrap_or_else(|e| {
        Err(ErrorObject::internal(format!(
            "refused by the server's middleware: {}",
            e.into()
        )))
    })
}

/// Wraps a layer's service so that its own errors become answers: what
/// [`Server::layer`](crate::Server::layer) stacks.
#[derive(Clone)]
pub(crate) struct Answering<S>(pub(crate) S);

impl<S> Service<Request> for Answering<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<tower::BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // Readiness is awaited per request, on a clone: layers that share state across clones
        // (a concurrency limit, a buffer) hold their place for this request only.
        let service = self.0.clone();
        Box::pin(async move { Ok(answer_or_error(service.oneshot(request).await)) })
    }
}

/// The innermost service: the server's own handling of the request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Endpoint;

/// The answer of a request the client cancelled: none is sent.
fn cancelled() -> ErrorObject {
    ErrorObject::internal("the request was cancelled").with_data(json!({ CANCELLED: true }))
}

const CANCELLED: &str = "io.github.mcp-rust/cancelled";

impl Service<Request> for Endpoint {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let Request {
            id,
            method,
            params,
            route,
            ..
        } = request;
        let (tx, rx) = oneshot::channel();
        let now = route.serve(id, method, params, tx);
        Box::pin(async move {
            let bytes = match now {
                Some(bytes) => bytes,
                None => match rx.await {
                    Ok(bytes) => bytes,
                    Err(_) => return Ok(Err(cancelled())),
                },
            };
            Ok(decode(&bytes))
        })
    }
}

/// A JSON-RPC response's result or error.
fn decode(bytes: &[u8]) -> Response {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(mut message)) => match (message.remove("result"), message.remove("error")) {
            (Some(result), _) => Ok(result),
            (None, Some(error)) => {
                Err(serde_json::from_value(error).unwrap_or_else(|_| ErrorObject::internal("a malformed error")))
            }
            (None, None) => Err(ErrorObject::internal(
                "the server's answer had neither result nor error",
            )),
        },
        _ => Err(ErrorObject::internal("the server's answer was not a JSON-RPC response")),
    }
}

/// The JSON-RPC answer to request `id`: none for a request the client cancelled.
pub(crate) fn encode(id: &RequestId, response: Response) -> Option<Vec<u8>> {
    match response {
        Ok(result) => Some(encode_result_value(id, &result)),
        Err(e) if e.data.as_ref().and_then(|d| d.get(CANCELLED)).is_some() => None,
        Err(e) => Some(encode_error(Some(id), &e)),
    }
}

/// What [`Server::layer`](crate::Server::layer) keeps: how to wrap the stack in one more layer.
pub(crate) type Wrap = Box<dyn Fn(McpService) -> McpService + Send + Sync>;

/// Stacks `wraps` around the server, the first outermost.
pub(crate) fn stack(wraps: &[Wrap]) -> Option<McpService> {
    if wraps.is_empty() {
        return None;
    }
    let mut service = BoxCloneSyncService::new(Endpoint);
    for wrap in wraps.iter().rev() {
        service = wrap(service);
    }
    Some(service)
}

/// The wrap of one layer.
pub(crate) fn wrap<L>(layer: L) -> Wrap
where
    L: Layer<McpService> + Send + Sync + 'static,
    L::Service: Service<Request, Response = Response> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Error: Into<tower::BoxError>,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    Box::new(move |inner| BoxCloneSyncService::new(Answering(layer.layer(inner))))
}
