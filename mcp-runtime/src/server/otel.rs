//! OpenTelemetry instrumentation (feature `otel`), after the MCP semantic conventions
//! (<https://opentelemetry.io/docs/specs/semconv/gen-ai/mcp/>): a `SERVER` span per request, its
//! parent read from `params._meta` (else from the HTTP request's headers), a `CLIENT` span for
//! each of the server's own requests to the client, trace context written into those and into
//! `inputRequests`, and the `mcp.server.operation.duration` and `mcp.server.session.duration`
//! histograms.
//!
//! Nothing here runs without the feature: every call site is `#[cfg(feature = "otel")]`.
//!
//! A request's [`Operation`] is made when the connection reads it and is ended by the answer: at
//! once when the reader answers inline, else by the [`Responder`](super::engine::parked::Responder)
//! that carries the answer later, which takes the operation while the request is being routed
//! (the reader's thread holds it in [`ROUTING`] meanwhile, so no signature on the way changes).

use crate::protocol::method::{WireMethod, wire_name};
use crate::protocol::params::Params;
use crate::protocol::{Method, ProtocolVersion, RequestId};
use opentelemetry::metrics::Histogram;
use opentelemetry::propagation::{Extractor, Injector, TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::sync::{LazyLock, OnceLock};
use std::time::Instant;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The bucket boundaries, in seconds, the conventions give both duration histograms.
const BOUNDARIES: [f64; 14] = [
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// W3C trace context and baggage: the `_meta` keys the conventions name (`traceparent`,
/// `tracestate`, `baggage`), whatever global propagator the application set.
static PROPAGATOR: LazyLock<TextMapCompositePropagator> = LazyLock::new(|| {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
});

struct Instruments {
    operation: Histogram<f64>,
    session: Histogram<f64>,
}

/// Made on first use, from the global meter provider of that moment.
static INSTRUMENTS: LazyLock<Instruments> = LazyLock::new(|| {
    let meter = opentelemetry::global::meter("mcp");
    Instruments {
        operation: meter
            .f64_histogram("mcp.server.operation.duration")
            .with_unit("s")
            .with_description(
                "MCP request or notification duration as observed on the receiver from the time it was received until the result or ack is sent.",
            )
            .with_boundaries(BOUNDARIES.to_vec())
            .build(),
        session: meter
            .f64_histogram("mcp.server.session.duration")
            .with_unit("s")
            .with_description("The duration of the MCP session as observed on the MCP server.")
            .with_boundaries(BOUNDARIES.to_vec())
            .build(),
    }
});

/// The transport a connection's messages arrive on, as `network.*` attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// stdio, or in memory: `network.transport = pipe`.
    Pipe,
    /// Streamable HTTP: `network.transport = tcp`, `network.protocol.name = http`.
    Http,
}

impl Transport {
    fn attributes(self, into: &mut Vec<KeyValue>) {
        match self {
            Self::Pipe => into.push(KeyValue::new("network.transport", "pipe")),
            Self::Http => {
                into.push(KeyValue::new("network.transport", "tcp"));
                into.push(KeyValue::new("network.protocol.name", "http"));
            }
        }
    }
}

/// One request being served: its span, when it arrived, and the attributes its duration is
/// recorded with.
#[derive(Debug)]
pub(crate) struct Operation {
    span: Span,
    start: Instant,
    /// `mcp.method.name`, `gen_ai.*`, `network.*`, later `mcp.protocol.version`.
    metric_attributes: Vec<KeyValue>,
}

/// What names a request's target, read from its params.
fn target(method: &WireMethod, params: &Params) -> (Option<&'static str>, Option<String>) {
    let field = |key: &str| params.str_field(key).map(str::to_owned);
    match method {
        Ok(Method::ToolsCall) => (Some("gen_ai.tool.name"), field("name")),
        Ok(Method::PromptsGet) => (Some("gen_ai.prompt.name"), field("name")),
        Ok(Method::ResourcesRead | Method::ResourcesSubscribe | Method::ResourcesUnsubscribe) => {
            (Some("mcp.resource.uri"), field("uri"))
        }
        _ => (None, None),
    }
}

/// A carrier over `params._meta`.
struct Meta<'a>(&'a Map<String, Value>);

