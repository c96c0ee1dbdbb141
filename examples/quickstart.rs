//! An MCP server with a few tools. `cargo run --example quickstart` serves stdio; with
//! `-- --http 127.0.0.1:3000` it serves Streamable HTTP at `http://127.0.0.1:3000/mcp`. With
//! `--features redis` and `-- --http ADDR --redis redis://127.0.0.1:6379/` it is one replica of
//! a fleet, sharing `MCP_STATE_KEY` (64 hex digits) and the Redis store with the others.
//! `--no-sessions` serves handshake-era clients without sessions (each POST on its own).
//!
//! `summarize` asks the *client's* model for a completion and `reset` asks its user to confirm:
//! the server needs no model of its own, in either protocol era.

use mcp::{Context, Elicitation, Json, JsonSchema, State};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// Add two numbers.
#[mcp::tool(read_only, idempotent)]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Divide one number by another.
///
/// # Arguments
/// * `dividend` - the number to divide
/// * `divisor` - what to divide it by; must not be zero
#[mcp::tool(read_only)]
fn divide(dividend: f64, divisor: f64) -> Result<f64, String> {
    if divisor == 0.0 {
        return Err("cannot divide by zero".into());
    }
    Ok(dividend / divisor)
}

/// Statistics of a list of numbers.
#[derive(Serialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Stats {
    /// How many numbers there were.
    count: usize,
    /// Their sum.
    sum: f64,
    /// Their mean, if there were any.
    mean: Option<f64>,
}

/// Count, sum and average a list of numbers.
#[mcp::tool(read_only)]
async fn stats(numbers: Vec<f64>) -> Json<Stats> {
    let sum: f64 = numbers.iter().sum();
    let count = numbers.len();
    Json(Stats {
        count,
        sum,
        mean: (count > 0).then(|| sum / count as f64),
    })
}

/// How a greeting sounds.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(crate = "mcp::schemars")]
enum Tone {
    Friendly,
    Formal,
}

/// Greet someone.
///
/// # Arguments
/// * `name` - who to greet
/// * `tone` - how; friendly unless given
#[mcp::tool(read_only)]
async fn greet(name: String, tone: Option<Tone>) -> String {
    match tone.unwrap_or(Tone::Friendly) {
        Tone::Friendly => format!("Hi {name}!"),
        Tone::Formal => format!("Good day, {name}."),
    }
}

/// A counter shared by every call.
#[derive(Default)]
struct Counter {
    value: AtomicU64,
}

impl Counter {
    /// Add `by` to the shared counter and return its new value.
    #[mcp::tool]
    async fn increment(&self, ctx: Context, by: Option<u64>) -> u64 {
        let value = self.value.fetch_add(by.unwrap_or(1), Ordering::Relaxed) + by.unwrap_or(1);
        ctx.resource_updated(COUNTER);
        value
    }
}

const COUNTER: &str = "counter://value";

/// The shared counter's value: subscribe to hear when it changes.
#[mcp::resource("counter://value", mime = "text/plain")]
async fn counter(counter: State<Counter>) -> String {
    counter.value.load(Ordering::Relaxed).to_string()
}

/// Summarize a text in one line, with the connected client's own model.
#[mcp::tool(read_only)]
async fn summarize(ctx: Context, text: String) -> mcp::Result<String> {
    let reply = ctx
        .sample(format!("Summarize in one line:\n{text}"))
        .max_tokens(200)
        .await?;
    Ok(reply.text())
}

/// Research a topic with the connected client's own model, as a task the client polls: each
/// step shows as the task's status, and the model's answer ends it.
#[mcp::tool(read_only, task = "optional")]
async fn research(ctx: Context, topic: String, steps: Option<u32>) -> mcp::Result<String> {
    let steps = steps.unwrap_or(2).min(20);
    for step in 1..=steps {
        let status = format!("step {step} of {steps}: reading about {topic}");
        ctx.progress(f64::from(step), Some(f64::from(steps)), Some(&status));
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let reply = ctx
        .sample(format!("Write one line about {topic}."))
        .max_tokens(200)
        .await?;
    Ok(format!("Research on {topic}: {}", reply.text()))
}

/// The answer to "reset the counter?".
#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Confirm {
    /// Set the shared counter back to zero?
    confirm: bool,
}

/// Ask the user, then reset the shared counter to zero if they agree. A task when the client
/// can take one: the question waits in the task until the user answers.
#[mcp::tool(destructive, task = "optional")]
async fn reset(ctx: Context, counter: State<Counter>) -> mcp::Result<&'static str> {
    Ok(
        match ctx.elicit::<Confirm>("Reset the shared counter to zero?").await? {
            Elicitation::Accept(Confirm { confirm: true }) => {
                counter.value.store(0, Ordering::Relaxed);
                ctx.resource_updated(COUNTER);
                "The counter is back at 0."
            }
            Elicitation::Accept(_) | Elicitation::Decline => "The counter is unchanged.",
            Elicitation::Cancel => "Cancelled.",
        },
    )
}

/// The shared counter's value.
#[mcp::tool(read_only)]
async fn peek(counter: State<Counter>) -> u64 {
    counter.value.load(Ordering::Relaxed)
}

#[tokio::main]
async fn main() -> mcp::Result<()> {
    let server = mcp::Server::new("quickstart", env!("CARGO_PKG_VERSION"))
        .instructions("Arithmetic, summaries by your own model, and a shared counter.")
        .state(Counter::default())
        .tools(mcp::tools![
            add,
            divide,
            stats,
            greet,
            summarize,
            research,
            Counter::increment,
            peek,
            reset
        ])
        .resources(mcp::resources![counter]);
    let args: Vec<String> = std::env::args().collect();
    let value_of = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let server = match value_of("--redis") {
        Some(url) => join_fleet(server, url)?,
        None => server,
    };
    // `--http ADDR` serves Streamable HTTP (see `mcp::RunMode`), else stdio. Without sessions,
    // every handshake-era POST is served on its own (nothing to share in a fleet).
    if args.iter().any(|a| a == "--no-sessions") {
        server
            .run_with(mcp::http::HttpOptions::default().without_sessions())
            .await
    } else {
        server.run().await
    }
}

/// `--redis URL`: one replica of a fleet. Every replica shares the Redis store and the sealing
/// key, which comes from `MCP_STATE_KEY` (64 hex digits), so that a confirmed `reset` runs once
/// whichever replica sees the retry.
#[cfg(feature = "redis")]
fn join_fleet(server: mcp::Server, url: &str) -> mcp::Result<mcp::Server> {
    let hex = std::env::var("MCP_STATE_KEY").map_err(|_| {
        mcp::Error::Config(
            "--redis needs MCP_STATE_KEY: the sealing key every replica shares, 64 hex digits (`openssl rand -hex 32`)"
                .into(),
        )
    })?;
    let key = parse_key(hex.trim())
        .ok_or_else(|| mcp::Error::Config("MCP_STATE_KEY must be 64 hex digits (32 bytes)".into()))?;
    Ok(server.request_state_key(key).store(mcp::store::RedisStore::open(url)?))
}

#[cfg(not(feature = "redis"))]
fn join_fleet(_: mcp::Server, _: &str) -> mcp::Result<mcp::Server> {
    Err(mcp::Error::Config(
        "--redis needs the `redis` feature: cargo run --example quickstart --features redis -- --redis URL".into(),
    ))
}

/// 32 bytes from 64 hex digits.
#[cfg(feature = "redis")]
fn parse_key(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}
