//! Response streams: the channel by which a request's messages reach its response (claimed once
//! per id, released when the answer needs no stream), a session's stream for everything else,
//! the guard that cancels a stateless request whose client went away, and the relay that moves a
//! resumable stream's messages through the resumption log.

use super::resume::Replay;
use crate::protocol::RequestId;
use crate::server::connection::Connection;
use crate::server::link::{HELD_AT_MOST, Routed, Router, Slot};
use std::sync::{Arc, PoisonError};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// Claims the stream of request `id`'s messages, held until [`open_stream`] or
/// [`release_stream`]; `false` when a request with that id is in flight on this session
/// already, whose stream must not be taken from it. (No channel is made until the request
/// needs one: most are answered where they are read.)
pub(super) fn claim_stream(router: &Router, id: &RequestId) -> bool {
    let mut streams = router.streams.lock().unwrap_or_else(PoisonError::into_inner);
    match streams.entry(id.clone()) {
        std::collections::hash_map::Entry::Occupied(_) => false,
        std::collections::hash_map::Entry::Vacant(slot) => {
            slot.insert(Slot::Held(Vec::new()));
            true
        }
    }
}

/// Closes request `id`'s stream, as it was answered at once: what it sent first, to go out
/// before that answer.
pub(super) fn release_stream(router: &Router, id: &RequestId) -> Vec<Routed> {
    match router.forget_stream(id) {
        Some(Slot::Held(held)) => held,
        _ => Vec::new(),
    }
}

/// Request `id`'s stream as a channel, for a request that goes on after it was read: what was
/// held for it comes first. The channel is closed once the request's answer is in it.
pub(super) fn open_stream(router: &Router, id: &RequestId) -> mpsc::Receiver<Routed> {
    let mut streams = router.streams.lock().unwrap_or_else(PoisonError::into_inner);
    let held = match streams.remove(id) {
        Some(Slot::Held(held)) => held,
        _ => Vec::new(),
    };
    let (tx, rx) = mpsc::channel::<Routed>(HELD_AT_MOST.max(held.len() + 1));
    let answered = held.iter().any(|(_, last)| *last);
    for message in held {
        let _ = tx.try_send(message);
    }
    if !answered {
        streams.insert(id.clone(), Slot::Open(tx));
    } else if streams.is_empty() {
        *streams = std::collections::HashMap::new();
    }
    rx
}

/// Opens request `id`'s stream again, after [`release_stream`], for messages that follow its
/// answer (a `subscriptions/listen`).
pub(super) fn reopen_stream(router: &Router, id: &RequestId) -> mpsc::Receiver<Routed> {
    let (tx, rx) = mpsc::channel::<Routed>(HELD_AT_MOST);
    router
        .streams
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id.clone(), Slot::Open(tx));
    rx
}

/// Opens the session's stream for messages tied to no request (a GET's), in place of any
/// stream before it.
pub(super) fn open_standalone_stream(router: &Router) -> mpsc::Receiver<Routed> {
    let (tx, rx) = mpsc::channel::<Routed>(256);
    *router.standalone.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
    rx
}

/// Cancels a stateless request whose client went away before its answer.
pub(super) struct Guard {
    pub(super) conn: Arc<Connection>,
    pub(super) id: RequestId,
    pub(super) cancel: bool,
    pub(super) events: Option<AbortHandle>,
}

impl Guard {
    pub(super) fn done(mut self) {
        self.cancel = false;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(events) = &self.events {
            events.abort();
        }
        if self.cancel {
            self.conn.cancel_request(&self.id);
        }
    }
}

/// Moves a stream's messages from the router into the replay log and on to its live response.
pub(super) fn relay(
    replay: Arc<Replay>,
    key: u64,
    first: Option<Vec<u8>>,
    mut rx: mpsc::Receiver<Routed>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut next = first.map(|f| (f, false));
        loop {
            let (bytes, last) = match next.take() {
                Some(item) => item,
                None => match rx.recv().await {
                    Some(item) => item,
                    None => return,
                },
            };
            let Some((id, live)) = replay.record(key, &bytes, last) else {
                return;
            };
            if let Some(tx) = live
                && tx.send((Some(id), bytes, last)).await.is_err()
            {
                // The client went away: keep recording for its resumption.
                replay.drop_live(key);
            }
            if last {
                return;
            }
        }
    })
}
