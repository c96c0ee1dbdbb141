//! The proxy, in front of a real upstream process (the quickstart example over stdio), in every
//! pairing of eras: what the upstream serves is served, calls are forwarded over one
//! connection, and the upstream's sampling reaches the proxy's own client.

mod support;

use mcp::ProtocolVersion;
use mcp::client::{Client, ClientOptions, Era};
use mcp::proxy::Upstream;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const ERAS: [Era; 2] = [Era::Stateless, Era::Handshake(ProtocolVersion::V2025_11_25)];

fn upstream(era: Era) -> Upstream {
    Upstream::command(support::example("quickstart"), std::iter::empty::<&str>()).era(era)
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `example` started with `args`, once it listens on `port`; killed when dropped.
async fn listening(example: &str, args: &[String], port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new(support::example(example))
        .args(args)
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child
}

/// The front client's model: says what it was asked, and counts.
fn model(asked: Arc<AtomicUsize>) -> ClientOptions {
    ClientOptions::default().on_sampling(move |params: Value| {
        asked.fetch_add(1, Ordering::SeqCst);
        async move {
            let prompt = params["messages"][0]["content"]["text"].as_str().unwrap_or("?").to_owned();
            Ok(json!({"role": "assistant", "content": {"type": "text", "text": format!("one line on `{}`", prompt.lines().last().unwrap_or(""))}, "model": "front"}))
        }
    })
}

#[tokio::test]
async fn the_proxy_serves_the_upstream_and_relays_its_sampling_in_every_pairing_of_eras() {
    for upstream_era in ERAS {
        let server = mcp::Server::proxy(upstream(upstream_era)).await.unwrap();
        let service = server.build().unwrap();
        for front_era in ERAS {
            let (ours, theirs) = mcp::transport::memory::pair();
            let serving = service.clone();
            tokio::spawn(async move { serving.serve(theirs).await });
            let asked = Arc::new(AtomicUsize::new(0));
            let client = Client::connect(ours, model(Arc::clone(&asked)).era(front_era))
                .await
                .unwrap();
            let pairing = format!("front {front_era:?}, upstream {upstream_era:?}");
            assert_eq!(client.server_info().unwrap().name, "quickstart", "{pairing}");
            let tools: Vec<String> = client
                .list_all_tools()
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.name)
                .collect();
            assert_eq!(
                tools,
                [
                    "add",
                    "divide",
                    "stats",
                    "greet",
                    "summarize",
                    "research",
                    "increment",
                    "peek",
                    "reset"
                ],
                "{pairing}"
            );
            let sum = client.call_tool("add", json!({"a": 2, "b": 40})).await.unwrap();
            assert_eq!(sum.text_content(), "42", "{pairing}");
            assert_eq!(sum.structured_content, Some(json!({"result": 42})), "{pairing}");
            let summary = client
                .call_tool("summarize", json!({"text": "a long story"}))
                .await
                .unwrap();
            assert_eq!(summary.text_content(), "one line on `a long story`", "{pairing}");
            assert_eq!(
                asked.load(Ordering::SeqCst),
                1,
                "{pairing}: the front client's model was asked once"
            );
            let bad = client
                .call_tool("divide", json!({"dividend": 1, "divisor": 0}))
                .await
                .unwrap();
            assert!(bad.is_error, "{pairing}: a tool error stays a tool error");
            let read = client.read_resource("counter://value").await.unwrap();
            assert!(
                serde_json::to_value(&read).unwrap()["contents"][0]["text"].is_string(),
                "{pairing}"
            );
        }
    }
}

#[tokio::test]
async fn many_calls_share_one_upstream_connection() {
    let service = mcp::Server::proxy(upstream(Era::Auto)).await.unwrap().build().unwrap();
    let (ours, theirs) = mcp::transport::memory::pair();
    tokio::spawn(async move { service.serve(theirs).await });
    let client = Arc::new(
        Client::connect(ours, ClientOptions::default().era(Era::Stateless))
            .await
            .unwrap(),
    );
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let client = Arc::clone(&client);
            tokio::spawn(async move {
                client
                    .call_tool("add", json!({"a": i, "b": 1}))
                    .await
                    .unwrap()
                    .text_content()
            })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap(), (i + 1).to_string());
    }
}

#[tokio::test]
async fn the_proxy_forwards_to_an_upstream_over_streamable_http_in_both_eras() {
    let port = free_port();
    let mut child = listening("quickstart", &["--http".into(), format!("127.0.0.1:{port}")], port).await;
    for upstream_era in ERAS {
        let upstream = Upstream::url(format!("http://127.0.0.1:{port}/mcp")).era(upstream_era);
        let service = mcp::Server::proxy(upstream).await.unwrap().build().unwrap();
        for front_era in ERAS {
            let (ours, theirs) = mcp::transport::memory::pair();
            let serving = service.clone();
            tokio::spawn(async move { serving.serve(theirs).await });
            let asked = Arc::new(AtomicUsize::new(0));
            let client = Client::connect(ours, model(Arc::clone(&asked)).era(front_era))
                .await
                .unwrap();
            let pairing = format!("front {front_era:?}, HTTP upstream {upstream_era:?}");
            assert_eq!(
                client
                    .call_tool("add", json!({"a": 1, "b": 2}))
                    .await
                    .unwrap()
                    .text_content(),
                "3",
                "{pairing}"
            );
            let summary = client
                .call_tool("summarize", json!({"text": "over http"}))
                .await
                .unwrap();
            assert_eq!(summary.text_content(), "one line on `over http`", "{pairing}");
            assert_eq!(asked.load(Ordering::SeqCst), 1, "{pairing}");
        }
    }
    child.kill().await.unwrap();
}

// Several workers, as a served proxy has: the answer and the relay of the last progress race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upstream_calls_last_progress_reaches_the_front_client_before_its_answer() {
    // The conformance example serves Streamable HTTP: its progress comes on each call's stream.
    let port = free_port();
    let _child = listening("conformance", &["--port".into(), port.to_string()], port).await;
    for upstream_era in ERAS {
        let upstream = Upstream::url(format!("http://127.0.0.1:{port}/mcp")).era(upstream_era);
        let service = mcp::Server::proxy(upstream).await.unwrap().build().unwrap();
        for front_era in ERAS {
            let (ours, theirs) = mcp::transport::memory::pair();
            let serving = service.clone();
            tokio::spawn(async move { serving.serve(theirs).await });
            let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
            let sink = Arc::clone(&seen);
            let options = ClientOptions::default().era(front_era).on_notification(
                mcp::Method::Progress,
                move |params: &Value| {
                    sink.lock().unwrap().push(params["progress"].as_f64().unwrap());
                },
            );
            let client = Client::connect(ours, options).await.unwrap();
            for i in 0..20 {
                seen.lock().unwrap().clear();
                let result = client
                    .call_tool_with("test_tool_with_progress", json!({}), Some(json!({"progressToken": i})))
                    .await
                    .unwrap();
                assert_eq!(result.text_content(), "Tool with progress executed successfully");
                assert_eq!(
                    *seen.lock().unwrap(),
                    [0.0, 50.0, 100.0],
                    "front {front_era:?}, upstream {upstream_era:?}, call {i}: every progress, the last before the answer"
                );
            }
        }
    }
}
