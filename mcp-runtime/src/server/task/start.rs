//! Whether a `tools/call` runs as a task, and starting it: the task is saved in the store
//! before the client hears its id, then runs on a task of its own.

use super::record::{Call, Era, Record, Status, now_ms};
use super::run::Runner;
use super::tasks::Running;
use crate::protocol::jsonrpc::{encode_error, encode_result_value};
use crate::protocol::params::{InputParams, InputResponses, TaskRequest};
use crate::protocol::types::{TASKS_EXTENSION, meta_keys};
use crate::protocol::{ErrorCode, ErrorObject, RequestId, TaskSupport};
use crate::server::connection::Connection;
use crate::server::context::RequestParts;
use crate::server::core::Core;
use crate::server::engine::answer;
use crate::server::engine::outcome::OutcomeFuture;
use crate::server::engine::parked::Responder;
use crate::server::engine::rerun::Rerun;
use crate::server::engine::seal::Digest;
use crate::server::era::Requester;
use crate::server::incoming::Collect;
use serde_json::{Map, Value, json};
use std::sync::{Arc, PoisonError};
use std::task::Poll;

/// The most tasks one connection's `tasks/list` shows.
const LISTED_PER_CONNECTION: usize = 1000;

/// A call that runs as a task: its era, how long it is kept, and what replays it.
pub(crate) struct TaskPlan {
    pub(crate) era: Era,
    pub(crate) ttl_ms: u64,
    pub(crate) call: Call,
}

impl TaskPlan {
    pub(crate) fn new(
        (era, ttl_ms): (Era, u64),
        tool: &str,
        arguments: &Map<String, Value>,
        req: &Requester,
        meta: Option<&Map<String, Value>>,
        input: &InputParams,
    ) -> Self {
        Self {
            era,
            ttl_ms,
            call: Call {
                tool: tool.to_owned(),
                arguments: arguments.clone(),
                version: req.version.as_str().to_owned(),
                capabilities: req.capabilities.as_map().clone(),
                client_info: req.client_info.as_deref().and_then(|i| serde_json::to_value(i).ok()),
                meta: meta.cloned(),
                input_responses: input.input_responses.as_ref().map(InputResponses::to_values),
                user_state: None,
            },
        }
    }
}

/// The `-32021` of a tool that only runs as a task, called by a client without the extension.
fn task_required(tool: &str) -> ErrorObject {
    ErrorObject::new(
        ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
        format!("Missing required client capability: the tool `{tool}` runs only as a task, so the client must declare the `{TASKS_EXTENSION}` extension"),
    )
    .with_data(json!({ "requiredCapabilities": { "extensions": { TASKS_EXTENSION: {} } } }))
}

