//! Forwards `tracing` events emitted while a handler runs to that request's client.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt as _;
//! let subscriber = tracing_subscriber::registry().with(mcp_runtime::ClientLogLayer::default());
//! tracing::subscriber::set_global_default(subscriber).unwrap();
//! ```
//!
//! Inside a tool, `tracing::info!("…")` then reaches the client as `notifications/message`, under
//! the same rules as `ctx.info(..)`: the level the client set (handshake era) or asked for in the
//! request's `_meta` (stateless era). Events outside any request, or in tasks the handler spawned,
//! are not forwarded.

use super::context::{Context, LogLevel};
use serde_json::{Map, Value, json};
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{self, Layer};

tokio::task_local! {
    /// The context of the request whose handler is running.
    static CURRENT: Context;
}

/// Runs `fut` with `ctx` as the current request (for [`ClientLogLayer`]).
pub(crate) async fn scope<F: std::future::Future>(ctx: Context, fut: F) -> F::Output {
    CURRENT.scope(ctx, fut).await
}

/// A `tracing` layer that sends events inside a request to its client (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientLogLayer;

impl<S: Subscriber> Layer<S> for ClientLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: layer::Context<'_, S>) {
        let Ok(ctx) = CURRENT.try_with(Context::clone) else {
            return;
        };
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warning,
            tracing::Level::INFO => LogLevel::Info,
            _ => LogLevel::Debug,
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut data = fields.0;
        data.insert("target".into(), json!(event.metadata().target()));
        ctx.log(level, Value::Object(data));
    }
}

#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), json!(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), json!(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), json!(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), json!(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), json!(value));
    }
}
