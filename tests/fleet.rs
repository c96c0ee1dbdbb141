//! Replicas that share a Redis store and a sealing key act as one server: a confirmed action
//! runs once however many replicas see the retry, and a Redis outage costs only the requests
//! that need it. Each test starts its own `redis-server` on loopback (Debian's package, which
//! `.ci/run` installs) and stops it at the end. Built with `--features redis`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mcp::store::RedisStore;
use mcp::{Context, Elicitation, JsonSchema, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tower::ServiceExt;

/// A `redis-server` on a free loopback port, stopped when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    fn start_on(port: u16) -> Self {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (Debian's redis-server package; .ci/run installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child, port };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on port {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Confirm {
    /// Pay?
    confirm: bool,
}

/// Payments made, by every replica of the test.
#[derive(Default)]
struct Ledger {
    payments: AtomicU64,
}

/// Ask the user to confirm, then pay.
#[mcp::tool]
async fn pay(ctx: Context, amount: u64, ledger: State<Ledger>) -> mcp::Result<String> {
    match ctx.elicit::<Confirm>(format!("Pay {amount}?")).await? {
        Elicitation::Accept(Confirm { confirm: true }) => {
            ledger.payments.fetch_add(1, Ordering::SeqCst);
            Ok(format!("paid {amount}"))
        }
        _ => Ok("not paid".into()),
    }
}

/// Ask the client's model.
#[mcp::tool]
async fn ask_model(ctx: Context, question: String) -> mcp::Result<String> {
    Ok(ctx.sample(question).await?.text())
}

/// A resource clients may subscribe to.
#[mcp::resource("test://watched")]
async fn watched() -> String {
    "watched".into()
}

/// Tell subscribers `test://watched` changed.
#[mcp::tool]
async fn touch(ctx: Context) -> &'static str {
    ctx.resource_updated("test://watched");
    "touched"
}

/// Log at two levels.
#[mcp::tool]
async fn chatty(ctx: Context) -> &'static str {
    ctx.info("an info line");
    ctx.error("an error line");
    "chatted"
}

/// Add two numbers (needs no store).
#[mcp::tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

const KEY: [u8; 32] = [42; 32];

/// A replica: its own server (own memory, own parked calls), sharing the key and the store.
fn replica(ledger: &Arc<Ledger>, store: RedisStore) -> axum::Router {
    mcp::Server::new("pay", "1")
        .state_arc(Arc::clone(ledger))
        .tools(mcp::tools![pay, add, ask_model, touch, chatty])
        .resources(mcp::resources![watched])
        .request_state_key(KEY)
        .store(store)
        .build()
        .unwrap()
        .into_router()
}

fn call(name: &str, arguments: Value, retry: Option<&str>) -> Request<Body> {
    let mut params = json!({
        "name": name,
        "arguments": arguments,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
        },
    });
    if let Some(state) = retry {
        params["requestState"] = json!(state);
        params["inputResponses"] = json!({"elicit-1": {"action": "accept", "content": {"confirm": true}}});
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params});
    Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", name)
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .map_or_else(|| serde_json::from_str(&text), serde_json::from_str)
        .unwrap_or(Value::Null);
    (status, json)
}

