//! The seam for state that outlives one request: the [`Store`] trait the server calls, and the
//! in-memory store it uses by default. Other stores (Redis, with feature `redis`) live in
//! [`crate::store`], above the server, and implement this trait.
//!
//! What goes through it: the nonces of opened `requestState`s, claimed once, so that one sealed
//! state completes once across every replica that shares the store; and, when the store is
//! shared, handshake-era session records, and messages between replicas (a client's answer that
//! reached another replica, server events).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// What a store's operations return.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store that could not answer: down, unreachable, too slow. The request that needed it gets
/// a clear error; nothing else is affected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the server's state store is unavailable: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// State that outlives one request, shared by every replica that uses the same store.
///
/// [`MemoryStore`] is the default: one process, nothing to run. With the `redis` feature,
/// `mcp::store::RedisStore` lets a fleet of replicas behind any load balancer
/// act as one server. Set it with [`Server::store`](crate::Server::store).
pub trait Store: Send + Sync + 'static {
    /// Claims `key` until `expires_at` (seconds since the Unix epoch), atomically: `true` for
    /// the one call that claimed it, `false` for every later call, from any replica, until it
    /// expires.
    /// (The future owns what it needs: a caller may poll it once, then move it to a task.)
    fn claim_once(&self, key: String, expires_at: u64) -> StoreFuture<'static, bool>;

    /// Whether other processes share this store. Only then do sessions and messages go through
    /// it; a store that is not shared keeps them in the process, where they already are.
    fn is_shared(&self) -> bool {
        false
    }

    /// Keeps `value` at `key` for `ttl`.
    fn put(&self, key: String, value: Vec<u8>, ttl: Duration) -> StoreFuture<'static, ()>;

    /// The value at `key`, unless it is absent or expired.
    fn get(&self, key: String) -> StoreFuture<'static, Option<Vec<u8>>>;

    /// Removes `key`.
    fn delete(&self, key: String) -> StoreFuture<'static, ()>;

    /// Appends event `seq` (increasing) to the log at `key`, which keeps the last `keep` events
    /// and expires `ttl` after the last append.
    fn append(&self, key: String, seq: u64, event: Vec<u8>, keep: usize, ttl: Duration) -> StoreFuture<'static, ()>;

    /// The events of the log at `key` after `seq`, oldest first.
    fn read_after(&self, key: String, seq: u64) -> StoreFuture<'static, Vec<(u64, Vec<u8>)>>;

    /// Sends `message` to every subscriber of `channel`, in any process sharing the store.
    fn publish(&self, channel: String, message: Vec<u8>) -> StoreFuture<'static, ()>;

    /// The messages published on `channel` from now on, for as long as the receiver is kept.
    /// Delivery is best effort: what is published while the store is unreachable is lost.
    fn subscribe(&self, channel: String) -> mpsc::Receiver<Vec<u8>>;
}

/// The default store: one process's memory.
#[derive(Default)]
pub struct MemoryStore {
    claimed: Mutex<Claimed>,
    values: Mutex<Expiring<(Vec<u8>, Instant)>>,
    logs: Mutex<Expiring<Log>>,
    channels: Mutex<HashMap<String, Vec<mpsc::Sender<Vec<u8>>>>>,
}

/// An event log: `(sequence, event)` oldest first, and when it expires.
type Log = (VecDeque<(u64, Vec<u8>)>, Instant);

/// Entries that expire, by key. Expired ones are pruned when the map has doubled since the
/// last pruning, so a write costs O(1) amortised however many entries are live.
struct Expiring<V> {
    map: HashMap<String, V>,
    prune_at: usize,
}

impl<V> Default for Expiring<V> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            prune_at: PRUNE_AT_LEAST,
        }
    }
}

impl<V> Expiring<V> {
    /// Forgets what expired (as `expiry` tells), when it is time to.
    fn prune(&mut self, now: Instant, expiry: impl Fn(&V) -> Instant) {
        if self.map.len() >= self.prune_at {
            self.map.retain(|_, v| expiry(v) > now);
            self.prune_at = (self.map.len() * 2).max(PRUNE_AT_LEAST);
        }
    }
}

