//! The task methods: `tasks/get`, `tasks/update` and `tasks/cancel` (both eras, `update` in the
//! stateless era only), `tasks/result` and `tasks/list` (handshake era). Each works on any
//! replica sharing the store; a task whose replica stopped is picked up by the first replica
//! asked about it.

use crate::protocol::jsonrpc::{encode_error, encode_result_value};
use crate::protocol::params::{FromParams, InputResponses, ListParams, TaskIdParams, TaskUpdateParams};
use crate::protocol::types::{TASKS_EXTENSION, meta_keys};
use crate::protocol::{ClientCapabilities, ErrorCode, ErrorObject, Implementation, Method, ProtocolVersion, RequestId};
use crate::server::connection::Connection;
use crate::server::context::{Cancel, Exchange, RequestParts, Round, SentAnswers};
use crate::server::engine::mrtr::{Mrtr, check_answer};
use crate::server::engine::outcome::OutcomeFuture;
use crate::server::era::Requester;
use crate::server::incoming::{Collect, Follow};
use crate::server::methods::calls::ToolMaker;
use crate::server::peer::Peer;
use crate::server::store::StoreError;
use crate::server::task::peer::{TaskPeer, wait_for_result};
use crate::server::task::record::{Era, Record, Status};
use crate::server::task::run::Runner;
use crate::server::task::tasks::Running;
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Tasks listed per `tasks/list` page.
const LIST_PAGE: usize = 100;

fn unknown(id: &str) -> ErrorObject {
    ErrorObject::invalid_params(format!(
        "Unknown task: {id} (it does not exist, has expired, or is not yours)"
    ))
}

fn store_failed(e: &StoreError) -> ErrorObject {
    tracing::warn!(error = %e, "a task request could not reach the store");
    ErrorObject::internal(e.to_string())
}

impl Connection {
    /// Serves a task method: at once when the store answers at once, else on a task of its own.
    pub(crate) fn task_method(
        self: &Arc<Self>,
        id: RequestId,
        method: Method,
        params: Option<Value>,
        req: Requester,
        collect: Collect,
    ) -> Option<Vec<u8>> {
        if req.version.is_stateless() && !req.capabilities.extension(TASKS_EXTENSION) {
            let e = ErrorObject::new(
                ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
                format!("Missing required client capability: `{method}` needs the `{TASKS_EXTENSION}` extension declared in this request's client capabilities"),
            )
            .with_data(json!({ "requiredCapabilities": { "extensions": { TASKS_EXTENSION: {} } } }));
            return Some(encode_error(Some(&id), &e));
        }
        let conn = Arc::clone(self);
        let reply_id = id.clone();
        let work = async move {
            let result = match method {
                Method::TasksGet => match TaskIdParams::from_params(params) {
                    Ok(p) => conn.task_get(&reply_id, &p.task_id, req.version).await,
                    Err(e) => Err(e),
                },
                Method::TasksUpdate => match TaskUpdateParams::from_params(params) {
                    Ok(p) => conn.task_update(&reply_id, p, req.version).await,
                    Err(e) => Err(e),
                },
                Method::TasksCancel => match TaskIdParams::from_params(params) {
                    Ok(p) => conn.task_cancel(&reply_id, &p.task_id, req.version).await,
                    Err(e) => Err(e),
                },
                Method::TasksResult => match TaskIdParams::from_params(params) {
                    Ok(p) => conn.task_result(&reply_id, &p.task_id).await,
                    Err(e) => Err(e),
                },
                Method::TasksList => match ListParams::from_params(params) {
                    Ok(p) => conn.task_list(&reply_id, &p).await,
                    Err(e) => Err(e),
                },
                other => Err(ErrorObject::method_not_found(other.as_str())),
            };
            Some(result.unwrap_or_else(|e| encode_error(Some(&reply_id), &e)))
        };
        self.answer_when_ready(id, collect, work, Follow::Tracked)
    }

    /// Whom the tasks a request of `version` may see belong to.
    fn owner(&self, version: ProtocolVersion) -> Option<String> {
        self.task_owner(if version.is_stateless() {
            Era::Stateless
        } else {
            Era::Handshake
        })
    }

