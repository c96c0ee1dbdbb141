//! Calling a tool as a task: a call that outlives its request. The client gets the task's id at
//! once, then polls it, answers what it asks, cancels it, and reads its result when it ends.
//!
//! The API is the same in both eras; what travels differs.
//!
//! - **Stateless era** (2026-07-28, the `io.modelcontextprotocol/tasks` extension): the call and
//!   every request about the task declare the extension. The server decides whether a call runs
//!   as a task; one that ends at once is answered as an ordinary call ([`TaskCall::Done`]). A
//!   task that needs input lists it in `tasks/get` as `inputRequests`, which
//!   [`TaskHandle::wait`] answers with the client's handlers
//!   ([`on_sampling`](super::ClientOptions::on_sampling),
//!   [`on_elicitation`](super::ClientOptions::on_elicitation),
//!   [`on_roots`](super::ClientOptions::on_roots)) through `tasks/update`.
//! - **Handshake era** (2025-11-25): the call carries `params.task` and always becomes a task.
//!   The server asks for input with real requests, which the same handlers answer as they come,
//!   and a task's outcome is read with `tasks/result` once `tasks/get` shows it ended.
//!
//! ```no_run
//! # async fn demo(client: mcp_runtime::client::Client) -> mcp_runtime::Result<()> {
//! use mcp_runtime::client::{TaskCall, TaskStatus};
//! use serde_json::json;
//!
//! // Wait for the result, answering the task's input requests on the way.
//! let result = client.call_tool_as_task("research", json!({"topic": "tides"})).await?.result().await?;
//!
//! // Or watch it, and give up on it.
//! if let TaskCall::Task(task) = client.call_tool_as_task("research", json!({"topic": "moons"})).await? {
//!     let seen = task.get().await?;
//!     if seen.status == TaskStatus::Working {
//!         task.cancel().await?;
//!     }
//!     assert!(task.wait().await?.status.is_terminal());
//! }
//! # Ok(()) }
//! ```

use super::{Client, Declare};
use crate::error::{Error, Result};
use crate::protocol::{CallToolResult, ErrorObject, Method};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::fmt;
use std::time::Duration;

/// How often to poll a task whose server named no interval.
const DEFAULT_POLL: Duration = Duration::from_millis(500);

/// The shortest interval between two polls, whatever the server asks: a bound on a busy loop.
const MIN_POLL: Duration = Duration::from_millis(10);

/// Where a task is in its life: `working` and `input_required` alternate until one of the three
/// terminal statuses, which never change again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Running.
    Working,
    /// Waiting for the client to answer its input requests.
    InputRequired,
    /// Ended with a result (which may be a tool's own error, `is_error: true`).
    Completed,
    /// Ended with a JSON-RPC error.
    Failed,
    /// Ended by a cancellation.
    Cancelled,
}

impl TaskStatus {
    /// Whether the task ended: `completed`, `failed` or `cancelled`.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The status's wire name, such as `input_required`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Working => "working",
            Self::InputRequired => "input_required",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task as the server showed it: when it was created, or in answer to `tasks/get`. Both eras'
/// shapes read into it (`ttlMs` or `ttl`, `pollIntervalMs` or `pollInterval`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "WireTask")]
pub struct Task {
    /// The task's id.
    pub id: String,
    /// Where it is in its life.
    pub status: TaskStatus,
    /// What it is doing, in words (a tool's progress message, say).
    pub status_message: Option<String>,
    /// When it was created (ISO 8601, as the server wrote it).
    pub created_at: Option<String>,
    /// When its status last changed (ISO 8601, as the server wrote it).
    pub last_updated_at: Option<String>,
    /// How long after its creation the server keeps it; `None` when unlimited or unsaid.
    pub ttl: Option<Duration>,
    /// How often the server would like it polled.
    pub poll_interval: Option<Duration>,
    /// Stateless era, `input_required`: what it waits for, by key, each `{method, params}` of
    /// `sampling/createMessage`, `elicitation/create` or `roots/list`. Always empty in the
    /// handshake era, where the server sends these as requests.
    pub input_requests: Map<String, Value>,
    /// `completed`: the tool's result. The stateless era shows it in `tasks/get`; in the
    /// handshake era, [`TaskHandle::wait`] reads it with `tasks/result`.
    pub result: Option<CallToolResult>,
    /// `failed`: the JSON-RPC error, found as [`result`](Task::result) is.
    pub error: Option<ErrorObject>,
}

/// A task on the wire, in either era's names.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTask {
    task_id: String,
    status: TaskStatus,
    #[serde(default)]
    status_message: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    last_updated_at: Option<String>,
    #[serde(default, rename = "ttlMs", alias = "ttl")]
    ttl_ms: Option<u64>,
    #[serde(default, rename = "pollIntervalMs", alias = "pollInterval")]
    poll_ms: Option<u64>,
    #[serde(default)]
    input_requests: Option<Map<String, Value>>,
    #[serde(default)]
    result: Option<CallToolResult>,
    #[serde(default)]
    error: Option<ErrorObject>,
}

