//! State that outlives one request, behind one trait ([`Store`]): this process's memory by
//! default ([`MemoryStore`]), or Redis with the `redis` feature (`RedisStore`), shared by a
//! fleet of replicas. Set one with [`Server::store`](crate::Server::store).
//!
//! The trait is the server's seam (`server::store`); the stores that need more than the server
//! live here, above it.

#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::RedisStore;
pub use crate::server::store::{MemoryStore, Store, StoreError, StoreFuture};
