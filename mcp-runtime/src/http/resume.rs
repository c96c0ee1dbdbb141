//! The resumption log of a handshake-era session: its SSE events, each with the event id
//! `<stream>-<sequence>`, and what a GET with `Last-Event-ID` replays from them.
//!
//! In a fleet the log is also mirrored in the store, and event ids name the replica and the
//! kind of stream (`<replica>.<stream>-<sequence>`, `g` before the stream for a GET stream), so
//! that another replica can replay them when the client comes back there.

use crate::server::engine::seal::random;
use crate::server::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

/// The SSE events of a session's streams, kept (bounded) so that a client whose connection
/// dropped can come back with `Last-Event-ID` and get every event it missed, once.
#[derive(Default)]
pub(super) struct Replay {
    inner: Mutex<ReplayInner>,
    mirror: Option<Mirror>,
}

/// Where a fleet replica mirrors its session's events.
pub(super) struct Mirror {
    pub(super) store: Arc<dyn Store>,
    /// `sse:<session>:`, before `<replica>:<stream>`.
    pub(super) prefix: String,
    /// This replica's tag.
    pub(super) tag: String,
    pub(super) ttl: Duration,
}

/// Where a `Last-Event-ID` resumes.
pub(super) enum Resumed {
    /// A stream of this replica's log: its backlog, then (if it is not over) its live events.
    Local(u64, mpsc::Receiver<SseItem>),
    /// A stream another replica of the fleet wrote: its log is in the store.
    Remote(RemoteStream),
    /// No stream this id names.
    Unknown,
}

/// A stream another replica wrote, and where to resume it.
pub(super) struct RemoteStream {
    /// Its log's key in the store.
    pub(super) log: String,
    /// The event-id prefix of its events (`<replica>.<stream>` or `<replica>.g<stream>`).
    pub(super) id_prefix: String,
    /// The last event the client got.
    pub(super) seq: u64,
    /// Whether it was a GET stream (which continues on this replica's own).
    pub(super) standalone: bool,
}

#[derive(Default)]
struct ReplayInner {
    next_key: u64,
    streams: HashMap<u64, StreamLog>,
    /// Stream keys, oldest first, for eviction.
    order: std::collections::VecDeque<u64>,
}

struct StreamLog {
    /// A GET stream (not a request's).
    standalone: bool,
    /// `(sequence, message, last)`; sequence 0 is the priming event.
    events: std::collections::VecDeque<(u64, Vec<u8>, bool)>,
    next_seq: u64,
    done: bool,
    /// The response currently reading this stream, if any.
    live: Option<mpsc::Sender<SseItem>>,
}

/// One event for an SSE response: its id (resumable streams), its data, whether it is the last.
pub(super) type SseItem = (Option<String>, Vec<u8>, bool);

const STREAMS_KEPT: usize = 64;
const EVENTS_KEPT: usize = 256;

