//! Helpers shared by the integration tests: a server on an in-memory transport, reached either
//! through `mcp::client` or as raw JSON-RPC frames.
#![allow(dead_code, unreachable_pub)]

use mcp::client::{Client, ClientOptions, Era};
use mcp::transport::memory::{self, MemoryTransport};
use mcp::transport::{FrameReader, FrameWriter, ReadFrame, Transport};
use serde_json::{Value, json};
use std::time::Duration;

/// The binary of example `name`, built if need be (`cargo test` builds examples; a filtered
/// run may not).
pub fn example(name: &str) -> std::path::PathBuf {
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", name])
        .status()
        .expect("cargo runs");
    assert!(status.success());
    let mut dir = std::env::current_exe().unwrap();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("examples").join(name)
}

/// Starts `server` on one end of an in-memory pair and returns the other end.
pub fn start(server: mcp::Server) -> MemoryTransport {
    let (ours, theirs) = memory::pair();
    let service = server.build().expect("the server is valid");
    tokio::spawn(async move { service.serve(theirs).await });
    ours
}

/// A connected `mcp::client` speaking `era`.
pub async fn client(server: mcp::Server, era: Era) -> Client {
    Client::connect(start(server), ClientOptions::default().era(era))
        .await
        .expect("connects")
}

/// Raw frames to and from a server: for what a well-behaved client never sends.
pub struct Raw {
    reader: mcp::transport::memory::MemoryReader,
    writer: mcp::transport::memory::MemoryWriter,
}

impl Raw {
    pub fn new(server: mcp::Server) -> Self {
        let (reader, writer) = start(server).split();
        Self { reader, writer }
    }

    /// Another connection to an already built service (clients of one server).
    pub fn connect(service: &mcp::Service) -> Self {
        let (ours, theirs) = memory::pair();
        let service = service.clone();
        tokio::spawn(async move { service.serve(theirs).await });
        let (reader, writer) = ours.split();
        Self { reader, writer }
    }

    pub async fn send(&mut self, frame: impl Into<Vec<u8>>) {
        self.writer
            .write_frames(&mut vec![frame.into()])
            .await
            .expect("the server is reading");
    }

    pub async fn send_json(&mut self, message: Value) {
        self.send(serde_json::to_vec(&message).unwrap()).await;
    }

    /// The next frame the server sends, within ten seconds (a bound on a hang, not a timing).
    pub async fn recv(&mut self) -> Value {
        match tokio::time::timeout(Duration::from_secs(10), self.reader.read_frame()).await {
            Ok(Ok(Some(ReadFrame::Message(bytes)))) => serde_json::from_slice(&bytes).expect("the server sends JSON"),
            other => panic!("expected a frame from the server, got {other:?}"),
        }
    }

    /// Sends a request and returns the server's next frame.
    pub async fn call(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send_json(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        self.recv().await
    }

    /// Runs the handshake at `version`.
    pub async fn initialize(&mut self, version: &str) -> Value {
        let r = self
            .call(
                0,
                "initialize",
                json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}),
            )
            .await;
        self.send_json(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        r
    }
}

/// The `_meta` of a stateless-era request.
pub fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"}
    })
}

/// `params` with the stateless `_meta` added.
pub fn modern(mut params: Value) -> Value {
    params["_meta"] = modern_meta();
    params
}

/// The error code of a response.
pub fn code(response: &Value) -> i64 {
    response["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected an error, got {response}"))
}
