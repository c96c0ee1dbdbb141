//! Tasks in both eras, as a client sees them on the wire: every status and transition, input
//! asked inside a task, cancellation, expiry, and what a hostile client cannot do.

mod support;

use mcp::{Context, Elicitation, InputRequired, Method, State, ToolOutput};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{Raw, code};

const EXT: &str = "io.modelcontextprotocol/tasks";

#[derive(serde::Deserialize, mcp::JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Confirm {
    /// Go ahead?
    confirm: bool,
}

/// Cleanups run by cancelled tools.
#[derive(Default)]
struct Cleanups(AtomicUsize);

/// Asks the user, reports progress, then works a little.
#[mcp::tool(task = "optional")]
async fn approve(ctx: Context, item: String) -> mcp::Result<String> {
    ctx.progress(1.0, Some(2.0), Some("asking for approval"));
    let answer = ctx.elicit::<Confirm>(format!("Approve {item}?")).await?;
    ctx.progress(2.0, Some(2.0), Some("working"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(match answer {
        Elicitation::Accept(Confirm { confirm: true }) => format!("approved {item}"),
        _ => format!("rejected {item}"),
    })
}

/// Waits for an answer that may never come; counts a cleanup when cancelled.
#[mcp::tool(task = "optional")]
async fn patient(ctx: Context, cleanups: State<Cleanups>) -> mcp::Result<String> {
    tokio::select! {
        answer = ctx.elicit::<Confirm>("Still there?") => Ok(format!("answered: {}", answer.is_ok())),
        () = ctx.cancelled() => {
            cleanups.0.fetch_add(1, Ordering::SeqCst);
            Ok("cancelled".into())
        }
    }
}

/// Sleeps `ms` milliseconds.
#[mcp::tool(task = "optional")]
async fn nap(ms: u64) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms} ms")
}

/// Only runs as a task.
#[mcp::tool(task = "required")]
async fn batch() -> Result<String, String> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    Err("the batch has bad rows".into())
}

/// Panics inside its task.
#[mcp::tool(task = "optional")]
async fn explode() -> String {
    tokio::time::sleep(Duration::from_millis(10)).await;
    panic!("boom")
}

/// Never a task.
#[mcp::tool]
fn plain() -> &'static str {
    "plain"
}

/// Asks by hand (no `ctx.elicit`), then answers with what it got.
#[mcp::tool]
fn by_hand(ctx: Context) -> ToolOutput {
    match ctx.input_responses().and_then(|r| r.get("who")) {
        Some(answer) => ToolOutput::Result(mcp::CallToolResult::text(format!(
            "hello {}",
            answer["content"]["name"].as_str().unwrap_or("?")
        ))),
        None => InputRequired::new()
            .request(
                "who",
                Method::ElicitationCreate,
                json!({"mode": "form", "message": "Name?", "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}}),
            )
            .into(),
    }
}

fn server() -> mcp::Server {
    mcp::Server::new("tasks", "1")
        .state(Cleanups::default())
        .task_poll_interval(Duration::from_millis(20))
        .tools(mcp::tools![approve, patient, nap, batch, explode, plain, by_hand])
}

/// A stateless-era request's `_meta`, declaring elicitation and, if `ext`, the tasks extension.
fn meta(ext: bool) -> Value {
    let mut caps = json!({"elicitation": {}});
    if ext {
        caps["extensions"] = json!({ EXT: {} });
    }
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": caps,
    })
}

fn with_meta(mut params: Value, ext: bool) -> Value {
    params["_meta"] = meta(ext);
    params
}

/// Reads frames until the response to `id`; the notifications and requests met on the way are
/// returned too.
async fn response(raw: &mut Raw, id: i64) -> (Value, Vec<Value>) {
    let mut others = Vec::new();
    loop {
        let frame = raw.recv().await;
        if frame["id"] == json!(id) && frame.get("method").is_none() {
            return (frame, others);
        }
        others.push(frame);
    }
}