/// The `requestState` of an `input_required` answer.
fn request_state(answer: &Value) -> String {
    assert_eq!(answer["result"]["resultType"], "input_required", "{answer}");
    let key = answer["result"]["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap();
    assert_eq!(key, "elicit-1");
    answer["result"]["requestState"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn one_confirmation_pays_once_whichever_replicas_see_the_retry() {
    let redis = Redis::start();
    let ledger = Arc::new(Ledger::default());
    let store = RedisStore::open(&redis.url()).unwrap().prefix("fleet-once:");
    let replicas: Vec<_> = (0..3).map(|_| replica(&ledger, store.clone())).collect();

    // The call starts (and parks) on the first replica; the same retry goes to each in turn:
    // to a replica that must replay it first, then to the one where it is parked.
    for order in [[1, 0, 2], [0, 1, 2]] {
        let before = ledger.payments.load(Ordering::SeqCst);
        let (_, first) = send(&replicas[0], call("pay", json!({"amount": 5}), None)).await;
        let state = request_state(&first);
        let mut paid = 0;
        for (turn, &r) in order.iter().enumerate() {
            let (status, answer) = send(&replicas[r], call("pay", json!({"amount": 5}), Some(&state))).await;
            if turn == 0 {
                assert_eq!(
                    answer["result"]["content"][0]["text"], "paid 5",
                    "replica {r}: {answer}"
                );
                paid += 1;
            } else {
                assert_eq!(status, StatusCode::BAD_REQUEST, "replica {r}: {answer}");
                assert_eq!(answer["error"]["code"], -32602);
                let message = answer["error"]["message"].as_str().unwrap();
                assert!(message.contains("already used"), "replica {r}: {message}");
            }
        }
        assert_eq!(paid, 1);
        assert_eq!(
            ledger.payments.load(Ordering::SeqCst),
            before + 1,
            "one confirmation, one payment (order {order:?})"
        );
    }
}

#[tokio::test]
async fn a_redis_outage_fails_only_the_retries_that_need_it_and_they_work_once_it_is_back() {
    let mut redis = Redis::start();
    let port = redis.port;
    let ledger = Arc::new(Ledger::default());
    let store = RedisStore::open(&redis.url())
        .unwrap()
        .prefix("fleet-outage:")
        .timeout(Duration::from_millis(500));
    let app = replica(&ledger, store.clone());
    let other = replica(&ledger, store);

    let (_, first) = send(&app, call("pay", json!({"amount": 7}), None)).await;
    let state = request_state(&first);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "fleet-test", "version": "1"}}});
    let res = other.clone().oneshot(session_post(None, &init)).await.unwrap();
    let session = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    redis.stop();

    // A session's request on a replica that must look it up: 503, said plainly; the replica
    // that holds it serves it.
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let (status, answer) = send(&app, session_post(Some(&session), &list)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("state store is unavailable")
    );
    assert_eq!(
        send(&other, session_post(Some(&session), &list)).await.0,
        StatusCode::OK
    );

    // The retry needs the store: a clear error, and nothing paid.
    let (_, answer) = send(&app, call("pay", json!({"amount": 7}), Some(&state))).await;
    assert_eq!(answer["error"]["code"], -32603, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("state store is unavailable"), "{message}");
    assert!(!message.contains("redis://"), "no URL in errors: {message}");
    assert_eq!(ledger.payments.load(Ordering::SeqCst), 0);
    // Everything else is served as usual.
    let (status, answer) = send(&app, call("add", json!({"a": 2, "b": 3}), None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["result"]["structuredContent"], json!({"result": 5}));

    // Redis is back: the same retry (its state was never used) pays, once.
    let _redis = Redis::start_on(port);
    let mut paid = None;
    for _ in 0..40 {
        let (_, answer) = send(&app, call("pay", json!({"amount": 7}), Some(&state))).await;
        if answer["error"]["code"] == -32603 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        paid = Some(answer);
        break;
    }
    let paid = paid.expect("the store came back");
    assert_eq!(paid["result"]["content"][0]["text"], "paid 7", "{paid}");
    assert_eq!(ledger.payments.load(Ordering::SeqCst), 1);
}

fn session_post(session: Option<&str>, body: &Value) -> Request<Body> {
    let mut req = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(id) = session {
        req = req.header("mcp-session-id", id);
    }
    req.body(Body::from(serde_json::to_vec(body).unwrap())).unwrap()
}

/// Reads SSE events from `body` until one satisfies `until`.
async fn next_event(body: &mut Body, text: &mut String, until: impl Fn(&Value) -> bool) -> Value {
    next_event_with_id(body, text, until).await.1
}