impl Extractor for Meta<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The remote parent a request names in `params._meta`, if it names a valid one.
fn parent_from_meta(params: &Params) -> Option<Context> {
    let meta = params.meta()?;
    meta.get("traceparent")?;
    let cx = PROPAGATOR.extract(&Meta(meta));
    cx.span().span_context().is_valid().then_some(cx)
}

impl Operation {
    /// Starts the span of request `id` (`None`: a notification). Its parent is the context in
    /// `params._meta`; else the ambient context (the HTTP request's headers, see
    /// [`http_context`]) when it is valid; else the current `tracing` span, if any.
    pub(crate) fn start(
        id: Option<&RequestId>,
        method: &WireMethod,
        params: &Params,
        transport: Transport,
        session_id: Option<&str>,
    ) -> Self {
        let start = Instant::now();
        let name = wire_name(method);
        let (target_key, target) = target(method, params);
        // Resource URIs are high-cardinality: attributes, never the span's name.
        let span_name = match (target_key, &target) {
            (Some("gen_ai.tool.name" | "gen_ai.prompt.name"), Some(t)) => format!("{name} {t}"),
            _ => name.to_owned(),
        };
        let is_tool = matches!(method, Ok(Method::ToolsCall));
        let span = tracing::info_span!(
            "mcp.request",
            otel.name = %span_name,
            otel.kind = "server",
            mcp.method.name = name,
            mcp.protocol.version = tracing::field::Empty,
            mcp.session.id = session_id,
            jsonrpc.request.id = id.map(|id| tracing::field::display(RequestIdText(id))),
            gen_ai.operation.name = is_tool.then_some("execute_tool"),
            error.type = tracing::field::Empty,
            rpc.response.status_code = tracing::field::Empty,
        );
        // Set before anything else touches the span, which may start it.
        let parent = parent_from_meta(params).or_else(|| {
            let ambient = Context::current();
            ambient.span().span_context().is_valid().then_some(ambient)
        });
        if let Some(parent) = parent {
            let _ = span.set_parent(parent);
        }
        let mut metric_attributes = vec![KeyValue::new("mcp.method.name", name.to_owned())];
        if is_tool {
            metric_attributes.push(KeyValue::new("gen_ai.operation.name", "execute_tool"));
        }
        if let (Some(key), Some(value)) = (target_key, target) {
            span.set_attribute(key, value.clone());
            // `mcp.resource.uri` is opt-in on the metric: high cardinality.
            if key != "mcp.resource.uri" {
                metric_attributes.push(KeyValue::new(key, value));
            }
        }
        transport.attributes(&mut metric_attributes);
        for kv in &metric_attributes {
            if kv.key.as_str().starts_with("network.") {
                span.set_attribute(kv.key.clone(), kv.value.clone());
            }
        }
        Self {
            span,
            start,
            metric_attributes,
        }
    }

    /// The request's span.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// Records the protocol version the request is served in, once its era is known.
    pub(crate) fn version(&mut self, version: ProtocolVersion) {
        self.span.record("mcp.protocol.version", version.as_str());
        self.metric_attributes
            .push(KeyValue::new("mcp.protocol.version", version.as_str()));
    }

    /// Ends the operation with its answer (`None`: a notification, which has none):
    /// `error.type` (the JSON-RPC error code, or `tool_error` for a tool result with `isError`),
    /// the span's status, and the duration.
    pub(crate) fn finish(mut self, reply: Option<&[u8]>) {
        if let Some(failure) = reply.and_then(failure) {
            let (error_type, message) = match failure {
                Failure::Code(code, message) => {
                    let code = code.to_string();
                    self.span.record("rpc.response.status_code", code.as_str());
                    (code, message)
                }
                Failure::ToolError => ("tool_error".to_owned(), String::new()),
            };
            self.span.record("error.type", error_type.as_str());
            self.span.set_status(Status::error(message));
            self.metric_attributes.push(KeyValue::new("error.type", error_type));
        }
        INSTRUMENTS
            .operation
            .record(self.start.elapsed().as_secs_f64(), &self.metric_attributes);
    }
}

/// `jsonrpc.request.id`: a string id as it is, not quoted.
struct RequestIdText<'a>(&'a RequestId);

