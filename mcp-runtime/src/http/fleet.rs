//! Handshake-era sessions across the replicas of a fleet, when the server's store is shared
//! (Redis): no session affinity is needed.
//!
//! - `initialize` keeps the session's record in the store (version, capabilities, client info,
//!   owner); a replica that gets a request for a session it does not hold reads the record and
//!   serves it from then on.
//! - Each replica numbers its requests to the client from a base of its own, so that an answer
//!   names the replica waiting for it; an answer that reaches another replica is published, and
//!   the waiting one picks it up.
//! - DELETE removes the record and tells every replica to forget its copy.

use super::resume::{Mirror, RemoteStream, SseItem};
use super::session::{Change, Record, Sessions};
use crate::server::core::Core;
use crate::server::engine::seal::random;
use crate::server::events::Event;
use crate::server::store::{Store, StoreError};
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// This replica's part in the fleet.
pub(super) struct Fleet {
    store: Arc<dyn Store>,
    /// This replica's random tag (20 bits, in hex): it marks the events it publishes and the
    /// SSE event ids it writes.
    pub(super) tag: String,
    /// The next id of this replica's requests to clients, shared by all its connections; its
    /// high bits are the tag, so that two replicas never use the same id in one session (and
    /// ids stay under 2^53, for JSON).
    pub(super) next_id: Arc<AtomicI64>,
    listening: OnceLock<()>,
}

const ANSWERS: &str = "answers";
const ENDED: &str = "ended";
const EVENTS: &str = "events";
/// How long a stream another replica wrote is followed with nothing new before it is over.
const REMOTE_STREAM_IDLE: Duration = Duration::from_secs(30);
const EVENTS_AHEAD: usize = 512;
const CHANGES: &str = "changes";

fn key(id: &str) -> String {
    format!("session:{id}")
}

impl Fleet {
    /// This replica's part, when `store` is shared.
    pub(super) fn new(store: &Arc<dyn Store>) -> Option<Self> {
        if !store.is_shared() {
            return None;
        }
        let tag = i64::from(u32::from_be_bytes(random::<4>()) >> 12); // 20 bits
        Some(Self {
            store: Arc::clone(store),
            tag: format!("{tag:x}"),
            next_id: Arc::new(AtomicI64::new((tag << 32) | 1)),
            listening: OnceLock::new(),
        })
    }

