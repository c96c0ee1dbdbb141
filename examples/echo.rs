//! The benchmark server: `echo(text)`, `ask(text)` (one sampling round trip to the client's
//! model), `job(text)` (a task) and, with `--lookup REDIS_URL`, `lookup(key)` (one Redis `GET`),
//! written as a user would write them. `cargo run --release --example echo` serves stdio;
//! with `-- --http 127.0.0.1:PORT` it serves Streamable HTTP at `/mcp`, so that any load
//! generator can be pointed at it (`--sessionless`: `initialize` opens no session);
//! `--redis URL` (built with `--features redis`) keeps its state in Redis, as a fleet's replica
//! would. `bench/` measures it against rmcp and a hand-written floor.

use mcp::{Context, State};

/// Return the text unchanged.
#[mcp::tool(read_only, idempotent)]
async fn echo(text: String) -> String {
    text
}

/// Ask the client's model about the text and return its answer.
#[mcp::tool(read_only)]
async fn ask(ctx: Context, text: String) -> mcp::Result<String> {
    Ok(ctx.sample(text).max_tokens(64).await?.text())
}

/// Return the text after one yield: a task when the client can take one (the tasks benchmark).
#[mcp::tool(read_only, task = "optional")]
async fn job(text: String) -> String {
    tokio::task::yield_now().await;
    text
}

/// The Redis that `lookup` reads.
#[derive(Clone)]
struct Data(redis::aio::ConnectionManager);

/// Read one key from Redis: an I/O-bound tool, as the session-per-call benchmark calls.
#[mcp::tool(read_only)]
async fn lookup(data: State<Data>, key: String) -> Result<String, redis::RedisError> {
    let mut conn = data.0.clone();
    let value: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
    Ok(value.unwrap_or_default())
}

#[tokio::main]
async fn main() -> mcp::Result<()> {
    let server = mcp::Server::new("echo", env!("CARGO_PKG_VERSION")).tools(mcp::tools![echo, ask, job]);
    let args: Vec<String> = std::env::args().collect();
    let value_of = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    // `--lookup URL`: the Redis that `lookup` reads (the session-per-call benchmark).
    let server = match value_of("--lookup") {
        Some(url) => {
            let config = |e: redis::RedisError| mcp::Error::Config(format!("--lookup {url}: {e}"));
            let client = redis::Client::open(url.as_str()).map_err(config)?;
            let data = client.get_connection_manager().await.map_err(config)?;
            server.state(Data(data)).tools(mcp::tools![lookup])
        }
        None => server,
    };
    // `--redis URL` (with `--features redis`): the store of a fleet, for the benchmark's Redis
    // column.
    let server = match value_of("--redis") {
        #[cfg(feature = "redis")]
        Some(url) => server.store(mcp::store::RedisStore::open(url)?),
        #[cfg(not(feature = "redis"))]
        Some(_) => return Err(mcp::Error::Config("--redis needs the `redis` feature".into())),
        None => server,
    };
    // `--http ADDR` serves Streamable HTTP (see `mcp::RunMode`), else stdio. `--sessionless`:
    // handshake-era clients without sessions, each POST on its own.
    if args.iter().any(|a| a == "--sessionless") {
        server
            .run_with(mcp::http::HttpOptions::default().without_sessions())
            .await
    } else {
        server.run().await
    }
}