#[tokio::test]
async fn a_handshake_era_session_is_served_by_every_replica_and_answers_cross_over() {
    let redis = Redis::start();
    let ledger = Arc::new(Ledger::default());
    let store = RedisStore::open(&redis.url()).unwrap().prefix("fleet-sessions:");
    let replicas: Vec<_> = (0..3).map(|_| replica(&ledger, store.clone())).collect();

    // Opened on the first replica.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {"sampling": {}},
        "clientInfo": {"name": "fleet-test", "version": "1"}}});
    let res = replicas[0].clone().oneshot(session_post(None, &init)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let session = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let (status, _) = send(&replicas[1], session_post(Some(&session), &note)).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // A call on the second replica asks the client's model on its stream...
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "ask_model", "arguments": {"question": "capital of France?"}}});
    let res = replicas[1]
        .clone()
        .oneshot(session_post(Some(&session), &call))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut stream = res.into_body();
    let mut text = String::new();
    let asked = next_event(&mut stream, &mut text, |m| m["method"] == "sampling/createMessage").await;
    assert_eq!(asked["params"]["messages"][0]["content"]["text"], "capital of France?");

    // ...and the client's answer lands on the third, which forwards it.
    let answer = json!({"jsonrpc": "2.0", "id": asked["id"], "result": {
        "role": "assistant", "content": {"type": "text", "text": "Paris"}, "model": "m"}});
    let (status, _) = send(&replicas[2], session_post(Some(&session), &answer)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let result = next_event(&mut stream, &mut text, |m| m["id"] == 2).await;
    assert_eq!(result["result"]["content"][0]["text"], "Paris", "{result}");

    // The log level set through one replica holds on the others.
    let level = json!({"jsonrpc": "2.0", "id": 4, "method": "logging/setLevel", "params": {"level": "error"}});
    assert_eq!(
        send(&replicas[2], session_post(Some(&session), &level)).await.0,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let chat =
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "chatty", "arguments": {}}});
    let res = replicas[1]
        .clone()
        .oneshot(session_post(Some(&session), &chat))
        .await
        .unwrap();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("an error line"), "{text}");
    assert!(!text.contains("an info line"), "{text}");

    // Any replica lists; a DELETE on one ends the session on all.
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"});
    let (status, listed) = send(&replicas[2], session_post(Some(&session), &list)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(listed["result"]["tools"].as_array().unwrap().len() >= 3);
    let delete = Request::delete("/mcp")
        .header("mcp-session-id", session.as_str())
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        replicas[2].clone().oneshot(delete).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let mut ended = false;
    for _ in 0..50 {
        let statuses = [
            send(&replicas[0], session_post(Some(&session), &list)).await.0,
            send(&replicas[1], session_post(Some(&session), &list)).await.0,
        ];
        if statuses == [StatusCode::NOT_FOUND; 2] {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ended, "every replica forgot the ended session");
}

#[tokio::test]
async fn a_resource_update_made_on_one_replica_reaches_subscribers_on_the_others() {
    let redis = Redis::start();
    let ledger = Arc::new(Ledger::default());
    let store = RedisStore::open(&redis.url()).unwrap().prefix("fleet-events:");
    let replicas: Vec<_> = (0..3).map(|_| replica(&ledger, store.clone())).collect();

    // Handshake era: opened on the first replica, its notification stream on the second, the
    // subscription made through the third.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "fleet-test", "version": "1"}}});
    let res = replicas[0].clone().oneshot(session_post(None, &init)).await.unwrap();
    let session = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let get = Request::get("/mcp")
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session.as_str())
        .body(Body::empty())
        .unwrap();
    let res = replicas[1].clone().oneshot(get).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut standalone = res.into_body();
    let subscribe =
        json!({"jsonrpc": "2.0", "id": 2, "method": "resources/subscribe", "params": {"uri": "test://watched"}});
    let (status, _) = send(&replicas[2], session_post(Some(&session), &subscribe)).await;
    assert_eq!(status, StatusCode::OK);

    // Stateless era: a `subscriptions/listen` stream open on the third replica.
    let listen = json!({"jsonrpc": "2.0", "id": 9, "method": "subscriptions/listen", "params": {
        "notifications": {"resourceSubscriptions": ["test://watched"]},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}});
    let req = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "subscriptions/listen")
        .body(Body::from(serde_json::to_vec(&listen).unwrap()))
        .unwrap();
    let mut listening = replicas[2].clone().oneshot(req).await.unwrap().into_body();
    let mut listen_text = String::new();
    next_event(&mut listening, &mut listen_text, |m| {
        m["method"] == "notifications/subscriptions/acknowledged"
    })
    .await;

    // Pub/sub subscriptions take a moment to be in place on every replica.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, touched) = send(&replicas[0], call("touch", json!({}), None)).await;
    assert_eq!(touched["result"]["content"][0]["text"], "touched", "{touched}");

    let mut text = String::new();
    let heard = next_event(&mut standalone, &mut text, |m| {
        m["method"] == "notifications/resources/updated"
    })
    .await;
    assert_eq!(heard["params"]["uri"], "test://watched");
    let heard = next_event(&mut listening, &mut listen_text, |m| {
        m["method"] == "notifications/resources/updated"
    })
    .await;
    assert_eq!(heard["params"]["uri"], "test://watched");
    assert_eq!(heard["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 9);
}

/// Reads SSE events from `body` until one satisfies `until`: its `id:` (`""` if none) and data.
async fn next_event_with_id(body: &mut Body, text: &mut String, until: impl Fn(&Value) -> bool) -> (String, Value) {
    loop {
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let id = event.lines().find_map(|l| l.strip_prefix("id: ")).map(str::to_owned);
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: "))
                && let Ok(json) = serde_json::from_str::<Value>(data)
                && until(&json)
            {
                return (id.unwrap_or_default(), json);
            }
        }
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("the stream goes on")
            .expect("the stream is not over")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
}

#[tokio::test]
async fn a_stream_resumes_on_another_replica_with_exactly_the_missed_events() {
    let redis = Redis::start();
    let ledger = Arc::new(Ledger::default());
    let store = RedisStore::open(&redis.url()).unwrap().prefix("fleet-resume:");
    let mut replicas: Vec<_> = (0..3).map(|_| replica(&ledger, store.clone())).collect();

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "fleet-test", "version": "1"}}});
    let res = replicas[0].clone().oneshot(session_post(None, &init)).await.unwrap();
    let session = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let subscribe =
        json!({"jsonrpc": "2.0", "id": 2, "method": "resources/subscribe", "params": {"uri": "test://watched"}});
    assert_eq!(
        send(&replicas[2], session_post(Some(&session), &subscribe)).await.0,
        StatusCode::OK
    );
    let get = |last: Option<&str>| {
        let mut req = Request::get("/mcp")
            .header("accept", "text/event-stream")
            .header("mcp-session-id", session.as_str());
        if let Some(last) = last {
            req = req.header("last-event-id", last);
        }
        req.body(Body::empty()).unwrap()
    };
    // The notification stream is open on the first replica.
    let mut stream = replicas[0].clone().oneshot(get(None)).await.unwrap().into_body();
    let mut text = String::new();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let touch = || call("touch", json!({}), None);
    send(&replicas[1], touch()).await;
    let updated = |m: &Value| m["method"] == "notifications/resources/updated";
    let (first, _) = next_event_with_id(&mut stream, &mut text, updated).await;

    // The client loses that connection; an update it misses is written to the stream's log.
    drop(stream);
    send(&replicas[1], touch()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The replica that held the stream goes away.
    drop(replicas.remove(0));

    // Back on another replica: the missed event once, then the stream goes on live there.
    let res = replicas[0].clone().oneshot(get(Some(&first))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut resumed = res.into_body();
    let mut text = String::new();
    let (missed, _) = next_event_with_id(&mut resumed, &mut text, updated).await;
    assert_ne!(missed, first);
    assert_eq!(
        missed.rsplit_once('-').unwrap().0,
        first.rsplit_once('-').unwrap().0,
        "the missed event is from the same stream"
    );
    send(&replicas[1], touch()).await;
    let (live, _) = next_event_with_id(&mut resumed, &mut text, updated).await;
    assert_ne!(live, missed, "then a live event, on this replica's own stream");
    assert!(
        !text.contains("notifications/resources/updated"),
        "and nothing twice: {text}"
    );
}

// ----------------------------------------------------------------------------------- tasks

/// Ask the user to confirm, take `ms` milliseconds, then pay: a task when the client can take
/// one.
#[mcp::tool(task = "optional")]
async fn slow_pay(ctx: Context, amount: u64, ms: u64, ledger: State<Ledger>) -> mcp::Result<String> {
    let answer = ctx.elicit::<Confirm>(format!("Pay {amount}?")).await?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    match answer {
        Elicitation::Accept(Confirm { confirm: true }) => {
            ledger.payments.fetch_add(1, Ordering::SeqCst);
            Ok(format!(
                "paid {amount}{}",
                if ctx.is_replay() { " (replayed)" } else { "" }
            ))
        }
        _ => Ok("not paid".into()),
    }
}

/// A replica with a runtime of its own, which `kill` shuts down with everything running on it
/// (its tasks, its lease), as if its process died.
struct Replica {
    rt: Option<tokio::runtime::Runtime>,
    app: axum::Router,
}

impl Replica {
    fn start(ledger: &Arc<Ledger>, redis: &Redis, prefix: &str, replay: bool) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let store = RedisStore::open(&redis.url()).unwrap().prefix(prefix);
        let app = mcp::Server::new("pay", "1")
            .state_arc(Arc::clone(ledger))
            .tools(mcp::tools![slow_pay])
            .request_state_key(KEY)
            .store(store)
            .task_lease(Duration::from_millis(600))
            .task_poll_interval(Duration::from_millis(50))
            .replay(replay)
            .build()
            .unwrap()
            .into_router();
        Self { rt: Some(rt), app }
    }

    /// A stateless request declaring elicitation and the tasks extension, served on this
    /// replica's runtime.
    async fn ask(&self, method: &str, params: Value) -> Value {
        let mut params = params;
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "extensions": {"io.modelcontextprotocol/tasks": {}}},
        });
        let name = params["name"]
            .as_str()
            .or(params["taskId"].as_str())
            .unwrap_or_default()
            .to_owned();
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let mut req = Request::post("/mcp")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method);
        if method == "tools/call" {
            req = req.header("mcp-name", name);
        }
        let req = req.body(Body::from(serde_json::to_vec(&body).unwrap())).unwrap();
        let app = self.app.clone();
        let rt = self.rt.as_ref().expect("the replica is alive");
        rt.spawn(async move { send(&app, req).await }).await.unwrap().1
    }

    fn kill(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `tasks/get` on `replica` until the task's status is one of `statuses`.
async fn poll_task(replica: &Replica, task: &str, statuses: &[&str]) -> Value {
    for _ in 0..300 {
        let got = replica.ask("tasks/get", json!({"taskId": task})).await;
        let status = got["result"]["status"].as_str().unwrap_or_else(|| panic!("{got}"));
        if statuses.contains(&status) {
            return got["result"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {task} never reached {statuses:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_is_polled_answered_and_cancelled_through_another_replica() {
    let redis = Redis::start();
    let ledger = Arc::new(Ledger::default());
    let a = Replica::start(&ledger, &redis, "fleet-tasks:", true);
    let b = Replica::start(&ledger, &redis, "fleet-tasks:", true);

    let created = a
        .ask(
            "tools/call",
            json!({"name": "slow_pay", "arguments": {"amount": 7, "ms": 100}}),
        )
        .await;
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    let task = created["result"]["taskId"].as_str().unwrap().to_owned();
    // Through the other replica: the question, the answer, the result.
    let waiting = poll_task(&b, &task, &["input_required"]).await;
    assert_eq!(waiting["inputRequests"]["elicit-1"]["params"]["message"], "Pay 7?");
    let ack = b
        .ask(
            "tasks/update",
            json!({"taskId": task, "inputResponses": {"elicit-1": {"action": "accept", "content": {"confirm": true}}}}),
        )
        .await;
    assert_eq!(ack["result"]["resultType"], "complete", "{ack}");
    let done = poll_task(&b, &task, &["completed", "failed", "cancelled"]).await;
    assert_eq!(
        done["result"]["content"][0]["text"], "paid 7",
        "ran on its own replica: {done}"
    );
    assert_eq!(ledger.payments.load(Ordering::SeqCst), 1);

    // A cancellation through the other replica reaches the task where it runs.
    let created = a
        .ask(
            "tools/call",
            json!({"name": "slow_pay", "arguments": {"amount": 8, "ms": 100}}),
        )
        .await;
    let task = created["result"]["taskId"].as_str().unwrap().to_owned();
    poll_task(&b, &task, &["input_required"]).await;
    let ack = b.ask("tasks/cancel", json!({"taskId": task})).await;
    assert_eq!(ack["result"]["resultType"], "complete", "{ack}");
    let done = poll_task(&a, &task, &["completed", "failed", "cancelled"]).await;
    assert_eq!(done["status"], "cancelled");
    assert_eq!(
        ledger.payments.load(Ordering::SeqCst),
        1,
        "nothing paid for the cancelled task"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_replica_dies_is_replayed_on_another_or_fails_when_replay_is_off() {
    let redis = Redis::start();
    for replay in [true, false] {
        let prefix = format!("fleet-dies-{replay}:");
        let ledger = Arc::new(Ledger::default());
        let mut a = Replica::start(&ledger, &redis, &prefix, replay);
        let b = Replica::start(&ledger, &redis, &prefix, replay);

        let created = a
            .ask(
                "tools/call",
                json!({"name": "slow_pay", "arguments": {"amount": 9, "ms": 1500}}),
            )
            .await;
        let task = created["result"]["taskId"].as_str().unwrap().to_owned();
        poll_task(&b, &task, &["input_required"]).await;
        b.ask(
            "tasks/update",
            json!({"taskId": task, "inputResponses": {"elicit-1": {"action": "accept", "content": {"confirm": true}}}}),
        )
        .await;
        poll_task(&b, &task, &["working"]).await;
        // The replica running it dies in the middle of its work.
        a.kill();
        let done = poll_task(&b, &task, &["completed", "failed", "cancelled"]).await;
        if replay {
            assert_eq!(done["status"], "completed", "{done}");
            assert_eq!(
                done["result"]["content"][0]["text"], "paid 9 (replayed)",
                "replayed from the top with the answer it had"
            );
            assert_eq!(ledger.payments.load(Ordering::SeqCst), 1, "paid once");
        } else {
            assert_eq!(done["status"], "failed", "{done}");
            let message = done["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("replica running this task stopped") && message.contains("replay is off"),
                "{message}"
            );
            assert_eq!(ledger.payments.load(Ordering::SeqCst), 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_redis_outage_task_requests_get_clear_errors_and_tasks_work_again_after() {
    let mut redis = Redis::start();
    let port = redis.port;
    let ledger = Arc::new(Ledger::default());
    let a = Replica::start(&ledger, &redis, "fleet-outage:", true);
    let created = a
        .ask(
            "tools/call",
            json!({"name": "slow_pay", "arguments": {"amount": 1, "ms": 10}}),
        )
        .await;
    let task = created["result"]["taskId"].as_str().unwrap().to_owned();

    redis.stop();
    let refused = a
        .ask(
            "tools/call",
            json!({"name": "slow_pay", "arguments": {"amount": 2, "ms": 10}}),
        )
        .await;
    assert_eq!(
        refused["error"]["code"], -32603,
        "no task id that does not exist: {refused}"
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("store is unavailable"),
        "{refused}"
    );
    let refused = a.ask("tasks/get", json!({"taskId": task})).await;
    assert_eq!(refused["error"]["code"], -32603, "{refused}");
    assert!(
        !refused["error"]["message"].as_str().unwrap().contains("redis://"),
        "no URL in errors"
    );

    let redis = Redis::start_on(port);
    let created = a
        .ask(
            "tools/call",
            json!({"name": "slow_pay", "arguments": {"amount": 3, "ms": 10}}),
        )
        .await;
    let task = created["result"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let waiting = poll_task(&a, &task, &["input_required"]).await;
    assert_eq!(waiting["inputRequests"]["elicit-1"]["params"]["message"], "Pay 3?");
    drop(redis);
}
