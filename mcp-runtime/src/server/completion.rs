//! Completion of prompt arguments and URI template variables (`completion/complete`).

use serde_json::{Value, json};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The most values one answer carries (the protocol's limit).
pub const MAX_VALUES: usize = 100;

type CompleteFn = dyn Fn(String) -> Pin<Box<dyn Future<Output = Vec<String>> + Send>> + Send + Sync;

/// Suggests values for an argument from what the user typed so far.
#[derive(Clone)]
pub struct Completer(Arc<CompleteFn>);

impl fmt::Debug for Completer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Completer")
    }
}

impl Completer {
    /// A completer from an async function of the partial value.
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<String>> + Send + 'static,
    {
        Self(Arc::new(move |value| Box::pin(f(value))))
    }

    /// The `completion` object for `value`: at most [`MAX_VALUES`], with `total` and `hasMore`.
    pub(crate) async fn complete(&self, value: String) -> Value {
        let mut values = (self.0)(value).await;
        let total = values.len();
        values.truncate(MAX_VALUES);
        json!({ "values": values, "total": total, "hasMore": total > MAX_VALUES })
    }
}