/// A stateless request, answered.
async fn ask(raw: &mut Raw, id: i64, method: &str, params: Value) -> Value {
    raw.send_json(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": with_meta(params, true)}))
        .await;
    response(raw, id).await.0
}

/// Polls `tasks/get` until the task's status is one of `statuses`.
async fn poll_until(raw: &mut Raw, id: &mut i64, task: &str, statuses: &[&str]) -> Value {
    for _ in 0..500 {
        *id += 1;
        let r = ask(raw, *id, "tasks/get", json!({"taskId": task})).await;
        let status = r["result"]["status"]
            .as_str()
            .unwrap_or_else(|| panic!("tasks/get failed: {r}"));
        if statuses.contains(&status) {
            return r["result"].clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("task {task} never reached {statuses:?}");
}

#[tokio::test]
async fn a_stateless_task_goes_working_input_required_working_completed() {
    let mut raw = Raw::new(server());
    let created = ask(
        &mut raw,
        1,
        "tools/call",
        json!({"name": "approve", "arguments": {"item": "invoice"}}),
    )
    .await;
    let created = &created["result"];
    assert_eq!(created["resultType"], "task", "{created}");
    let task = created["taskId"].as_str().unwrap().to_owned();
    assert_eq!(task.len(), 32, "a 128-bit random id");
    assert!(created["ttlMs"].as_u64().unwrap() > 0);
    assert_eq!(created["pollIntervalMs"], 20);
    assert!(created.get("inputRequests").is_none() && created.get("result").is_none());

    let mut id = 1;
    let waiting = poll_until(&mut raw, &mut id, &task, &["input_required"]).await;
    let requests = waiting["inputRequests"].as_object().unwrap();
    assert_eq!(requests.len(), 1);
    let (key, request) = requests.iter().next().unwrap();
    assert_eq!(request["method"], "elicitation/create");
    assert_eq!(request["params"]["message"], "Approve invoice?");
    assert_eq!(waiting["statusMessage"], "asking for approval");

    // A wrongly shaped answer is refused; an unknown key is ignored; the right one resumes it.
    let bad = ask(
        &mut raw,
        100,
        "tasks/update",
        json!({"taskId": task, "inputResponses": {key.as_str(): {"no": "action"}}}),
    )
    .await;
    assert_eq!(code(&bad), -32602);
    let stale = ask(
        &mut raw,
        101,
        "tasks/update",
        json!({"taskId": task, "inputResponses": {"stale-key": {"action": "accept"}}}),
    )
    .await;
    assert_eq!(stale["result"]["resultType"], "complete");
    let still = ask(&mut raw, 102, "tasks/get", json!({"taskId": task})).await;
    assert_eq!(still["result"]["status"], "input_required");
    let ack = ask(
        &mut raw,
        103,
        "tasks/update",
        json!({"taskId": task, "inputResponses": {key.as_str(): {"action": "accept", "content": {"confirm": true}}}}),
    )
    .await;
    assert_eq!(
        ack["result"],
        json!({"resultType": "complete", "_meta": ack["result"]["_meta"]})
    );

    let done = poll_until(&mut raw, &mut id, &task, &["completed", "failed", "cancelled"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["content"][0]["text"], "approved invoice");
    assert_eq!(done["statusMessage"], "working");
    assert!(done.get("inputRequests").is_none() && done.get("error").is_none());
}

#[tokio::test]
async fn without_the_extension_an_optional_task_runs_inline_and_a_required_one_is_refused() {
    let mut raw = Raw::new(server());
    let call = |name: &str, args: Value| json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": with_meta(json!({"name": name, "arguments": args}), false)});
    raw.send_json(call("nap", json!({"ms": 1}))).await;
    let r = response(&mut raw, 1).await.0;
    assert_eq!(r["result"]["resultType"], "complete");
    assert_eq!(r["result"]["content"][0]["text"], "slept 1 ms");
    raw.send_json(call("batch", json!({}))).await;
    let r = response(&mut raw, 1).await.0;
    assert_eq!(code(&r), -32021);
    assert_eq!(r["error"]["data"]["requiredCapabilities"]["extensions"][EXT], json!({}));
    for method in ["tasks/get", "tasks/update", "tasks/cancel"] {
        raw.send_json(json!({"jsonrpc": "2.0", "id": 2, "method": method, "params": with_meta(json!({"taskId": "x", "inputResponses": {}}), false)}))
            .await;
        assert_eq!(code(&response(&mut raw, 2).await.0), -32021, "{method}");
    }
    // The removed methods do not exist in this era.
    for method in ["tasks/result", "tasks/list"] {
        let r = ask(&mut raw, 3, method, json!({"taskId": "x"})).await;
        assert_eq!(code(&r), -32601, "{method}");
    }
}

#[tokio::test]
async fn subscriptions_listen_pushes_each_change_of_the_tasks_it_names() {
    let mut raw = Raw::new(server());
    let created = ask(
        &mut raw,
        1,
        "tools/call",
        json!({"name": "approve", "arguments": {"item": "boat"}}),
    )
    .await;
    let task = created["result"]["taskId"].as_str().unwrap().to_owned();
    raw.send_json(json!({"jsonrpc": "2.0", "id": 2, "method": "subscriptions/listen", "params": with_meta(json!({"notifications": {"taskIds": [task]}}), true)}))
        .await;
    let mut seen = Vec::new();
    let mut answered = false;
    while seen.last().map(|n: &Value| n["params"]["status"].clone()) != Some(json!("completed")) {
        let frame = raw.recv().await;
        match frame["method"].as_str() {
            Some("notifications/subscriptions/acknowledged") => {
                assert_eq!(frame["params"]["notifications"]["taskIds"], json!([task]));
            }
            Some("notifications/tasks") => {
                assert_eq!(frame["params"]["taskId"], json!(task));
                assert_eq!(frame["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 2);
                if frame["params"]["status"] == "input_required" && !answered {
                    let key = frame["params"]["inputRequests"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .next()
                        .unwrap()
                        .clone();
                    raw.send_json(json!({"jsonrpc": "2.0", "id": 3, "method": "tasks/update", "params": with_meta(json!({"taskId": task, "inputResponses": {key: {"action": "accept", "content": {"confirm": true}}}}), true)}))
                        .await;
                    answered = true;
                }
                seen.push(frame);
            }
            _ => {}
        }
    }
    let statuses: Vec<&str> = seen.iter().map(|n| n["params"]["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"input_required"), "{statuses:?}");
    let last = seen.last().unwrap();
    assert_eq!(
        last["params"]["result"]["content"][0]["text"], "approved boat",
        "the full task, result included"
    );
}

#[tokio::test]
async fn tool_errors_complete_with_is_error_and_panics_fail_with_an_error() {
    let mut raw = Raw::new(server());
    let mut id = 10;
    let batch = ask(&mut raw, 1, "tools/call", json!({"name": "batch", "arguments": {}})).await;
    let batch = batch["result"]["taskId"].as_str().unwrap().to_owned();
    let done = poll_until(&mut raw, &mut id, &batch, &["completed", "failed"]).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["result"]["isError"], true);
    assert_eq!(done["result"]["content"][0]["text"], "the batch has bad rows");

    let boom = ask(&mut raw, 2, "tools/call", json!({"name": "explode", "arguments": {}})).await;
    let boom = boom["result"]["taskId"].as_str().unwrap().to_owned();
    let failed = poll_until(&mut raw, &mut id, &boom, &["completed", "failed"]).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], -32603);
    assert!(failed.get("result").is_none());
    // The server goes on serving.
    let plain = ask(&mut raw, 3, "tools/call", json!({"name": "plain", "arguments": {}})).await;
    assert_eq!(plain["result"]["content"][0]["text"], "plain");
}

#[tokio::test]
async fn cancelling_a_task_waiting_for_input_ends_it_cancelled_and_the_tool_cleans_up() {
    let cleanups = Arc::new(Cleanups::default());
    let service = mcp::Server::new("tasks", "1")
        .state_arc(Arc::clone(&cleanups))
        .tools(mcp::tools![patient]);
    let mut raw = Raw::new(service);
    let created = ask(&mut raw, 1, "tools/call", json!({"name": "patient", "arguments": {}})).await;
    let task = created["result"]["taskId"].as_str().unwrap().to_owned();
    let mut id = 1;
    poll_until(&mut raw, &mut id, &task, &["input_required"]).await;
    let ack = ask(&mut raw, 50, "tasks/cancel", json!({"taskId": task})).await;
    assert_eq!(ack["result"]["resultType"], "complete");
    assert!(ack["result"].get("status").is_none(), "an empty ack: {ack}");
    let done = poll_until(&mut raw, &mut id, &task, &["completed", "failed", "cancelled"]).await;
    assert_eq!(done["status"], "cancelled");
    for _ in 0..100 {
        if cleanups.0.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        cleanups.0.load(Ordering::SeqCst),
        1,
        "ctx.cancelled() reached the tool once"
    );
    // Cancelling again, or answering, a task that ended is acknowledged and changes nothing.
    let again = ask(&mut raw, 51, "tasks/cancel", json!({"taskId": task})).await;
    assert_eq!(again["result"]["resultType"], "complete");
    let late = ask(
        &mut raw,
        52,
        "tasks/update",
        json!({"taskId": task, "inputResponses": {"elicit-1": {"action": "accept", "content": {"confirm": true}}}}),
    )
    .await;
    assert_eq!(late["result"]["resultType"], "complete");
    let still = ask(&mut raw, 53, "tasks/get", json!({"taskId": task})).await;
    assert_eq!(still["result"]["status"], "cancelled");
}

#[tokio::test]
async fn a_task_expires_after_its_ttl_running_or_done() {
    let service = mcp::Server::new("tasks", "1")
        .task_ttl(Duration::from_secs(1))
        .tools(mcp::tools![nap]);
    let mut raw = Raw::new(service);
    let long = ask(
        &mut raw,
        1,
        "tools/call",
        json!({"name": "nap", "arguments": {"ms": 60_000}}),
    )
    .await;
    assert_eq!(long["result"]["ttlMs"], 1000);
    let long = long["result"]["taskId"].as_str().unwrap().to_owned();
    let short = ask(
        &mut raw,
        2,
        "tools/call",
        json!({"name": "nap", "arguments": {"ms": 10}}),
    )
    .await;
    let short = short["result"]["taskId"].as_str().unwrap().to_owned();
    let mut id = 2;
    poll_until(&mut raw, &mut id, &short, &["completed"]).await;
    // Kept for its whole ttl...
    let kept = ask(&mut raw, 3, "tasks/get", json!({"taskId": long})).await;
    assert_eq!(kept["result"]["status"], "working");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    // ...then gone, running or done.
    for task in [&long, &short] {
        let gone = ask(&mut raw, 4, "tasks/get", json!({"taskId": task})).await;
        assert_eq!(code(&gone), -32602, "{gone}");
    }
}

#[tokio::test]
async fn unknown_and_malformed_task_requests_get_clear_errors() {
    let mut raw = Raw::new(server());
    for (method, params) in [
        ("tasks/get", json!({"taskId": "0123456789abcdef0123456789abcdef"})),
        ("tasks/cancel", json!({"taskId": "nope"})),
        ("tasks/update", json!({"taskId": "nope", "inputResponses": {}})),
        ("tasks/get", json!({})),
        ("tasks/get", json!({"taskId": 7})),
        ("tasks/update", json!({"taskId": "nope", "inputResponses": [1, 2]})),
    ] {
        let r = ask(&mut raw, 1, method, params.clone()).await;
        assert_eq!(code(&r), -32602, "{method} {params}: {r}");
        assert!(r["error"]["message"].as_str().unwrap().len() > 10);
    }
    // The legacy `task` param neither errors nor makes a task of a plain tool.
    let r = ask(
        &mut raw,
        2,
        "tools/call",
        json!({"name": "plain", "arguments": {}, "task": {"ttl": 5}}),
    )
    .await;
    assert_eq!(r["result"]["content"][0]["text"], "plain");
}

/// Holds every call until the test closes it.
struct Gate(tokio::sync::Semaphore);

/// Waits for the gate to open.
#[mcp::tool(task = "optional")]
async fn held(gate: State<Gate>) -> &'static str {
    let _ = gate.0.acquire().await;
    "released"
}

#[tokio::test]
async fn ten_thousand_tasks_run_at_once_within_the_limit_and_their_ttl_reclaims_them() {
    let gate = Arc::new(Gate(tokio::sync::Semaphore::new(0)));
    let service = mcp::Server::new("tasks", "1")
        .state_arc(Arc::clone(&gate))
        .task_ttl(Duration::from_secs(4))
        .max_tasks(10_000)
        .tools(mcp::tools![held]);
    let mut raw = Raw::new(service);
    let call = |id: i64| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": with_meta(json!({"name": "held", "arguments": {}}), true)});
    let before = rss_kib();
    let mut ids = Vec::new();
    for chunk in 0..100 {
        for i in 0..100 {
            raw.send_json(call(chunk * 100 + i)).await;
        }
        for _ in 0..100 {
            let r = raw.recv().await;
            ids.push(
                r["result"]["taskId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{r}"))
                    .to_owned(),
            );
        }
    }
    let grown = rss_kib().saturating_sub(before);
    eprintln!(
        "10,000 running tasks: RSS grew by {grown} KiB ({} bytes per task)",
        grown * 1024 / 10_000
    );
    assert!(grown < 300 * 1024, "10,000 tasks took {grown} KiB");
    // The 10,001st is refused while they run: memory stays bounded.
    let over = ask(&mut raw, 20_000, "tools/call", json!({"name": "held", "arguments": {}})).await;
    assert_eq!(code(&over), -32603);
    assert!(over["error"]["message"].as_str().unwrap().contains("limit"), "{over}");
    let some = ask(&mut raw, 20_001, "tasks/get", json!({"taskId": ids[9_999]})).await;
    assert_eq!(some["result"]["status"], "working");
    // Released, they complete; once their time is up they are gone, and there is room again.
    gate.0.close();
    let mut id = 20_002;
    let done = poll_until(&mut raw, &mut id, &ids[0], &["completed"]).await;
    assert_eq!(done["result"]["content"][0]["text"], "released");
    tokio::time::sleep(Duration::from_millis(4300)).await;
    let gone = ask(&mut raw, 30_000, "tasks/get", json!({"taskId": ids[0]})).await;
    assert_eq!(code(&gone), -32602);
    let again = ask(&mut raw, 30_001, "tools/call", json!({"name": "held", "arguments": {}})).await;
    assert_eq!(
        again["result"]["content"][0]["text"], "released",
        "the gate is open: done at once"
    );
}

/// This process's resident memory, in KiB (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

// --------------------------------------------------------------------------- handshake era

async fn initialize(raw: &mut Raw) {
    let r = raw
        .call(
            0,
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {"elicitation": {}, "tasks": {"requests": {"elicitation": {"create": {}}}}}, "clientInfo": {"name": "raw", "version": "0"}}),
        )
        .await;
    assert_eq!(
        r["result"]["capabilities"]["tasks"]["requests"]["tools"]["call"],
        json!({})
    );
    assert!(r["result"]["capabilities"].get("extensions").is_none());
    raw.send_json(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
}

#[tokio::test]
async fn a_handshake_task_asks_through_tasks_result_and_ends_with_the_calls_result() {
    let mut raw = Raw::new(server());
    initialize(&mut raw).await;
    let listed = raw.call(1, "tools/list", json!({})).await;
    let approve = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "approve")
        .unwrap();
    assert_eq!(approve["execution"]["taskSupport"], "optional");

    raw.send_json(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "approve", "arguments": {"item": "car"}, "task": {"ttl": 60_000}}}))
        .await;
    let (created, _) = response(&mut raw, 2).await;
    let task = &created["result"]["task"];
    assert_eq!(task["status"], "working");
    assert_eq!(task["ttl"], 60_000);
    assert_eq!(task["pollInterval"], 20);
    let task_id = task["taskId"].as_str().unwrap().to_owned();

    // tasks/result waits; the elicitation comes to the client meanwhile, tagged with the task.
    raw.send_json(json!({"jsonrpc": "2.0", "id": 3, "method": "tasks/result", "params": {"taskId": task_id}}))
        .await;
    let elicitation = loop {
        let frame = raw.recv().await;
        if frame["method"] == "elicitation/create" {
            break frame;
        }
    };
    assert_eq!(
        elicitation["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        json!(task_id)
    );
    raw.send_json(json!({"jsonrpc": "2.0", "id": 4, "method": "tasks/get", "params": {"taskId": task_id}}))
        .await;
    let (status, _) = response(&mut raw, 4).await;
    assert_eq!(status["result"]["status"], "input_required", "{status}");
    raw.send_json(json!({"jsonrpc": "2.0", "id": elicitation["id"], "result": {"action": "accept", "content": {"confirm": true}}}))
        .await;
    let (result, seen) = response(&mut raw, 3).await;
    assert_eq!(result["result"]["content"][0]["text"], "approved car");
    assert_eq!(
        result["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        json!(task_id)
    );
    assert!(
        seen.iter()
            .any(|f| f["method"] == "notifications/tasks/status" && f["params"]["taskId"] == json!(task_id)),
        "status notifications reach the session: {seen:?}"
    );

    let mut call = async |id: i64, method: &str, params: Value| {
        raw.send_json(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        response(&mut raw, id).await.0
    };
    let listed = call(5, "tasks/list", json!({})).await;
    assert!(
        listed["result"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["taskId"] == json!(task_id) && t["status"] == "completed")
    );
    // A task that ended cannot be cancelled (2025-11-25); an unknown one is unknown.
    assert_eq!(code(&call(6, "tasks/cancel", json!({"taskId": task_id})).await), -32602);
    assert_eq!(code(&call(7, "tasks/get", json!({"taskId": "unknown"})).await), -32602);
}

#[tokio::test]
async fn a_handshake_task_belongs_to_the_session_that_created_it() {
    let service = server().build().unwrap();
    let (mut a, mut b) = (Raw::connect(&service), Raw::connect(&service));
    initialize(&mut a).await;
    initialize(&mut b).await;
    a.send_json(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "nap", "arguments": {"ms": 60_000}, "task": {}}}))
        .await;
    let (created, _) = response(&mut a, 1).await;
    let task_id = created["result"]["task"]["taskId"].as_str().unwrap().to_owned();
    // Another session, with the id: nothing to see, cancel or wait for, and nothing listed.
    for method in ["tasks/get", "tasks/cancel", "tasks/result"] {
        b.send_json(json!({"jsonrpc": "2.0", "id": 2, "method": method, "params": {"taskId": task_id}}))
            .await;
        assert_eq!(code(&response(&mut b, 2).await.0), -32602, "{method}");
    }
    b.send_json(json!({"jsonrpc": "2.0", "id": 3, "method": "tasks/list", "params": {}}))
        .await;
    assert_eq!(response(&mut b, 3).await.0["result"]["tasks"], json!([]));
    // Its own session sees it, and cancels it.
    a.send_json(json!({"jsonrpc": "2.0", "id": 4, "method": "tasks/cancel", "params": {"taskId": task_id}}))
        .await;
    let (cancelled, _) = response(&mut a, 4).await;
    assert_eq!(cancelled["result"]["status"], "cancelled");
}

