//! Starting a call: its exchange with the client (resuming a parked call, or replaying one, when
//! a stateless retry says so), then its first run.

use super::answer;
use super::drive::{answer_at_end, drive_rounds, end_round};
use super::mrtr::Mrtr;
use super::outcome::{Outcome, OutcomeFuture};
use super::parked::{Parked, Responder, Retry, Suspended};
use super::rerun::Rerun;
use super::seal::{Continuation, Digest, Payload, Refusal, request_digest};
use crate::protocol::jsonrpc::encode_error;
use crate::protocol::params::{InputParams, InputResponses};
use crate::protocol::{ErrorObject, Method, RequestId};
use crate::server::connection::Connection;
use crate::server::context::{Cancel, Context, Exchange, RequestParts, Round, SentAnswers};
use crate::server::era::Requester;
use crate::server::incoming::Collect;
use crate::server::log_layer;
use crate::server::peer::Peer;
use crate::server::store::StoreError;
use crate::server::task::Tasks;
use crate::server::task::peer::{TaskPeer, wait_for_result};
use crate::server::task::start::TaskPlan;
use crate::server::task::tasks::Running;
use serde_json::{Map, Value};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Poll, Wake, Waker};
use std::time::Instant;

/// A call of any kind, as its method's handler hands it to the engine.
pub(crate) struct CallRequest {
    pub(crate) id: RequestId,
    /// The digest a sealed state is bound to ([`Connection::digest_if_needed`]); zeros when
    /// [`needs_digest`] says no state will be sealed or opened.
    pub(crate) digest: Digest,
    pub(crate) input: InputParams,
    pub(crate) meta: Option<Map<String, Value>>,
    pub(crate) req: Requester,
    pub(crate) collect: Collect,
    /// Runs the handler again: for input it asks by hand outside a stateless round, and tasks.
    pub(crate) rerun: Option<Rerun>,
    /// Set when the call runs as a task.
    pub(crate) task: Option<TaskPlan>,
}

/// Whether a call's sealed state must be bound to the request: in the stateless era, when the
/// handler may ask the client something or the request continues an earlier one. Only then is
/// the request's identity worth building.
pub(crate) fn needs_digest(req: &Requester, uses_context: bool, input: &InputParams) -> bool {
    req.version.is_stateless() && (uses_context || input.request_state.is_some())
}

/// What a tool call or a prompt is bound to: its name and arguments, serialised as the JSON
/// object `{"arguments": .., "name": ..}` would be, with nothing copied.
#[derive(serde::Serialize)]
pub(crate) struct NamedCall<'a, A: serde::Serialize> {
    pub(crate) arguments: &'a A,
    pub(crate) name: &'a str,
}

/// What a resource read is bound to: its URI (`{"uri": ..}`).
#[derive(serde::Serialize)]
pub(crate) struct UriRead<'a> {
    pub(crate) uri: &'a str,
}

impl Connection {
    /// The digest that binds a call's sealed state to its request (`identity`, the method and
    /// who asks), when [`needs_digest`]; else all zeros. Hashed from borrowed parts.
    pub(crate) fn digest_if_needed(
        &self,
        method: Method,
        req: &Requester,
        uses_context: bool,
        input: &InputParams,
        identity: &impl serde::Serialize,
    ) -> Digest {
        if !needs_digest(req, uses_context, input) {
            return Digest::default();
        }
        // Bound to who asks: another principal's state does not open.
        let who = self.principal.as_ref().map(|p| p.subject.as_str());
        request_digest(method.as_str(), identity, who)
    }
}

/// A call whose request is checked and whose `requestState`, if any, is opened: what is left
/// to decide once its nonce is claimed.
struct Opened<M> {
    id: RequestId,
    req: Requester,
    meta: Option<Map<String, Value>>,
    progress_token: Option<Value>,
    digest: Digest,
    input_responses: Option<InputResponses>,
    payload: Option<Payload>,
    make: M,
    rerun: Option<Rerun>,
    task: Option<TaskPlan>,
}

fn refuse(id: &RequestId, e: &ErrorObject) -> Option<Vec<u8>> {
    Some(encode_error(Some(id), e))
}