    /// The task `id`, picked up first if its replica stopped.
    async fn find(self: &Arc<Self>, id: &str, version: ProtocolVersion) -> Result<Record, ErrorObject> {
        let tasks = &self.core.tasks;
        let record = tasks
            .load(id, self.owner(version).as_deref())
            .await
            .map_err(|e| store_failed(&e))?
            .ok_or_else(|| unknown(id))?;
        if record.status.is_terminal() || tasks.runner_alive(&record).await.map_err(|e| store_failed(&e))? {
            return Ok(record);
        }
        self.adopt(record).await
    }

    /// `tasks/get`.
    async fn task_get(
        self: &Arc<Self>,
        id: &RequestId,
        task_id: &str,
        version: ProtocolVersion,
    ) -> Result<Vec<u8>, ErrorObject> {
        let record = self.find(task_id, version).await?;
        if !version.is_stateless() {
            return Ok(encode_result_value(id, &Value::Object(record.task())));
        }
        let answered = if record.status == Status::InputRequired {
            self.core
                .tasks
                .inbox(task_id)
                .await
                .map_err(|e| store_failed(&e))?
                .answers
        } else {
            Map::new()
        };
        let detailed = record.detailed(&|key| answered.contains_key(key));
        Ok(self.core.framing.plain(id, version, &Value::Object(detailed)))
    }

    /// `tasks/update` (stateless era): answers for the task's input requests. Keys it does not
    /// wait for are ignored; an answer of the wrong shape is refused.
    async fn task_update(
        self: &Arc<Self>,
        id: &RequestId,
        params: TaskUpdateParams,
        version: ProtocolVersion,
    ) -> Result<Vec<u8>, ErrorObject> {
        let record = self.find(&params.task_id, version).await?;
        if !record.status.is_terminal() && !params.input_responses.is_empty() {
            for (key, answer) in &params.input_responses {
                if let Some(request) = record.input_requests.get(key) {
                    let method = request.get("method").and_then(Value::as_str).unwrap_or_default();
                    check_answer(key, method, answer)?;
                }
            }
            self.core
                .tasks
                .answer(&record, params.input_responses)
                .await
                .map_err(|e| store_failed(&e))?;
        }
        Ok(self.core.framing.plain(id, version, &json!({})))
    }

    /// `tasks/cancel`: cooperative; the task ends `cancelled`. A task already ended is left
    /// as it is (stateless era: acknowledged; handshake era: `-32602`, as 2025-11-25 says).
    async fn task_cancel(
        self: &Arc<Self>,
        id: &RequestId,
        task_id: &str,
        version: ProtocolVersion,
    ) -> Result<Vec<u8>, ErrorObject> {
        let tasks = &self.core.tasks;
        let mut record = self.find(task_id, version).await?;
        if record.status.is_terminal() {
            if version.is_stateless() {
                return Ok(self.core.framing.plain(id, version, &json!({})));
            }
            return Err(ErrorObject::invalid_params(format!(
                "Cannot cancel task {task_id}: it already ended ({})",
                json!(record.status).as_str().unwrap_or_default()
            )));
        }
        tasks.cancel(&record).await.map_err(|e| store_failed(&e))?;
        if version.is_stateless() {
            return Ok(self.core.framing.plain(id, version, &json!({})));
        }
        record.status = Status::Cancelled;
        record.input_requests.clear();
        record.updated_ms = crate::server::task::record::now_ms().max(record.updated_ms);
        Ok(encode_result_value(id, &Value::Object(record.task())))
    }

    /// `tasks/result` (handshake era): waits for the task to end, then answers as the call
    /// would have. While it waits, the task's requests to the client travel on its stream.
    async fn task_result(self: &Arc<Self>, id: &RequestId, task_id: &str) -> Result<Vec<u8>, ErrorObject> {
        loop {
            let record = self.find(task_id, ProtocolVersion::V2025_11_25).await?;
            if record.status.is_terminal() {
                return Ok(ended(id, &record));
            }
            let poll = Duration::from_millis(record.poll_ms.max(50));
            match self.core.tasks.local(task_id) {
                Some(running) => {
                    let done = running.done.notified();
                    tokio::pin!(done);
                    done.as_mut().enable();
                    let _waiting = Waiting::new(&running, id);
                    // The task may have ended between the load and the registration.
                    if self.core.tasks.local(task_id).is_some() {
                        let _ = tokio::time::timeout(poll * 4, done).await;
                    }
                }
                None => tokio::time::sleep(poll).await,
            }
        }
    }

