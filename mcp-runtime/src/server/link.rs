//! One connection's way out: where its messages go (one stream, or each HTTP request's own),
//! the requests it sent the client and waits on, and the requests in flight it still owes an
//! answer.

use super::context::Cancel;
use super::peer::{Answer, Peer, cannot_ask};
use crate::error::{Error, Result};
use crate::protocol::jsonrpc::{self, encode_request_raw};
use crate::protocol::{ErrorObject, Method, RequestId};
use serde_json::json;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::AbortHandle;

/// Where a connection's outgoing messages go.
pub(crate) enum Out {
    /// One stream for everything, in order (stdio, in-memory).
    Stream(mpsc::Sender<Vec<u8>>),
    /// Streamable HTTP: each request's messages on that request's own stream, the rest on the
    /// session's GET stream.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // made by the HTTP front end
    Routed(Arc<Router>),
}

/// A message for an HTTP request's stream, and whether it is that request's answer (the last).
pub(crate) type Routed = (Vec<u8>, bool);

/// The stream of one request in flight over HTTP.
#[cfg_attr(not(feature = "http"), allow(dead_code))] // made by the HTTP front end
pub(crate) enum Slot {
    /// No channel yet: the request is being served where it was read, and its answer may come
    /// at once; what it sends before then is held here, to go out ahead of that answer.
    Held(Vec<Routed>),
    /// The channel to the request's response.
    Open(mpsc::Sender<Routed>),
}

/// The most messages held for a request before its response has a channel, as many as the
/// channel then takes; more are dropped, as a full channel's are.
pub(crate) const HELD_AT_MOST: usize = 256;

/// Streams of the requests in flight over HTTP, and the stream for everything else.
#[derive(Default)]
pub(crate) struct Router {
    pub(crate) streams: Mutex<HashMap<RequestId, Slot>>,
    pub(crate) standalone: Mutex<Option<mpsc::Sender<Routed>>>,
}

impl Router {
    /// Request `id`'s stream, taken out of the table. An emptied table gives its memory back: a
    /// session between requests (most idle ones) holds no table at all.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP front end
    pub(crate) fn forget_stream(&self, id: &RequestId) -> Option<Slot> {
        Self::take_slot(&mut self.streams.lock().unwrap_or_else(PoisonError::into_inner), id)
    }

    /// Takes request `id`'s slot out of `streams`, freeing the table once it is empty.
    pub(crate) fn take_slot(streams: &mut HashMap<RequestId, Slot>, id: &RequestId) -> Option<Slot> {
        let found = streams.remove(id);
        if streams.is_empty() {
            *streams = HashMap::new();
        }
        found
    }

    /// Routes `message`, about `related`: held for a request not yet given a channel (`None`
    /// back), else the channel to send it on, outside the lock: the request's, or the session's.
    fn route(&self, related: Option<&RequestId>, message: Routed) -> Option<(mpsc::Sender<Routed>, Routed)> {
        if let Some(id) = related {
            let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
            match streams.get_mut(id) {
                Some(Slot::Held(held)) => {
                    if held.len() < HELD_AT_MOST || message.1 {
                        held.push(message);
                    } else {
                        tracing::warn!("dropped a notification: the client is not reading fast enough");
                    }
                    return None;
                }
                Some(Slot::Open(tx)) => {
                    let tx = tx.clone();
                    if message.1 {
                        Self::take_slot(&mut streams, id);
                    }
                    return Some((tx, message));
                }
                None => {}
            }
        }
        let standalone = self.standalone.lock().unwrap_or_else(PoisonError::into_inner).clone();
        standalone.map(|tx| (tx, message))
    }
}

impl Out {
    async fn send(&self, bytes: Vec<u8>, related: Option<&RequestId>, last: bool) {
        // A send fails only when the writer has stopped; the serve loop sees that itself. The
        // wait for room, when the writer is behind, is a future of its own: the caller's stays
        // small (a call's task is allocated whole; see `drive::answer_at_end`).
        match self {
            Self::Stream(tx) => {
                if let Err(mpsc::error::TrySendError::Full(bytes)) = tx.try_send(bytes) {
                    let _ = Box::pin(tx.send(bytes)).await;
                }
            }
            Self::Routed(router) => {
                if let Some((tx, message)) = router.route(related, (bytes, last))
                    && let Err(mpsc::error::TrySendError::Full(message)) = tx.try_send(message)
                {
                    let _ = Box::pin(tx.send(message)).await;
                }
            }
        }
    }

