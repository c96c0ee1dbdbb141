//! Middleware, per-tool scopes and visibility, as a client sees them: layers run in order and
//! can refuse, transform and cache; tower's own layers work; hidden tools are not there.

mod support;

use mcp::client::{ClientOptions, Era};
use mcp::middleware::{self, Next, Request};
use mcp::visibility::Component;
use mcp::{Context, Method, ProtocolVersion};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ERAS: [Era; 2] = [Era::Stateless, Era::Handshake(ProtocolVersion::V2025_11_25)];

/// Add two numbers.
#[mcp::tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Deletes everything (never, in these tests).
#[mcp::tool]
async fn delete() -> &'static str {
    "deleted"
}

/// Takes 200 ms, and counts how many run at once.
#[mcp::tool]
async fn slow(gauge: mcp::State<Gauge>) -> String {
    let now = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
    gauge.most.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    gauge.now.fetch_sub(1, Ordering::SeqCst);
    "slow".into()
}

#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// Hides `add` from this session.
#[mcp::tool]
async fn hide_add(ctx: Context) -> mcp::Result<&'static str> {
    ctx.hide(Component::tool("add"))?;
    Ok("hidden")
}

fn server() -> mcp::Server {
    mcp::Server::new("layers", "1")
        .state(Gauge::default())
        .tools(mcp::tools![add, delete, slow, hide_add])
}

fn names(tools: &[mcp::Tool]) -> Vec<&str> {
    tools.iter().map(|t| t.name.as_str()).collect()
}

#[tokio::test]
async fn layers_run_outermost_first_and_can_refuse_and_transform() {
    let trail = Arc::new(Mutex::new(Vec::<String>::new()));
    let mark = |label: &'static str, trail: &Arc<Mutex<Vec<String>>>| {
        let trail = Arc::clone(trail);
        middleware::from_fn(move |request: Request, next: Next| {
            let trail = Arc::clone(&trail);
            async move {
                trail.lock().unwrap().push(format!("{label} in: {}", request.method()));
                let response = next.run(request).await;
                trail.lock().unwrap().push(format!("{label} out"));
                response
            }
        })
    };
    // Refuses `delete`; adds a line to every tool result.
    let guard = middleware::on(
        [Method::ToolsCall],
        middleware::from_fn(|request: Request, next: Next| async move {
            if request.tool_name() == Some("delete") {
                return Err(mcp::protocol::ErrorObject::invalid_params(
                    "`delete` is not allowed here",
                ));
            }
            let mut result = next.run(request).await?;
            if let Some(content) = result["content"].as_array_mut() {
                content.push(json!({"type": "text", "text": "(checked)"}));
            }
            Ok(result)
        }),
    );
    for era in ERAS {
        trail.lock().unwrap().clear();
        let server = server()
            .layer(mark("outer", &trail))
            .layer(mark("inner", &trail))
            .layer(guard.clone());
        let client = support::client(server, era).await;
        let sum = client.call_tool("add", json!({"a": 2, "b": 3})).await.unwrap();
        let texts: Vec<&str> = sum.content.iter().filter_map(|c| c.as_text()).collect();
        assert_eq!(texts, ["5", "(checked)"], "{era:?}");
        let calls: Vec<String> = trail
            .lock()
            .unwrap()
            .iter()
            .filter(|l| !l.contains("initialize"))
            .cloned()
            .collect();
        assert_eq!(
            calls[calls.len() - 4..],
            ["outer in: tools/call", "inner in: tools/call", "inner out", "outer out"],
            "{era:?}: {calls:?}"
        );
        let refused = client.call_tool("delete", json!({})).await.unwrap_err().to_string();
        assert!(refused.contains("`delete` is not allowed here"), "{era:?}: {refused}");
        // Lists go through the outer layers, not the `on(tools/call)` one.
        let listed = client.list_all_tools().await.unwrap();
        assert!(names(&listed).contains(&"delete"));
    }
}

