//! Streamable HTTP, driven in-process through the axum router.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tower::ServiceExt;

/// Add two numbers.
#[mcp::tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Waits forever; tells `dropped` when its future is dropped.
#[mcp::tool]
async fn hang(flag: mcp::State<Dropped>) -> &'static str {
    struct OnDrop(Arc<Notify>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.notify_one();
        }
    }
    let _guard = OnDrop(Arc::clone(&flag.0));
    std::future::pending::<()>().await;
    unreachable!()
}

struct Dropped(Arc<Notify>);

fn router(dropped: Arc<Notify>) -> axum::Router {
    mcp::Server::new("http-test", "1")
        .state(Dropped(dropped))
        .tools(mcp::tools![add, hang])
        .build()
        .unwrap()
        .into_router()
}

fn meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}})
}

fn post(path: &str, body: &Value, headers: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::post(path)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(serde_json::to_vec(body).unwrap())).unwrap()
}

fn modern_call(name: &str, arguments: Value) -> (Value, Vec<(&'static str, String)>) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments, "_meta": meta()}});
    (
        body,
        vec![
            ("mcp-protocol-version", "2026-07-28".into()),
            ("mcp-method", "tools/call".into()),
            ("mcp-name", name.into()),
        ],
    )
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    // An SSE body: the last `data:` line is the answer.
    let json_text = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .map(str::to_owned)
        .unwrap_or(text);
    (status, headers, serde_json::from_str(&json_text).unwrap_or(Value::Null))
}

/// Opens a handshake-era session (2025-11-25) and returns its id.
async fn open_session(app: &axum::Router) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let (_, headers, _) = send(app, post("/mcp", &init, &[])).await;
    headers["mcp-session-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_stateless_call_is_answered_as_json() {
    let app = router(Arc::default());
    let (body, headers) = modern_call("add", json!({"a": 2, "b": 3}));
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, resp_headers, json) = send(&app, post("/mcp", &body, &h)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resp_headers["content-type"], "application/json");
    assert_eq!(json["result"]["structuredContent"], json!({"result": 5}));
    assert!(
        resp_headers.get("mcp-session-id").is_none(),
        "the stateless era has no sessions"
    );
}