impl Connection {
    /// Starts a call: opens a stateless retry's sealed state and claims it once in the store,
    /// then runs the call (see [`Self::begin`]). Answered here when it ends at once; else the
    /// answer comes from a task.
    pub(crate) fn start<M, F>(self: &Arc<Self>, call: CallRequest, make: M) -> Option<Vec<u8>>
    where
        M: FnOnce(Arc<RequestParts>) -> F + Send + 'static,
        F: Future<Output = Outcome> + Send + 'static,
    {
        let CallRequest {
            id,
            digest,
            input,
            meta,
            req,
            mut collect,
            rerun,
            task,
        } = call;
        let progress_token = meta.as_ref().and_then(|m| m.get("progressToken")).cloned();
        if self.link.is_in_flight(&id) {
            return refuse(&id, &ErrorObject::id_in_use(&id));
        }
        let InputParams {
            input_responses,
            request_state,
        } = input;
        let mut payload = match request_state.filter(|_| req.version.is_stateless()) {
            None => None,
            Some(token) => match self.core.sealer.open(&token, &digest) {
                Ok(p) => Some(p),
                Err(refusal) => return refuse(&id, &ErrorObject::invalid_params(refusal.to_string())),
            },
        };
        // The nonce is needed only to be claimed: moved into the claim, not copied.
        let claim = payload
            .as_mut()
            .map(|p| self.core.store.claim_once(std::mem::take(&mut p.nonce), p.expires));
        let opened = Opened {
            id,
            req,
            meta,
            progress_token,
            digest,
            input_responses,
            payload,
            make,
            rerun,
            task,
        };
        let Some(mut claim) = claim else {
            return self.begin(opened, &mut collect);
        };
        // One sealed state completes once across every replica sharing the store. A store in
        // memory answers at once; a remote one is awaited on a task, which then answers.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if let Poll::Ready(claimed) = claim.as_mut().poll(&mut cx) {
            return self.claimed(claimed, opened, &mut collect);
        }
        let conn = Arc::clone(self);
        tokio::spawn(async move {
            let id = opened.id.clone();
            let reply = conn.claimed(claim.await, opened, &mut collect);
            if let Some(reply) = reply {
                Responder::new(id, Arc::clone(&conn.link), collect).send(reply).await;
            }
        });
        None
    }

    /// Goes on once the store said whether this state's nonce was claimed here.
    fn claimed<M, F>(
        self: &Arc<Self>,
        claimed: Result<bool, StoreError>,
        opened: Opened<M>,
        collect: &mut Collect,
    ) -> Option<Vec<u8>>
    where
        M: FnOnce(Arc<RequestParts>) -> F,
        F: Future<Output = Outcome> + Send + 'static,
    {
        match claimed {
            Ok(true) => self.begin(opened, collect),
            Ok(false) => refuse(&opened.id, &ErrorObject::invalid_params(Refusal::Reused.to_string())),
            Err(e) => refuse(&opened.id, &store_failed(&e)),
        }
    }

    /// Runs a call whose state (if any) is claimed: resumes the parked call it continues, or
    /// replays it, or starts it; to its end at once when it does not wait, else on a task of
    /// its own. `collect` is taken when the answer will come from elsewhere.
    fn begin<M, F>(self: &Arc<Self>, opened: Opened<M>, collect: &mut Collect) -> Option<Vec<u8>>
    where
        M: FnOnce(Arc<RequestParts>) -> F,
        F: Future<Output = Outcome> + Send + 'static,
    {
        let Opened {
            id,
            req,
            meta,
            progress_token,
            digest,
            input_responses,
            payload,
            make,
            rerun,
            mut task,
        } = opened;
        let req_stateless = req.version.is_stateless();
        // A retry whose call is parked here goes on where it stopped: nothing else to build.
        if req_stateless
            && let Some(continuation) = payload.as_ref().and_then(|p| p.continuation)
            && let Some(parked) = self.core.parked.take(continuation)
        {
            let responses = input_responses.unwrap_or_default();
            return self.resume(id, parked, responses, progress_token, &req, collect);
        }
        let cancel = Arc::new(Cancel::default());
        let running = task.as_ref().map(|_| Arc::new(Running::new(Tasks::new_id())));
        let exchange = if req_stateless {
            let mut answers = input_responses.clone().unwrap_or_default();
            let mut user_state = None;
            let mut replay = false;
            if let Some(payload) = payload {
                if payload.continuation.is_some() {
                    if !self.core.options.replay {
                        return refuse(
                            &id,
                            &ErrorObject::invalid_params(
                                "the call this requestState continues is gone (expired, restarted or served elsewhere) and replay is off; call again without requestState",
                            ),
                        );
                    }
                    replay = true;
                }
                for (k, v) in payload.answers {
                    answers.insert_new(k, v);
                }
                user_state = payload.user;
                if let Some(plan) = &mut task {
                    plan.call.user_state.clone_from(&user_state);
                }
            }
            Exchange::Stateless {
                mrtr: Arc::new(Mrtr::new(answers)),
                input_responses: input_responses.map(SentAnswers::new),
                user_state,
                replay,
            }
        } else if let Some(running) = &running {
            Exchange::Handshake(Arc::new(TaskPeer {
                inner: Arc::clone(&self.link) as Arc<dyn Peer>,
                running: Arc::clone(running),
                task_id: running.id.clone(),
                wait_for_result: wait_for_result(
                    u64::try_from(self.core.options.tasks.poll.as_millis()).unwrap_or(1000),
                ),
            }))
        } else {
            Exchange::Handshake(Arc::clone(&self.link) as Arc<dyn Peer>)
        };

        let parts = Arc::new(RequestParts {
            request_id: id.clone(),
            version: req.version,
            client_capabilities: req.capabilities,
            client_info: req.client_info,
            meta,
            state: Arc::clone(&self.core.state),
            exchange,
            round: Mutex::new(Round {
                request_id: id.clone(),
                peer: Arc::clone(&self.link) as Arc<dyn Peer>,
                progress_token,
                log_level: req.log_level,
                last_progress: None,
                finished: false,
            }),
            cancel: Arc::clone(&cancel),
            missing_capability: Mutex::new(None),
            client_timeout: self.core.options.client_timeout,
            service: Arc::clone(&self.service),
            principal: self.principal.clone(),
            answered: None,
            task: running.clone(),
            hidden: (!req_stateless).then(|| Arc::clone(&self.hidden)),
        });
        let scoped = Context::new(Arc::clone(&parts));
        // The run and its scope in one allocation.
        let future: OutcomeFuture = Box::pin(log_layer::scope(scoped, make(Arc::clone(&parts))));
        if let (Some(plan), Some(running)) = (task, running) {
            return self.begin_task(plan, running, parts, future, rerun, id, collect, &digest);
        }
        self.run_here(id, parts, future, digest, rerun, collect)
    }

    /// Polls a call where its request was read. Most calls have nothing to wait for and end on
    /// their first poll: those are answered here, with no task spawned and no thread woken. So
    /// is a stateless call that then waits for nothing but its input requests: its round ends
    /// here, and it is parked as a future until the retry polls it again. The rest move to a
    /// task of their own, which polls them again at once (registering its own waker in place
    /// of this no-op one).
    fn run_here(
        self: &Arc<Self>,
        id: RequestId,
        parts: Arc<RequestParts>,
        mut future: OutcomeFuture,
        digest: Digest,
        rerun: Option<Rerun>,
        collect: &mut Collect,
    ) -> Option<Vec<u8>> {
        let (mut polled, mut woke) = poll_noting(&mut future);
        if let Exchange::Stateless { mrtr, .. } = &parts.exchange {
            // A call that woke itself (a branch of a `join!` that will ask next) is polled again,
            // a few times, so that requests made side by side land in the same round. One that
            // did not has nothing to do until its answers come.
            let mut settle = 0u8;
            while polled.is_pending() && mrtr.has_unanswered() {
                if settle == 3 || !woke {
                    let mrtr = Arc::clone(mrtr);
                    return Some(self.suspend(id, parts, future, digest, rerun, mrtr));
                }
                settle += 1;
                (polled, woke) = poll_noting(&mut future);
            }
        }
        if let Poll::Ready(done) = polled {
            let ask_by_hand = rerun.is_some() && !parts.version.is_stateless() && done.is_input_required();
            if !ask_by_hand {
                let reply = answer::encode(&self.core, &parts, &id, done, &digest);
                parts.round().finished = true;
                return Some(reply);
            }
            // Input asked by hand in the handshake era: asked for real, on a task of its own.
            future = Box::pin(std::future::ready(done));
        }
        let responder = Responder::new(id.clone(), Arc::clone(&self.link), collect.take());
        let core = Arc::clone(&self.core);
        let own_abort = Arc::new(OnceLock::new());
        let cancel = Arc::clone(&parts.cancel);
        match &parts.exchange {
            Exchange::Stateless { mrtr, .. } => {
                let mrtr = Arc::clone(mrtr);
                let task = drive_rounds(core, parts, future, responder, digest, Arc::clone(&own_abort), mrtr);
                self.spawn_call(id, cancel, &own_abort, task);
            }
            Exchange::Handshake(_) => {
                let task = answer_at_end(core, parts, future, responder, digest, rerun);
                self.spawn_call(id, cancel, &own_abort, task);
            }
        }
        None
    }

    /// Runs a call on a task of its own, tracked (and cancelled) by its request's id.
    fn spawn_call<F>(&self, id: RequestId, cancel: Arc<Cancel>, own_abort: &OnceLock<tokio::task::AbortHandle>, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // The call goes on in the request's trace context: its requests to the client carry it.
        #[cfg(feature = "otel")]
        let task = crate::server::otel::in_request_context(task);
        self.link.spawn_tracked(id, cancel, own_abort, task);
    }

    /// Ends a stateless round where the call was polled: answers `input_required` and parks
    /// the call's future, with no task, for the retry.
    fn suspend(
        &self,
        id: RequestId,
        parts: Arc<RequestParts>,
        call: OutcomeFuture,
        digest: Digest,
        rerun: Option<Rerun>,
        mrtr: Arc<Mrtr>,
    ) -> Vec<u8> {
        let continuation = Continuation::next();
        let reply = end_round(&self.core, &parts, &id, &digest, continuation, &mrtr);
        let now = Instant::now();
        let expires = now + self.core.options.state_ttl;
        self.core.parked.park(
            continuation,
            Parked::Suspended(Box::new(Suspended {
                call,
                parts,
                mrtr,
                digest,
                rerun,
                expires,
            })),
            now,
        );
        reply
    }

    /// A retry for a parked call: hand it the answers and the new request to answer. A call
    /// parked as a future is polled here; a call with a task is handed the retry.
    fn resume(
        self: &Arc<Self>,
        id: RequestId,
        parked: Parked,
        input_responses: InputResponses,
        progress_token: Option<Value>,
        req: &Requester,
        collect: &mut Collect,
    ) -> Option<Vec<u8>> {
        let mrtr = match &parked {
            Parked::Suspended(suspended) => &suspended.mrtr,
            Parked::Task { mrtr, .. } => mrtr,
        };
        if let Err(e) = mrtr.deliver(input_responses) {
            return Some(encode_error(Some(&id), &e));
        }
        match parked {
            Parked::Suspended(suspended) => {
                let Suspended {
                    call,
                    parts,
                    digest,
                    rerun,
                    ..
                } = *suspended;
                {
                    let mut round = parts.round();
                    round.peer = Arc::clone(&self.link) as Arc<dyn Peer>;
                    round.request_id = id.clone();
                    round.progress_token = progress_token;
                    round.log_level = req.log_level;
                    round.last_progress = None;
                    round.finished = false;
                }
                self.run_here(id, parts, call, digest, rerun, collect)
            }
            Parked::Task {
                retry, abort, cancel, ..
            } => {
                let next = Retry {
                    responder: Responder::new(id.clone(), Arc::clone(&self.link), collect.take()),
                    progress_token,
                    log_level: req.log_level,
                };
                self.link.track(id.clone(), abort, cancel);
                if let Err(next) = retry.send(next) {
                    // The parked call ended in the meantime.
                    self.link.finish(&id);
                    let error = ErrorObject::invalid_params(
                        "the call this requestState continues has ended; call again without requestState",
                    );
                    drop(next);
                    return Some(encode_error(Some(&id), &error));
                }
                None
            }
        }
    }
}

