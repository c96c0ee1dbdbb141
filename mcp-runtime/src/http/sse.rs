//! SSE framing: the response headers of an event stream, and the two streams of events a
//! response carries (one request's messages, or a session's resumable stream with event ids).

use super::resume::{Replay, SseItem};
use super::stream::Guard;
use crate::server::link::Routed;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use tokio::sync::mpsc;

/// The messages of one request as an SSE response: `first`, then what `rx` brings, up to the
/// answer.
pub(super) fn sse(first: Option<Vec<u8>>, rx: mpsc::Receiver<Routed>, guard: Guard) -> Response {
    let stream = SseStream {
        first,
        rx,
        guard: Some(guard),
        ended: false,
    };
    sse_response(Body::from_stream(stream))
}

/// `body` as an event stream, neither cached nor buffered by a proxy.
fn sse_response(body: Body) -> Response {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

/// The messages of one request as server-sent events, ending after its answer.
struct SseStream {
    first: Option<Vec<u8>>,
    rx: mpsc::Receiver<Routed>,
    guard: Option<Guard>,
    ended: bool,
}

fn event(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 24);
    out.extend_from_slice(b"event: message\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

impl futures_core::Stream for SseStream {
    type Item = std::result::Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(event(&first))));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some((bytes, last))) => {
                if last {
                    self.ended = true;
                    if let Some(g) = self.guard.take() {
                        g.done();
                    }
                }
                Poll::Ready(Some(Ok(event(&bytes))))
            }
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An SSE response on a resumable stream: a priming event (its id, a `retry` hint), then the
/// stream's events.
pub(super) fn resumable_sse(
    replay: &Arc<Replay>,
    key: u64,
    live: mpsc::Receiver<SseItem>,
    guard: Option<Guard>,
) -> Response {
    let stream = ResumableStream {
        replay: Arc::clone(replay),
        key,
        priming: true,
        rx: live,
        _guard: guard,
        ended: false,
    };
    sse_response(Body::from_stream(stream))
}

struct ResumableStream {
    replay: Arc<Replay>,
    key: u64,
    priming: bool,
    rx: mpsc::Receiver<SseItem>,
    _guard: Option<Guard>,
    ended: bool,
}

impl futures_core::Stream for ResumableStream {
    type Item = std::result::Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            // Asked for more after the last event: the whole stream went out, and nobody will
            // need to resume it. Its log goes, so that a busy session keeps no finished calls.
            self.replay.forget(self.key);
            return Poll::Ready(None);
        }
        if std::mem::take(&mut self.priming) {
            let id = self.replay.event_id(self.key, 0);
            return Poll::Ready(Some(Ok(Bytes::from(format!("id: {id}\nretry: 1000\ndata: \n\n")))));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some((id, bytes, last))) => {
                self.ended = last;
                let mut out = Vec::with_capacity(bytes.len() + 48);
                if let Some(id) = id {
                    out.extend_from_slice(format!("id: {id}\n").as_bytes());
                }
                out.extend_from_slice(b"event: message\ndata: ");
                out.extend_from_slice(&bytes);
                out.extend_from_slice(b"\n\n");
                Poll::Ready(Some(Ok(Bytes::from(out))))
            }
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
