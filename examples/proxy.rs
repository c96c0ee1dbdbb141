//! A proxy in front of any MCP server: it serves what the upstream has and forwards each call
//! over one connection, relaying sampling, elicitation, roots, logs, progress and cancellation,
//! across protocol eras.
//!
//! ```text
//! cargo run --example proxy -- -- python -m my_server          # upstream over stdio, serve stdio
//! cargo run --example proxy -- --upstream http://127.0.0.1:8000/mcp --http 127.0.0.1:3000
//! cargo run --example proxy -- --upstream-era 2025-11-25 -- npx some-server
//! ```

use mcp::ProtocolVersion;
use mcp::client::Era;
use mcp::proxy::Upstream;

#[tokio::main]
async fn main() -> mcp::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (flags, command) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (&args[..], &[][..]),
    };
    let value_of = |flag: &str| flags.iter().position(|a| a == flag).and_then(|i| flags.get(i + 1));
    let upstream = match (value_of("--upstream"), command.split_first()) {
        (Some(url), _) => Upstream::url(url.as_str()),
        (None, Some((program, rest))) => Upstream::command(program, rest),
        (None, None) => {
            eprintln!("usage: proxy [--http ADDR] [--upstream-era VERSION] (--upstream URL | -- COMMAND ARGS…)");
            std::process::exit(2);
        }
    };
    let upstream = match value_of("--upstream-era").map(String::as_str) {
        None => upstream,
        Some("2026-07-28") => upstream.era(Era::Stateless),
        Some(version) => match ProtocolVersion::parse(version) {
            Some(v) => upstream.era(Era::Handshake(v)),
            None => return Err(mcp::Error::Config(format!("unknown protocol version `{version}`"))),
        },
    };
    let server = mcp::Server::proxy(upstream).await?;
    server.run().await // stdio, or `--http ADDR` (read before the `--`)
}