impl std::fmt::Display for RequestIdText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            RequestId::String(s) => f.write_str(s),
            other => other.fmt(f),
        }
    }
}

/// How an answer failed.
enum Failure {
    /// A JSON-RPC error, its code and message.
    Code(i64, String),
    /// A tool result with `isError: true`.
    ToolError,
}

/// Reads just enough of an answer to tell whether it failed.
fn failure(reply: &[u8]) -> Option<Failure> {
    #[derive(serde::Deserialize)]
    struct Reply {
        error: Option<Error>,
        result: Option<Outcome>,
    }
    #[derive(serde::Deserialize)]
    struct Error {
        code: i64,
        #[serde(default)]
        message: String,
    }
    #[derive(serde::Deserialize)]
    struct Outcome {
        #[serde(rename = "isError", default)]
        is_error: bool,
    }
    let reply: Reply = serde_json::from_slice(reply).ok()?;
    match (reply.error, reply.result) {
        (Some(e), _) => Some(Failure::Code(e.code, e.message)),
        (None, Some(Outcome { is_error: true })) => Some(Failure::ToolError),
        _ => None,
    }
}

thread_local! {
    /// The operation of the request the reader of this thread is routing now.
    static ROUTING: RefCell<Option<Operation>> = const { RefCell::new(None) };
}

/// Routes a request with `op` at hand: `route` runs inside its span, and a
/// [`Responder`](super::engine::parked::Responder) made meanwhile takes it ([`take_routing`]).
/// When `route` answers at once, the operation ends with that answer.
pub(crate) fn routing(op: Operation, route: impl FnOnce() -> Option<Vec<u8>>) -> Option<Vec<u8>> {
    let span = op.span().clone();
    let outer = ROUTING.with(|slot| slot.borrow_mut().replace(op));
    let reply = span.in_scope(route);
    let left = ROUTING.with(|slot| std::mem::replace(&mut *slot.borrow_mut(), outer));
    if let (Some(op), Some(reply)) = (left, &reply) {
        op.finish(Some(reply));
    }
    reply
}

/// Records the era's protocol version on the request being routed.
pub(crate) fn routing_version(version: ProtocolVersion) {
    ROUTING.with(|slot| {
        if let Some(op) = slot.borrow_mut().as_mut() {
            op.version(version);
        }
    });
}

/// Takes the operation of the request being routed: its answer will come later, from whoever
/// takes it.
pub(crate) fn take_routing() -> Option<Operation> {
    ROUTING.with(|slot| slot.borrow_mut().take())
}

/// Runs `future` in the trace context of the request being served (the current span), without
/// holding that span open: the span ends with its request's answer, while a stateless-era call
/// may go on after answering `input_required`. Spans the handler makes are its children, and its
/// requests to the client carry its context.
pub(crate) fn in_request_context<F: std::future::Future>(future: F) -> opentelemetry::context::WithContext<F> {
    opentelemetry::context::FutureExt::with_context(future, Span::current().context())
}

/// The trace context to pass on: the current span's, else the ambient OpenTelemetry context.
fn current_context() -> Context {
    let cx = Span::current().context();
    if cx.span().span_context().is_valid() {
        cx
    } else {
        Context::current()
    }
}

/// A carrier that writes into a `_meta` object.
struct MetaMut<'a>(&'a mut Map<String, Value>);

impl Injector for MetaMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        // An empty `tracestate` or `baggage` says nothing.
        if !value.is_empty() {
            self.0.insert(key.to_owned(), Value::String(value));
        }
    }
}

/// `params` with the current span's trace context written into its `_meta` (made if missing),
/// so that the client's work on an input request (sampling, elicitation, roots) joins the
/// trace; `None` when there is no span to add.
pub(crate) fn inject_raw(params: &RawValue) -> Option<Box<RawValue>> {
    inject_context_raw(&current_context(), params)
}

/// [`inject_context`] for params kept as text: `None` when `cx` names no span.
fn inject_context_raw(cx: &Context, params: &RawValue) -> Option<Box<RawValue>> {
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut value: Value = serde_json::from_str(params.get()).ok()?;
    inject_context(cx, &mut value);
    serde_json::value::to_raw_value(&value).ok()
}

