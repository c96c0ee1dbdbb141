//! Running a call that waits: to its end in the handshake era; in `input_required` rounds in
//! the stateless era, parked between them until the client's retry (or the state's expiry).

use super::outcome::{self, OutcomeFuture};
use super::parked::{Parked, Responder, Retry};
use super::seal::{Payload, hex, random};
use crate::server::context::{Exchange, RequestParts};
use crate::server::core::Core;
use crate::server::peer::Peer;
use serde_json::Map;

use std::sync::{Arc, OnceLock};
use std::task::Poll;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// Runs one call to its end: at once in the handshake era; in rounds in the stateless era.
pub(crate) async fn drive(
    core: Arc<Core>,
    parts: Arc<RequestParts>,
    call: OutcomeFuture,
    mut responder: Responder,
    digest: String,
    own_abort: Arc<OnceLock<AbortHandle>>,
) {
    let mut call = call;
    let Exchange::Stateless { mrtr, .. } = &parts.exchange else {
        let outcome = call.await;
        let reply = outcome::encode(&core, &parts, &responder.id, outcome, &digest);
        parts.round().finished = true;
        responder.send(reply).await;
        return;
    };
    let mrtr = Arc::clone(mrtr);
    // Named only when a round ends: a call that never asks the client costs no randomness.
    let mut continuation = String::new();
    let (retry_tx, mut retry_rx) = mpsc::channel::<Retry>(1);
    loop {
        // Run the call until it ends, or until it does nothing but wait for input. A few more
        // polls let requests made side by side (`join!`) land in the same round.
        let mut settle = 0u8;
        let ended = std::future::poll_fn(|cx| match call.as_mut().poll(cx) {
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
                Poll::Pending
            }
        })
        .await;
        if let Some(outcome) = ended {
            let reply = outcome::encode(&core, &parts, &responder.id, outcome, &digest);
            parts.round().finished = true;
            responder.send(reply).await;
            return;
        }

        // End of a round: answer `input_required`, park, and wait for the retry.
        if continuation.is_empty() {
            continuation = hex(&random::<16>());
        }
        let state = core.sealer.seal(Payload {
            digest: digest.clone(),
            continuation: Some(continuation.clone()),
            answers: if core.options.replay {
                mrtr.answers()
            } else {
                Map::new()
            },
            ..Payload::default()
        });
        if let Some(abort) = own_abort.get() {
            core.parked.park(
                continuation.clone(),
                Parked {
                    retry: retry_tx.clone(),
                    mrtr: Arc::clone(&mrtr),
                    abort: abort.clone(),
                    cancel: Arc::clone(&parts.cancel),
                },
            );
        }
        parts.round().finished = true;
        let id = responder.id.clone();
        responder
            .send(core.framing.input_required(&id, &mrtr.unanswered(), &state))
            .await;

        let expires = tokio::time::Instant::now() + core.options.state_ttl;
        let next = tokio::select! {
            retry = retry_rx.recv() => retry,
            outcome = &mut call => {
                // Done without the answers it asked for: give the result to the next retry.
                let retry = tokio::select! {
                    r = retry_rx.recv() => r,
                    () = tokio::time::sleep_until(expires) => None,
                };
                core.parked.take(&continuation);
                if let Some(retry) = retry {
                    let reply = outcome::encode(&core, &parts, &retry.responder.id, outcome, &digest);
                    retry.responder.send(reply).await;
                }
                return;
            }
            () = tokio::time::sleep_until(expires) => None,
        };
        let Some(retry) = next else {
            core.parked.take(&continuation);
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