impl From<WireTask> for Task {
    fn from(wire: WireTask) -> Self {
        Self {
            id: wire.task_id,
            status: wire.status,
            status_message: wire.status_message,
            created_at: wire.created_at,
            last_updated_at: wire.last_updated_at,
            ttl: wire.ttl_ms.map(Duration::from_millis),
            poll_interval: wire.poll_ms.map(Duration::from_millis),
            input_requests: wire.input_requests.unwrap_or_default(),
            result: wire.result,
            error: wire.error,
        }
    }
}

/// What calling a tool as a task started.
#[derive(Debug)]
pub enum TaskCall<'c> {
    /// The call runs as a task.
    Task(TaskHandle<'c>),
    /// The call was answered as an ordinary one. In the stateless era the server decides: a
    /// tool that ended on its first step, or that never runs as a task, is answered so.
    Done(CallToolResult),
}

impl<'c> TaskCall<'c> {
    /// The task, if the call runs as one.
    pub fn task(&self) -> Option<&TaskHandle<'c>> {
        match self {
            Self::Task(task) => Some(task),
            Self::Done(_) => None,
        }
    }

    /// The task, if the call runs as one.
    pub fn into_task(self) -> Option<TaskHandle<'c>> {
        match self {
            Self::Task(task) => Some(task),
            Self::Done(_) => None,
        }
    }

    /// The call's result: the task's, once it ends ([`TaskHandle::result`]), or the one the
    /// server already sent.
    pub async fn result(self) -> Result<CallToolResult> {
        match self {
            Self::Task(task) => task.result().await,
            Self::Done(result) => Ok(result),
        }
    }
}

/// A task on the server, reached through the client that started it: poll it, answer it,
/// cancel it, wait for it.
#[derive(Debug)]
pub struct TaskHandle<'c> {
    client: &'c Client,
    id: String,
    created: Option<Box<Task>>,
}

impl Client {
    /// Calls a tool as a task. In the stateless era the call declares the tasks extension and
    /// the server decides (an input request asked at once is answered first, as
    /// [`call_tool`](Client::call_tool) does); in the handshake era it carries `params.task`,
    /// and a tool that does not run as a task is refused (`Err`).
    pub async fn call_tool_as_task(&self, name: &str, arguments: Value) -> Result<TaskCall<'_>> {
        let stateless = self.protocol_version().is_stateless();
        let method = Method::ToolsCall.as_str();
        let mut answer = if stateless {
            let params = json!({ "name": name, "arguments": arguments });
            self.request_with_input_declaring(method, params, Declare::Tasks)
                .await?
        } else {
            let params = json!({ "name": name, "arguments": arguments, "task": {} });
            self.request(method, params).await?
        };
        let created = if stateless {
            let is_task = answer.get("resultType").and_then(Value::as_str) == Some("task");
            is_task.then(|| answer.clone())
        } else {
            answer.as_object_mut().and_then(|a| a.remove("task"))
        };
        Ok(match created {
            Some(task) => {
                let task: Task = serde_json::from_value(task)?;
                TaskCall::Task(TaskHandle {
                    client: self,
                    id: task.id.clone(),
                    created: Some(Box::new(task)),
                })
            }
            None => TaskCall::Done(serde_json::from_value(answer)?),
        })
    }

    /// A handle on the task `id`, started earlier (by this client or another on the same
    /// session or principal). Nothing is sent until it is used; an id the server does not know
    /// fails then, with `-32602`.
    pub fn task(&self, id: impl Into<String>) -> TaskHandle<'_> {
        TaskHandle {
            client: self,
            id: id.into(),
            created: None,
        }
    }
}

