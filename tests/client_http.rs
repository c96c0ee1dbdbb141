//! `mcp::client` over Streamable HTTP, in both eras: against this crate's own server on a
//! loopback port (every exchange recorded by a layer in front of it), and against a
//! hand-written endpoint for what our server never does (dropping streams, odd answers).

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mcp::client::{Client, ClientOptions, Era, HttpTransport};
use mcp::{Context, Error, ProtocolVersion};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

const ERAS: [Era; 2] = [Era::Stateless, Era::Handshake(ProtocolVersion::V2025_11_25)];

/// Add two numbers.
#[mcp::tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Summarize a text with the client's model.
#[mcp::tool]
async fn summarize(ctx: Context, text: String) -> mcp::Result<String> {
    let reply = ctx.sample(format!("Summarize: {text}")).max_tokens(50).await?;
    Ok(format!("summary: {} (by {})", reply.text(), reply.model))
}

/// Logs at every level, then reports progress.
#[mcp::tool]
async fn chatty(ctx: Context) -> &'static str {
    ctx.debug("d");
    ctx.info("i");
    ctx.warning("w");
    ctx.error("e");
    for p in [10.0, 50.0, 100.0] {
        ctx.progress(p, Some(100.0), Some("working"));
    }
    "done"
}

/// Returns `n` once twenty calls are waiting here at once.
#[mcp::tool]
async fn gate(gate: mcp::State<Gate>, n: i64) -> i64 {
    gate.0.wait().await;
    n
}

struct Gate(tokio::sync::Barrier);

/// Waits forever; tells `dropped` when its future is dropped.
#[mcp::tool]
async fn hang(dropped: mcp::State<Dropped>) -> &'static str {
    struct OnDrop(Arc<Notify>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.notify_one();
        }
    }
    let _guard = OnDrop(Arc::clone(&dropped.0));
    std::future::pending::<()>().await;
    unreachable!()
}

struct Dropped(Arc<Notify>);

/// The weather of a region, which travels in a header too.
#[mcp::tool(headers(region = "Region"))]
async fn weather(region: String) -> String {
    format!("sunny in {region}")
}

fn server() -> mcp::Server {
    server_telling(Arc::default())
}

/// The test server; `dropped` hears when a `hang` call is dropped.
fn server_telling(dropped: Arc<Notify>) -> mcp::Server {
    mcp::Server::new("http-client-test", "1")
        .state(Gate(tokio::sync::Barrier::new(20)))
        .state(Dropped(dropped))
        .tools(mcp::tools![add, summarize, chatty, gate, weather, hang])
}

/// One HTTP exchange, as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    headers: HeaderMap,
    body: Value,
    status: StatusCode,
    content_type: String,
    session: Option<String>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A layer that records every exchange.
async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let (method, headers) = (parts.method.clone(), parts.headers.clone());
    let response = next.run(Request::from_parts(parts, Body::from(bytes.clone()))).await;
    let text = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    log.lock().unwrap().push(Seen {
        method,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        status: response.status(),
        content_type: text("content-type").unwrap_or_default(),
        session: text("mcp-session-id"),
    });
    response
}

/// An app served on a loopback port; the server stops when this drops.
struct Served {
    url: String,
    addr: std::net::SocketAddr,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Served {
    async fn start(app: axum::Router, log: Log) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}/mcp"),
            addr,
            log,
            task,
        }
    }

    /// Our server, with a recording layer in front.
    async fn ours() -> Self {
        Self::ours_with(server()).await
    }

    /// `server`, with a recording layer in front.
    async fn ours_with(server: mcp::Server) -> Self {
        let log = Log::default();
        let app = server
            .build()
            .unwrap()
            .into_router()
            .layer(axum::middleware::from_fn_with_state(Arc::clone(&log), record));
        Self::start(app, log).await
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// The POSTs of JSON-RPC method `method`.
    fn posts_of(&self, method: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == Method::POST && s.body["method"] == method)
            .collect()
    }

    /// Waits (up to five seconds) until an exchange matches `f`.
    async fn wait_for(&self, what: &str, f: impl Fn(&Seen) -> bool) -> Seen {
        for _ in 0..100 {
            if let Some(s) = self.seen().into_iter().find(&f) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("never saw {what}: {:#?}", self.seen());
    }
}

