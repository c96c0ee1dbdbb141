//! Serving a router: the accept loop, each connection's task, and a graceful stop.
//!
//! Each connection is served by hyper's HTTP/1 server on a task of its own, as `axum::serve`
//! does, with one difference. hyper wakes a connection's task from inside its own poll on every
//! request with a body: the handler takes the body's bytes, and hyper's body channel then wakes
//! its sender, which is that same task. Tokio treats a task woken while it runs as one that
//! yielded: it goes to the back of the run queue, and a parked worker is woken to steal it. On a
//! busy server that is a thread wake-up, and often a move to another core, per request, for a
//! poll that finds nothing to do. [`SelfWake`] polls the connection again at once instead, on
//! the same thread (BENCHMARKS.md, the fourth pass of issue 16).

use super::endpoint::{Shared, endpoint};
use crate::error::Result;
use axum::extract::ConnectInfo;
use axum::extract::State;
use axum::response::Response;
use axum::serve::Listener as _;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use tokio::sync::watch;
use tower::ServiceExt as _;

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in flight
/// finish, as `serve_http` serves the MCP endpoint: every accepted connection gets
/// `TCP_NODELAY` (Nagle's algorithm would hold each small answer back for tens of
/// milliseconds), and handlers can extract the peer's address
/// (`axum::extract::ConnectInfo<SocketAddr>`).
///
/// For a router of your own around [`Service::into_router`](crate::Service::into_router):
///
/// ```no_run
/// # async fn run(service: mcp_runtime::Service) -> mcp_runtime::Result<()> {
/// let app = axum::Router::new()
///     .route("/healthz", axum::routing::get(|| async { "ok" }))
///     .merge(service.into_router());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// mcp_runtime::http::serve_router(listener, app, std::future::pending()).await
/// # }
/// ```
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    serve(listener, App { router, endpoint: None }, shutdown).await
}

/// What a connection serves: a router, and (for `serve_http`) the MCP endpoint, which requests
/// for its path reach without the router's routing (its matching, and a boxed handler future).
pub(super) struct App {
    pub(super) router: axum::Router,
    /// The endpoint's path and state.
    pub(super) endpoint: Option<(Box<str>, Arc<Shared>)>,
}

impl App {
    async fn call(self: Arc<Self>, request: axum::extract::Request) -> Response {
        match &self.endpoint {
            Some((path, shared)) if request.uri().path() == &**path => {
                endpoint(State(Arc::clone(shared)), request).await
            }
            _ => {
                let Ok(response) = self.router.clone().oneshot(request).await;
                response
            }
        }
    }
}

/// [`serve_router`] for an [`App`].
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let app = Arc::new(app);
    // Sent once on shutdown: each connection then finishes what it is answering and closes.
    let (stop_tx, stop_rx) = watch::channel(());
    // Each connection holds a receiver; the sender's `closed` is the last one gone.
    let (open_tx, open_rx) = watch::channel(());
    let mut listener = nodelay(listener);
    let mut shutdown = pin!(shutdown);
    loop {
        // `accept` retries failed accepts itself (after a pause, when out of descriptors).
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = hyper::service::service_fn({
            let app = Arc::clone(&app);
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let app = Arc::clone(&app);
                async move { Ok::<_, std::convert::Infallible>(app.call(request.map(axum::body::Body::new)).await) }
            }
        });
        let (mut stop, open) = (stop_rx.clone(), open_rx.clone());
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(tcp);
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .with_upgrades();
            let mut conn = pin!(conn);
            let wake = SelfWake::new();
            tokio::select! {
                served = wake.drive(conn.as_mut()) => {
                    if let Err(e) = served {
                        tracing::trace!(error = %e, "a connection ended with an error");
                    }
                    return;
                }
                // Also when the serving loop is gone: stop then, too.
                _ = stop.changed() => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = wake.drive(conn.as_mut()).await;
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_tx.send(());
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}

/// The listener, setting `TCP_NODELAY` on every connection it accepts.
pub(super) fn nodelay(
    listener: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt as _;
    fn set(tcp: &mut tokio::net::TcpStream) {
        let _ = tcp.set_nodelay(true);
    }
    listener.tap_io(set as fn(&mut tokio::net::TcpStream))
}

/// Polls a future again at once when it wakes itself while being polled, instead of leaving
/// the wake to the scheduler. Wakes that come while it is not being polled go to the task as
/// usual.
struct SelfWake {
    state: Arc<WakeState>,
    /// The waker the future sees: [`WakeState`]'s.
    waker: Waker,
}

