//! An MCP server that reports to OpenTelemetry: a span per request after the MCP semantic
//! conventions, joined to the client's trace, exported over OTLP/HTTP with the duration
//! histograms. `cargo run --example otel --features otel` serves stdio; with
//! `-- --http 127.0.0.1:3000` it serves Streamable HTTP. Where it exports is set by the standard
//! variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, default `http://localhost:4318`; `OTEL_SERVICE_NAME`).

use mcp::Context;

/// Add two numbers.
#[mcp::tool(read_only)]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Divide one number by another; dividing by zero is a tool error.
#[mcp::tool(read_only)]
fn divide(dividend: f64, divisor: f64) -> Result<f64, String> {
    if divisor == 0.0 {
        return Err("cannot divide by zero".into());
    }
    Ok(dividend / divisor)
}

/// Summarize a text in one line, with the connected client's own model: its request carries
/// the trace context, so the client's model call joins the trace.
#[mcp::tool(read_only)]
async fn summarize(ctx: Context, text: String) -> mcp::Result<String> {
    let reply = ctx
        .sample(format!("Summarize in one line:\n{text}"))
        .max_tokens(200)
        .await?;
    Ok(reply.text())
}

#[tokio::main]
async fn main() -> mcp::Result<()> {
    // Kept to the end: dropping it exports the last spans and metrics.
    let _otel = mcp::otel::init()?;
    // stdio, or `--http ADDR` (see `mcp::RunMode`).
    mcp::Server::new("otel", env!("CARGO_PKG_VERSION"))
        .tools(mcp::tools![add, divide, summarize])
        .run()
        .await
}
