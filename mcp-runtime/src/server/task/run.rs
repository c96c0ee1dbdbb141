//! Running a task: the tool's future, driven to its end on this replica, with its status,
//! input requests and result written to the store as they change.

use super::record::{Record, Status};
use super::tasks::{Running, Tasks};
use crate::protocol::{ErrorCode, ErrorObject, RequestId};
use crate::server::context::{Exchange, RequestParts};
use crate::server::core::Core;
use crate::server::engine::drive::until_waiting;
use crate::server::engine::outcome::{Outcome, OutcomeFuture};
use crate::server::engine::rerun::{Rerun, ask_all};
use crate::server::tool::ToolOutput;
use serde_json::{Map, Value, json};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::task::Poll;
use std::time::Duration;

/// How long a cancelled task's tool may go on to clean up (it sees `ctx.cancelled()`).
const CANCEL_GRACE: Duration = Duration::from_secs(1);

/// One task on this replica, from its first save to its end.
pub(crate) struct Runner {
    pub(crate) core: Arc<Core>,
    pub(crate) record: Record,
    pub(crate) running: Arc<Running>,
    pub(crate) parts: Arc<RequestParts>,
    pub(crate) call: OutcomeFuture,
    /// Runs the tool again with the answers to input requests it wrote by hand.
    pub(crate) rerun: Option<Rerun>,
}

impl Runner {
    fn tasks(&self) -> &Tasks {
        &self.core.tasks
    }

