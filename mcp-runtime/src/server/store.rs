//! The seam for state that outlives one request: the [`Store`] trait the server calls, and the
//! in-memory store it uses by default. Other stores (Redis, with feature `redis`) live in
//! [`crate::store`], above the server, and implement this trait.
//!
//! What goes through it today: the nonces of opened `requestState`s, claimed once, so that one
//! sealed state completes once across every replica that shares the store.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

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
}

/// The default store: one process's memory.
#[derive(Default)]
pub struct MemoryStore {
    claimed: Mutex<Claimed>,
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

impl Store for MemoryStore {
    fn claim_once(&self, key: String, expires_at: u64) -> StoreFuture<'static, bool> {
        let claimed = self.claim_now(&key, expires_at);
        Box::pin(std::future::ready(Ok(claimed)))
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
