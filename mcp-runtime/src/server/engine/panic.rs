//! Panic isolation: a handler that panics, when called or while it runs, ends its own call with
//! an error and harms nothing else.

use crate::protocol::ErrorObject;
use crate::server::call::ToolCall;
use crate::server::tool::{ToolFuture, ToolOutput};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

pub(crate) fn panicked(kind: &str) -> ErrorObject {
    tracing::error!(kind, "a handler panicked");
    ErrorObject::internal(format!(
        "the {kind} failed: it panicked (the server logged the details)"
    ))
}

/// Runs a handler; a panic in it becomes `on_panic()` and harms nothing else.
pub(crate) async fn catch<O>(
    start: impl FnOnce() -> Pin<Box<dyn Future<Output = O> + Send>>,
    on_panic: impl FnOnce() -> O,
) -> O {
    let Ok(future) = catch_unwind(AssertUnwindSafe(start)) else {
        return on_panic();
    };
    CatchUnwind(future).await.unwrap_or_else(|()| on_panic())
}

/// Runs a tool; a panic in it ends the run with `None` (logged) and harms nothing else.
///
/// The handler is called here, not when the run is first polled: the run then holds its future
/// alone, not the [`ToolCall`] too (a call's future is allocated whole, and under 1 KiB it takes
/// the allocator's fast path: BENCHMARKS.md, seventh pass).
pub(crate) fn run_tool<'a>(
    handler: &(dyn Fn(ToolCall) -> ToolFuture + Send + Sync),
    call: ToolCall,
    name: &'a str,
) -> impl Future<Output = Option<ToolOutput>> + Send + 'a {
    let started = catch_unwind(AssertUnwindSafe(|| handler(call)));
    async move {
        let panicked = || {
            tracing::error!(tool = name, "the tool panicked");
            None
        };
        match started {
            Ok(future) => CatchUnwind(future).await.ok().or_else(panicked),
            Err(_) => panicked(),
        }
    }
}

struct CatchUnwind<O>(Pin<Box<dyn Future<Output = O> + Send>>);

impl<O> Future for CatchUnwind<O> {
    type Output = Result<O, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}