/// A waker that notes that it was woken, one per thread.
struct Noted(AtomicBool);

impl Wake for Noted {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

thread_local! {
    static NOTED: (Arc<Noted>, Waker) = {
        let noted = Arc::new(Noted(AtomicBool::new(false)));
        let waker = Waker::from(Arc::clone(&noted));
        (noted, waker)
    };
}

/// Polls a call where its request was read, and says whether it woke itself meanwhile. Only
/// that poll's own wakes count; one that comes later from elsewhere, through a waker the call
/// kept, at worst costs another poll. (tokio's `yield_now` wakes only once the reading task's
/// poll ends: a branch that yields before it asks waits for the next round.)
fn poll_noting(future: &mut OutcomeFuture) -> (Poll<Outcome>, bool) {
    NOTED.with(|(noted, waker)| {
        let before = noted.0.swap(false, Ordering::Relaxed);
        let polled = future.as_mut().poll(&mut std::task::Context::from_waker(waker));
        (polled, noted.0.swap(before, Ordering::Relaxed))
    })
}

/// The error for a retry whose state could not be claimed: the store did not answer.
fn store_failed(e: &StoreError) -> ErrorObject {
    tracing::warn!(error = %e, "a requestState could not be checked against the store");
    ErrorObject::internal(format!(
        "{e}; try the same retry again (if the store did act on it before it failed to answer, the retry is refused as already used)"
    ))
}
