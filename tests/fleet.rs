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
        .tools(mcp::tools![pay, add])
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
    let app = replica(&ledger, store);

    let (_, first) = send(&app, call("pay", json!({"amount": 7}), None)).await;
    let state = request_state(&first);
    redis.stop();

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