    fn try_send(&self, bytes: Vec<u8>, related: Option<&RequestId>) {
        let full = match self {
            Self::Stream(tx) => matches!(tx.try_send(bytes), Err(mpsc::error::TrySendError::Full(_))),
            Self::Routed(router) => router
                .route(related, (bytes, false))
                .is_some_and(|(tx, message)| matches!(tx.try_send(message), Err(mpsc::error::TrySendError::Full(_)))),
        };
        if full {
            tracing::warn!("dropped a notification: the client is not reading fast enough");
        }
    }
}

type PendingOut = HashMap<RequestId, oneshot::Sender<Result<Box<RawValue>, ErrorObject>>>;

/// The outbound side of one connection.
pub(crate) struct Link {
    out: Out,
    /// Requests this side is serving, by id: to cancel them, and to know when none is left.
    in_flight: Mutex<HashMap<RequestId, (AbortHandle, Arc<Cancel>)>>,
    idle: Notify,
    /// Requests sent to the client, waiting for its answer.
    pending_out: Mutex<PendingOut>,
    next_out_id: AtomicI64,
    /// A counter shared by every link of a fleet replica, used instead of `next_out_id`: ids
    /// then never repeat on the replica, whatever copies of a session it makes.
    shared_ids: OnceLock<Arc<AtomicI64>>,
    /// The handshake-era log level, as an index into the levels.
    log_level: AtomicU8,
    /// Whether the client can answer a request sent here (not over HTTP without sessions).
    can_ask: bool,
}

/// Removes an outbound request that was never answered, and tells the client it is cancelled.
struct OutGuard<'a> {
    link: &'a Link,
    id: RequestId,
    related: RequestId,
}

impl Drop for OutGuard<'_> {
    fn drop(&mut self) {
        let unanswered = self
            .link
            .pending_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id)
            .is_some();
        if unanswered {
            let params = json!({ "requestId": self.id, "reason": "no longer needed" });
            self.link.notify(
                jsonrpc::encode_notification(Method::Cancelled.as_str(), &params),
                Some(&self.related),
            );
        }
    }
}

impl Link {
    pub(crate) fn new(out: Out) -> Self {
        Self {
            out,
            in_flight: Mutex::new(HashMap::new()),
            idle: Notify::new(),
            pending_out: Mutex::new(HashMap::new()),
            next_out_id: AtomicI64::new(1),
            shared_ids: OnceLock::new(),
            log_level: AtomicU8::new(0),
            can_ask: true,
        }
    }

    /// A link for one request of a client served without a session: its answer can carry
    /// notifications, but no request to the client can be answered.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // made by the HTTP front end
    pub(crate) fn one_shot(out: Out) -> Self {
        Self {
            can_ask: false,
            ..Self::new(out)
        }
    }

    /// Sends a message that belongs to no request in particular.
    pub(crate) async fn send(&self, bytes: Vec<u8>) {
        self.out.send(bytes, None, false).await;
    }

    /// Sends request `id`'s answer (on its stream, over HTTP), and forgets the request.
    pub(crate) async fn answer(&self, id: &RequestId, reply: Vec<u8>) {
        self.finish(id);
        self.out.send(reply, Some(id), true).await;
    }

    /// Sets the handshake-era log level (`logging/setLevel`).
    pub(crate) fn set_log_level(&self, index: usize) {
        self.log_level
            .store(u8::try_from(index).unwrap_or(0), Ordering::Relaxed);
    }

    /// Numbers this link's requests to the client from `ids`, a fleet replica's own counter.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP front end
    pub(crate) fn share_ids(&self, ids: &Arc<AtomicI64>) {
        let _ = self.shared_ids.set(Arc::clone(ids));
    }