#[tokio::test]
async fn mismatched_headers_and_errors_get_the_statuses_the_spec_names() {
    let app = router(Arc::default());
    let (body, _) = modern_call("add", json!({"a": 2, "b": 3}));
    let wrong = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
        ("mcp-name", "add"),
    ];
    let (status, _, json) = send(&app, post("/mcp", &body, &wrong)).await;
    assert_eq!(
        (status, json["error"]["code"].clone(), json["id"].clone()),
        (StatusCode::BAD_REQUEST, json!(-32020), json!(1))
    );
    let unknown = json!({"jsonrpc": "2.0", "id": 2, "method": "no/such", "params": {"_meta": meta()}});
    let (status, _, json) = send(
        &app,
        post(
            "/mcp",
            &unknown,
            &[("mcp-protocol-version", "2026-07-28"), ("mcp-method", "no/such")],
        ),
    )
    .await;
    assert_eq!(
        (status, json["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!(-32601))
    );
    let no_meta = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}});
    let (status, _, json) = send(&app, post("/mcp", &no_meta, &[])).await;
    assert_eq!(
        (status, json["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(-32602))
    );
    let oops = Request::post("/mcp")
        .header("content-type", "application/json")
        .body(Body::from("{oops"))
        .unwrap();
    let (status, _, json) = send(&app, oops).await;
    assert_eq!(
        (status, json["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(-32700))
    );
    let get = Request::get("/mcp").body(Body::empty()).unwrap();
    assert_eq!(
        app.clone().oneshot(get).await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn dns_rebinding_is_refused() {
    let app = router(Arc::default());
    let (body, headers) = modern_call("add", json!({"a": 1, "b": 1}));
    let mut h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    h.push(("host", "evil.example.com"));
    assert_eq!(send(&app, post("/mcp", &body, &h)).await.0, StatusCode::FORBIDDEN);
    h.pop();
    h.push(("host", "localhost:3000"));
    h.push(("origin", "http://evil.example.com"));
    assert_eq!(send(&app, post("/mcp", &body, &h)).await.0, StatusCode::FORBIDDEN);
    h.pop();
    h.push(("origin", "http://localhost:5173"));
    assert_eq!(send(&app, post("/mcp", &body, &h)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_and_the_next_request_is_served() {
    let app = mcp::Server::new("s", "1")
        .tools(mcp::tools![add])
        .build()
        .unwrap()
        .into_router_with(mcp::http::HttpOptions {
            max_body_bytes: 1024,
            ..Default::default()
        });
    let (mut body, headers) = modern_call("add", json!({"a": 1, "b": 1}));
    body["params"]["arguments"]["pad"] = json!("x".repeat(4096));
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        send(&app, post("/mcp", &body, &h)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let (ok, _) = modern_call("add", json!({"a": 1, "b": 1}));
    assert_eq!(
        send(&app, post("/mcp", &ok, &h)).await.2["result"]["structuredContent"],
        json!({"result": 2})
    );
}

/// `serve_http` reaches its endpoint without the router: the endpoint's own limit holds there
/// too, for a body of no declared length, and the connection's next request is served.
#[tokio::test]
async fn served_on_a_socket_a_streamed_body_over_the_limit_is_refused_and_the_next_request_is_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let service = mcp::Server::new("s", "1").tools(mcp::tools![add]).build().unwrap();
    let options = mcp::http::HttpOptions::default().max_body_bytes(1024);
    tokio::spawn(service.serve_http_with(addr, options, std::future::pending()));
    let mut tcp = loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(tcp) => break tcp,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let (mut big, headers) = modern_call("add", json!({"a": 1, "b": 1}));
    big["params"]["arguments"]["pad"] = json!("x".repeat(4096));
    let (small, _) = modern_call("add", json!({"a": 2, "b": 3}));
    let head = |chunked: bool, length: usize| {
        let mut h = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nConnection: close\r\n".to_owned();
        for (k, v) in &headers {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        if chunked {
            h.push_str("Transfer-Encoding: chunked\r\n\r\n");
        } else {
            h.push_str(&format!("Content-Length: {length}\r\n\r\n"));
        }
        h
    };
    let big = big.to_string();
    let request = format!("{}{:x}\r\n{big}\r\n0\r\n\r\n", head(true, 0), big.len());
    tcp.write_all(request.as_bytes()).await.unwrap();
    // The server may close with the body half read, which can end the read with a reset.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n @ 1..) = tcp.read(&mut chunk).await {
        answer.extend_from_slice(&chunk[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // The next request is served.
    let small = small.to_string();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(format!("{}{small}", head(false, small.len())).as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""structuredContent":{"result":5}"#), "{answer}");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_arrives() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = mcp::Server::new("s", "1")
        .tools(mcp::tools![add])
        .build()
        .unwrap()
        .into_router_with(mcp::http::HttpOptions::default().max_body_bytes(1024));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Headers that promise 100 MB, and not one byte of body.
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("over the limit of 1024 bytes"), "{answer}");
    server.abort();
}

#[tokio::test]
async fn a_post_that_is_not_json_is_refused_with_415() {
    let app = router(Arc::default());
    let (body, headers) = modern_call("add", json!({"a": 1, "b": 1}));
    for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let mut req = Request::post("/mcp").header("accept", "application/json, text/event-stream");
        if !content_type.is_empty() {
            req = req.header("content-type", content_type);
        }
        for (k, v) in &headers {
            req = req.header(*k, v.as_str());
        }
        let req = req.body(Body::from(serde_json::to_vec(&body).unwrap())).unwrap();
        let (status, _, answer) = send(&app, req).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("application/json")
        );
    }
    // With parameters, JSON is JSON.
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut req = post("/mcp", &body, &h);
    req.headers_mut()
        .insert("content-type", "application/json; charset=utf-8".parse().unwrap());
    assert_eq!(
        send(&app, req).await.2["result"]["structuredContent"],
        json!({"result": 2})
    );
}

#[tokio::test]
async fn a_full_session_table_evicts_idle_sessions_or_answers_503() {
    let app = mcp::Server::new("s", "1")
        .tools(mcp::tools![add])
        .build()
        .unwrap()
        .into_router_with(mcp::http::HttpOptions::default().max_sessions(2, Duration::from_millis(300)));
    let first = open_session(&app).await;
    let _second = open_session(&app).await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let (status, headers, answer) = send(&app, post("/mcp", &init, &[])).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(headers["retry-after"], "5");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 sessions are open")
    );
    // Once they have sat idle long enough, a new session evicts them.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let third = open_session(&app).await;
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let (status, _, _) = send(&app, post("/mcp", &list, &[("mcp-session-id", &third)])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(&app, post("/mcp", &list, &[("mcp-session-id", &first)])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the idle session was evicted");
}

/// Asks the client's model.
#[mcp::tool]
async fn ask_model(ctx: mcp::Context) -> String {
    match ctx.sample("hello?").await {
        Ok(reply) => reply.text(),
        Err(e) => format!("no sample: {e}"),
    }
}

#[tokio::test]
async fn without_sessions_each_handshake_era_post_is_served_on_its_own() {
    let app = mcp::Server::new("s", "1")
        .tools(mcp::tools![add, ask_model])
        .build()
        .unwrap()
        .into_router_with(mcp::http::HttpOptions::default().without_sessions());
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {"sampling": {}}, "clientInfo": {"name": "t", "version": "0"}}});
    let (status, headers, answer) = send(&app, post("/mcp", &init, &[])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["result"]["protocolVersion"], "2025-11-25");
    assert!(headers.get("mcp-session-id").is_none(), "no session is opened");

    let version = [("mcp-protocol-version", "2025-11-25")];
    let call = |name: &str, arguments: Value| json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": name, "arguments": arguments}});
    let (status, _, answer) = send(&app, post("/mcp", &call("add", json!({"a": 2, "b": 3})), &version)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["result"]["structuredContent"], json!({"result": 5}), "{answer}");
    // The server cannot ask this client anything: a clear error at once, not a hang.
    let asked = tokio::time::timeout(
        Duration::from_secs(5),
        send(&app, post("/mcp", &call("ask_model", json!({})), &version)),
    )
    .await
    .expect("answered at once");
    let text = asked.2["result"]["content"][0]["text"].as_str().unwrap().to_owned();
    assert!(text.contains("without sessions"), "{text}");
    // No session streams either.
    let get = Request::get("/mcp")
        .header("accept", "text/event-stream")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.clone().oneshot(get).await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    // The stateless era is served as always.
    let (body, headers) = modern_call("add", json!({"a": 1, "b": 1}));
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        send(&app, post("/mcp", &body, &h)).await.2["result"]["structuredContent"],
        json!({"result": 2})
    );
}

#[tokio::test]
async fn sessions_begin_with_initialize_and_end_with_delete() {
    let app = router(Arc::default());
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let (status, headers, json) = send(&app, post("/mcp", &init, &[])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["result"]["protocolVersion"], "2025-11-25");
    let session = headers["mcp-session-id"].to_str().unwrap().to_owned();
    assert_eq!(session.len(), 64, "32 random bytes, hex");
    let h = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 4, "b": 5}}});
    assert_eq!(
        send(&app, post("/mcp", &call, &h)).await.2["result"]["structuredContent"],
        json!({"result": 9})
    );
    let unknown = [("mcp-session-id", "0000"), ("mcp-protocol-version", "2025-11-25")];
    assert_eq!(send(&app, post("/mcp", &call, &unknown)).await.0, StatusCode::NOT_FOUND);
    let delete = Request::delete("/mcp")
        .header("mcp-session-id", &session)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.clone().oneshot(delete).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&app, post("/mcp", &call, &h)).await.0,
        StatusCode::NOT_FOUND,
        "a deleted session is gone"
    );
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_its_stateless_call() {
    let dropped = Arc::new(Notify::new());
    let app = router(Arc::clone(&dropped));
    let (body, headers) = modern_call("hang", json!({}));
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The client gives up after 100 ms: its request future is dropped, like a closed connection.
    let gave_up = tokio::time::timeout(Duration::from_millis(100), app.clone().oneshot(post("/mcp", &body, &h))).await;
    assert!(gave_up.is_err());
    tokio::time::timeout(Duration::from_secs(10), dropped.notified())
        .await
        .expect("the tool's future was dropped");
}

#[tokio::test]
async fn the_router_nests_under_a_prefix_of_an_existing_app() {
    let mcp_routes = mcp::Server::new("s", "1")
        .tools(mcp::tools![add])
        .build()
        .unwrap()
        .into_router();
    let app = axum::Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .nest("/api", mcp_routes);
    let (body, headers) = modern_call("add", json!({"a": 40, "b": 2}));
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        send(&app, post("/api/mcp", &body, &h)).await.2["result"]["structuredContent"],
        json!({"result": 42})
    );
    let health = app
        .clone()
        .oneshot(Request::get("/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

/// Who is calling.
#[mcp::tool]
fn whoami(ctx: mcp::Context) -> String {
    ctx.principal().map(|p| p.subject.clone()).unwrap_or_default()
}

/// Takes a moment, then says who asked: a task when the client can take one.
#[mcp::tool(task = "optional")]
async fn slow_whoami(ctx: mcp::Context) -> String {
    tokio::time::sleep(Duration::from_millis(20)).await;
    ctx.principal().map(|p| p.subject.clone()).unwrap_or_default()
}

/// Purges everything: only for tokens with the `admin` scope.
#[mcp::tool(scopes = ["admin"])]
async fn purge() -> &'static str {
    "purged"
}

fn secured() -> axum::Router {
    use mcp::http::auth::Authorization;
    let verifier = |token: String| async move {
        let (subject, scopes): (&str, &[&str]) = match token.as_str() {
            "alice-token" => ("alice", &["mcp"]),
            "bob-token" => ("bob", &["mcp"]),
            "root-token" => ("root", &["mcp", "admin"]),
            "reader-token" => ("carol", &[]),
            _ => return Err("unknown token".to_owned()),
        };
        Ok(mcp::Principal {
            subject: subject.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        })
    };
    let auth = Authorization::new("http://localhost/mcp", "https://auth.example.com", verifier)
        .scopes_supported(["mcp"])
        .require_scopes(["mcp"]);
    mcp::Server::new("secured", "1")
        .tools(mcp::tools![whoami, slow_whoami, purge])
        .build()
        .unwrap()
        .into_router_with(mcp::http::HttpOptions::default().authorization(auth))
}

#[tokio::test]
async fn tokens_are_required_and_their_principal_reaches_the_tool() {
    let app = secured();
    let (body, headers) = modern_call("whoami", json!({}));
    let mut h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let challenge = |hm: &axum::http::HeaderMap| hm["www-authenticate"].to_str().unwrap().to_owned();

    let (status, hm, _) = send(&app, post("/mcp", &body, &h)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&hm),
        r#"Bearer scope="mcp", resource_metadata="http://localhost/.well-known/oauth-protected-resource/mcp""#
    );
    h.push(("authorization", "Bearer forged"));
    let (status, hm, _) = send(&app, post("/mcp", &body, &h)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&hm).starts_with(r#"Bearer error="invalid_token""#),
        "{}",
        challenge(&hm)
    );
    h.pop();
    h.push(("authorization", "Bearer reader-token"));
    let (status, hm, _) = send(&app, post("/mcp", &body, &h)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        challenge(&hm).starts_with(r#"Bearer error="insufficient_scope", scope="mcp""#),
        "{}",
        challenge(&hm)
    );
    h.pop();
    h.push(("authorization", "Bearer alice-token"));
    let (status, _, json) = send(&app, post("/mcp", &body, &h)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["result"]["content"][0]["text"], "alice");

    // The metadata document needs no token.
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let (status, _, doc) = send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(doc["resource"], "http://localhost/mcp");
        assert_eq!(doc["authorization_servers"], json!(["https://auth.example.com"]));
        assert_eq!(doc["scopes_supported"], json!(["mcp"]));
    }
}

#[tokio::test]
async fn a_tool_with_scopes_is_hidden_from_and_refused_to_tokens_without_them() {
    let app = secured();
    let request = |method: &str, params: Value, token: &str| {
        let mut params = params;
        params["_meta"] = meta();
        let name = params["name"].as_str().map(str::to_owned);
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let mut h = vec![
            ("mcp-protocol-version", "2026-07-28".to_owned()),
            ("mcp-method", method.to_owned()),
            ("authorization", format!("Bearer {token}")),
        ];
        if let Some(name) = name {
            h.push(("mcp-name", name));
        }
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post("/mcp", &body, &h)
    };
    let listed = |json: &Value| -> Vec<String> {
        json["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, _, alice) = send(&app, request("tools/list", json!({}), "alice-token")).await;
    assert!(!listed(&alice).contains(&"purge".to_owned()), "{alice}");
    let (status, _, refused) = send(
        &app,
        request("tools/call", json!({"name": "purge", "arguments": {}}), "alice-token"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error"]["data"]["error"], "insufficient_scope");
    assert_eq!(refused["error"]["data"]["requiredScopes"], json!(["admin"]));
    let (_, _, root) = send(&app, request("tools/list", json!({}), "root-token")).await;
    assert!(listed(&root).contains(&"purge".to_owned()), "{root}");
    let (status, _, purged) = send(
        &app,
        request("tools/call", json!({"name": "purge", "arguments": {}}), "root-token"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(purged["result"]["content"][0]["text"], "purged");
}

#[tokio::test]
async fn a_task_belongs_to_the_principal_that_created_it() {
    let app = secured();
    let tasks_meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}});
    let request = |method: &str, params: Value, token: &str| {
        let mut params = params;
        params["_meta"] = tasks_meta.clone();
        let name = params["name"].as_str().map(str::to_owned);
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let auth = format!("Bearer {token}");
        let mut h = vec![
            ("mcp-protocol-version", "2026-07-28".to_owned()),
            ("mcp-method", method.to_owned()),
            ("authorization", auth),
        ];
        if let Some(name) = name {
            h.push(("mcp-name", name));
        }
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post("/mcp", &body, &h)
    };
    let (_, _, created) = send(
        &app,
        request(
            "tools/call",
            json!({"name": "slow_whoami", "arguments": {}}),
            "alice-token",
        ),
    )
    .await;
    let task = created["result"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    // Bob, even with the id, finds nothing: not its status, not a way to cancel or answer it.
    for (method, params) in [
        ("tasks/get", json!({"taskId": task})),
        ("tasks/cancel", json!({"taskId": task})),
        ("tasks/update", json!({"taskId": task, "inputResponses": {}})),
    ] {
        let (_, _, refused) = send(&app, request(method, params, "bob-token")).await;
        assert_eq!(refused["error"]["code"], -32602, "{method}: {refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains("Unknown task"));
    }
    // Alice sees it through, with her own name in the result.
    let mut done = Value::Null;
    for _ in 0..100 {
        let (_, _, got) = send(&app, request("tasks/get", json!({"taskId": task}), "alice-token")).await;
        if got["result"]["status"] == "completed" {
            done = got;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(done["result"]["result"]["content"][0]["text"], "alice", "{done}");
}

#[tokio::test]
async fn a_session_belongs_to_the_principal_that_opened_it() {
    let app = secured();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let (status, headers, _) = send(&app, post("/mcp", &init, &[("authorization", "Bearer alice-token")])).await;
    assert_eq!(status, StatusCode::OK);
    let session = headers["mcp-session-id"].to_str().unwrap().to_owned();
    let call =
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}});
    let as_alice = [
        ("authorization", "Bearer alice-token"),
        ("mcp-session-id", session.as_str()),
    ];
    assert_eq!(
        send(&app, post("/mcp", &call, &as_alice)).await.2["result"]["content"][0]["text"],
        "alice"
    );
    let as_bob = [
        ("authorization", "Bearer bob-token"),
        ("mcp-session-id", session.as_str()),
    ];
    assert_eq!(
        send(&app, post("/mcp", &call, &as_bob)).await.0,
        StatusCode::NOT_FOUND,
        "bob cannot use alice's session"
    );
}

/// Logs five times, 40 ms apart, then answers.
#[mcp::tool]
async fn chatter(ctx: mcp::Context) -> &'static str {
    for i in 0..5 {
        ctx.info(format!("step {i}"));
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    "finished"
}

/// `(event id, data)` of each SSE event in `text`.
fn events(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter_map(|block| {
            let id = block.lines().find_map(|l| l.strip_prefix("id: "))?.to_owned();
            let data = block
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or("")
                .to_owned();
            Some((id, data))
        })
        .collect()
}

#[tokio::test]
async fn a_dropped_stream_resumes_with_every_missed_event_once() {
    let app = mcp::Server::new("s", "1")
        .tools(mcp::tools![chatter])
        .build()
        .unwrap()
        .into_router();
    let session = open_session(&app).await;
    let h = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let call =
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "chatter", "arguments": {}}});
    let res = app.clone().oneshot(post("/mcp", &call, &h)).await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");

    // Read until the first log arrives, then drop the connection.
    let mut body = res.into_body();
    let mut seen = String::new();
    while !seen.contains("step 0") {
        let frame = body.frame().await.unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(frame.data_ref().unwrap()));
    }
    drop(body);
    let before = events(&seen);
    assert!(
        before[0].0.ends_with("-0") && before[0].1.is_empty(),
        "a priming event comes first: {before:?}"
    );
    assert!(seen.contains("retry: "));
    let last_id = before.last().unwrap().0.clone();

    // The tool goes on while the client is away; then the client resumes after its last event.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let resume = Request::get("/mcp")
        .header("mcp-session-id", &session)
        .header("last-event-id", &last_id)
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(resume).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rest = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let after: Vec<(String, String)> = events(&rest).into_iter().filter(|(_, d)| !d.is_empty()).collect();

    let all: Vec<&(String, String)> = before
        .iter()
        .filter(|(_, d)| !d.is_empty())
        .chain(after.iter())
        .collect();
    let logs: Vec<String> = all
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter(|m| m["method"] == "notifications/message")
        .map(|m| m["params"]["data"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        logs,
        ["step 0", "step 1", "step 2", "step 3", "step 4"],
        "every log once, in order"
    );
    let result: Value = serde_json::from_str(&after.last().unwrap().1).unwrap();
    assert_eq!(result["id"], 2);
    assert_eq!(result["result"]["content"][0]["text"], "finished");
    let mut ids: Vec<&String> = all.iter().map(|(id, _)| id).collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "no event twice");

    // An unknown event id is refused.
    let bad = Request::get("/mcp")
        .header("mcp-session-id", &session)
        .header("last-event-id", "999-1")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.clone().oneshot(bad).await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[cfg(feature = "legacy-sse")]
#[tokio::test]
async fn the_2024_11_05_http_sse_transport_serves_old_clients() {
    let app = mcp::Server::new("s", "1")
        .tools(mcp::tools![add])
        .build()
        .unwrap()
        .into_router();
    let res = app
        .clone()
        .oneshot(Request::get("/sse").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    let mut next_event = async || {
        let frame = body.frame().await.unwrap().unwrap();
        String::from_utf8_lossy(frame.data_ref().unwrap()).into_owned()
    };
    let endpoint_event = next_event().await;
    let endpoint = endpoint_event
        .strip_prefix("event: endpoint\ndata: ")
        .unwrap()
        .trim()
        .to_owned();
    assert!(endpoint.starts_with("/messages?session_id="), "{endpoint}");

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "old", "version": "0"}}});
    assert_eq!(send(&app, post(&endpoint, &init, &[])).await.0, StatusCode::ACCEPTED);
    let answer = next_event().await;
    let answer: Value = serde_json::from_str(answer.strip_prefix("event: message\ndata: ").unwrap().trim()).unwrap();
    assert_eq!(answer["result"]["protocolVersion"], "2024-11-05");

    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 2}}});
    assert_eq!(send(&app, post(&endpoint, &call, &[])).await.0, StatusCode::ACCEPTED);
    let answer = next_event().await;
    let answer: Value = serde_json::from_str(answer.strip_prefix("event: message\ndata: ").unwrap().trim()).unwrap();
    assert_eq!(answer["result"]["structuredContent"], json!({"result": 3}));

    // A session that is not open is refused.
    assert_eq!(
        send(&app, post("/messages?session_id=nope", &call, &[])).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_reused_id_is_refused_and_the_request_in_flight_keeps_its_stream() {
    let app = mcp::Server::new("s", "1")
        .tools(mcp::tools![chatter, add])
        .build()
        .unwrap()
        .into_router();
    let session = open_session(&app).await;
    let h = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let slow =
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "chatter", "arguments": {}}});
    let first = {
        let (app, req) = (app.clone(), post("/mcp", &slow, &h));
        tokio::spawn(async move { send(&app, req).await })
    };
    tokio::time::sleep(Duration::from_millis(60)).await;
    let again = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 2}}});
    let (_, _, refused) = send(&app, post("/mcp", &again, &h)).await;
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert!(
        refused["error"]["message"].as_str().unwrap().contains("already in use"),
        "{refused}"
    );
    let (status, _, answer) = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the first request is still answered")
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["id"], 7);
    assert_eq!(answer["result"]["content"][0]["text"], "finished", "{answer}");
}

