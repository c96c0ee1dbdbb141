//! `Context`: sampling, elicitation, roots, logging, progress and cancellation, in both eras.

mod support;

use mcp::client::{Client, ClientOptions, Era};
use mcp::protocol::ErrorObject;
use mcp::{Context, Elicitation, InputRequired, JsonSchema, ProtocolVersion, State, UrlElicitation};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const ERAS: [Era; 2] = [Era::Stateless, Era::Handshake(ProtocolVersion::V2025_11_25)];

/// Summarize a text with the client's model.
#[mcp::tool]
async fn summarize(ctx: Context, text: String) -> mcp::Result<String> {
    let reply = ctx
        .sample(format!("Summarize: {text}"))
        .system("Be brief.")
        .max_tokens(50)
        .await?;
    Ok(format!("summary: {} (by {})", reply.text(), reply.model))
}

/// Two samples side by side.
#[mcp::tool]
async fn both(ctx: Context) -> mcp::Result<String> {
    let (a, b) = tokio::join!(ctx.sample("first"), ctx.sample("second"));
    Ok(format!("{} + {}", a?.text(), b?.text()))
}

/// Three samples one after another, counting how often the code before them runs.
#[mcp::tool]
async fn chain(ctx: Context, runs: State<Runs>) -> mcp::Result<String> {
    runs.count.fetch_add(1, Ordering::SeqCst);
    let mut acc = String::new();
    for word in ["one", "two", "three"] {
        acc.push_str(&ctx.sample(word).await?.text());
        acc.push(' ');
    }
    Ok(format!(
        "{}{}",
        acc.trim_end(),
        if ctx.is_replay() { " (replayed)" } else { "" }
    ))
}

#[derive(Default)]
struct Runs {
    count: AtomicUsize,
}

/// Look a word up (offered to the model by `research`).
#[mcp::tool]
async fn lookup(word: String) -> String {
    format!("{word} means 42")
}

/// Let the model use `lookup`.
#[mcp::tool]
async fn research(ctx: Context, question: String) -> mcp::Result<String> {
    Ok(ctx.sample(question).tools(mcp::tools![lookup]).await?.text())
}

#[derive(Deserialize, JsonSchema, Debug, PartialEq)]
#[schemars(crate = "mcp::schemars")]
struct City {
    name: String,
    population: u64,
}

/// A typed answer.
#[mcp::tool]
async fn city(ctx: Context) -> mcp::Result<String> {
    let c: City = ctx.sample("Largest city?").json().await?;
    Ok(format!("{} has {}", c.name, c.population))
}

/// Sample, but fall back when the client cannot.
#[mcp::tool]
async fn polite(ctx: Context) -> String {
    match ctx.sample("hi").await {
        Ok(r) => r.text(),
        Err(mcp::Error::MissingCapability(c)) => format!("no {c}, answering myself"),
        Err(e) => format!("failed: {e}"),
    }
}

#[derive(Deserialize, JsonSchema, Debug)]
#[schemars(crate = "mcp::schemars")]
struct Contact {
    /// Who you are.
    name: String,
    age: Option<u8>,
    subscribe: bool,
}