impl Connection {
    /// Whether a call of a tool with `support` runs as a task, in which era and for how long;
    /// or why it cannot run at all.
    ///
    /// - Stateless era: the server decides. A task whenever the client declared the extension
    ///   on this request; `params.task` is ignored.
    /// - Handshake era: the client decides with `params.task`, within what the tool allows.
    pub(crate) fn plan_task(
        &self,
        support: TaskSupport,
        tool: &str,
        req: &Requester,
        asked: Option<TaskRequest>,
    ) -> Result<Option<(Era, u64)>, ErrorObject> {
        let options = &self.core.options.tasks;
        let default_ttl = u64::try_from(options.ttl.as_millis()).unwrap_or(u64::MAX);
        let max_ttl = u64::try_from(options.max_ttl.as_millis()).unwrap_or(u64::MAX);
        if req.version.is_stateless() {
            let declared = req.capabilities.extension(TASKS_EXTENSION);
            return match (support, declared) {
                (TaskSupport::Forbidden, _) | (TaskSupport::Optional, false) => Ok(None),
                (_, true) => Ok(Some((Era::Stateless, default_ttl))),
                (TaskSupport::Required, false) => Err(task_required(tool)),
            };
        }
        match (support, asked) {
            (TaskSupport::Forbidden, None) | (TaskSupport::Optional, None) => Ok(None),
            (TaskSupport::Forbidden, Some(_)) => Err(ErrorObject::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!("the tool `{tool}` does not run as a task (its execution.taskSupport is \"forbidden\")"),
            )),
            (TaskSupport::Required, None) => Err(ErrorObject::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!(
                    "the tool `{tool}` runs only as a task: call it with `params.task` (its execution.taskSupport is \"required\")"
                ),
            )),
            (_, Some(asked)) => Ok(Some((
                Era::Handshake,
                asked.ttl_ms.unwrap_or(default_ttl).clamp(1, max_ttl),
            ))),
        }
    }

    /// Starts a call as a task. In the stateless era a call that ends on its first poll, or
    /// asks for input by hand at once, is answered as an ordinary call; any other becomes a
    /// task. The answer is `CreateTaskResult`, sent once the task is in the store.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn begin_task(
        self: &Arc<Self>,
        plan: TaskPlan,
        running: Arc<Running>,
        parts: Arc<RequestParts>,
        mut future: OutcomeFuture,
        rerun: Option<Rerun>,
        id: RequestId,
        collect: &mut Collect,
        digest: &Digest,
    ) -> Option<Vec<u8>> {
        if plan.era == Era::Stateless {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            if let Poll::Ready(done) = future.as_mut().poll(&mut cx) {
                let reply = answer::encode(&self.core, &parts, &id, done, digest);
                parts.round().finished = true;
                return Some(reply);
            }
        }
        let now = now_ms();
        let record = Record {
            id: running.id.clone(),
            era: plan.era,
            status: Status::Working,
            status_message: None,
            created_ms: now,
            updated_ms: now,
            ttl_ms: plan.ttl_ms,
            poll_ms: u64::try_from(self.core.options.tasks.poll.as_millis())
                .unwrap_or(1000)
                .max(1),
            input_requests: Map::new(),
            result: None,
            error: None,
            owner: self.task_owner(plan.era),
            runner: self.core.tasks.replica.clone(),
            call: plan.call,
        };
        if let Err(why) = self.core.tasks.register(&record.id, Arc::clone(&running)) {
            return Some(encode_error(Some(&id), &ErrorObject::internal(why)));
        }
        {
            // The newest tasks of this connection, for `tasks/list`; older ones live on in the
            // store until they expire.
            let mut listed = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
            if listed.len() >= LISTED_PER_CONNECTION {
                listed.remove(0);
            }
            listed.push(record.id.clone());
        }
        if record.era == Era::Handshake {
            // `notifications/tasks/status` to the session that created it.
            self.core.tasks.watch(&record.id, self);
        }
        let responder = Responder::new(id, Arc::clone(&self.link), collect.take());
        let core = Arc::clone(&self.core);
        tokio::spawn(async move {
            let mut record = record;
            if let Err(e) = core.tasks.save(&mut record).await {
                core.tasks.unregister(&record.id);
                let reply = encode_error(Some(&responder.id), &ErrorObject::internal(e.to_string()));
                responder.send(reply).await;
                return;
            }
            let reply = created(&core, &record, &responder.id);
            if record.era == Era::Stateless {
                // Progress and logs are not delivered for a task: its status says it all.
                parts.round().finished = true;
            }
            responder.send(reply).await;
            let runner = Runner {
                core,
                record,
                running,
                parts,
                call: future,
                rerun,
            };
            runner.run().await;
        });
        None
    }
}

/// `CreateTaskResult`: the flat task with `resultType: "task"` (stateless era), or
/// `{"task": …}` (handshake era).
fn created(core: &Core, record: &Record, id: &RequestId) -> Vec<u8> {
    match record.era {
        Era::Stateless => {
            let mut body = record.task();
            body.insert("resultType".into(), json!("task"));
            body.insert("_meta".into(), json!({ meta_keys::SERVER_INFO: core.server_info() }));
            encode_result_value(id, &Value::Object(body))
        }
        Era::Handshake => encode_result_value(id, &json!({ "task": record.task() })),
    }
}
