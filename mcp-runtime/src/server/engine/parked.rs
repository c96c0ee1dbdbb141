//! Calls parked between stateless-era rounds, waiting for the client's retry, and where each
//! round's answer goes.

use super::mrtr::Mrtr;
use super::outcome::OutcomeFuture;
use super::rerun::Rerun;
use super::seal::{Continuation, Digest};
use crate::protocol::RequestId;
use crate::server::context::{Cancel, RequestParts};
use crate::server::link::Link;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

/// Where the answer to one request goes: its connection's link (which also forgets the request
/// as in flight), or the batch collecting it.
pub(crate) struct Responder {
    pub(crate) id: RequestId,
    pub(crate) link: Arc<Link>,
    collect: Option<oneshot::Sender<Vec<u8>>>,
    /// The request's span and clock, ended by the answer.
    #[cfg(feature = "otel")]
    operation: Option<crate::server::otel::Operation>,
}

impl Responder {
    pub(crate) fn new(id: RequestId, link: Arc<Link>, collect: Option<oneshot::Sender<Vec<u8>>>) -> Self {
        Self {
            id,
            link,
            collect,
            #[cfg(feature = "otel")]
            operation: crate::server::otel::take_routing(),
        }
    }

    pub(crate) async fn send(self, reply: Vec<u8>) {
        #[cfg(feature = "otel")]
        if let Some(operation) = self.operation {
            operation.finish(Some(&reply));
        }
        match self.collect {
            Some(tx) => {
                self.link.finish(&self.id);
                let _ = tx.send(reply);
            }
            None => self.link.answer(&self.id, reply).await,
        }
    }
}

/// A retry that resumes a parked call: who to answer now, and this round's request details.
pub(crate) struct Retry {
    pub(crate) responder: Responder,
    pub(crate) progress_token: Option<Value>,
    pub(crate) log_level: Option<usize>,
}

/// A call parked between rounds, waiting for the client's retry.
pub(crate) enum Parked {
    /// A call with a task of its own, which the retry wakes.
    Task {
        retry: oneshot::Sender<Retry>,
        mrtr: Arc<Mrtr>,
        abort: AbortHandle,
        cancel: Arc<Cancel>,
    },
    /// A call that waited for nothing but its input requests when its round ended, kept as a
    /// future with no task: the retry polls it where it is read (most calls then end at once).
    Suspended(Box<Suspended>),
}

/// A call's future, parked with no task between rounds, and what its next round needs.
pub(crate) struct Suspended {
    pub(crate) call: OutcomeFuture,
    pub(crate) parts: Arc<RequestParts>,
    pub(crate) mrtr: Arc<Mrtr>,
    pub(crate) digest: Digest,
    pub(crate) rerun: Option<Rerun>,
    /// When its state expires: a suspended call has no task to drop it then, so the table does.
    pub(crate) expires: Instant,
}

/// The parked calls of a server, by continuation name.
#[derive(Default)]
pub(crate) struct ParkedCalls(Mutex<Table>);

#[derive(Default)]
struct Table {
    calls: HashMap<Continuation, Parked>,
    /// When suspended calls were last looked at for expiry.
    swept: Option<Instant>,
}

impl ParkedCalls {
    /// Parks a call, `now` (the caller read the clock already).
    pub(crate) fn park(&self, continuation: Continuation, parked: Parked, now: Instant) {
        let mut table = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Suspended calls whose state expired are dropped here, at most once a second: each
        // look is over the whole table, so parking stays O(1) however many calls wait.
        if table
            .swept
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
        {
            table.swept = Some(now);
            table
                .calls
                .retain(|_, p| !matches!(p, Parked::Suspended(s) if s.expires <= now));
        }
        table.calls.insert(continuation, parked);
    }

    /// Takes a parked call out: only one retry resumes it. Its expiry is not looked at: a
    /// retry names it through a sealed state that was checked unexpired, whose expiry (in whole
    /// seconds, of at least one) is within a second of the parked call's. A call taken that
    /// little after its own expiry, and not yet swept, is resumed rather than replayed.
    pub(crate) fn take(&self, continuation: Continuation) -> Option<Parked> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .calls
            .remove(&continuation)
    }
}