/// Claimed keys, each with its expiry. A key is kept as 128 bits: a nonce's own bits (32 hex
/// digits), or the first 128 bits of any other key's SHA-256, so a claim costs 16 bytes however
/// long its key is.
#[derive(Default)]
struct Claimed {
    keys: HashMap<u128, u64>,
    /// The size at which expired keys are next pruned.
    prune_at: usize,
}

const PRUNE_AT_LEAST: usize = 4096;

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn claim_now(&self, key: &str, expires_at: u64) -> bool {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut claimed = self.claimed.lock().unwrap_or_else(PoisonError::into_inner);
        if claimed.keys.len() >= claimed.prune_at.max(PRUNE_AT_LEAST) {
            // Forget the expired ones. Pruning again only once the map has doubled keeps this
            // O(1) per claim, however many claims are live.
            claimed.keys.retain(|_, expires| *expires > now);
            claimed.prune_at = claimed.keys.len() * 2;
        }
        match claimed.keys.get_mut(&key_bits(key)) {
            Some(expires) if *expires > now => false,
            Some(expires) => {
                *expires = expires_at;
                true
            }
            None => {
                claimed.keys.insert(key_bits(key), expires_at);
                true
            }
        }
    }
}

fn key_bits(key: &str) -> u128 {
    if key.len() == 32
        && let Ok(bits) = u128::from_str_radix(key, 16)
    {
        return bits;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

fn ready<T: Send + 'static>(value: T) -> StoreFuture<'static, T> {
    Box::pin(std::future::ready(Ok(value)))
}

impl Store for MemoryStore {
    fn claim_once(&self, key: String, expires_at: u64) -> StoreFuture<'static, bool> {
        ready(self.claim_now(&key, expires_at))
    }

    fn put(&self, key: String, value: Vec<u8>, ttl: Duration) -> StoreFuture<'static, ()> {
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        values.prune(now, |(_, expires)| *expires);
        values.map.insert(key, (value, now + ttl));
        ready(())
    }

    fn get(&self, key: String) -> StoreFuture<'static, Option<Vec<u8>>> {
        let values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        let found = values
            .map
            .get(&key)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(v, _)| v.clone());
        ready(found)
    }

    fn delete(&self, key: String) -> StoreFuture<'static, ()> {
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .remove(&key);
        ready(())
    }

    fn append(&self, key: String, seq: u64, event: Vec<u8>, keep: usize, ttl: Duration) -> StoreFuture<'static, ()> {
        let mut logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        logs.prune(now, |(_, expires)| *expires);
        let (events, expires) = logs.map.entry(key).or_insert_with(|| (VecDeque::new(), now));
        events.push_back((seq, event));
        while events.len() > keep {
            events.pop_front();
        }
        *expires = now + ttl;
        ready(())
    }

    fn read_after(&self, key: String, seq: u64) -> StoreFuture<'static, Vec<(u64, Vec<u8>)>> {
        let logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        let found = logs
            .map
            .get(&key)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(events, _)| events.iter().filter(|(s, _)| *s > seq).cloned().collect())
            .unwrap_or_default();
        ready(found)
    }

    fn publish(&self, channel: String, message: Vec<u8>) -> StoreFuture<'static, ()> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(subscribers) = channels.get_mut(&channel) {
            subscribers.retain(|tx| !matches!(tx.try_send(message.clone()), Err(mpsc::error::TrySendError::Closed(_))));
        }
        ready(())
    }

    fn subscribe(&self, channel: String) -> mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = mpsc::channel(1024);
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(channel)
            .or_default()
            .push(tx);
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    #[tokio::test]
    async fn a_key_is_claimed_once_until_it_expires() {
        let store = MemoryStore::new();
        let claim = |key: &str, expires| store.claim_once(key.to_owned(), expires);
        assert!(claim("a", now() + 60).await.unwrap());
        assert!(!claim("a", now() + 60).await.unwrap());
        assert!(claim("b", now() + 60).await.unwrap());
        // An expired claim no longer holds.
        assert!(claim("old", now() - 1).await.unwrap());
        assert!(claim("old", now() + 60).await.unwrap());
    }

    #[tokio::test]
    async fn expired_claims_are_pruned() {
        let store = MemoryStore::new();
        for i in 0..PRUNE_AT_LEAST * 3 {
            store.claim_once(i.to_string(), now() - 1).await.unwrap();
        }
        assert!(store.claimed.lock().unwrap().keys.len() <= PRUNE_AT_LEAST * 2);
    }
}
