//! `mcp::client` calls tools as tasks, in both eras: it polls them, answers their input
//! requests with its handlers, cancels them, and reads their results.

mod support;

use mcp::client::{Client, ClientOptions, Era, Task, TaskCall, TaskHandle, TaskStatus};
use mcp::protocol::ErrorCode;
use mcp::{Context, Elicitation, JsonSchema, ProtocolVersion};
use serde::Deserialize;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

const ERAS: [Era; 2] = [Era::Stateless, Era::Handshake(ProtocolVersion::V2025_11_25)];

/// Sleeps `ms` milliseconds, then says so.
#[mcp::tool(task = "optional")]
async fn nap(ms: u64) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms} ms")
}

/// Asks the client's model.
#[mcp::tool(task = "optional")]
async fn ask_model(ctx: Context, question: String) -> mcp::Result<String> {
    let reply = ctx.sample(question).max_tokens(20).await?;
    Ok(format!("the model says: {}", reply.text()))
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Go {
    /// Go ahead?
    go: bool,
}

/// Asks the user.
#[mcp::tool(task = "optional")]
async fn ask_user(ctx: Context) -> mcp::Result<&'static str> {
    Ok(match ctx.elicit::<Go>("Go ahead?").await? {
        Elicitation::Accept(Go { go: true }) => "going",
        Elicitation::Accept(_) | Elicitation::Decline => "staying",
        Elicitation::Cancel => "cancelled",
    })
}

/// Panics inside its task: the task fails at the protocol level.
#[mcp::tool(task = "optional")]
async fn explode() -> String {
    tokio::time::sleep(Duration::from_millis(10)).await;
    panic!("boom")
}

/// Answers at once.
#[mcp::tool(task = "optional")]
async fn instant() -> &'static str {
    "at once"
}

fn server() -> mcp::Server {
    mcp::Server::new("client-tasks-test", "1")
        .task_poll_interval(Duration::from_millis(20))
        .tools(mcp::tools![nap, ask_model, ask_user, explode, instant])
}

async fn connect(era: Era, options: ClientOptions) -> Client {
    Client::connect(support::start(server()), options.era(era))
        .await
        .unwrap()
}

/// `work`'s output, within ten seconds: a bound on a hang, not a timing.
async fn within<T>(what: &str, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .unwrap_or_else(|_| panic!("{what} took more than ten seconds"))
}

/// The task a call as a task started; a panic if it failed or was answered at once.
async fn started<'c>(call: impl Future<Output = mcp::Result<TaskCall<'c>>>) -> TaskHandle<'c> {
    match within("the call as a task", call).await.expect("the call is accepted") {
        TaskCall::Task(task) => task,
        TaskCall::Done(result) => panic!("expected a task, the call ended at once: {result:?}"),
    }
}

