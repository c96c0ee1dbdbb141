//! The dispatcher: any sequence of frames (one per line of the input), in either era, then a
//! `ping`. Whatever came before, the server must answer the ping: nothing a client sends may
//! crash it or stop it serving. Reaches `requestState` unsealing, URI-template matching,
//! argument checking and the sampling round trip through the same door a client uses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp::transport::memory;
use mcp::transport::{FrameReader, FrameWriter, ReadFrame, Transport};
use serde_json::Value;
use std::sync::LazyLock;
use std::time::Duration;

/// Add two numbers.
#[mcp::tool]
async fn add(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}

/// Asks the client's model.
#[mcp::tool]
async fn ask(ctx: mcp::Context, question: String) -> mcp::Result<String> {
    Ok(ctx.sample(question).await?.text())
}

/// A file by path.
#[mcp::resource("file:///{+path}")]
async fn file(path: String) -> String {
    path
}

/// Greets someone.
#[mcp::prompt]
async fn greet(name: String) -> String {
    format!("Hello, {name}")
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
});

static SERVICE: LazyLock<mcp::Service> = LazyLock::new(|| {
    mcp::Server::new("fuzz", "1")
        .tools(mcp::tools![add, ask])
        .resources(mcp::resources![file])
        .prompts(mcp::prompts![greet])
        .client_request_timeout(Duration::from_millis(50))
        .drain_timeout(Duration::from_millis(10))
        .build()
        .expect("a valid server")
});

const PING: &[u8] = br#"{"jsonrpc":"2.0","id":"fuzz-end","method":"ping"}"#;

fuzz_target!(|data: &[u8]| {
    RUNTIME.block_on(async {
        let (ours, theirs) = memory::pair();
        let service = &*SERVICE;
        let server = tokio::spawn(async move { service.serve(theirs).await });
        let (mut reader, mut writer) = ours.split();
        let mut frames: Vec<Vec<u8>> = data.split(|&b| b == b'\n').take(64).map(<[u8]>::to_vec).collect();
        frames.push(PING.to_vec());
        // Written beside the reads: a bounded channel must not deadlock the two directions.
        let writing = tokio::spawn(async move {
            let _ = writer.write_frames(&mut frames).await;
            writer
        });
        let answered = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match reader.read_frame().await {
                    Ok(Some(ReadFrame::Message(bytes))) => {
                        let value: Value = serde_json::from_slice(&bytes).expect("the server sends JSON");
                        if value["id"] == "fuzz-end" {
                            return;
                        }
                    }
                    other => panic!("the server stopped answering: {other:?}"),
                }
            }
        })
        .await;
        assert!(answered.is_ok(), "no answer to a ping after {data:?}");
        drop((reader, writing.await));
        let _ = server.await;
    });
});