    /// Whether no request is in flight.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP front end
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).is_empty()
    }

    /// Whether this link sent request `id` to the client and waits for its answer.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP front end
    pub(crate) fn is_waiting_for(&self, id: &RequestId) -> bool {
        self.pending_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(id)
    }

    /// Whether request `id` is in flight.
    pub(crate) fn is_in_flight(&self, id: &RequestId) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(id)
    }

    /// Records a request in flight, with what cancels it.
    pub(crate) fn track(&self, id: RequestId, abort: AbortHandle, cancel: Arc<Cancel>) {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, (abort, cancel));
    }

    /// Runs request `id` on a task of its own and records it in flight, under the table's lock,
    /// so that the task cannot finish before it is recorded. `own` gets the task's abort handle.
    pub(crate) fn spawn_tracked<F>(&self, id: RequestId, cancel: Arc<Cancel>, own: &OnceLock<AbortHandle>, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        let handle = tokio::spawn(task).abort_handle();
        let _ = own.set(handle.clone());
        in_flight.insert(id, (handle, cancel));
    }

    /// Forgets request `id`; wakes a drain waiting for the last one.
    pub(crate) fn finish(&self, id: &RequestId) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        in_flight.remove(id);
        if in_flight.is_empty() {
            self.idle.notify_waiters();
        }
    }

    /// Cancels request `id`: its handler is told and dropped, and it gets no answer.
    pub(crate) fn cancel(&self, id: &RequestId) {
        let entry = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
        if let Some((handle, cancel)) = entry {
            cancel.cancel();
            handle.abort();
        }
        self.finish(id); // wakes a drain waiting for the last call
    }

    /// Lets requests in flight finish, up to `timeout`, then cancels the rest.
    pub(crate) async fn drain(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
                return;
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline) => {
                    self.abort_all();
                    return;
                }
            }
        }
    }

    /// Cancels every request in flight, and forgets the client's pending answers.
    pub(crate) fn abort_all(&self) {
        for (_, (handle, cancel)) in self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).drain() {
            cancel.cancel();
            handle.abort();
        }
        // Outbound requests can no longer be answered.
        self.pending_out.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// Hands the client's answer to the request waiting for it.
    pub(crate) fn answered(&self, id: &RequestId, outcome: Result<Box<RawValue>, ErrorObject>) {
        let waiter = self
            .pending_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        match waiter {
            Some(tx) => {
                let _ = tx.send(outcome);
            }
            None => tracing::debug!(%id, "ignored a response to no request in flight"),
        }
    }

    async fn client_request(
        &self,
        method: &str,
        params: &RawValue,
        timeout: Duration,
        related: RequestId,
    ) -> Result<Box<RawValue>> {
        if !self.can_ask {
            return Err(Error::Message(cannot_ask(method)));
        }
        let ids = self.shared_ids.get().map_or(&self.next_out_id, |shared| &**shared);
        let id = RequestId::Number(ids.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.pending_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), tx);
        // A CLIENT span for the server's own request; the client's work joins the trace.
        #[cfg(feature = "otel")]
        let outgoing = super::otel::Outgoing::start(method, &id);
        #[cfg(feature = "otel")]
        let traced = outgoing.inject_raw(params);
        #[cfg(feature = "otel")]
        let params = traced.as_deref().unwrap_or(params);
        let message = encode_request_raw(&id, method, params);
        let _guard = OutGuard {
            link: self,
            id,
            related: related.clone(),
        };
        self.out.send(message, Some(&related), false).await;
        let answer = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(Error::Protocol(e)),
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => Err(Error::Timeout),
        };
        #[cfg(feature = "otel")]
        outgoing.finish(answer.as_ref().err());
        answer
    }
}

impl Link {
    /// Whether messages go out over Streamable HTTP (each request's own stream).
    #[cfg(feature = "otel")]
    pub(crate) fn is_http(&self) -> bool {
        matches!(self.out, Out::Routed(_))
    }
}

impl Peer for Link {
    fn request<'a>(
        &'a self,
        method: &'a str,
        params: &'a RawValue,
        timeout: Duration,
        related: RequestId,
    ) -> Answer<'a> {
        Box::pin(self.client_request(method, params, timeout, related))
    }

    fn notify(&self, message: Vec<u8>, related: Option<&RequestId>) {
        self.out.try_send(message, related);
    }

    fn log_level(&self) -> usize {
        usize::from(self.log_level.load(Ordering::Relaxed))
    }

    fn can_ask(&self) -> bool {
        self.can_ask
    }
}
