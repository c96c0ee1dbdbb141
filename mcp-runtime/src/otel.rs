//! OpenTelemetry (feature `otel`): spans and metrics after the
//! [MCP semantic conventions](https://opentelemetry.io/docs/specs/semconv/gen-ai/mcp/), exported
//! over OTLP/HTTP.
//!
//! With the feature on, the server makes a `SERVER` span per request, named
//! `{mcp.method.name} {target}` (`tools/call add`), with `mcp.method.name`,
//! `mcp.protocol.version`, `mcp.session.id` (Streamable HTTP sessions), `jsonrpc.request.id`,
//! `gen_ai.tool.name`, `gen_ai.prompt.name`, `gen_ai.operation.name` (`execute_tool`),
//! `mcp.resource.uri`, `network.transport`, `network.protocol.name`, `error.type` and
//! `rpc.response.status_code`. Its parent is the trace context in the request's `params._meta`
//! (`traceparent`, `tracestate`, `baggage`), else the HTTP request's headers. The server's own
//! requests to the client (sampling, elicitation, roots) get `CLIENT` spans whose context they
//! carry, and `inputRequests` carry the call's, so the client's model call joins the trace. It
//! records the `mcp.server.operation.duration` and `mcp.server.session.duration` histograms
//! (seconds, with the conventions' buckets) through the global meter provider.
//!
//! The spans are `tracing` spans: [`init`] installs a subscriber that exports them, or
//! [`Otel::layer`] adds the export to a subscriber of your own. Arguments, results and tokens are
//! never recorded.

use crate::error::{Error, Result};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as Pool;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Exports spans and metrics over OTLP/HTTP (protobuf) until dropped; dropping it flushes what
/// is left and shuts the exporters down.
///
/// Configured by the standard variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (default
/// `http://localhost:4318`), `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
/// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`,
/// `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_METRIC_EXPORT_INTERVAL`.
#[derive(Debug)]
pub struct Otel {
    traces: SdkTracerProvider,
    metrics: SdkMeterProvider,
}

impl Otel {
    /// Builds the OTLP exporters from the environment, makes them the global tracer and meter
    /// providers, and sets the W3C trace context and baggage propagator as the global one.
    /// Call it inside the Tokio runtime: the exports are sent on it.
    pub fn from_env() -> Result<Self> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Config("mcp::otel: start OpenTelemetry inside the Tokio runtime".into()))?;
        let client = TokioHttp::new(runtime);
        let failed = |e: opentelemetry_otlp::ExporterBuildError| Error::Config(format!("mcp::otel: {e}"));
        let spans = SpanExporter::builder()
            .with_http()
            .with_http_client(client.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(failed)?;
        let metrics = MetricExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(failed)?;
        let resource = Resource::builder().build();
        let traces = SdkTracerProvider::builder()
            .with_batch_exporter(spans)
            .with_resource(resource.clone())
            .build();
        let metrics = SdkMeterProvider::builder()
            .with_periodic_exporter(metrics)
            .with_resource(resource)
            .build();
        opentelemetry::global::set_tracer_provider(traces.clone());
        opentelemetry::global::set_meter_provider(metrics.clone());
        opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ]));
        Ok(Self { traces, metrics })
    }

    /// The `tracing` layer that exports spans through these providers: add it to a subscriber
    /// of your own (`tracing_subscriber::registry().with(otel.layer())`).
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        // The conventions' attributes only: no source location, thread or idle time.
        tracing_opentelemetry::layer()
            .with_tracer(self.traces.tracer("mcp"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
    }
}

impl Drop for Otel {
    fn drop(&mut self) {
        // Errors here only say that an export failed or was already shut down.
        let _ = self.traces.shutdown();
        let _ = self.metrics.shutdown();
    }
}

/// Starts OpenTelemetry in one line: [`Otel::from_env`], then a global `tracing` subscriber that
/// exports spans (see [`Otel::layer`] to keep a subscriber of your own). Keep the returned value
/// until the server stops: dropping it flushes the last spans and metrics.
pub fn init() -> Result<Otel> {
    let otel = Otel::from_env()?;
    let subscriber = tracing_subscriber::registry().with(otel.layer());
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| Error::Config(format!("mcp::otel: {e}; use Otel::layer with your subscriber")))?;
    Ok(otel)
}

/// Sends the exporters' requests with hyper on the Tokio runtime. The SDK exports from threads
/// of its own, outside any runtime, so each request is spawned onto the runtime and awaited.
#[derive(Clone, Debug)]
struct TokioHttp {
    runtime: tokio::runtime::Handle,
    pool: Pool<HttpConnector, Full<Bytes>>,
}

impl TokioHttp {
    fn new(runtime: tokio::runtime::Handle) -> Self {
        let pool = Pool::builder(TokioExecutor::new()).build(HttpConnector::new());
        Self { runtime, pool }
    }
}

impl HttpClient for TokioHttp {
    // The shape `#[async_trait]` gives the trait's method.
    fn send_bytes<'a, 'f>(
        &'a self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = std::result::Result<Response<Bytes>, HttpError>> + Send + 'f>>
    where
        'a: 'f,
        Self: 'f,
    {
        let pool = self.pool.clone();
        let sent = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let exchange = async {
                let response = pool.request(Request::from_parts(parts, Full::new(body))).await?;
                let (parts, body) = response.into_parts();
                let body = body.collect().await?.to_bytes();
                Ok::<_, HttpError>(Response::from_parts(parts, body))
            };
            tokio::time::timeout(EXPORT_TIMEOUT, exchange)
                .await
                .unwrap_or_else(|_| Err("the OTLP export timed out".into()))
        });
        Box::pin(async move { sent.await.map_err(|e| Box::new(e) as HttpError)? })
    }
}