    /// Saves the record, retrying while the store is down: a task's state is never dropped
    /// silently, only after the store stayed unreachable for about a lease.
    async fn save(&mut self) {
        let mut delay = Duration::from_millis(100);
        for _ in 0..6 {
            match self.core.tasks.save(&mut self.record).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(task = %self.record.id, error = %e, "could not save a task; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
        tracing::error!(task = %self.record.id, "a task's state could not be saved: the store stayed unreachable");
    }

    /// Drives the task to its end.
    pub(crate) async fn run(mut self) {
        let remaining = self.record.expires_ms().saturating_sub(super::record::now_ms());
        let deadline = tokio::time::Instant::now() + Duration::from_millis(remaining);
        let mut waiting = false;
        loop {
            let mrtr = match &self.parts.exchange {
                Exchange::Stateless { mrtr, .. } => Some(Arc::clone(mrtr)),
                Exchange::Handshake(_) => None,
            };
            let running = Arc::clone(&self.running);
            tokio::select! {
                biased;
                () = running.wake.notified() => {
                    let inbox = match self.tasks().inbox(&self.record.id).await {
                        Ok(inbox) => inbox,
                        Err(e) => {
                            tracing::warn!(task = %self.record.id, error = %e, "could not read a task's inbox");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            running.wake.notify_one();
                            continue;
                        }
                    };
                    if inbox.cancelled {
                        return self.cancelled().await;
                    }
                    if let Some(mrtr) = &mrtr {
                        mrtr.deliver_known(&inbox.answers);
                        waiting = false;
                        if !mrtr.has_unanswered() && self.record.status == Status::InputRequired {
                            // The answers often end the call at once: it goes straight to its end
                            // then, and a poll never sees it working again on the way.
                            let polled = std::future::poll_fn(|cx| Poll::Ready(self.call.as_mut().poll(cx))).await;
                            if let Poll::Ready(outcome) = polled {
                                if let Some(next) = self.finish(outcome).await {
                                    self.call = next;
                                    continue;
                                }
                                return;
                            }
                            self.record.status = Status::Working;
                            self.record.input_requests.clear();
                            self.save().await;
                        }
                    }
                }
                () = running.changed.notified() => {
                    let message = running.message();
                    let asking = running.asking.load(Ordering::SeqCst) > 0;
                    let status = if asking || waiting { Status::InputRequired } else { Status::Working };
                    if message != self.record.status_message || status != self.record.status {
                        self.record.status_message = message;
                        self.record.status = status;
                        self.save().await;
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    // Its time is up: the task and its keys expire now.
                    self.parts.cancel.cancel();
                    self.end();
                    return;
                }
                ended = until_waiting(&mut self.call, mrtr.as_deref()), if !waiting => {
                    match ended {
                        Some(outcome) => {
                            if let Some(next) = self.finish(outcome).await {
                                self.call = next;
                                continue;
                            }
                            return;
                        }
                        None => {
                            waiting = true;
                            let pending = mrtr.as_ref().map(|m| m.unanswered()).unwrap_or_default();
                            if self.record.status != Status::InputRequired || pending != self.record.input_requests {
                                self.record.status = Status::InputRequired;
                                self.record.input_requests = pending;
                                self.save().await;
                            }
                        }
                    }
                }
            }
        }
    }

    /// The task's end: its outcome saved, or, for input requests written by hand, the tool run
    /// again with their answers (returned as the next future to drive).
    async fn finish(&mut self, outcome: Outcome) -> Option<OutcomeFuture> {
        let record = &mut self.record;
        record.input_requests.clear();
        record.status_message = self.running.message();
        match outcome {
            Outcome::Tool(ToolOutput::Result(result)) => {
                let missing = self
                    .parts
                    .missing_capability
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                match missing.filter(|_| result.is_error) {
                    Some(required) => {
                        record.status = Status::Failed;
                        let error = ErrorObject::new(
                            ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
                            format!("Missing required client capability: {}", result.text_content()),
                        )
                        .with_data(json!({ "requiredCapabilities": required }));
                        record.error = Some(json!(error));
                    }
                    None => {
                        record.status = Status::Completed;
                        record.result = Some(json!(result));
                    }
                }
            }
            Outcome::Tool(ToolOutput::InputRequired(ir)) => match self.rerun.clone() {
                Some(rerun) => return self.by_hand(ir.input_requests, ir.request_state, rerun).await,
                None => {
                    record.status = Status::Failed;
                    record.error = Some(json!(ErrorObject::internal(
                        "the tool asked for input by hand but cannot be run again with the answers"
                    )));
                }
            },
            Outcome::Failed(error) => {
                record.status = Status::Failed;
                record.error = Some(json!(error));
            }
            Outcome::Prompt(_) | Outcome::Resource(..) => {
                record.status = Status::Failed;
                record.error = Some(json!(ErrorObject::internal("only tools run as tasks")));
            }
        }
        self.save().await;
        self.end();
        None
    }

    /// Input requests a tool wrote by hand: asked (as the task's `inputRequests`, or as real
    /// requests in the handshake era) and answered, then the tool runs again with the answers.
    async fn by_hand(
        &mut self,
        requests: Map<String, Value>,
        state: Option<String>,
        rerun: Rerun,
    ) -> Option<OutcomeFuture> {
        let peer = match &self.parts.exchange {
            Exchange::Handshake(peer) => Some(Arc::clone(peer)),
            Exchange::Stateless { .. } => None,
        };
        let answers = match peer {
            Some(peer) => {
                self.record.status = Status::InputRequired;
                self.save().await;
                let related = self.parts.request_id.clone();
                let asked = ask_all(&*peer, &requests, self.parts.client_timeout, related).await;
                match asked {
                    Ok(answers) => answers,
                    Err(error) => {
                        self.record.status = Status::Failed;
                        self.record.error = Some(json!(error));
                        self.save().await;
                        self.end();
                        return None;
                    }
                }
            }
            None => {
                self.record.status = Status::InputRequired;
                self.record.input_requests.clone_from(&requests);
                self.save().await;
                loop {
                    self.running.wake.notified().await;
                    match self.tasks().inbox(&self.record.id).await {
                        Ok(inbox) if inbox.cancelled => {
                            self.cancelled().await;
                            return None;
                        }
                        Ok(inbox) if requests.keys().all(|k| inbox.answers.contains_key(k)) => {
                            break inbox
                                .answers
                                .into_iter()
                                .filter(|(k, _)| requests.contains_key(k))
                                .collect();
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(task = %self.record.id, error = %e, "could not read a task's inbox"),
                    }
                }
            }
        };
        self.record.status = Status::Working;
        self.record.input_requests.clear();
        self.save().await;
        let parts = Arc::new(self.parts.again(Some(answers), state));
        self.parts = Arc::clone(&parts);
        Some(rerun(parts))
    }

    /// The task was cancelled: saved as such at once; the tool, told through
    /// `ctx.cancelled()`, gets a moment to clean up.
    async fn cancelled(&mut self) {
        self.parts.cancel.cancel();
        self.record.status = Status::Cancelled;
        self.record.input_requests.clear();
        self.save().await;
        let _ = tokio::time::timeout(CANCEL_GRACE, &mut self.call).await;
        self.end();
    }

    fn end(&self) {
        self.tasks().unregister(&self.record.id);
        self.tasks().unwatch(&self.record.id);
        self.running.done.notify_waiters();
    }
}

/// The id a handshake-era task's requests to the client travel with: a `tasks/result` waiting
/// for the task, whose stream carries them, if there is one here; else the original call.
pub(crate) fn related_request(running: &Running, call: &RequestId) -> RequestId {
    running
        .waiting
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .last()
        .cloned()
        .unwrap_or_else(|| call.clone())
}
