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
    /// This process's own nonces, a bit each.
    own: OwnClaims,
    keys: HashMap<u128, u64>,
    /// The size at which expired keys are next pruned.
    prune_at: usize,
}

const PRUNE_AT_LEAST: usize = 4096;

/// Seconds a claim is kept past its expiry: the state it guards is refused as expired when it
/// is opened, a moment before it is claimed, by a clock read apart from this one.
const CLAIM_SLACK: u64 = 2;

/// Whether a claim that expires at `expires` still holds at `now`.
fn holds(expires: u64, now: u64) -> bool {
    expires.saturating_add(CLAIM_SLACK) >= now
}

/// The claims of nonces this process made ([`unique_id`](crate::server::engine::seal::unique_id)):
/// one bit each, by the nonce's counter, in a window of 64-bit words that moves on as their
/// claims expire. A busy stateless server claims tens of thousands of nonces a second, each
/// kept until its state expires (ten minutes by default): a bit each, not an entry of a map.
#[derive(Default)]
struct OwnClaims {
    /// The counter of the first bit of `words[0]` (a multiple of 64).
    base: u64,
    /// The claimed bits, and the latest expiry of a claim among them.
    words: VecDeque<(u64, u64)>,
}

/// The most words the window spans (64 Mi nonces, 16 MiB); a claim beyond goes to the map.
const OWN_WORDS_AT_MOST: u64 = 1 << 20;

impl OwnClaims {
    /// Claims nonce `counter`: `None` when it is outside the window (the caller keeps it in
    /// the map instead).
    fn claim(&mut self, counter: u64, expires_at: u64, now: u64) -> Option<bool> {
        // A word whose claims have all expired is forgotten: a state holding one of its
        // nonces is refused as expired before it is claimed, and a nonce of it that was never
        // claimed now falls below the window, to the map.
        while self.words.front().is_some_and(|&(_, latest)| !holds(latest, now)) {
            self.words.pop_front();
            self.base += 64;
        }
        if self.words.is_empty() {
            self.base = counter & !63;
        }
        let index = counter.checked_sub(self.base)? / 64;
        if index >= OWN_WORDS_AT_MOST {
            return None;
        }
        let index = usize::try_from(index).ok()?;
        if index >= self.words.len() {
            self.words.resize(index + 1, (0, 0));
        }
        let (bits, latest) = &mut self.words[index];
        let bit = 1u64 << (counter % 64);
        if *bits & bit != 0 {
            return Some(false);
        }
        *bits |= bit;
        *latest = (*latest).max(expires_at);
        Some(true)
    }
}

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
            claimed.keys.retain(|_, expires| holds(*expires, now));
            claimed.prune_at = claimed.keys.len() * 2;
        }
        let bits = key_bits(key);
        if let Some(counter) = crate::server::engine::seal::own_counter(bits)
            && let Some(claimed) = claimed.own.claim(counter, expires_at, now)
        {
            return claimed;
        }
        match claimed.keys.get_mut(&bits) {
            Some(expires) if holds(*expires, now) => false,
            Some(expires) => {
                *expires = expires_at;
                true
            }
            None => {
                claimed.keys.insert(bits, expires_at);
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
        assert!(claim("old", now() - 10).await.unwrap());
        assert!(claim("old", now() + 60).await.unwrap());
    }

    #[tokio::test]
    async fn expired_claims_are_pruned() {
        let store = MemoryStore::new();
        for i in 0..PRUNE_AT_LEAST * 3 {
            store.claim_once(i.to_string(), now() - 10).await.unwrap();
        }
        assert!(store.claimed.lock().unwrap().keys.len() <= PRUNE_AT_LEAST * 2);
    }

    #[tokio::test]
    async fn this_processs_nonces_are_claimed_once_a_bit_each() {
        use crate::server::engine::seal::unique_id;
        let store = MemoryStore::new();
        let claim = |key: &str, expires| store.claim_once(key.to_owned(), expires);
        let ids: Vec<String> = (0..10_000).map(|_| unique_id()).collect();
        for id in &ids {
            assert!(claim(id, now() + 60).await.unwrap(), "a fresh nonce was refused");
        }
        for id in ids.iter().step_by(7) {
            assert!(!claim(id, now() + 60).await.unwrap(), "a nonce was claimed twice");
        }
        {
            let claimed = store.claimed.lock().unwrap();
            assert!(claimed.keys.is_empty(), "the nonces went to the map");
            assert!(claimed.own.words.len() <= 10_000 / 64 + 2);
        }
        // Claims that expired are forgotten as the window moves on.
        let store = MemoryStore::new();
        let old: Vec<String> = (0..1_000).map(|_| unique_id()).collect();
        for id in &old {
            assert!(store.claim_once(id.clone(), now() - 10).await.unwrap());
        }
        let fresh = unique_id();
        assert!(store.claim_once(fresh.clone(), now() + 60).await.unwrap());
        assert!(store.claimed.lock().unwrap().own.words.len() <= 2);
        assert!(!store.claim_once(fresh, now() + 60).await.unwrap());
        // A nonce below the window, never claimed, is claimed once, through the map.
        assert!(store.claim_once(old[0].clone(), now() + 60).await.unwrap());
        assert!(!store.claim_once(old[0].clone(), now() + 60).await.unwrap());
    }
}