impl TaskHandle<'_> {
    /// The task's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The task as the server created it, when this handle started it.
    pub fn created(&self) -> Option<&Task> {
        self.created.as_deref()
    }

    /// Sends a task request in the connection's era, declaring the tasks extension.
    async fn send(&self, method: Method, mut params: Value) -> Result<Value> {
        params["taskId"] = json!(self.id);
        self.client
            .request_declaring(method.as_str(), params, Declare::Tasks)
            .await
    }

    /// The task now (`tasks/get`), with its input requests in the stateless era, and its result
    /// or error once it ended there.
    pub async fn get(&self) -> Result<Task> {
        Ok(serde_json::from_value(self.send(Method::TasksGet, json!({})).await?)?)
    }

    /// The task's status now (`tasks/get`).
    pub async fn status(&self) -> Result<TaskStatus> {
        Ok(self.get().await?.status)
    }

    /// Answers the input requests `task` shows (it should be this task, as [`get`](Self::get)
    /// returned it) with the client's handlers, and sends the answers (`tasks/update`). Nothing
    /// is sent when it shows none, as in the handshake era, where the handlers answer the
    /// server's requests as they come. A request the handlers cannot answer fails the whole.
    pub async fn answer(&self, task: &Task) -> Result<()> {
        if task.id != self.id {
            return Err(Error::Message(format!(
                "task {} cannot answer the input requests of task {}",
                self.id, task.id
            )));
        }
        if task.input_requests.is_empty() {
            return Ok(());
        }
        let responses = self.client.answer_all(&task.input_requests).await?;
        self.update(responses).await
    }

    /// Sends answers to some of the task's input requests, by their keys (`tasks/update`,
    /// stateless era): for a client that answers them itself rather than with its handlers.
    pub async fn update(&self, input_responses: Map<String, Value>) -> Result<()> {
        self.send(Method::TasksUpdate, json!({ "inputResponses": input_responses }))
            .await
            .map(drop)
    }

    /// Asks the server to cancel the task (`tasks/cancel`). Cancellation is cooperative: the
    /// task ends `cancelled`, which [`get`](Self::get) shows. Cancelling a task that already
    /// ended is acknowledged in the stateless era and refused (`-32602`) in the handshake era.
    pub async fn cancel(&self) -> Result<()> {
        self.send(Method::TasksCancel, json!({})).await.map(drop)
    }

    /// Polls the task at the interval the server asks until it ends, answering its input
    /// requests on the way (see [`answer`](Self::answer)), and returns it as it ended: with
    /// its [`result`](Task::result) when `completed`, its [`error`](Task::error) when `failed`.
    ///
    /// The task's time to live bounds the wait: once it expires the server forgets it, and
    /// `tasks/get` fails. Each poll waits for its answer at most [`ClientOptions::timeout`];
    /// at most [`ClientOptions::max_rounds`] rounds of input requests are answered.
    ///
    /// [`ClientOptions::timeout`]: super::ClientOptions::timeout
    /// [`ClientOptions::max_rounds`]: super::ClientOptions::max_rounds
    pub async fn wait(&self) -> Result<Task> {
        let mut interval = self
            .created
            .as_ref()
            .and_then(|t| t.poll_interval)
            .unwrap_or(DEFAULT_POLL);
        let max_rounds = self.client.inner.options.max_rounds;
        let mut rounds = 0;
        loop {
            let task = self.get().await?;
            interval = task.poll_interval.unwrap_or(interval);
            if task.status.is_terminal() {
                return self.read_outcome(task).await;
            }
            if !task.input_requests.is_empty() {
                if rounds == max_rounds {
                    return Err(Error::Message(format!(
                        "task {} still wanted input after {max_rounds} rounds",
                        self.id
                    )));
                }
                rounds += 1;
                // Answered: poll again at once, the task goes on without waiting for us.
                self.answer(&task).await?;
                continue;
            }
            tokio::time::sleep(interval.max(MIN_POLL)).await;
        }
    }

    /// Waits for the task ([`wait`](Self::wait)) and returns its result. A `failed` task is
    /// `Err(Error::Protocol)` with its error; a `cancelled` one is `Err` too (check
    /// [`wait`](Self::wait)'s status to tell them apart from a tool's own failure, which is
    /// `Ok` with `is_error: true`).
    pub async fn result(&self) -> Result<CallToolResult> {
        let task = self.wait().await?;
        match task.status {
            TaskStatus::Completed => task
                .result
                .ok_or_else(|| Error::Message(format!("task {} completed, but the server sent no result", self.id))),
            TaskStatus::Failed => {
                Err(Error::Protocol(task.error.unwrap_or_else(|| {
                    ErrorObject::internal(format!("task {} failed", self.id))
                })))
            }
            status => Err(Error::Message(format!("task {} ended {status}", self.id))),
        }
    }

    /// A task that ended, with its result or error read (`tasks/result`) when `tasks/get` did
    /// not show it, as in the handshake era.
    async fn read_outcome(&self, mut task: Task) -> Result<Task> {
        let unread = match task.status {
            TaskStatus::Completed => task.result.is_none(),
            TaskStatus::Failed => task.error.is_none(),
            _ => false,
        };
        if !unread || self.client.protocol_version().is_stateless() {
            return Ok(task);
        }
        match self.send(Method::TasksResult, json!({})).await {
            Ok(result) => task.result = Some(serde_json::from_value(result)?),
            Err(Error::Protocol(error)) if task.status == TaskStatus::Failed => task.error = Some(error),
            Err(e) => return Err(e),
        }
        Ok(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_eras_task_shapes_read_alike() {
        let stateless: Task = serde_json::from_value(json!({
            "resultType": "task", "taskId": "t1", "status": "input_required",
            "createdAt": "2026-01-01T00:00:00.000Z", "lastUpdatedAt": "2026-01-01T00:00:01.000Z",
            "ttlMs": 60000, "pollIntervalMs": 250,
            "inputRequests": {"k": {"method": "roots/list", "params": {}}}
        }))
        .unwrap();
        let handshake: Task = serde_json::from_value(json!({
            "taskId": "t1", "status": "input_required",
            "createdAt": "2026-01-01T00:00:00.000Z", "lastUpdatedAt": "2026-01-01T00:00:01.000Z",
            "ttl": 60000, "pollInterval": 250
        }))
        .unwrap();
        assert_eq!(stateless.ttl, Some(Duration::from_secs(60)));
        assert_eq!(handshake.poll_interval, Some(Duration::from_millis(250)));
        assert_eq!(stateless.input_requests["k"]["method"], "roots/list");
        assert_eq!(
            Task {
                input_requests: Map::new(),
                ..stateless
            },
            handshake
        );
    }

    #[test]
    fn an_ended_task_carries_its_result_or_error() {
        let done: Task = serde_json::from_value(json!({
            "taskId": "t", "status": "completed", "ttl": null,
            "result": {"content": [{"type": "text", "text": "ok"}]}
        }))
        .unwrap();
        assert!(done.status.is_terminal());
        assert_eq!(done.ttl, None);
        assert_eq!(done.result.unwrap().text_content(), "ok");
        let failed: Task = serde_json::from_value(json!({
            "taskId": "t", "status": "failed", "error": {"code": -32603, "message": "boom"}
        }))
        .unwrap();
        assert_eq!(failed.error.unwrap().message, "boom");
        assert_eq!(TaskStatus::InputRequired.to_string(), "input_required");
    }
}
