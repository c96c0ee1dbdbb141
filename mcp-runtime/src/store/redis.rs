//! [`RedisStore`]: state shared by every replica that points at the same Redis.

use crate::error::{Error, Result};
use crate::server::store::{Store, StoreError, StoreFuture};
use futures_core::Stream;
use redis::aio::ConnectionManager;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OnceCell, mpsc};

/// A [`Store`] in Redis (6.2 or later): a fleet of replicas that share it acts as one server.
///
/// It connects on first use and reconnects by itself. While Redis is unreachable, each request
/// that needs the store gets a clear error (after at most the [timeout](Self::timeout)), and
/// everything else is served as usual.
///
/// Keys: `{prefix}nonce:{nonce}` for used `requestState`s, set with `SET … NX EXAT`, so each
/// expires with its state.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may carry a password.
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `url` (`redis://[user:password@]host:port/db`, or `rediss://` for TLS if the
    /// redis crate was built with it). Only the URL is checked here; the connection is made on
    /// first use.
    pub fn open(url: &str) -> Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| Error::Config(format!("the Redis URL is not valid: {}", e.category())))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                conn: OnceCell::new(),
                prefix: "mcp:".into(),
                timeout: Duration::from_secs(2),
            }),
        })
    }

    /// Prefixes every key (default `mcp:`): for several servers, or tests, in one Redis.
    #[must_use]
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        self.with(|inner| inner.prefix = prefix.into())
    }

    /// The longest one operation may take, connecting included (default 2 s); then the request
    /// that needed it gets an error.
    #[must_use]
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|inner| inner.timeout = timeout)
    }

    fn with(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            client: shared.client.clone(),
            conn: OnceCell::new(),
            prefix: shared.prefix.clone(),
            timeout: shared.timeout,
        });
        f(&mut inner);
        Self { inner: Arc::new(inner) }
    }
}

impl Inner {
    /// Runs `op` on the shared connection, connecting first if need be, within the timeout.
    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, StoreError> {
        self.run_with(|mut conn| async move { cmd.query_async::<T>(&mut conn).await })
            .await
    }

    /// Runs `pipe` as one transaction (`MULTI` … `EXEC`): all its commands, or none.
    async fn run_atomic(&self, mut pipe: redis::Pipeline) -> Result<(), StoreError> {
        pipe.atomic();
        self.run_with(|mut conn| async move { pipe.query_async::<()>(&mut conn).await })
            .await
    }

    async fn run_with<T, F>(&self, op: impl FnOnce(ConnectionManager) -> F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let conn = self
                .conn
                .get_or_try_init(|| ConnectionManager::new(self.client.clone()))
                .await
                .map_err(|e| StoreError(format!("cannot connect to Redis ({})", e.category())))?;
            op(conn.clone())
                .await
                .map_err(|e| StoreError(format!("Redis failed ({})", e.category())))
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| Err(StoreError(format!("Redis did not answer within {:?}", self.timeout))))
    }
}

async fn next_message<S: Stream + Unpin>(messages: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *messages).poll_next(cx)).await
}

/// One entry of a Redis stream, as `XRANGE` returns it: its id, and its fields and values.
type StreamEntry = (String, Vec<(String, Vec<u8>)>);

/// Forwards the messages of `channel` to `tx` until the receiver is dropped, subscribing again
/// (after a short pause) whenever the connection is lost.
async fn forward(client: redis::Client, channel: String, tx: mpsc::Sender<Vec<u8>>) {
    while !tx.is_closed() {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&channel).await.is_ok() {
                    let mut messages = pubsub.into_on_message();
                    loop {
                        let next = tokio::select! {
                            next = next_message(&mut messages) => next,
                            () = tx.closed() => return,
                        };
                        let Some(message) = next else { break };
                        if tx.send(message.get_payload_bytes().to_vec()).await.is_err() {
                            return;
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = e.category(), "the Redis subscription is down; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Store for RedisStore {
    fn claim_once(&self, key: String, expires_at: u64) -> StoreFuture<'static, bool> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            // A relative expiry, so that a replica whose clock differs from Redis's still keeps
            // the claim for as long as the state is valid; and half a minute more, for a
            // replica whose clock is behind this one's and so finds the state valid longer.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let mut cmd = redis::cmd("SET");
            cmd.arg(format!("{}nonce:{key}", inner.prefix))
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(expires_at.saturating_sub(now).max(1) + 30);
            let set: Option<String> = inner.run(cmd).await?;
            Ok(set.is_some())
        })
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn put(&self, key: String, value: Vec<u8>, ttl: Duration) -> StoreFuture<'static, ()> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let mut cmd = redis::cmd("SET");
            cmd.arg(format!("{}{key}", inner.prefix))
                .arg(value)
                .arg("PX")
                .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
            inner.run::<()>(cmd).await
        })
    }

    fn get(&self, key: String) -> StoreFuture<'static, Option<Vec<u8>>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let mut cmd = redis::cmd("GET");
            cmd.arg(format!("{}{key}", inner.prefix));
            inner.run(cmd).await
        })
    }

    fn delete(&self, key: String) -> StoreFuture<'static, ()> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(format!("{}{key}", inner.prefix));
            inner.run::<()>(cmd).await
        })
    }

    fn append(&self, key: String, seq: u64, event: Vec<u8>, keep: usize, ttl: Duration) -> StoreFuture<'static, ()> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            // Redis numbers the entries (`*`); the sequence is a field, so that appends that
            // arrive out of order are all kept, and read back in order.
            let key = format!("{}{key}", inner.prefix);
            let mut pipe = redis::pipe();
            pipe.cmd("XADD")
                .arg(&key)
                .arg("MAXLEN")
                .arg("~")
                .arg(keep)
                .arg("*")
                .arg("s")
                .arg(seq)
                .arg("e")
                .arg(event)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
                .ignore();
            inner.run_atomic(pipe).await
        })
    }

    fn read_after(&self, key: String, seq: u64) -> StoreFuture<'static, Vec<(u64, Vec<u8>)>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let mut range = redis::cmd("XRANGE");
            range.arg(format!("{}{key}", inner.prefix)).arg("-").arg("+");
            let entries: Vec<StreamEntry> = inner.run(range).await?;
            let mut events: Vec<(u64, Vec<u8>)> = entries
                .into_iter()
                .filter_map(|(_, fields)| {
                    let field = |name: &str| fields.iter().find(|(f, _)| f == name).map(|(_, v)| v.clone());
                    let s: u64 = String::from_utf8(field("s")?).ok()?.parse().ok()?;
                    Some((s, field("e")?))
                })
                .filter(|(s, _)| *s > seq)
                .collect();
            events.sort_by_key(|(s, _)| *s);
            events.dedup_by_key(|(s, _)| *s);
            Ok(events)
        })
    }

    fn publish(&self, channel: String, message: Vec<u8>) -> StoreFuture<'static, ()> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let mut cmd = redis::cmd("PUBLISH");
            cmd.arg(format!("{}{channel}", inner.prefix)).arg(message);
            inner.run::<()>(cmd).await
        })
    }

    fn subscribe(&self, channel: String) -> mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = mpsc::channel(1024);
        let channel = format!("{}{channel}", self.inner.prefix);
        tokio::spawn(forward(self.inner.client.clone(), channel, tx));
        rx
    }
}