#[test]
fn the_front_end_is_still_reachable_by_its_old_transport_paths() {
    fn verifier<V: mcp::transport::auth::TokenVerifier>() {}
    let options: mcp::http::HttpOptions = mcp::transport::http::HttpOptions::default();
    let auth: mcp::http::auth::Authorization =
        mcp::transport::auth::Authorization::new("http://localhost/mcp", "https://auth.example.com", |_: String| {
            std::future::ready(Err::<mcp::Principal, _>("no".to_owned()))
        });
    verifier::<mcp::transport::auth::JwtHs256>();
    verifier::<mcp::http::auth::JwtHs256>();
    assert_eq!(options.authorization(auth).path, "/mcp");
}

#[tokio::test]
async fn extra_routes_are_served_beside_the_endpoint_on_one_listener() {
    let health = axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route(
            "/peer",
            axum::routing::get(
                |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>| async move {
                    peer.ip().to_string()
                },
            ),
        )
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        );
    let options = mcp::http::HttpOptions::default().routes(health);
    let service = mcp::Server::new("s", "1").tools(mcp::tools![add]).build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(Notify::new());
    let stopped = {
        let stop = Arc::clone(&stop);
        tokio::spawn(mcp::http::serve_router(
            listener,
            service.into_router_with(options),
            async move { stop.notified().await },
        ))
    };

    // The application's routes, over a real socket; a handler can name the peer.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let get = |path: &'static str| async move {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        answer
    };
    let answer = get("/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
    let answer = get("/peer").await;
    assert!(answer.ends_with("127.0.0.1"), "{answer}");

    // MCP on the same listener.
    let client = mcp::client::Client::connect_http(&format!("http://{addr}/mcp"), Default::default())
        .await
        .unwrap();
    let result = client.call_tool("add", json!({"a": 2, "b": 3})).await.unwrap();
    assert_eq!(result.text_content(), "5");

    // A request in flight when the server is told to stop is answered, then the server stops.
    let slow = tokio::spawn(get("/slow"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.notify_one();
    drop(client);
    let answer = slow.await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("done"),
        "{answer}"
    );
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening after the stop"
    );
}