/// Polls `task` until it shows `want` (within ten seconds, a bound on a hang) and returns it as
/// it showed it then; each status it shows on the way is pushed onto `seen` when it changes.
async fn poll_until(task: &TaskHandle<'_>, want: TaskStatus, seen: &mut Vec<TaskStatus>) -> Task {
    let polling = async {
        loop {
            let now = task.get().await.expect("tasks/get answers");
            if seen.last() != Some(&now.status) {
                seen.push(now.status);
            }
            if now.status == want {
                return now;
            }
            assert!(
                !now.status.is_terminal(),
                "the task ended {} before it was {want}",
                now.status
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    within("polling for a status", polling).await
}

/// Client options whose handler for `method` waits for a permit of `gate`, counts its calls in
/// `calls`, then answers `answer`: the test decides when the task's question is answered.
fn gated(method: &str, gate: Arc<Semaphore>, calls: Arc<AtomicUsize>, answer: Value) -> ClientOptions {
    let handler = move |_params: Value| {
        let (gate, calls, answer) = (gate.clone(), calls.clone(), answer.clone());
        async move {
            gate.acquire().await.expect("the gate stays open").forget();
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(answer)
        }
    };
    match method {
        "sampling/createMessage" => ClientOptions::default().on_sampling(handler),
        "elicitation/create" => ClientOptions::default().on_elicitation(handler),
        other => unreachable!("no handler for {other}"),
    }
}

#[tokio::test]
async fn a_slow_tool_runs_as_a_task_and_is_polled_to_its_result() {
    for era in ERAS {
        let client = connect(era, ClientOptions::default()).await;
        let task = started(client.call_tool_as_task("nap", json!({"ms": 800}))).await;
        let created = task.created().expect("the call created the task");
        assert_eq!(created.id, task.id());
        assert_eq!(created.status, TaskStatus::Working, "{era:?}");
        assert_eq!(created.poll_interval, Some(Duration::from_millis(20)), "{era:?}");
        assert!(created.ttl.is_some() && created.created_at.is_some(), "{era:?}");

        assert_eq!(task.status().await.unwrap(), TaskStatus::Working, "{era:?}");
        let result = task.result().await.unwrap();
        assert_eq!(result.text_content(), "slept 800 ms", "{era:?}");
        assert!(!result.is_error);

        let ended = task.wait().await.unwrap();
        assert_eq!(ended.status, TaskStatus::Completed, "{era:?}");
        assert_eq!(ended.result.unwrap().text_content(), "slept 800 ms", "{era:?}");
        assert_eq!(task.status().await.unwrap(), TaskStatus::Completed, "{era:?}");
    }
}

#[tokio::test]
async fn a_task_that_samples_waits_input_required_until_the_sampling_handler_answers() {
    for era in ERAS {
        let gate = Arc::new(Semaphore::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let reply = json!({"role": "assistant", "content": {"type": "text", "text": "42"}, "model": "m", "stopReason": "endTurn"});
        let options = gated("sampling/createMessage", gate.clone(), calls.clone(), reply);
        let client = connect(era, options).await;
        let task = started(client.call_tool_as_task("ask_model", json!({"question": "why?"}))).await;

        let mut seen = vec![task.created().unwrap().status];
        let asking = poll_until(&task, TaskStatus::InputRequired, &mut seen).await;
        if era == Era::Stateless {
            let requests: Vec<&Value> = asking.input_requests.values().collect();
            assert_eq!(requests.len(), 1, "{requests:?}");
            assert_eq!(requests[0]["method"], "sampling/createMessage");
            assert_eq!(requests[0]["params"]["messages"][0]["content"]["text"], "why?");
        } else {
            // The server asked with a real request, which the gated handler holds.
            assert!(asking.input_requests.is_empty());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 0, "nobody answered yet");
        assert_eq!(
            task.status().await.unwrap(),
            TaskStatus::InputRequired,
            "{era:?}: it waits"
        );

        gate.add_permits(1);
        let result = within("the result", task.result()).await.unwrap();
        assert_eq!(result.text_content(), "the model says: 42", "{era:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{era:?}: one question, one answer");
        assert_eq!(seen, [TaskStatus::Working, TaskStatus::InputRequired], "{era:?}");
        assert_eq!(task.status().await.unwrap(), TaskStatus::Completed, "{era:?}");
    }
}

#[tokio::test]
async fn a_task_that_elicits_waits_input_required_until_the_elicitation_handler_answers() {
    for era in ERAS {
        let gate = Arc::new(Semaphore::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let accept = json!({"action": "accept", "content": {"go": true}});
        let client = connect(era, gated("elicitation/create", gate.clone(), calls.clone(), accept)).await;
        let task = started(client.call_tool_as_task("ask_user", json!({}))).await;

        let mut seen = vec![task.created().unwrap().status];
        let asking = poll_until(&task, TaskStatus::InputRequired, &mut seen).await;
        if era == Era::Stateless {
            let request = asking.input_requests.values().next().expect("one input request");
            assert_eq!(request["method"], "elicitation/create");
            assert_eq!(request["params"]["message"], "Go ahead?");
        }

        gate.add_permits(1);
        let ended = within("the end", task.wait()).await.unwrap();
        assert_eq!(ended.status, TaskStatus::Completed, "{era:?}");
        assert_eq!(ended.result.unwrap().text_content(), "going", "{era:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{era:?}");
        assert_eq!(seen, [TaskStatus::Working, TaskStatus::InputRequired], "{era:?}");
    }
}

#[tokio::test]
async fn a_cancelled_task_ends_cancelled() {
    for era in ERAS {
        let client = connect(era, ClientOptions::default()).await;
        let task = started(client.call_tool_as_task("nap", json!({"ms": 60_000}))).await;
        assert_eq!(task.status().await.unwrap(), TaskStatus::Working, "{era:?}");

        task.cancel().await.unwrap();
        let ended = within("the cancellation", task.wait()).await.unwrap();
        assert_eq!(ended.status, TaskStatus::Cancelled, "{era:?}");
        assert!(ended.result.is_none() && ended.error.is_none(), "{era:?}");
        assert_eq!(task.status().await.unwrap(), TaskStatus::Cancelled, "{era:?}");
        let err = task.result().await.unwrap_err();
        assert!(err.to_string().contains("cancelled"), "{era:?}: {err}");

        // Cancelling again: acknowledged in the stateless era, refused in the handshake era.
        let again = task.cancel().await;
        match era {
            Era::Stateless => again.unwrap(),
            _ => assert_eq!(protocol_code(again), ErrorCode::INVALID_PARAMS, "{era:?}"),
        }
    }
}

#[tokio::test]
async fn a_task_whose_tool_panics_ends_failed_with_its_error() {
    for era in ERAS {
        let client = connect(era, ClientOptions::default()).await;
        let task = started(client.call_tool_as_task("explode", json!({}))).await;
        let ended = within("the failure", task.wait()).await.unwrap();
        assert_eq!(ended.status, TaskStatus::Failed, "{era:?}");
        assert!(ended.result.is_none(), "{era:?}");
        let error = ended.error.expect("a failed task carries its error");
        assert_eq!(error.code, ErrorCode::INTERNAL_ERROR, "{era:?}: {error:?}");
        assert_eq!(protocol_code(task.result().await), ErrorCode::INTERNAL_ERROR, "{era:?}");
    }
}

/// The JSON-RPC error code of a failed request.
fn protocol_code<T: std::fmt::Debug>(outcome: mcp::Result<T>) -> ErrorCode {
    match outcome {
        Err(mcp::Error::Protocol(e)) => e.code,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_task_id_is_an_invalid_params_error() {
    for era in ERAS {
        let client = connect(era, ClientOptions::default()).await;
        let task = client.task("no-such-task");
        assert_eq!(task.id(), "no-such-task");
        assert!(task.created().is_none());
        assert_eq!(protocol_code(task.get().await), ErrorCode::INVALID_PARAMS, "{era:?}");
        assert_eq!(protocol_code(task.cancel().await), ErrorCode::INVALID_PARAMS, "{era:?}");
        assert_eq!(protocol_code(task.result().await), ErrorCode::INVALID_PARAMS, "{era:?}");
    }
}

#[tokio::test]
async fn a_task_can_be_reached_again_by_its_id() {
    for era in ERAS {
        let client = connect(era, ClientOptions::default()).await;
        let id = started(client.call_tool_as_task("nap", json!({"ms": 50})))
            .await
            .id()
            .to_owned();
        let again = client.task(id);
        assert_eq!(again.result().await.unwrap().text_content(), "slept 50 ms", "{era:?}");
    }
}

#[tokio::test]
async fn an_instant_tool_may_be_answered_at_once_in_the_stateless_era() {
    for era in ERAS {
        let client = connect(era, ClientOptions::default()).await;
        let call = client.call_tool_as_task("instant", json!({})).await.unwrap();
        // The stateless era lets the server decide: a tool done on its first step is no task.
        // The handshake era asked for a task and gets one.
        assert_eq!(call.task().is_some(), era != Era::Stateless, "{era:?}");
        assert_eq!(call.result().await.unwrap().text_content(), "at once", "{era:?}");
    }
}

#[tokio::test]
async fn call_tool_still_calls_a_task_tool_as_an_ordinary_call() {
    for era in ERAS {
        let client = connect(era, ClientOptions::default()).await;
        let result = client.call_tool("nap", json!({"ms": 10})).await.unwrap();
        assert_eq!(result.text_content(), "slept 10 ms", "{era:?}");
    }
}