impl Replay {
    /// A log mirrored in the store of a fleet.
    /// Its stream keys start at a random point, so that a session this replica adopts again
    /// never reuses the key of a stream whose log is still in the store.
    pub(super) fn mirrored(mirror: Mirror) -> Self {
        let start = u64::from(u32::from_be_bytes(random::<4>())) << 16;
        Self {
            inner: Mutex::new(ReplayInner {
                next_key: start,
                ..ReplayInner::default()
            }),
            mirror: Some(mirror),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The event id of event `seq` of stream `key`.
    pub(super) fn event_id(&self, key: u64, seq: u64) -> String {
        match &self.mirror {
            None => format!("{key}-{seq}"),
            Some(m) => {
                let g = if self.lock().streams.get(&key).is_some_and(|l| l.standalone) {
                    "g"
                } else {
                    ""
                };
                format!("{}.{g}{key}-{seq}", m.tag)
            }
        }
    }

    /// A new stream (`standalone`: a GET stream) and the receiver of its live events.
    pub(super) fn open(&self, standalone: bool) -> (u64, mpsc::Receiver<SseItem>) {
        let (tx, rx) = mpsc::channel(256);
        let mut g = self.lock();
        g.next_key += 1;
        let key = g.next_key;
        g.streams.insert(
            key,
            StreamLog {
                standalone,
                events: Default::default(),
                next_seq: 1,
                done: false,
                live: Some(tx),
            },
        );
        g.order.push_back(key);
        while g.order.len() > STREAMS_KEPT {
            if let Some(old) = g.order.pop_front() {
                g.streams.remove(&old);
            }
        }
        (key, rx)
    }

    /// Records an event; returns its id and where to deliver it live.
    pub(super) fn record(&self, key: u64, bytes: &[u8], last: bool) -> Option<(String, Option<mpsc::Sender<SseItem>>)> {
        let mut g = self.lock();
        let log = g.streams.get_mut(&key)?;
        let seq = log.next_seq;
        log.next_seq += 1;
        log.events.push_back((seq, bytes.to_vec(), last));
        if log.events.len() > EVENTS_KEPT {
            log.events.pop_front();
        }
        log.done |= last;
        let live = log.live.clone();
        let standalone = log.standalone;
        drop(g);
        if let Some(m) = &self.mirror {
            let mut event = Vec::with_capacity(bytes.len() + 1);
            event.push(u8::from(last));
            event.extend_from_slice(bytes);
            let store = Arc::clone(&m.store);
            let log = format!("{}{}:{}{key}", m.prefix, m.tag, if standalone { "g" } else { "" });
            let ttl = m.ttl;
            tokio::spawn(async move {
                let _ = store.append(log, seq, event, EVENTS_KEPT, ttl).await;
            });
        }
        Some((self.event_id(key, seq), live))
    }

    /// Forgets a stream delivered whole.
    pub(super) fn forget(&self, key: u64) {
        let mut g = self.lock();
        if g.streams.remove(&key).is_some() {
            g.order.retain(|k| *k != key);
        }
    }

    pub(super) fn drop_live(&self, key: u64) {
        if let Some(log) = self.lock().streams.get_mut(&key) {
            log.live = None;
        }
    }

    /// Resumes after event `last_event_id`: what followed it, in this replica's log or another's.
    pub(super) fn resume(&self, last_event_id: &str) -> Resumed {
        let (stream, seq) = match last_event_id.rsplit_once('-') {
            Some((stream, seq)) => match seq.parse::<u64>() {
                Ok(seq) => (stream, seq),
                Err(_) => return Resumed::Unknown,
            },
            None => return Resumed::Unknown,
        };
        let stream = match (&self.mirror, stream.split_once('.')) {
            (Some(m), Some((tag, key))) if tag != m.tag => {
                let standalone = key.starts_with('g');
                return Resumed::Remote(RemoteStream {
                    log: format!("{}{tag}:{key}", m.prefix),
                    id_prefix: stream.to_owned(),
                    seq,
                    standalone,
                });
            }
            (Some(_), Some((_, key))) => key.trim_start_matches('g'),
            (Some(_), None) => return Resumed::Unknown,
            (None, _) => stream,
        };
        match stream.parse() {
            Ok(key) => self
                .resume_local(key, seq)
                .map_or(Resumed::Unknown, |(k, rx)| Resumed::Local(k, rx)),
            Err(_) => Resumed::Unknown,
        }
    }

    fn resume_local(&self, key: u64, seq: u64) -> Option<(u64, mpsc::Receiver<SseItem>)> {
        let tag = self.mirror.as_ref().map(|m| m.tag.as_str());
        let mut g = self.lock();
        let log = g.streams.get_mut(&key)?;
        let id = |s: u64| match tag {
            None => format!("{key}-{s}"),
            Some(tag) => format!("{tag}.{}{key}-{s}", if log.standalone { "g" } else { "" }),
        };
        let backlog: Vec<SseItem> = log
            .events
            .iter()
            .filter(|(s, _, _)| *s > seq)
            .map(|(s, b, l)| (Some(id(*s)), b.clone(), *l))
            .collect();
        let (tx, rx) = mpsc::channel(backlog.len() + 256);
        for item in backlog {
            let _ = tx.try_send(item);
        }
        // A finished stream ends after its backlog; a live one continues on this response.
        if !log.done {
            log.live = Some(tx);
        }
        Some((key, rx))
    }
}