/// Ask the user for their contact details.
#[mcp::tool]
async fn signup(ctx: Context) -> mcp::Result<String> {
    Ok(match ctx.elicit::<Contact>("Your details?").await? {
        Elicitation::Accept(c) => format!("welcome {} ({:?}, {})", c.name, c.age, c.subscribe),
        Elicitation::Decline => "declined".into(),
        Elicitation::Cancel => "cancelled".into(),
    })
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
#[allow(dead_code)] // only its schema matters: it is refused before anything is sent
struct Nested {
    inner: Contact,
}

/// Asks for a form no client can render.
#[mcp::tool]
async fn bad_form(ctx: Context) -> mcp::Result<String> {
    ctx.elicit::<Nested>("?").await.map(|_| "accepted".to_owned())
}

/// Send the user to a page.
#[mcp::tool]
async fn pay(ctx: Context) -> mcp::Result<String> {
    Ok(format!(
        "{:?}",
        ctx.elicit_url("Pay here", "https://example.com/pay").await?
    ))
}

/// The client's roots.
#[mcp::tool]
async fn roots(ctx: Context) -> mcp::Result<String> {
    Ok(ctx
        .roots()
        .await?
        .into_iter()
        .map(|r| r.uri)
        .collect::<Vec<_>>()
        .join(","))
}

/// Logs at every level, then reports progress.
#[mcp::tool]
async fn chatty(ctx: Context) -> &'static str {
    ctx.debug("d");
    ctx.info("i");
    ctx.warning("w");
    ctx.error("e");
    for p in [10.0, 50.0, 50.0, 100.0] {
        ctx.progress(p, Some(100.0), Some("working"));
    }
    "done"
}

/// Asks for input by hand and checks its own state on the retry.
#[mcp::tool]
async fn manual(ctx: Context) -> mcp::Result<mcp::ToolOutput> {
    if let (Some(state), Some(answers)) = (ctx.request_state(), ctx.input_responses()) {
        return Ok(mcp::ToolOutput::Result(mcp::CallToolResult::text(format!(
            "{state}: {}",
            answers["confirm"]["action"]
        ))));
    }
    Ok(mcp::ToolOutput::InputRequired(
        InputRequired::new()
            .request(
                "confirm",
                "elicitation/create",
                json!({"mode": "form", "message": "Sure?", "requestedSchema": {"type": "object", "properties": {}}}),
            )
            .state("state-ok"),
    ))
}

fn server() -> mcp::Server {
    mcp::Server::new("sampling-test", "1")
        .state(Runs::default())
        .tools(mcp::tools![
            summarize, both, chain, research, city, polite, signup, bad_form, pay, roots, chatty, manual
        ])
}

/// A sampling handler that answers `echo: <last user text>`, counting its calls.
fn echo_sampler(calls: Arc<AtomicUsize>) -> ClientOptions {
    ClientOptions::default().on_sampling(move |params: Value| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            let last = params["messages"].as_array().and_then(|m| m.last()).cloned().unwrap_or_default();
            let text = last["content"]["text"].as_str().unwrap_or("?").to_owned();
            assert!(params["maxTokens"].is_u64());
            Ok(json!({"role": "assistant", "content": {"type": "text", "text": format!("echo: {text}")}, "model": "echo-1", "stopReason": "endTurn"}))
        }
    })
}

async fn connect(server: mcp::Server, era: Era, options: ClientOptions) -> Client {
    Client::connect(support::start(server), options.era(era)).await.unwrap()
}