/// Whether the future is being polled, and whether it was woken meanwhile.
struct WakeState {
    phase: AtomicU8,
    /// The task's waker, for wakes that come between polls.
    task: Mutex<Option<Waker>>,
}

const IDLE: u8 = 0;
const POLLING: u8 = 1;
const WOKEN: u8 = 2;

/// The most times a future is polled again in one poll of its task: a future that keeps
/// waking itself (hyper yields this way after 16 pipelined requests) still lets others run.
const AGAIN_AT_MOST: u8 = 4;

impl Wake for WakeState {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        match self
            .phase
            .compare_exchange(POLLING, WOKEN, Ordering::AcqRel, Ordering::Acquire)
        {
            // Seen when the poll ends.
            Ok(_) | Err(WOKEN) => {}
            Err(_) => {
                if let Some(task) = &*self.task.lock().unwrap_or_else(PoisonError::into_inner) {
                    task.wake_by_ref();
                }
            }
        }
    }
}

impl SelfWake {
    fn new() -> Self {
        let state = Arc::new(WakeState {
            phase: AtomicU8::new(IDLE),
            task: Mutex::new(None),
        });
        let waker = Waker::from(Arc::clone(&state));
        Self { state, waker }
    }

    /// Runs `future` to its end.
    async fn drive<F: Future>(&self, mut future: Pin<&mut F>) -> F::Output {
        poll_fn(|cx| self.poll(future.as_mut(), cx)).await
    }

    fn poll<F: Future>(&self, mut future: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<F::Output> {
        {
            let mut task = self.state.task.lock().unwrap_or_else(PoisonError::into_inner);
            if !task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        let mut inner = Context::from_waker(&self.waker);
        for _ in 0..=AGAIN_AT_MOST {
            self.state.phase.store(POLLING, Ordering::Release);
            if let Poll::Ready(output) = future.as_mut().poll(&mut inner) {
                self.state.phase.store(IDLE, Ordering::Release);
                return Poll::Ready(output);
            }
            if self
                .state
                .phase
                .compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Poll::Pending;
            }
            // Woken while polled: poll again, here.
        }
        self.state.phase.store(IDLE, Ordering::Release);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use crate::http::serve::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn every_accepted_connection_has_tcp_nodelay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = nodelay(listener);
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap(), "an accepted socket without TCP_NODELAY");
    }

    /// A future that wakes itself `times` times before it is ready, and counts its polls.
    struct Restless {
        times: usize,
        polls: Arc<AtomicUsize>,
    }

    impl Future for Restless {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::Relaxed);
            if self.times == 0 {
                return Poll::Ready(());
            }
            self.times -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    /// Counts the wakes of the task driving the future.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_future_that_wakes_itself_is_polled_again_in_place_a_few_times_then_yields() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        let polls = Arc::new(AtomicUsize::new(0));
        let wake = SelfWake::new();

        // Two self-wakes: ready in the same poll of the task, which is never woken.
        let mut future = pin!(Restless {
            times: 2,
            polls: Arc::clone(&polls)
        });
        assert!(wake.poll(future.as_mut(), &mut cx).is_ready());
        assert_eq!((polls.load(Ordering::Relaxed), count.0.load(Ordering::Relaxed)), (3, 0));

        // More than it polls again in place: the task is woken to come back (a yield).
        polls.store(0, Ordering::Relaxed);
        let mut future = pin!(Restless {
            times: usize::from(AGAIN_AT_MOST) + 2,
            polls: Arc::clone(&polls)
        });
        assert!(wake.poll(future.as_mut(), &mut cx).is_pending());
        let first = polls.load(Ordering::Relaxed);
        assert_eq!(first, usize::from(AGAIN_AT_MOST) + 1);
        assert_eq!(count.0.load(Ordering::Relaxed), 1, "the task must be woken to go on");
        assert!(wake.poll(future.as_mut(), &mut cx).is_ready());
    }

    #[test]
    fn a_wake_between_polls_reaches_the_task() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        let wake = SelfWake::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut future = pin!(rx);
        assert!(wake.poll(future.as_mut(), &mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::Relaxed), 0);
        tx.send(()).unwrap();
        assert_eq!(
            count.0.load(Ordering::Relaxed),
            1,
            "a wake from outside the poll was lost"
        );
        assert!(wake.poll(future.as_mut(), &mut cx).is_ready());
    }
}