/// A sampling handler that answers `echo: <last user text>`, counting its calls.
fn echo_sampler(calls: Arc<AtomicUsize>) -> ClientOptions {
    ClientOptions::default().on_sampling(move |params: Value| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            let text = params["messages"][0]["content"]["text"].as_str().unwrap_or("?").to_owned();
            Ok(json!({"role": "assistant", "content": {"type": "text", "text": format!("echo: {text}")}, "model": "echo-1"}))
        }
    })
}

#[tokio::test]
async fn tools_are_listed_and_called_in_both_eras() {
    // Served the way an application serves it: `serve_http_with`, on a free loopback port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server().build().unwrap().serve_http_with(
        ("127.0.0.1", port),
        mcp::http::HttpOptions::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let url = format!("http://127.0.0.1:{port}/mcp");
    let mut connected = None;
    for _ in 0..50 {
        match Client::connect_http(&url, ClientOptions::default()).await {
            Ok(c) => {
                connected = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let auto = connected.expect("the server starts");
    assert_eq!(
        auto.protocol_version(),
        ProtocolVersion::V2026_07_28,
        "Era::Auto finds the stateless era"
    );
    auto.close().await.unwrap();

    for era in ERAS {
        let c = Client::connect_http(&url, ClientOptions::default().era(era))
            .await
            .unwrap();
        let expected = match era {
            Era::Handshake(v) => v,
            _ => ProtocolVersion::V2026_07_28,
        };
        assert_eq!(c.protocol_version(), expected);
        assert_eq!(c.server_info().unwrap().name, "http-client-test", "{era:?}");
        let mut names: Vec<String> = c.list_all_tools().await.unwrap().into_iter().map(|t| t.name).collect();
        names.sort();
        assert_eq!(
            names,
            ["add", "chatty", "gate", "hang", "summarize", "weather"],
            "{era:?}"
        );
        let r = c.call_tool("add", json!({"a": 2, "b": 3})).await.unwrap();
        assert_eq!(r.structured_content, Some(json!({"result": 5})), "{era:?}");
        // A JSON-RPC error (in the stateless era, on a 4xx answer) is the server's error.
        match c.call_tool("nope", json!({})).await {
            Err(Error::Protocol(e)) => assert_eq!(e.code.0, -32602, "{era:?}: {e}"),
            other => panic!("{era:?}: expected the server's error, got {other:?}"),
        }
        c.close().await.unwrap();
    }
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_tool_that_samples_is_answered_by_the_clients_handler() {
    for era in ERAS {
        let served = Served::ours().await;
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Client::connect_http(&served.url, echo_sampler(calls.clone()).era(era))
            .await
            .unwrap();
        let r = c.call_tool("summarize", json!({"text": "long story"})).await.unwrap();
        assert_eq!(
            r.text_content(),
            "summary: echo: Summarize: long story (by echo-1)",
            "{era:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{era:?}");
        let calls_seen = served.posts_of("tools/call");
        if era == Era::Stateless {
            // Asked and answered through `input_required`: two POSTs of the call.
            assert_eq!(calls_seen.len(), 2);
            assert!(calls_seen[1].body["params"]["inputResponses"].is_object());
        } else {
            // The request came on the call's event stream; the answer was POSTed and accepted.
            assert_eq!(calls_seen.len(), 1);
            assert!(calls_seen[0].content_type.starts_with("text/event-stream"));
            let answer = served
                .seen()
                .into_iter()
                .find(|s| s.body["result"]["model"] == "echo-1")
                .expect("the sampling answer was POSTed");
            assert_eq!(answer.status, StatusCode::ACCEPTED);
            assert!(answer.header("mcp-session-id").is_some());
        }
        c.close().await.unwrap();
    }
}

#[tokio::test]
async fn progress_and_log_notifications_reach_the_client() {
    for era in ERAS {
        let served = Served::ours().await;
        let c = Client::connect_http(&served.url, ClientOptions::default().era(era))
            .await
            .unwrap();
        let mut meta = json!({"progressToken": "p1"});
        match era {
            Era::Stateless => meta["io.modelcontextprotocol/logLevel"] = json!("info"),
            _ => {
                c.request("logging/setLevel", json!({"level": "info"})).await.unwrap();
            }
        }
        let r = c.call_tool_with("chatty", json!({}), Some(meta)).await.unwrap();
        assert_eq!(r.text_content(), "done");
        let (mut levels, mut progress) = (Vec::new(), Vec::new());
        while levels.len() < 3 || progress.len() < 3 {
            let (method, params) = tokio::time::timeout(Duration::from_secs(5), c.next_notification())
                .await
                .unwrap_or_else(|_| panic!("{era:?}: only {levels:?} and {progress:?}"))
                .unwrap();
            match method.as_str() {
                "notifications/message" => levels.push(params["level"].as_str().unwrap().to_owned()),
                "notifications/progress" => {
                    assert_eq!(params["progressToken"], "p1");
                    progress.push(params["progress"].as_f64().unwrap());
                }
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(levels, ["info", "warning", "error"], "{era:?}");
        assert_eq!(progress, [10.0, 50.0, 100.0], "{era:?}");
        c.close().await.unwrap();
    }
}

#[tokio::test]
async fn twenty_calls_are_in_flight_at_once() {
    for era in ERAS {
        let served = Served::ours().await;
        let c = Arc::new(
            Client::connect_http(&served.url, ClientOptions::default().era(era))
                .await
                .unwrap(),
        );
        // Each call returns only once all twenty wait in the tool: POSTs that waited for
        // each other would never get there.
        let mut calls = tokio::task::JoinSet::new();
        for n in 0..20 {
            let c = Arc::clone(&c);
            calls.spawn(async move { c.call_tool("gate", json!({"n": n})).await });
        }
        let mut got = tokio::time::timeout(Duration::from_secs(20), async {
            let mut got = Vec::new();
            while let Some(r) = calls.join_next().await {
                got.push(
                    r.unwrap().unwrap().structured_content.unwrap()["result"]
                        .as_i64()
                        .unwrap(),
                );
            }
            got
        })
        .await
        .unwrap_or_else(|_| panic!("{era:?}: the calls waited for each other"));
        got.sort_unstable();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
        Arc::into_inner(c).unwrap().close().await.unwrap();
    }
}

#[tokio::test]
async fn a_call_that_times_out_is_cancelled_on_the_server() {
    for era in ERAS {
        let dropped = Arc::new(Notify::new());
        let served = Served::ours_with(server_telling(Arc::clone(&dropped))).await;
        let mut options = ClientOptions::default().era(era);
        options.timeout = Duration::from_millis(500);
        let c = Client::connect_http(&served.url, options).await.unwrap();
        match c.call_tool("hang", json!({})).await {
            Err(Error::Timeout) => {}
            other => panic!("{era:?}: expected a timeout, got {other:?}"),
        }
        // Stateless: its POST was closed; handshake: `notifications/cancelled` went in the session.
        tokio::time::timeout(Duration::from_secs(5), dropped.notified())
            .await
            .unwrap_or_else(|_| panic!("{era:?}: the server never dropped the call"));
        // The client goes on.
        let r = c.call_tool("add", json!({"a": 1, "b": 2})).await.unwrap();
        assert_eq!(r.structured_content, Some(json!({"result": 3})));
        c.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_server_that_is_down_is_a_clear_error_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for era in [Era::Auto, ERAS[0], ERAS[1]] {
        let url = format!("http://alice:hunter2@127.0.0.1:{port}/mcp?token=hunter3");
        let connecting = Client::connect_http(&url, ClientOptions::default().era(era));
        let error = tokio::time::timeout(Duration::from_secs(10), connecting)
            .await
            .expect("fails at once, without waiting for the request timeout")
            .unwrap_err();
        let Error::Io(io) = &error else {
            panic!("{era:?}: expected a transport error, got {error:?}");
        };
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused, "{era:?}");
        let text = error.to_string();
        assert!(
            text.contains(&format!(
                "could not reach the MCP server at http://127.0.0.1:{port}/mcp"
            )),
            "{text}"
        );
        assert!(
            !text.contains("hunter") && !format!("{error:?}").contains("hunter"),
            "{text}"
        );
    }
    // A URL this transport cannot use is refused before anything is sent, also without it.
    let e = HttpTransport::new("https://alice:hunter2@example.com/mcp").unwrap_err();
    assert!(
        e.to_string().contains("TLS") && !e.to_string().contains("hunter"),
        "{e}"
    );
    let t = HttpTransport::new("http://alice:hunter2@127.0.0.1:1/mcp").unwrap();
    assert!(!format!("{t:?}").contains("hunter"), "{t:?}");
}

/// Sends a raw HTTP/1.1 request to `addr` and returns the status code.
async fn raw_status(addr: std::net::SocketAddr, request: String) -> u16 {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{answer}"))
}

#[tokio::test]
async fn the_handshake_era_keeps_a_session_a_get_stream_and_ends_it_with_delete() {
    let served = Served::ours().await;
    let c = Client::connect_http(&served.url, ClientOptions::default().era(ERAS[1]))
        .await
        .unwrap();
    c.call_tool("add", json!({"a": 1, "b": 1})).await.unwrap();
    let init = &served.posts_of("initialize")[0];
    let session = init.session.clone().expect("the server opened a session");
    assert!(init.header("mcp-session-id").is_none() && init.header("mcp-protocol-version").is_none());
    let get = served.wait_for("the GET stream", |s| s.method == Method::GET).await;
    assert_eq!(
        (get.status, get.content_type.as_str()),
        (StatusCode::OK, "text/event-stream")
    );
    assert_eq!(get.header("mcp-session-id"), Some(session.as_str()));
    for s in served.seen().iter().filter(|s| s.body["method"] != "initialize") {
        assert_eq!(s.header("mcp-session-id"), Some(session.as_str()), "{s:?}");
        assert_eq!(s.header("mcp-protocol-version"), Some("2025-11-25"), "{s:?}");
        assert!(
            s.method != Method::POST
                || s.header("accept") == Some("application/json, text/event-stream")
                    && s.header("content-type") == Some("application/json"),
            "{s:?}"
        );
    }
    c.close().await.unwrap();
    let delete = served.wait_for("the DELETE", |s| s.method == Method::DELETE).await;
    assert_eq!(delete.header("mcp-session-id"), Some(session.as_str()));
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    // The session is gone.
    let body = r#"{"jsonrpc":"2.0","id":9,"method":"tools/list"}"#;
    let raw = format!(
        "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: {session}\r\nMCP-Protocol-Version: 2025-11-25\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        served.addr,
        body.len()
    );
    assert_eq!(raw_status(served.addr, raw).await, 404);
}

#[tokio::test]
async fn stateless_posts_carry_the_routing_headers_and_no_session() {
    let served = Served::ours().await;
    let c = Client::connect_http(&served.url, ClientOptions::default().era(Era::Stateless))
        .await
        .unwrap();
    c.list_all_tools().await.unwrap();
    // `Mcp-Param-Region` is required by the server; a value that is not ASCII goes as base64.
    let r = c
        .call_tool("weather", json!({"region": "Île-de-France"}))
        .await
        .unwrap();
    assert_eq!(r.text_content(), "sunny in Île-de-France");
    let call = &served.posts_of("tools/call")[0];
    assert_eq!(call.header("mcp-method"), Some("tools/call"));
    assert_eq!(call.header("mcp-name"), Some("weather"));
    assert_eq!(call.header("mcp-param-region"), Some("=?base64?w45sZS1kZS1GcmFuY2U=?="));
    for s in served.seen() {
        assert_eq!(s.method, Method::POST, "no GET stream in this era");
        assert_eq!(s.header("mcp-protocol-version"), Some("2026-07-28"));
        assert_eq!(s.header("mcp-method"), s.body["method"].as_str());
        assert!(s.header("mcp-session-id").is_none() && s.session.is_none());
    }
    c.close().await.unwrap();
    assert!(
        served.seen().iter().all(|s| s.method == Method::POST),
        "no DELETE without a session"
    );
}

/// A hand-written handshake-era endpoint that drops its streams and answers oddly.
#[derive(Default)]
struct Odd {
    log: Log,
    /// The id of the call whose stream was cut.
    cut: Mutex<Option<Value>>,
}

fn sse(body: String) -> Response {
    ([("content-type", "text/event-stream")], body).into_response()
}

fn note(text: &str) -> String {
    json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": text}}).to_string()
}

async fn odd(State(odd): State<Arc<Odd>>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let last = headers.get("last-event-id").map(|v| v.to_str().unwrap().to_owned());
    let response = match (method.clone(), message["method"].as_str(), last.as_deref()) {
        (Method::POST, Some("initialize"), _) => {
            let answer = json!({"jsonrpc": "2.0", "id": message["id"], "result": {"protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}}, "serverInfo": {"name": "odd", "version": "1"}}});
            let mut r = ([("content-type", "application/json")], answer.to_string()).into_response();
            r.headers_mut().insert("mcp-session-id", HeaderValue::from_static("s1"));
            r
        }
        (Method::POST, Some("tools/call"), _) => match message["params"]["name"].as_str().unwrap() {
            "cut" => {
                *odd.cut.lock().unwrap() = Some(message["id"].clone());
                sse("id: p-1\nretry: 10\ndata: \n\n".to_owned())
            }
            "bad_gateway" => (StatusCode::BAD_GATEWAY, "upstream down").into_response(),
            "accepted" => StatusCode::ACCEPTED.into_response(),
            _ => {
                let error = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "Bad Request: no id for you"}});
                (
                    StatusCode::BAD_REQUEST,
                    [("content-type", "application/json")],
                    error.to_string(),
                )
                    .into_response()
            }
        },
        (Method::POST, _, _) => StatusCode::ACCEPTED.into_response(),
        (Method::GET, _, None) => sse(format!("retry: 10\nid: g-1\ndata: {}\n\n", note("one"))),
        (Method::GET, _, Some("g-1")) => sse(format!("id: g-2\ndata: {}\n\n", note("two"))),
        (Method::GET, _, Some("p-1")) => {
            let id = odd.cut.lock().unwrap().clone().unwrap();
            let answer =
                json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": "resumed"}]}});
            sse(format!("id: p-2\ndata: {answer}\n\n"))
        }
        (Method::DELETE, _, _) => StatusCode::NO_CONTENT.into_response(),
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    };
    odd.log.lock().unwrap().push(Seen {
        method,
        headers,
        body: message,
        status: response.status(),
        content_type: String::new(),
        session: None,
    });
    response
}

#[tokio::test]
async fn dropped_streams_are_resumed_and_odd_answers_fail_only_their_request() {
    let odd_server = Arc::new(Odd::default());
    let app = axum::Router::new()
        .route("/mcp", axum::routing::any(odd))
        .with_state(Arc::clone(&odd_server));
    let served = Served::start(app, Arc::clone(&odd_server.log)).await;
    let mut options = ClientOptions::default().era(ERAS[1]);
    options.timeout = Duration::from_secs(10);
    let c = Client::connect_http(&served.url, options).await.unwrap();

    // The GET stream dropped after one event and was reopened after it; on 405 it stays closed.
    for expected in ["one", "two"] {
        let (method, params) = tokio::time::timeout(Duration::from_secs(5), c.next_notification())
            .await
            .expect("the GET stream's events arrive")
            .unwrap();
        assert_eq!(
            (method.as_str(), params["data"].as_str()),
            ("notifications/message", Some(expected))
        );
    }
    let refused = served
        .wait_for("the third GET", |s| {
            s.method == Method::GET && s.status == StatusCode::METHOD_NOT_ALLOWED
        })
        .await;
    assert_eq!(refused.header("last-event-id"), Some("g-2"));
    let gets = |s: &Served| s.seen().iter().filter(|s| s.method == Method::GET).count();
    assert_eq!(gets(&served), 3);
    let second = served
        .seen()
        .into_iter()
        .filter(|s| s.method == Method::GET)
        .nth(1)
        .unwrap();
    assert_eq!(second.header("last-event-id"), Some("g-1"));
    assert_eq!(second.header("mcp-session-id"), Some("s1"));

    // A call whose stream ended before its answer gets it by resuming the stream.
    let r = c.call_tool("cut", json!({})).await.unwrap();
    assert_eq!(r.text_content(), "resumed");
    assert!(
        served
            .seen()
            .iter()
            .any(|s| s.method == Method::GET && s.header("last-event-id") == Some("p-1")),
        "resumed with GET and Last-Event-ID"
    );

    // Odd answers fail their own request, at once, and clearly.
    let started = std::time::Instant::now();
    match c.call_tool("bad_gateway", json!({})).await {
        Err(Error::Protocol(e)) => {
            assert_eq!(e.data.as_ref().unwrap()["httpStatus"], 502);
            assert!(e.message.contains("502") && e.message.contains("upstream down"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    match c.call_tool("accepted", json!({})).await {
        Err(Error::Protocol(e)) => assert!(e.message.contains("without the answer"), "{e}"),
        other => panic!("{other:?}"),
    }
    match c.call_tool("lost_id", json!({})).await {
        Err(Error::Protocol(e)) => assert_eq!(e.message, "Bad Request: no id for you"),
        other => panic!("an error without an id answers its request: {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "none waited for the timeout"
    );
    // And the connection still works.
    assert_eq!(gets(&served), 4, "the only new GET resumed the cut call");
    c.close().await.unwrap();
    let delete = served.wait_for("the DELETE", |s| s.method == Method::DELETE).await;
    assert_eq!(delete.header("mcp-session-id"), Some("s1"));
    assert_eq!(delete.header("mcp-protocol-version"), Some("2025-11-25"));
}
