//! The client as a handshake-era task reaches it: requests carry the task's id in `_meta`, go
//! out on the stream of a `tasks/result` waiting for the task when there is one, and hold the
//! task `input_required` until they are answered.

use super::run::related_request;
use super::tasks::Running;
use crate::protocol::RequestId;
use crate::protocol::types::meta_keys;
use crate::server::peer::{Answer, Peer};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

pub(crate) struct TaskPeer {
    pub(crate) inner: Arc<dyn Peer>,
    pub(crate) running: Arc<Running>,
    pub(crate) task_id: String,
    /// How long a request waits for a `tasks/result` to carry it before it goes out anyway.
    pub(crate) wait_for_result: Duration,
}

/// How long a task's request waits for a `tasks/result`: a few of the client's polls.
pub(crate) fn wait_for_result(poll_ms: u64) -> Duration {
    Duration::from_millis(poll_ms.saturating_mul(3).clamp(100, 2000))
}

/// Marks the task as asking while a request is out.
struct Asking<'a>(&'a Running);

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        self.0.asking.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_one();
    }
}

impl Peer for TaskPeer {
    fn request<'a>(
        &'a self,
        method: &'a str,
        params: &'a RawValue,
        timeout: Duration,
        related: RequestId,
    ) -> Answer<'a> {
        Box::pin(async move {
            let mut params: Value = serde_json::from_str(params.get())?;
            if let Value::Object(p) = &mut params {
                let meta = p.entry("_meta").or_insert_with(|| json!({}));
                if let Value::Object(meta) = meta {
                    meta.insert(meta_keys::RELATED_TASK.into(), json!({ "taskId": self.task_id }));
                }
            }
            self.running.asking.fetch_add(1, Ordering::SeqCst);
            self.running.changed.notify_one();
            let _asking = Asking(&self.running);
            // The client, seeing `input_required`, calls `tasks/result`, whose stream is the
            // place for this request; a client that never does gets it on its GET stream.
            let waiter = self.running.waiter.notified();
            tokio::pin!(waiter);
            waiter.as_mut().enable();
            if self
                .running
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
            {
                let _ = tokio::time::timeout(self.wait_for_result, waiter).await;
            }
            let related = related_request(&self.running, &related);
            let params = serde_json::value::to_raw_value(&params)?;
            self.inner.request(method, &params, timeout, related).await
        })
    }

    fn notify(&self, message: Vec<u8>, related: Option<&RequestId>) {
        self.inner.notify(message, related);
    }

    fn log_level(&self) -> usize {
        self.inner.log_level()
    }

    fn can_ask(&self) -> bool {
        self.inner.can_ask()
    }
}