    /// `tasks/list` (handshake era): the tasks of this principal, or else of this connection.
    async fn task_list(self: &Arc<Self>, id: &RequestId, params: &ListParams) -> Result<Vec<u8>, ErrorObject> {
        let ids: Vec<String> = self.tasks.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let start = match &params.cursor {
            None => 0,
            Some(c) => c
                .parse::<usize>()
                .map_err(|_| ErrorObject::invalid_params("Invalid cursor"))?,
        };
        let mut listed = Vec::new();
        let mut next = None;
        for (i, task_id) in ids.iter().enumerate().skip(start) {
            if listed.len() == LIST_PAGE {
                next = Some(i.to_string());
                break;
            }
            let owner = self.owner(ProtocolVersion::V2025_11_25);
            if let Some(record) = self
                .core
                .tasks
                .load(task_id, owner.as_deref())
                .await
                .map_err(|e| store_failed(&e))?
            {
                listed.push(Value::Object(record.task()));
            }
        }
        let mut body = json!({ "tasks": listed });
        if let Some(next) = next {
            body["nextCursor"] = json!(next);
        }
        Ok(encode_result_value(id, &body))
    }

    /// Picks up a task whose replica stopped: once, on one replica. With replay on, its tool
    /// runs again here from the top, its input requests answered from what the client already
    /// sent; with replay off, it fails with a clear error. A cancelled one ends cancelled.
    async fn adopt(self: &Arc<Self>, mut record: Record) -> Result<Record, ErrorObject> {
        let tasks = &self.core.tasks;
        if !tasks.claim_adoption(&record).await.map_err(|e| store_failed(&e))? {
            // Another replica picks it up: show it as it was.
            return Ok(record);
        }
        let inbox = tasks.inbox(&record.id).await.map_err(|e| store_failed(&e))?;
        let lost = |why: &str| {
            json!(ErrorObject::internal(format!(
                "the server replica running this task stopped, and {why}; start the call again"
            )))
        };
        let settled = if inbox.cancelled {
            Some((Status::Cancelled, None))
        } else if !self.core.options.replay {
            Some((
                Status::Failed,
                Some(lost("replay is off, so it cannot go on elsewhere")),
            ))
        } else {
            None
        };
        if let Some((status, error)) = settled {
            tasks
                .settle(&mut record, status, error)
                .await
                .map_err(|e| store_failed(&e))?;
            return Ok(record);
        }
        let catalog = self.core.catalog();
        let Some(entry) = catalog
            .tool_index
            .get(record.call.tool.as_str())
            .map(|&i| &catalog.tools[i])
        else {
            let error = lost("its tool is no longer served");
            tasks
                .settle(&mut record, Status::Failed, Some(error))
                .await
                .map_err(|e| store_failed(&e))?;
            return Ok(record);
        };
        let make = ToolMaker::new(
            Arc::clone(&entry.def.handler),
            Arc::clone(&entry.name),
            entry.def.wrap,
            None,
        );
        let rerun = make.rerun(record.call.arguments.clone());
        let cancel = Arc::new(Cancel::default());
        let running = Arc::new(Running::new(record.id.clone()));
        let parts = Arc::new(self.replay_parts(&record, inbox.answers, &running, cancel));
        let call: OutcomeFuture = Box::pin(make.run(Arc::clone(&parts), record.call.arguments.clone()));
        tasks
            .register(&record.id, Arc::clone(&running))
            .map_err(ErrorObject::internal)?;
        record.runner.clone_from(&tasks.replica);
        record.status = Status::Working;
        record.input_requests.clear();
        if let Err(e) = tasks.save(&mut record).await {
            tasks.unregister(&record.id);
            return Err(store_failed(&e));
        }
        tracing::info!(task = %record.id, tool = %record.call.tool, "picked up a task whose replica stopped; replaying it");
        let runner = Runner {
            core: Arc::clone(&self.core),
            record: record.clone(),
            running,
            parts,
            call,
            rerun: Some(rerun),
        };
        tokio::spawn(runner.run());
        Ok(record)
    }

