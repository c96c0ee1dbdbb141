//! The resumption log of a handshake-era session: its SSE events, each with the event id
//! `<stream>-<sequence>`, and what a GET with `Last-Event-ID` replays from them.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use tokio::sync::mpsc;

/// The SSE events of a session's streams, kept (bounded) so that a client whose connection
/// dropped can come back with `Last-Event-ID` and get every event it missed, once.
#[derive(Default)]
pub(super) struct Replay {
    inner: Mutex<ReplayInner>,
}

#[derive(Default)]
struct ReplayInner {
    next_key: u64,
    streams: HashMap<u64, StreamLog>,
    /// Stream keys, oldest first, for eviction.
    order: std::collections::VecDeque<u64>,
}

struct StreamLog {
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
    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new stream and the receiver of its live events.
    pub(super) fn open(&self) -> (u64, mpsc::Receiver<SseItem>) {
        let (tx, rx) = mpsc::channel(256);
        let mut g = self.lock();
        g.next_key += 1;
        let key = g.next_key;
        g.streams.insert(
            key,
            StreamLog {
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
        Some((format!("{key}-{seq}"), log.live.clone()))
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

    /// Resumes after event `last_event_id`: a receiver that first replays what followed it.
    pub(super) fn resume(&self, last_event_id: &str) -> Option<(u64, mpsc::Receiver<SseItem>)> {
        let (key, seq) = last_event_id.split_once('-')?;
        let (key, seq): (u64, u64) = (key.parse().ok()?, seq.parse().ok()?);
        let mut g = self.lock();
        let log = g.streams.get_mut(&key)?;
        let backlog: Vec<SseItem> = log
            .events
            .iter()
            .filter(|(s, _, _)| *s > seq)
            .map(|(s, b, l)| (Some(format!("{key}-{s}")), b.clone(), *l))
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