#[tokio::test]
async fn one_sample_reaches_the_clients_model_and_comes_back() {
    for era in ERAS {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = connect(server(), era, echo_sampler(calls.clone())).await;
        let r = c.call_tool("summarize", json!({"text": "long story"})).await.unwrap();
        assert_eq!(
            r.text_content(),
            "summary: echo: Summarize: long story (by echo-1)",
            "{era:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}

#[tokio::test]
async fn concurrent_samples_are_one_round_of_two_input_requests() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = connect(server(), Era::Stateless, echo_sampler(calls.clone())).await;
    let first = c
        .request("tools/call", json!({"name": "both", "arguments": {}}))
        .await
        .unwrap();
    assert_eq!(first["resultType"], "input_required");
    let requests = first["inputRequests"].as_object().unwrap();
    assert_eq!(requests.keys().collect::<Vec<_>>(), ["sample-1", "sample-2"]);
    assert_eq!(requests["sample-1"]["method"], "sampling/createMessage");
    assert!(first["requestState"].is_string());
    assert!(
        first.get("ttlMs").is_none(),
        "input_required results carry no cache hints"
    );
    // Driven to the end by the client:
    for era in ERAS {
        let c = connect(server(), era, echo_sampler(calls.clone())).await;
        assert_eq!(
            c.call_tool("both", json!({})).await.unwrap().text_content(),
            "echo: first + echo: second"
        );
    }
}

/// A sample side by side with one asked once its branch has woken itself (as a future that
/// must be polled again does), or has yielded to the runtime.
#[mcp::tool]
async fn nudged(ctx: Context, yields: bool) -> mcp::Result<String> {
    let later = async {
        if yields {
            tokio::task::yield_now().await;
        } else {
            let mut woke = false;
            std::future::poll_fn(|cx| {
                if std::mem::replace(&mut woke, true) {
                    return std::task::Poll::Ready(());
                }
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            })
            .await;
        }
        ctx.sample("second").await
    };
    let (a, b) = tokio::join!(ctx.sample("first"), later);
    Ok(format!("{} + {}", a?.text(), b?.text()))
}

#[tokio::test]
async fn a_branch_that_wakes_itself_before_it_asks_asks_in_the_same_round() {
    let server = || mcp::Server::new("s", "1").tools(mcp::tools![nudged]);
    let c = connect(server(), Era::Stateless, echo_sampler(Arc::default())).await;
    let first = c
        .request("tools/call", json!({"name": "nudged", "arguments": {"yields": false}}))
        .await
        .unwrap();
    assert_eq!(first["resultType"], "input_required");
    let keys: Vec<_> = first["inputRequests"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["sample-1", "sample-2"]);
    // One that yields to the runtime first may ask in a later round; either way the call ends
    // with both answers, in both eras.
    for era in ERAS {
        for yields in [false, true] {
            let c = connect(server(), era, echo_sampler(Arc::default())).await;
            assert_eq!(
                c.call_tool("nudged", json!({"yields": yields}))
                    .await
                    .unwrap()
                    .text_content(),
                "echo: first + echo: second",
                "{era:?}, yields: {yields}"
            );
        }
    }
}

/// A sample side by side with a timer, then a wait of its own: when the client's retry comes,
/// the call is still busy.
#[mcp::tool]
async fn patient(ctx: Context) -> mcp::Result<String> {
    let (reply, ()) = tokio::join!(ctx.sample("now"), tokio::time::sleep(Duration::from_millis(150)));
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(format!(
        "{}{}",
        reply?.text(),
        if ctx.is_replay() { " (replayed)" } else { "" }
    ))
}

#[tokio::test]
async fn a_call_still_busy_when_its_retry_comes_finishes_on_its_own() {
    // Stateless: the round ends while the timer runs (the call waits for its input too), and
    // the retry finds it still waiting for the timer; it must go on, once, to its answer.
    for era in ERAS {
        let calls = Arc::new(AtomicUsize::new(0));
        let server = mcp::Server::new("s", "1").tools(mcp::tools![patient]);
        let c = connect(server, era, echo_sampler(calls.clone())).await;
        let started = std::time::Instant::now();
        let r = c.call_tool("patient", json!({})).await.unwrap();
        assert_eq!(r.text_content(), "echo: now", "{era:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{era:?}");
        assert!(
            started.elapsed() >= Duration::from_millis(170),
            "{era:?}: both waits ran"
        );
    }
}

#[tokio::test]
async fn several_rounds_resume_the_same_parked_call() {
    for era in ERAS {
        let calls = Arc::new(AtomicUsize::new(0));
        let runs = Arc::new(Runs::default());
        let server = mcp::Server::new("s", "1")
            .state_arc(runs.clone())
            .tools(mcp::tools![chain]);
        let c = connect(server, era, echo_sampler(calls.clone())).await;
        let r = c.call_tool("chain", json!({})).await.unwrap();
        assert_eq!(r.text_content(), "echo: one echo: two echo: three");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(
            runs.count.load(Ordering::SeqCst),
            1,
            "{era:?}: the parked call resumed; nothing ran twice"
        );
    }
}

#[tokio::test]
async fn the_tool_loop_runs_server_tools_for_the_clients_model() {
    for era in ERAS {
        let options = ClientOptions::default()
            .on_sampling(|params: Value| async move {
                let messages = params["messages"].as_array().unwrap().clone();
                assert_eq!(params["tools"][0]["name"], "lookup");
                let last = messages.last().unwrap();
                // The model calls `lookup` first, then answers with what it returned.
                if last["role"] == "user" && last["content"]["type"] == "tool_result" {
                    let found = last["content"]["content"][0]["text"].as_str().unwrap().to_owned();
                    Ok(json!({"role": "assistant", "content": {"type": "text", "text": format!("answer: {found}")}, "model": "m"}))
                } else {
                    Ok(json!({"role": "assistant", "model": "m", "stopReason": "toolUse",
                        "content": [{"type": "tool_use", "id": "call-1", "name": "lookup", "input": {"word": "life"}}]}))
                }
            })
            .sampling_with_tools();
        let c = connect(server(), era, options).await;
        let r = c.call_tool("research", json!({"question": "meaning?"})).await.unwrap();
        assert_eq!(r.text_content(), "answer: life means 42", "{era:?}");
    }
}

#[tokio::test]
async fn a_typed_reply_retries_with_the_validation_error() {
    for era in ERAS {
        let attempts = Arc::new(AtomicUsize::new(0));
        let seen = attempts.clone();
        let options = ClientOptions::default()
            .on_sampling(move |params: Value| {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                async move {
                    assert_eq!(params["toolChoice"], json!({"mode": "required"}));
                    assert_eq!(params["tools"][0]["inputSchema"]["required"], json!(["name", "population"]));
                    let input = if n == 0 {
                        json!({"name": "Tokyo"})
                    } else {
                        let feedback = &params["messages"].as_array().unwrap().last().unwrap()["content"];
                        assert_eq!(feedback["isError"], true);
                        assert!(feedback["content"][0]["text"].as_str().unwrap().contains("population"));
                        json!({"name": "Tokyo", "population": 37_000_000})
                    };
                    Ok(json!({"role": "assistant", "model": "m", "stopReason": "toolUse",
                        "content": {"type": "tool_use", "id": format!("t{n}"), "name": "final_answer", "input": input}}))
                }
            })
            .sampling_with_tools();
        let c = connect(server(), era, options).await;
        assert_eq!(
            c.call_tool("city", json!({})).await.unwrap().text_content(),
            "Tokyo has 37000000"
        );
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
    }
}

#[tokio::test]
async fn a_missing_capability_is_a_typed_error_then_minus_32021_or_an_error_result() {
    let stateless = connect(server(), Era::Stateless, ClientOptions::default()).await;
    let err = stateless
        .call_tool("summarize", json!({"text": "x"}))
        .await
        .unwrap_err();
    let mcp::Error::Protocol(e) = err else {
        panic!("expected a protocol error, got {err}")
    };
    assert_eq!(e.code.0, -32021);
    assert_eq!(e.data.unwrap()["requiredCapabilities"], json!({"sampling": {}}));
    let needs_tools = connect(server(), Era::Stateless, echo_sampler(Arc::default())).await;
    let mcp::Error::Protocol(e) = needs_tools
        .call_tool("research", json!({"question": "?"}))
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(
        e.data.unwrap()["requiredCapabilities"],
        json!({"sampling": {"tools": {}}})
    );

    let handshake = connect(server(), ERAS[1], ClientOptions::default()).await;
    let r = handshake.call_tool("summarize", json!({"text": "x"})).await.unwrap();
    assert!(r.is_error);
    assert!(
        r.text_content().contains("`sampling` capability"),
        "{}",
        r.text_content()
    );

    for era in ERAS {
        let c = connect(server(), era, ClientOptions::default()).await;
        assert_eq!(
            c.call_tool("polite", json!({})).await.unwrap().text_content(),
            "no sampling, answering myself"
        );
    }
}

#[tokio::test]
async fn a_client_that_never_answers_times_out_and_is_told_so() {
    let server = server().client_request_timeout(Duration::from_millis(200));
    let options = ClientOptions::default().on_sampling(|_| std::future::pending());
    let c = connect(server, ERAS[1], options).await;
    let r = c.call_tool("summarize", json!({"text": "x"})).await.unwrap();
    assert!(r.is_error);
    assert_eq!(r.text_content(), "timed out waiting for an answer");
    let (method, params) = c.next_notification().await.unwrap();
    assert_eq!(method, "notifications/cancelled");
    assert_eq!(params["requestId"], 1);
}

#[tokio::test]
async fn cancelling_a_call_suspended_on_sampling_cancels_its_sampling_request() {
    let options = ClientOptions::default().on_sampling(|_| std::future::pending());
    let c = Arc::new(connect(server(), ERAS[1], options).await);
    let call = tokio::spawn({
        let c = c.clone();
        async move {
            c.raw_request("tools/call", json!({"name": "summarize", "arguments": {"text": "x"}}))
                .await
        }
    });
    // Wait until the server's sampling request is out, then cancel the tool call (the client's
    // request ids start at 1: initialize, then this call).
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.notify("notifications/cancelled", json!({"requestId": 2}))
        .await
        .unwrap();
    let (method, params) = c.next_notification().await.unwrap();
    assert_eq!(
        (method.as_str(), params["requestId"].clone()),
        ("notifications/cancelled", json!(1))
    );
    call.abort();
    // The server serves on.
    assert_eq!(c.call_tool("chatty", json!({})).await.unwrap().text_content(), "done");
}

#[tokio::test]
async fn request_state_is_sealed_bound_once_and_expires() {
    let c = connect(
        server().request_state_ttl(Duration::from_secs(1)),
        Era::Stateless,
        echo_sampler(Arc::default()),
    )
    .await;
    let first = c
        .request("tools/call", json!({"name": "summarize", "arguments": {"text": "x"}}))
        .await
        .unwrap();
    let state = first["requestState"].as_str().unwrap().to_owned();
    let answer = json!({"sample-1": {"role": "assistant", "content": {"type": "text", "text": "t"}, "model": "m"}});
    let retry = |state: &str, args: Value| json!({"name": "summarize", "arguments": args, "inputResponses": answer, "requestState": state});

    let mut tampered = state.clone().into_bytes();
    tampered[10] ^= 1;
    let e = c
        .request(
            "tools/call",
            retry(std::str::from_utf8(&tampered).unwrap_or("x"), json!({"text": "x"})),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, mcp::Error::Protocol(ref o) if o.code.0 == -32602), "{e}");
    let e = c
        .request("tools/call", retry(&state, json!({"text": "other"})))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("different request"), "{e}");
    let ok = c
        .request("tools/call", retry(&state, json!({"text": "x"})))
        .await
        .unwrap();
    assert_eq!(ok["content"][0]["text"], "summary: t (by m)");
    let e = c
        .request("tools/call", retry(&state, json!({"text": "x"})))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already used"), "{e}");

    let late = c
        .request("tools/call", json!({"name": "summarize", "arguments": {"text": "x"}}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let e = c
        .request(
            "tools/call",
            retry(late["requestState"].as_str().unwrap(), json!({"text": "x"})),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
}

#[tokio::test]
async fn missing_answers_get_a_new_round_and_extra_ones_are_ignored() {
    let c = connect(server(), Era::Stateless, echo_sampler(Arc::default())).await;
    let first = c
        .request("tools/call", json!({"name": "both", "arguments": {}}))
        .await
        .unwrap();
    let one = json!({"role": "assistant", "content": {"type": "text", "text": "A"}, "model": "m"});
    let second = c
        .request(
            "tools/call",
            json!({"name": "both", "arguments": {},
            "inputResponses": {"sample-1": one, "unasked": {"x": 1}}, "requestState": first["requestState"]}),
        )
        .await
        .unwrap();
    assert_eq!(second["resultType"], "input_required");
    assert_eq!(
        second["inputRequests"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["sample-2"]
    );
    let two = json!({"role": "assistant", "content": {"type": "text", "text": "B"}, "model": "m"});
    let done = c
        .request(
            "tools/call",
            json!({"name": "both", "arguments": {},
            "inputResponses": {"sample-2": two}, "requestState": second["requestState"]}),
        )
        .await
        .unwrap();
    assert_eq!(done["content"][0]["text"], "A + B");
    // A malformed answer is a protocol error: one that lacks a member, or has every member it
    // needs, one of which is not what it must be. The error names the key and what is wrong,
    // and the handler never sees the answer.
    for (bad, why) in [
        (json!({"text": "no role"}), "missing field `role`"),
        (
            json!({"role": "assistant", "content": {"type": "video"}, "model": "m"}),
            "unknown variant `video`",
        ),
        (
            json!({"role": "assistant", "content": {"type": "text", "text": "t"}, "model": 7}),
            "invalid type: integer `7`",
        ),
    ] {
        let again = c
            .request("tools/call", json!({"name": "both", "arguments": {}}))
            .await
            .unwrap();
        let e = c
            .request(
                "tools/call",
                json!({"name": "both", "arguments": {},
                "inputResponses": {"sample-1": bad}, "requestState": again["requestState"]}),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, mcp::Error::Protocol(ref o) if o.code.0 == -32602), "{e}");
        let text = e.to_string();
        assert!(
            text.contains(r#"inputResponses["sample-1"] is not a sampling/createMessage result"#) && text.contains(why),
            "{text}"
        );
    }
}

#[tokio::test]
async fn another_instance_with_the_same_key_replays_the_handler_from_the_top() {
    let key = [42u8; 32];
    let runs = Arc::new(Runs::default());
    let a = mcp::Server::new("a", "1")
        .request_state_key(key)
        .state_arc(runs.clone())
        .tools(mcp::tools![chain]);
    let b = mcp::Server::new("b", "1")
        .request_state_key(key)
        .state_arc(runs.clone())
        .tools(mcp::tools![chain]);
    let calls = Arc::new(AtomicUsize::new(0));
    let on_a = connect(a, Era::Stateless, echo_sampler(calls.clone())).await;
    let on_b = connect(b, Era::Stateless, echo_sampler(calls.clone())).await;
    let answer = |t: &str| json!({"role": "assistant", "content": {"type": "text", "text": t}, "model": "m"});

    // Round 1 on A; the retry lands on B, which has no parked call: it replays `chain`.
    let r1 = on_a
        .request("tools/call", json!({"name": "chain", "arguments": {}}))
        .await
        .unwrap();
    assert_eq!(
        r1["inputRequests"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["sample-1"]
    );
    let r2 = on_b
        .request("tools/call", json!({"name": "chain", "arguments": {}, "inputResponses": {"sample-1": answer("1")}, "requestState": r1["requestState"]}))
        .await
        .unwrap();
    assert_eq!(
        r2["inputRequests"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["sample-2"]
    );
    // Round 3 goes back to A, whose parked call from round 1 is now stale: B's state continues B's call.
    let r3 = on_b
        .request("tools/call", json!({"name": "chain", "arguments": {}, "inputResponses": {"sample-2": answer("2")}, "requestState": r2["requestState"]}))
        .await
        .unwrap();
    let done = on_a
        .request("tools/call", json!({"name": "chain", "arguments": {}, "inputResponses": {"sample-3": answer("3")}, "requestState": r3["requestState"]}))
        .await
        .unwrap();
    assert_eq!(done["content"][0]["text"], "1 2 3 (replayed)");
    // What ran twice: the code before the first sample ran on A, again on B (replay), and again
    // on A (replay); each sample was asked of the client once and answered from state after.
    assert_eq!(runs.count.load(Ordering::SeqCst), 3);

    let strict = mcp::Server::new("c", "1")
        .request_state_key(key)
        .replay(false)
        .state(Runs::default())
        .tools(mcp::tools![chain]);
    let on_c = connect(strict, Era::Stateless, ClientOptions::default()).await;
    let r = on_a
        .request("tools/call", json!({"name": "chain", "arguments": {}}))
        .await
        .unwrap();
    let e = on_c
        .request("tools/call", json!({"name": "chain", "arguments": {}, "inputResponses": {"sample-1": answer("1")}, "requestState": r["requestState"]}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("replay is off"), "{e}");
}

fn elicitor(action: &'static str) -> ClientOptions {
    ClientOptions::default().on_elicitation(move |params: Value| async move {
        if params["mode"] == "url" {
            assert_eq!(params["url"], "https://example.com/pay");
            return Ok(json!({"action": action}));
        }
        assert_eq!(
            params["requestedSchema"],
            json!({"type": "object", "properties": {
                "name": {"type": "string", "description": "Who you are."},
                "age": {"type": "integer", "minimum": 0, "maximum": 255},
                "subscribe": {"type": "boolean"}}, "required": ["name", "subscribe"]})
        );
        Ok(match action {
            "accept" => json!({"action": "accept", "content": {"name": "Ada", "subscribe": true}}),
            other => json!({"action": other}),
        })
    })
}

#[tokio::test]
async fn elicitation_accept_decline_cancel_and_url_mode() {
    for era in ERAS {
        for (action, expected) in [
            ("accept", "welcome Ada (None, true)"),
            ("decline", "declined"),
            ("cancel", "cancelled"),
        ] {
            let c = connect(server(), era, elicitor(action)).await;
            assert_eq!(
                c.call_tool("signup", json!({})).await.unwrap().text_content(),
                expected,
                "{era:?}"
            );
            assert_eq!(
                c.call_tool("pay", json!({})).await.unwrap().text_content(),
                format!(
                    "{:?}",
                    match action {
                        "accept" => UrlElicitation::Accept,
                        "decline" => UrlElicitation::Decline,
                        _ => UrlElicitation::Cancel,
                    }
                )
            );
        }
        let c = connect(server(), era, elicitor("accept")).await;
        let r = c.call_tool("bad_form", json!({})).await.unwrap();
        assert!(r.is_error);
        assert!(r.text_content().contains("field `inner`"), "{}", r.text_content());
    }
}

#[tokio::test]
async fn roots_come_from_the_client() {
    for era in ERAS {
        let options = ClientOptions::default()
            .on_roots(|_| async { Ok(json!({"roots": [{"uri": "file:///a"}, {"uri": "file:///b", "name": "b"}]})) });
        let c = connect(server(), era, options).await;
        assert_eq!(
            c.call_tool("roots", json!({})).await.unwrap().text_content(),
            "file:///a,file:///b"
        );
    }
}

#[tokio::test]
async fn logs_follow_the_level_and_progress_only_increases() {
    // Handshake era: the session's level.
    let c = connect(server(), ERAS[1], ClientOptions::default()).await;
    c.request("logging/setLevel", json!({"level": "warning"}))
        .await
        .unwrap();
    c.call_tool_with("chatty", json!({}), Some(json!({"progressToken": "p1"})))
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(c.next_notification().await.unwrap());
    }
    let logs: Vec<&str> = seen
        .iter()
        .filter(|(m, _)| m == "notifications/message")
        .map(|(_, p)| p["level"].as_str().unwrap())
        .collect();
    assert_eq!(logs, ["warning", "error"]);
    let progress: Vec<f64> = seen
        .iter()
        .filter(|(m, _)| m == "notifications/progress")
        .map(|(_, p)| p["progress"].as_f64().unwrap())
        .collect();
    assert_eq!(progress, [10.0, 50.0, 100.0]);

    // Stateless era: nothing unless the request asks, then from its level up.
    let s = connect(server(), Era::Stateless, ClientOptions::default()).await;
    s.call_tool("chatty", json!({})).await.unwrap();
    s.call_tool_with(
        "chatty",
        json!({}),
        Some(json!({"io.modelcontextprotocol/logLevel": "error"})),
    )
    .await
    .unwrap();
    let (method, params) = s.next_notification().await.unwrap();
    assert_eq!(
        (method.as_str(), params["level"].as_str()),
        ("notifications/message", Some("error"))
    );
    assert_eq!(params["data"], "e");
}

#[tokio::test]
async fn a_hand_written_input_required_gets_its_sealed_state_back() {
    let c = connect(server(), Era::Stateless, ClientOptions::default()).await;
    let first = c
        .request("tools/call", json!({"name": "manual", "arguments": {}}))
        .await
        .unwrap();
    assert_eq!(first["resultType"], "input_required");
    assert_eq!(first["inputRequests"]["confirm"]["method"], "elicitation/create");
    let state = first["requestState"].as_str().unwrap();
    assert_ne!(state, "state-ok", "the handler's state is sealed, not sent as is");
    let done = c
        .request("tools/call", json!({"name": "manual", "arguments": {}, "inputResponses": {"confirm": {"action": "accept"}}, "requestState": state}))
        .await
        .unwrap();
    assert_eq!(done["content"][0]["text"], "state-ok: \"accept\"");
    // Through the client's own retry loop.
    let auto = connect(
        server(),
        Era::Stateless,
        ClientOptions::default().on_elicitation(|_| async { Ok(json!({"action": "decline"})) }),
    )
    .await;
    assert_eq!(
        auto.call_tool("manual", json!({})).await.unwrap().text_content(),
        "state-ok: \"decline\""
    );
    // In the handshake era the same handler's requests go to the client for real, and it runs
    // again with the answers and its state.
    let handshake = connect(
        server(),
        ERAS[1],
        ClientOptions::default().on_elicitation(|_| async { Ok(json!({"action": "accept"})) }),
    )
    .await;
    assert_eq!(
        handshake.call_tool("manual", json!({})).await.unwrap().text_content(),
        "state-ok: \"accept\""
    );
    let _ = ErrorObject::invalid_params("unused");
}

/// Logs through `tracing`.
#[mcp::tool]
async fn traced() -> &'static str {
    tracing::debug!("too fine to send");
    tracing::info!(answer = 42, "hello from tracing");
    tracing::warn!("careful");
    "traced"
}

#[tokio::test]
async fn tracing_events_inside_a_request_reach_its_client() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber = tracing_subscriber::registry().with(mcp::ClientLogLayer);
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::info!("outside any request: not forwarded");
    let server = mcp::Server::new("t", "1").tools(mcp::tools![traced]);
    let c = connect(server, ERAS[1], ClientOptions::default()).await;
    c.request("logging/setLevel", json!({"level": "info"})).await.unwrap();
    assert_eq!(c.call_tool("traced", json!({})).await.unwrap().text_content(), "traced");
    let (m1, p1) = c.next_notification().await.unwrap();
    assert_eq!(m1, "notifications/message");
    assert_eq!(p1["level"], "info");
    assert_eq!(p1["data"]["message"], "hello from tracing");
    assert_eq!(p1["data"]["answer"], 42);
    assert_eq!(p1["data"]["target"], "sampling");
    let (_, p2) = c.next_notification().await.unwrap();
    assert_eq!(
        (p2["level"].as_str(), p2["data"]["message"].as_str()),
        (Some("warning"), Some("careful"))
    );
}
