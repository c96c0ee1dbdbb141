//! Streamable HTTP's reading of a request: any headers (`Mcp-Method`, `Mcp-Name`,
//! `Mcp-Param-*` with plain or `=?base64?…?=` values, `MCP-Protocol-Version`, session ids, Host,
//! Origin) with any body, in either era. The input is header lines (`name: value`), a blank line,
//! then the body. Whatever came in, the answer is a 2xx or 4xx (never a 5xx or a panic), and the
//! router then answers a valid call.
#![no_main]

use axum::body::{Body, to_bytes};
use axum::http::{HeaderName, HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use tower::ServiceExt;

/// Greets a region, which travels in the `Mcp-Param-Region` header too.
#[mcp::tool(headers(region = "Region", count = "Count"))]
fn locate(region: String, count: Option<i64>) -> String {
    format!("{region} {count:?}")
}

/// Add two numbers.
#[mcp::tool]
async fn add(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
});

static ROUTER: LazyLock<axum::Router> = LazyLock::new(|| {
    mcp::Server::new("fuzz", "1")
        .tools(mcp::tools![locate, add])
        .build()
        .expect("a valid server")
        .into_router()
});

const VALID: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;

fn request(headers: &[(&[u8], &[u8])], body: Vec<u8>) -> Request<Body> {
    let mut req = Request::post("/mcp")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (name, value) in headers {
        // What HTTP itself cannot carry never reaches the server: skip it.
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            req = req.header(name, value);
        }
    }
    req.body(Body::from(body)).expect("a request")
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], data[i + 2..].to_vec()),
        None => (data, Vec::new()),
    };
    let headers: Vec<(&[u8], &[u8])> = head
        .split(|&b| b == b'\n')
        .take(32)
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let value = &line[colon + 1..];
            Some((&line[..colon], value.strip_prefix(b" ").unwrap_or(value)))
        })
        .collect();
    RUNTIME.block_on(async {
        let res = ROUTER
            .clone()
            .oneshot(request(&headers, body))
            .await
            .expect("infallible");
        let status = res.status();
        assert!(!status.is_server_error(), "{status} for {data:?}");
        // Streams (SSE) may stay open: read the answer only when it is plain JSON.
        if res
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes() == b"application/json")
        {
            to_bytes(res.into_body(), 1 << 20).await.expect("a whole body");
        }
        let valid = [
            (b"mcp-protocol-version".as_slice(), b"2026-07-28".as_slice()),
            (b"mcp-method", b"tools/call"),
            (b"mcp-name", b"add"),
        ];
        let res = ROUTER
            .clone()
            .oneshot(request(&valid, VALID.into()))
            .await
            .expect("infallible");
        assert!(
            res.status().is_success(),
            "a valid call after {data:?}: {}",
            res.status()
        );
    });
});