    /// The parts of a task's call, run again from its record on this connection.
    fn replay_parts(
        &self,
        record: &Record,
        answers: Map<String, Value>,
        running: &Arc<Running>,
        cancel: Arc<Cancel>,
    ) -> RequestParts {
        let call = &record.call;
        let version = ProtocolVersion::parse(&call.version).unwrap_or(ProtocolVersion::LATEST);
        let client_info = call
            .client_info
            .clone()
            .and_then(|v| serde_json::from_value::<Implementation>(v).ok())
            .map(Arc::new);
        let exchange = match record.era {
            Era::Stateless => {
                let sent = call.input_responses.clone().map(InputResponses::from_values);
                let mut known = sent.clone().unwrap_or_default();
                for (key, answer) in InputResponses::from_values(answers) {
                    known.insert(key, answer);
                }
                Exchange::Stateless {
                    mrtr: Arc::new(Mrtr::new(known)),
                    input_responses: sent.map(SentAnswers::new),
                    user_state: call.user_state.clone(),
                    replay: true,
                }
            }
            Era::Handshake => Exchange::Handshake(Arc::new(TaskPeer {
                inner: Arc::clone(&self.link) as Arc<dyn Peer>,
                running: Arc::clone(running),
                task_id: record.id.clone(),
                wait_for_result: wait_for_result(record.poll_ms),
            })),
        };
        let request_id = RequestId::String(format!("task-{}", record.id));
        RequestParts {
            request_id: request_id.clone(),
            version,
            client_capabilities: Arc::new(ClientCapabilities::from(call.capabilities.clone())),
            client_info,
            meta: call.meta.clone(),
            state: Arc::clone(&self.core.state),
            exchange,
            round: Mutex::new(Round {
                request_id,
                peer: Arc::clone(&self.link) as Arc<dyn Peer>,
                progress_token: None,
                log_level: None,
                last_progress: None,
                finished: record.era == Era::Stateless,
            }),
            cancel,
            missing_capability: Mutex::new(None),
            client_timeout: self.core.options.client_timeout,
            service: Arc::clone(&self.service),
            principal: self.principal.clone(),
            answered: None,
            task: Some(Arc::clone(running)),
            hidden: None,
        }
    }
}

/// A `tasks/result` waiting on this replica: its stream carries the task's requests.
struct Waiting<'a> {
    running: &'a Running,
    id: RequestId,
}

impl<'a> Waiting<'a> {
    fn new(running: &'a Running, id: &RequestId) -> Self {
        running
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id.clone());
        running.waiter.notify_waiters();
        Self {
            running,
            id: id.clone(),
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.running
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|w| *w != self.id);
    }
}

/// The answer of `tasks/result` for a task that ended: the call's result, or its error.
fn ended(id: &RequestId, record: &Record) -> Vec<u8> {
    let related = record.related_meta();
    match (record.status, &record.result, &record.error) {
        (Status::Completed, Some(result), _) => {
            let mut result = result.clone();
            if let Some(obj) = result.as_object_mut() {
                let meta = obj.entry("_meta").or_insert_with(|| json!({}));
                if let (Some(meta), Some(related)) = (meta.as_object_mut(), related.as_object()) {
                    meta.extend(related.clone());
                }
            }
            encode_result_value(id, &result)
        }
        (Status::Failed, _, Some(error)) => {
            let error: ErrorObject =
                serde_json::from_value(error.clone()).unwrap_or_else(|_| ErrorObject::internal("the task failed"));
            encode_error(Some(id), &error)
        }
        _ => {
            let e = ErrorObject::internal(format!(
                "the task was {}",
                json!(record.status).as_str().unwrap_or("cancelled")
            ))
            .with_data(json!({ meta_keys::RELATED_TASK: { "taskId": record.id } }));
            encode_error(Some(id), &e)
        }
    }
}
