//! Running a call that waits: to its end in the handshake era; in `input_required` rounds in
//! the stateless era, parked between them until the client's retry (or the state's expiry).

use super::answer;
use super::mrtr::Mrtr;
use super::outcome::{Outcome, OutcomeFuture};
use super::parked::{Parked, Responder, Retry};
use super::rerun::{Rerun, ask_all};
use super::seal::{Continuation, Digest, Payload};
use crate::protocol::RequestId;
use crate::protocol::params::InputResponses;
use crate::server::context::{Exchange, RequestParts};
use crate::server::core::Core;
use crate::server::peer::Peer;
use crate::server::tool::ToolOutput;

use std::sync::{Arc, OnceLock};
use std::task::Poll;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

/// Runs the call until it ends (`Some`), or until it does nothing but wait for input (`None`,
/// stateless era only). A few more polls let requests made side by side (`join!`) land in the
/// same round.
pub(crate) async fn until_waiting(call: &mut OutcomeFuture, mrtr: Option<&Mrtr>) -> Option<Outcome> {
    let Some(mrtr) = mrtr else {
        return Some(call.await);
    };
    let mut settle = 0u8;
    std::future::poll_fn(|cx| match call.as_mut().poll(cx) {
        Poll::Ready(outcome) => Poll::Ready(Some(outcome)),
        Poll::Pending if mrtr.has_unanswered() => {
            if settle < 3 {
                settle += 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(None)
            }
        }
        Poll::Pending => {
            settle = 0;
            mrtr.wake_on_request(cx.waker());
            Poll::Pending
        }
    })
    .await
}

/// Most rounds a handshake-era handler may write by hand before it is stopped.
const MAX_ROUNDS: usize = 16;

/// Handshake era: while the handler answers with input requests written by hand, asks them as
/// real requests and runs it again with the answers. Returns the parts of the last run.
async fn by_hand(
    mut parts: Arc<RequestParts>,
    mut outcome: Outcome,
    rerun: Option<Rerun>,
) -> (Arc<RequestParts>, Outcome) {
    let Some(rerun) = rerun else {
        return (parts, outcome);
    };
    for _ in 0..MAX_ROUNDS {
        let ir = match outcome.into_input_required() {
            Ok(ir) => ir,
            Err(done) => return (parts, done),
        };
        let Exchange::Handshake(peer) = &parts.exchange else {
            return (parts, Outcome::Tool(ToolOutput::InputRequired(ir)));
        };
        match ask_all(
            &**peer,
            &ir.input_requests,
            parts.client_timeout,
            parts.request_id.clone(),
        )
        .await
        {
            Ok(answers) => {
                parts = Arc::new(parts.again(Some(answers), ir.request_state));
                outcome = rerun(Arc::clone(&parts)).await;
            }
            Err(e) => return (parts, Outcome::Failed(e)),
        }
    }
    let e = crate::protocol::ErrorObject::internal(format!(
        "the handler asked for input by hand more than {MAX_ROUNDS} times in one call"
    ));
    (parts, Outcome::Failed(e))
}

/// The answer that ends a stateless round: `input_required`, with the requests still waiting
/// and a sealed state bound to the request's `digest`, naming the parked `continuation`, and
/// carrying every answer so far when the server replays lost calls. The round is finished.
pub(crate) fn end_round(
    core: &Core,
    parts: &RequestParts,
    id: &RequestId,
    digest: &Digest,
    continuation: Continuation,
    mrtr: &Mrtr,
) -> Vec<u8> {
    let state = core.sealer.seal(Payload {
        digest: *digest,
        continuation: Some(continuation),
        answers: if core.options.replay {
            mrtr.answers()
        } else {
            InputResponses::new()
        },
        ..Payload::default()
    });
    parts.round().finished = true;
    core.framing.input_required(id, &mrtr.input_requests(), &state)
}

/// Runs a handshake-era call to its end and answers it. Input a handler asks for by hand is
/// asked for real first, on a future of its own: the common future stays small. (A task is
/// allocated whole, and one over 1 KB is a large allocation for glibc, which consolidates its
/// free lists first: BENCHMARKS.md, fifth pass.)
pub(crate) async fn answer_at_end(
    core: Arc<Core>,
    parts: Arc<RequestParts>,
    call: OutcomeFuture,
    responder: Responder,
    digest: Digest,
    rerun: Option<Rerun>,
) {
    let (mut parts, mut outcome) = (parts, call.await);
    if rerun.is_some() && outcome.is_input_required() {
        (parts, outcome) = Box::pin(by_hand(parts, outcome, rerun)).await;
    }
    let reply = answer::encode(&core, &parts, &responder.id, outcome, &digest);
    parts.round().finished = true;
    responder.send(reply).await;
}

/// Runs a stateless-era call in rounds until it ends: each round that waits for nothing but
/// input answers `input_required`, parks the call and waits for its retry.
pub(crate) async fn drive_rounds(
    core: Arc<Core>,
    parts: Arc<RequestParts>,
    call: OutcomeFuture,
    mut responder: Responder,
    digest: Digest,
    own_abort: Arc<OnceLock<AbortHandle>>,
    mrtr: Arc<Mrtr>,
) {
    let mut call = call;
    // Named only when a round ends: a call that never asks the client costs no randomness.
    let mut continuation = None;
    loop {
        let ended = until_waiting(&mut call, Some(&mrtr)).await;
        if let Some(outcome) = ended {
            let reply = answer::encode(&core, &parts, &responder.id, outcome, &digest);
            parts.round().finished = true;
            responder.send(reply).await;
            return;
        }

        // End of a round: answer `input_required`, park, and wait for the retry.
        let continuation = *continuation.get_or_insert_with(Continuation::next);
        let reply = end_round(&core, &parts, &responder.id, &digest, continuation, &mrtr);
        // Each round's retry comes through a channel of its own, used once.
        let (retry_tx, mut retry_rx) = oneshot::channel::<Retry>();
        if let Some(abort) = own_abort.get() {
            core.parked.park(
                continuation,
                Parked::Task {
                    retry: retry_tx,
                    mrtr: Arc::clone(&mrtr),
                    abort: abort.clone(),
                    cancel: Arc::clone(&parts.cancel),
                },
                std::time::Instant::now(),
            );
        }
        responder.send(reply).await;

        let expires = tokio::time::Instant::now() + core.options.state_ttl;
        let next = tokio::select! {
            retry = &mut retry_rx => retry.ok(),
            outcome = &mut call => {
                // Done without the answers it asked for: give the result to the next retry.
                let retry = tokio::select! {
                    r = retry_rx => r.ok(),
                    () = tokio::time::sleep_until(expires) => None,
                };
                core.parked.take(continuation);
                if let Some(retry) = retry {
                    let reply = answer::encode(&core, &parts, &retry.responder.id, outcome, &digest);
                    retry.responder.send(reply).await;
                }
                return;
            }
            () = tokio::time::sleep_until(expires) => None,
        };
        let Some(retry) = next else {
            core.parked.take(continuation);
            return;
        };
        {
            let mut round = parts.round();
            round.peer = Arc::clone(&retry.responder.link) as Arc<dyn Peer>;
            round.request_id = retry.responder.id.clone();
            round.progress_token = retry.progress_token;
            round.log_level = retry.log_level;
            round.last_progress = None;
            round.finished = false;
        }
        responder = retry.responder;
    }
}