#[tokio::test]
async fn a_caching_layer_answers_lists_without_the_server() {
    let served = Arc::new(AtomicUsize::new(0));
    let cache: Arc<Mutex<Option<Value>>> = Arc::default();
    let layer = {
        let (served, cache) = (Arc::clone(&served), Arc::clone(&cache));
        middleware::on(
            [Method::ToolsList],
            middleware::from_fn(move |request: Request, next: Next| {
                let (served, cache) = (Arc::clone(&served), Arc::clone(&cache));
                async move {
                    if let Some(hit) = cache.lock().unwrap().clone() {
                        return Ok(hit);
                    }
                    served.fetch_add(1, Ordering::SeqCst);
                    let answer = next.run(request).await?;
                    *cache.lock().unwrap() = Some(answer.clone());
                    Ok(answer)
                }
            }),
        )
    };
    let client = support::client(server().layer(layer), Era::Stateless).await;
    for _ in 0..3 {
        assert_eq!(client.list_all_tools().await.unwrap().len(), 4);
    }
    assert_eq!(
        served.load(Ordering::SeqCst),
        1,
        "the server listed once; the cache answered twice"
    );
}

#[tokio::test]
async fn towers_own_layers_bound_concurrency_and_time() {
    let gauge = Arc::new(Gauge::default());
    let server = mcp::Server::new("bounded", "1")
        .state_arc(Arc::clone(&gauge))
        .tools(mcp::tools![slow])
        .layer(tower::limit::ConcurrencyLimitLayer::new(1));
    let client = Arc::new(support::client(server, Era::Stateless).await);
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let client = Arc::clone(&client);
            tokio::spawn(async move { client.call_tool("slow", json!({})).await.unwrap() })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().text_content(), "slow");
    }
    assert_eq!(gauge.most.load(Ordering::SeqCst), 1, "one at a time");

    let server = mcp::Server::new("timed", "1")
        .state(Gauge::default())
        .tools(mcp::tools![slow, add])
        .layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(50)));
    let client = support::client(server, Era::Stateless).await;
    let late = client.call_tool("slow", json!({})).await.unwrap_err().to_string();
    assert!(
        late.contains("refused by the server's middleware") && late.contains("timed out"),
        "{late}"
    );
    assert_eq!(
        client
            .call_tool("add", json!({"a": 1, "b": 1}))
            .await
            .unwrap()
            .text_content(),
        "2"
    );
}

#[tokio::test]
async fn a_session_hides_a_tool_from_itself_and_is_told_its_list_changed() {
    let client = support::client(server(), ERAS[1]).await;
    assert!(names(&client.list_all_tools().await.unwrap()).contains(&"add"));
    client.call_tool("hide_add", json!({})).await.unwrap();
    let (method, _) = tokio::time::timeout(Duration::from_secs(5), client.next_notification())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(method, "notifications/tools/list_changed");
    assert!(!names(&client.list_all_tools().await.unwrap()).contains(&"add"));
    let gone = client
        .call_tool("add", json!({"a": 1, "b": 2}))
        .await
        .unwrap_err()
        .to_string();
    assert!(gone.contains("Unknown tool: add"), "{gone}");
    // Another session still has it.
    let other = support::client(server(), ERAS[1]).await;
    assert_eq!(
        other
            .call_tool("add", json!({"a": 1, "b": 2}))
            .await
            .unwrap()
            .text_content(),
        "3"
    );
    // The stateless era has no session to hide from.
    let stateless = support::client(server(), Era::Stateless).await;
    let refused = stateless.call_tool("hide_add", json!({})).await.unwrap();
    assert!(
        refused.is_error && refused.text_content().contains("no session"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_visibility_rule_hides_tools_in_both_eras() {
    for era in ERAS {
        let server = server().visibility(|c, _principal| *c != Component::tool("delete"));
        let client = support::client(server, era).await;
        let listed = client.list_all_tools().await.unwrap();
        assert_eq!(names(&listed), ["add", "slow", "hide_add"], "{era:?}");
        let gone = client.call_tool("delete", json!({})).await.unwrap_err().to_string();
        assert!(gone.contains("Unknown tool: delete"), "{era:?}: {gone}");
        let _ = ClientOptions::default();
    }
}