    /// Starts, once, the tasks that deliver forwarded answers, forget ended sessions, and carry
    /// server events (resource updates, list changes) both ways between this replica and the
    /// others.
    pub(super) fn listen(&self, sessions: &Arc<Sessions>, core: &Arc<Core>) {
        self.listening.get_or_init(|| {
            // Changes to sessions made through other replicas, in this replica's copies.
            let mut changes = self.store.subscribe(CHANGES.into());
            let weak: Weak<Sessions> = Arc::downgrade(sessions);
            tokio::spawn(async move {
                while let Some(message) = changes.recv().await {
                    let Some(sessions) = weak.upgrade() else { return };
                    let text = String::from_utf8_lossy(&message);
                    let Some((id, change)) = text.split_once('\n') else {
                        continue;
                    };
                    if let (Some(session), Some(change)) = (sessions.get(id), Change::decode(change)) {
                        change.apply(&session.conn);
                    }
                }
            });
            // This replica's events, to the others, marked with its tag.
            let mut local = core.events.subscribe();
            let store = Arc::clone(&self.store);
            let tag = self.tag.clone();
            tokio::spawn(async move {
                loop {
                    match local.recv().await {
                        Ok(event) => {
                            if let Some(bytes) = event.encode() {
                                let mut message = format!("{tag} ").into_bytes();
                                message.extend_from_slice(&bytes);
                                let _ = store.publish(EVENTS.into(), message).await;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
            // The others' events, here.
            let mut remote = self.store.subscribe(EVENTS.into());
            let events = Arc::downgrade(core);
            let tag = self.tag.clone();
            tokio::spawn(async move {
                while let Some(message) = remote.recv().await {
                    let Some(core) = events.upgrade() else { return };
                    let text = String::from_utf8_lossy(&message);
                    let Some((from, event)) = text.split_once(' ') else {
                        continue;
                    };
                    if from == tag {
                        continue;
                    }
                    if let Some(event) = Event::decode(event.as_bytes()) {
                        let _ = core.events.send(Event::FromPeer(Box::new(event)));
                    }
                }
            });
            let mut answers = self.store.subscribe(ANSWERS.into());
            let weak = Arc::downgrade(sessions);
            tokio::spawn(async move {
                while let Some(message) = answers.recv().await {
                    deliver(&weak, &message);
                }
            });
            let mut ended = self.store.subscribe(ENDED.into());
            let weak: Weak<Sessions> = Arc::downgrade(sessions);
            tokio::spawn(async move {
                while let Some(id) = ended.recv().await {
                    let Some(sessions) = weak.upgrade() else { return };
                    if let Ok(id) = std::str::from_utf8(&id) {
                        sessions.forget(id);
                    }
                }
            });
        });
    }

    /// Keeps a new session's record, for `ttl` from now.
    pub(super) async fn save(&self, id: &str, record: &Record, ttl: Duration) {
        let value = serde_json::to_vec(record).expect("records serialise");
        if let Err(e) = self.store.put(key(id), value, ttl).await {
            tracing::warn!(error = %e, "a session could not be recorded in the store");
        }
    }

    /// Keeps a session's record `ttl` longer, in the background.
    pub(super) fn refresh(&self, id: &str, record: &Record, ttl: Duration) {
        let value = serde_json::to_vec(record).expect("records serialise");
        let store = Arc::clone(&self.store);
        let id = key(id);
        tokio::spawn(async move {
            let _ = store.put(id, value, ttl).await;
        });
    }

    /// The record of session `id`, if the fleet has it.
    pub(super) async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let found = self.store.get(key(id)).await?;
        Ok(found.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Ends session `id` across the fleet.
    pub(super) async fn end(&self, id: &str) {
        let _ = self.store.delete(key(id)).await;
        let _ = self.store.publish(ENDED.into(), id.as_bytes().to_vec()).await;
    }

    /// Tells every replica holding session `id` of a change its client made.
    pub(super) async fn changed(&self, id: &str, change: &Change) {
        let message = format!("{id}\n{}", change.encode());
        let _ = self.store.publish(CHANGES.into(), message.into_bytes()).await;
    }

    /// Where a session's events are mirrored, with this replica's tag.
    pub(super) fn mirror(&self, session: &str, ttl: Duration) -> Mirror {
        Mirror {
            store: Arc::clone(&self.store),
            prefix: format!("sse:{session}:"),
            tag: self.tag.clone(),
            ttl,
        }
    }

    /// The events of a stream another replica wrote, after the one the client last got, from
    /// the store: until its last event while that replica still writes it (or 30 s pass with
    /// nothing new: the replica is gone), then `then`'s events, for a GET stream that goes on
    /// here.
    pub(super) fn follow(
        &self,
        remote: RemoteStream,
        then: Option<mpsc::Receiver<SseItem>>,
    ) -> mpsc::Receiver<SseItem> {
        let (tx, rx) = mpsc::channel(EVENTS_AHEAD);
        let store = Arc::clone(&self.store);
        tokio::spawn(async move {
            let RemoteStream {
                log,
                id_prefix,
                mut seq,
                standalone,
            } = remote;
            let mut heard = tokio::time::Instant::now();
            loop {
                for (s, event) in store.read_after(log.clone(), seq).await.unwrap_or_default() {
                    let Some((&flag, data)) = event.split_first() else {
                        continue;
                    };
                    let last = flag == 1;
                    if tx
                        .send((Some(format!("{id_prefix}-{s}")), data.to_vec(), last))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    seq = s;
                    heard = tokio::time::Instant::now();
                    if last {
                        return;
                    }
                }
                if standalone || heard.elapsed() > REMOTE_STREAM_IDLE {
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    () = tx.closed() => return, // the client left: stop reading the store
                }
            }
            if let Some(mut live) = then {
                while let Some(item) = live.recv().await {
                    if tx.send(item).await.is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }

    /// Sends a client's answer, which this replica is not waiting for, to the one that is.
    pub(super) async fn forward(&self, session: &str, body: &[u8]) {
        let mut message = Vec::with_capacity(session.len() + 1 + body.len());
        message.extend_from_slice(session.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(body);
        if let Err(e) = self.store.publish(ANSWERS.into(), message).await {
            tracing::warn!(error = %e, "a client's answer could not be forwarded to its replica");
        }
    }
}

/// Hands a forwarded answer to the session's connection, if this replica holds it (every
/// replica hears every answer; only the one whose request it answers is waiting).
fn deliver(sessions: &Weak<Sessions>, message: &[u8]) {
    let Some(sessions) = sessions.upgrade() else { return };
    let Some(split) = message.iter().position(|&b| b == b'\n') else {
        return;
    };
    let Ok(id) = std::str::from_utf8(&message[..split]) else {
        return;
    };
    let Some(session) = sessions.get(id) else { return };
    if let crate::protocol::Frame::Single(answer) = crate::protocol::jsonrpc::parse_frame(&message[split + 1..]) {
        let _ = session.conn.handle(answer, None);
    }
}
