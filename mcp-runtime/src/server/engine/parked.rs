//! Calls parked between stateless-era rounds, waiting for the client's retry, and where each
//! round's answer goes.

use super::mrtr::Mrtr;
use crate::protocol::RequestId;
use crate::server::context::Cancel;
use crate::server::link::Link;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
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
pub(crate) struct Parked {
    pub(crate) retry: oneshot::Sender<Retry>,
    pub(crate) mrtr: Arc<Mrtr>,
    pub(crate) abort: AbortHandle,
    pub(crate) cancel: Arc<Cancel>,
}

/// The parked calls of a server, by continuation name.
#[derive(Default)]
pub(crate) struct ParkedCalls(Mutex<HashMap<String, Parked>>);

impl ParkedCalls {
    pub(crate) fn park(&self, continuation: String, parked: Parked) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(continuation, parked);
    }

    /// Takes a parked call out: only one retry resumes it.
    pub(crate) fn take(&self, continuation: &str) -> Option<Parked> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(continuation)
    }
}