#[tokio::test]
async fn handshake_task_support_is_enforced_and_cancel_returns_the_cancelled_task() {
    let mut raw = Raw::new(server());
    initialize(&mut raw).await;
    // Required without a task, or a task of a tool that forbids it: -32601.
    let r = raw
        .call(1, "tools/call", json!({"name": "batch", "arguments": {}}))
        .await;
    assert_eq!(code(&r), -32601);
    let r = raw
        .call(2, "tools/call", json!({"name": "plain", "arguments": {}, "task": {}}))
        .await;
    assert_eq!(code(&r), -32601);
    // Optional without a task: an ordinary call.
    let r = raw
        .call(3, "tools/call", json!({"name": "nap", "arguments": {"ms": 1}}))
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "slept 1 ms");

    raw.send_json(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "nap", "arguments": {"ms": 60_000}, "task": {}}}))
        .await;
    let (created, _) = response(&mut raw, 4).await;
    let task_id = created["result"]["task"]["taskId"].as_str().unwrap().to_owned();
    raw.send_json(json!({"jsonrpc": "2.0", "id": 5, "method": "tasks/cancel", "params": {"taskId": task_id}}))
        .await;
    let (cancelled, _) = response(&mut raw, 5).await;
    assert_eq!(cancelled["result"]["status"], "cancelled");
    raw.send_json(json!({"jsonrpc": "2.0", "id": 6, "method": "tasks/result", "params": {"taskId": task_id}}))
        .await;
    let (result, _) = response(&mut raw, 6).await;
    assert!(
        result.get("error").is_some(),
        "a cancelled task has no result: {result}"
    );
}

#[tokio::test]
async fn a_handler_that_asks_by_hand_is_asked_for_real_in_the_handshake_era() {
    let mut raw = Raw::new(server());
    initialize(&mut raw).await;
    raw.send_json(
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "by_hand", "arguments": {}}}),
    )
    .await;
    let request = raw.recv().await;
    assert_eq!(request["method"], "elicitation/create", "{request}");
    assert_eq!(request["params"]["message"], "Name?");
    raw.send_json(
        json!({"jsonrpc": "2.0", "id": request["id"], "result": {"action": "accept", "content": {"name": "Ada"}}}),
    )
    .await;
    let (result, _) = response(&mut raw, 1).await;
    assert_eq!(result["result"]["content"][0]["text"], "hello Ada");
}