/// Writes `cx` into `params._meta`, when it names a span.
fn inject_context(cx: &Context, params: &mut Value) {
    if !cx.span().span_context().is_valid() {
        return;
    }
    let Some(params) = params.as_object_mut() else {
        return;
    };
    let meta = params.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
    if let Some(meta) = meta.as_object_mut() {
        PROPAGATOR.inject_context(cx, &mut MetaMut(meta));
    }
}

/// A request the server sends the client (handshake era): a `CLIENT` span, as the conventions
/// have the side that sends a request report it, named `{mcp.method.name}`.
#[derive(Debug)]
pub(crate) struct Outgoing {
    span: Span,
}

impl Outgoing {
    /// Starts the span of request `id`, a child of the request being served.
    pub(crate) fn start(method: &str, id: &RequestId) -> Self {
        let span = tracing::info_span!(
            "mcp.client_request",
            otel.name = method,
            otel.kind = "client",
            mcp.method.name = method,
            jsonrpc.request.id = %RequestIdText(id),
            error.type = tracing::field::Empty,
        );
        let parent = current_context();
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
        Self { span }
    }

    /// Writes this span's context into the request's `params._meta`.
    /// [`Outgoing::inject`] for params kept as text: `None` when there is no span to add.
    pub(crate) fn inject_raw(&self, params: &RawValue) -> Option<Box<RawValue>> {
        inject_context_raw(&self.span.context(), params)
    }

    /// Ends the span with the client's answer: `error.type` when it failed.
    pub(crate) fn finish(self, error: Option<&crate::error::Error>) {
        use crate::error::Error;
        let Some(error) = error else {
            return;
        };
        let (error_type, message) = match error {
            Error::Protocol(e) => (e.code.to_string(), e.message.clone()),
            Error::Timeout => ("timeout".to_owned(), error.to_string()),
            other => ("_OTHER".to_owned(), other.to_string()),
        };
        self.span.record("error.type", error_type.as_str());
        self.span.set_status(Status::error(message));
    }
}

/// The trace context an HTTP request's headers carry (`traceparent`, `tracestate`, `baggage`).
#[cfg(feature = "http")]
pub(crate) fn http_context(headers: &axum::http::HeaderMap) -> Context {
    PROPAGATOR.extract(&opentelemetry_http::HeaderExtractor(headers))
}

/// A connection's session clock: `mcp.server.session.duration` is recorded when a connection
/// whose handshake succeeded goes away.
#[derive(Debug)]
pub(crate) struct SessionClock {
    start: Instant,
    transport: Transport,
    version: OnceLock<ProtocolVersion>,
}

impl SessionClock {
    pub(crate) fn new(transport: Transport) -> Self {
        Self {
            start: Instant::now(),
            transport,
            version: OnceLock::new(),
        }
    }

    /// Marks the handshake done: the session counts from now on.
    pub(crate) fn initialized(&self, version: ProtocolVersion) {
        let _ = self.version.set(version);
    }

    /// The transport of this connection.
    pub(crate) fn transport(&self) -> Transport {
        self.transport
    }
}

impl Drop for SessionClock {
    fn drop(&mut self) {
        let Some(version) = self.version.get() else {
            return;
        };
        let mut attributes = vec![KeyValue::new("mcp.protocol.version", version.as_str())];
        self.transport.attributes(&mut attributes);
        INSTRUMENTS
            .session
            .record(self.start.elapsed().as_secs_f64(), &attributes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_read_from_the_answer() {
        assert!(matches!(
            failure(br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad"}}"#),
            Some(Failure::Code(-32602, m)) if m == "bad"
        ));
        assert!(matches!(
            failure(br#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}}"#),
            Some(Failure::ToolError)
        ));
        assert!(
            failure(br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"\"isError\":true"}]}}"#)
                .is_none()
        );
    }

    #[test]
    fn meta_parents_only_when_valid() {
        let params =
            serde_json::json!({"_meta": {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
        let cx = parent_from_meta(&Params::Value(Some(params))).expect("a valid parent");
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let bad = serde_json::json!({"_meta": {"traceparent": "nonsense"}});
        assert!(parent_from_meta(&Params::Value(Some(bad))).is_none());
        assert!(parent_from_meta(&Params::default()).is_none());
    }
}
