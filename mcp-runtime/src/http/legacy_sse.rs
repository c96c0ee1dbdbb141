//! The HTTP+SSE transport of protocol 2024-11-05 (deprecated; behind the `legacy-sse` feature).
//!
//! `GET /sse` opens a stream whose first event, `endpoint`, names where to POST:
//! `/messages?session_id=<random id>`. Every message the client POSTs there is answered with
//! `202 Accepted`; the server's answers, requests and notifications arrive on the stream as
//! `message` events. The same `Host`/`Origin` checks and authorization as Streamable HTTP apply.

use crate::protocol::ErrorObject;
use crate::protocol::jsonrpc::encode_error;
use crate::server::connection::Connection;
use crate::server::context::ServiceHandle;
use crate::server::core::Core;
use crate::server::engine::seal::{hex, random};
use crate::server::link::Out;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context as TaskContext, Poll};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// The open HTTP+SSE connections, by session id.
#[derive(Default)]
pub(crate) struct LegacySessions {
    sessions: Mutex<HashMap<String, Weak<Connection>>>,
}

/// Opens a stream: `endpoint` first, then the connection's messages.
pub(crate) fn open(
    core: &Arc<Core>,
    service: &ServiceHandle,
    sessions: &Arc<LegacySessions>,
    messages_path: &str,
) -> Response {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(1024);
    let conn = Arc::new(Connection::new(Arc::clone(core), Arc::clone(service), Out::Stream(tx)));
    let events = tokio::spawn(Arc::clone(&conn).forward_events()).abort_handle();
    let id = hex(&random::<32>());
    sessions
        .sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id.clone(), Arc::downgrade(&conn));
    let endpoint = format!("{messages_path}?session_id={id}");
    let stream = LegacyStream {
        endpoint: Some(endpoint),
        rx,
        _conn: Holder {
            conn,
            events,
            sessions: Arc::clone(sessions),
            id,
        },
    };
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// A message POSTed for session `query`'s `session_id`.
pub(crate) async fn post(sessions: &LegacySessions, query: Option<&str>, body: &[u8]) -> Response {
    let id = query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("session_id=")));
    let conn = id.and_then(|id| {
        sessions
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .and_then(Weak::upgrade)
    });
    let Some(conn) = conn else {
        let error = ErrorObject::invalid_request("Session not found: open a stream with GET first");
        return (StatusCode::NOT_FOUND, encode_error(None, &error)).into_response();
    };
    conn.handle_bytes(body).await;
    StatusCode::ACCEPTED.into_response()
}

/// Keeps the connection alive while its stream is open; forgets it when the client leaves.
struct Holder {
    conn: Arc<Connection>,
    events: AbortHandle,
    sessions: Arc<LegacySessions>,
    id: String,
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.events.abort();
        self.conn.abort_all();
        self.sessions
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

struct LegacyStream {
    endpoint: Option<String>,
    rx: mpsc::Receiver<Vec<u8>>,
    _conn: Holder,
}

impl futures_core::Stream for LegacyStream {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        if let Some(endpoint) = self.endpoint.take() {
            return Poll::Ready(Some(Ok(Bytes::from(format!("event: endpoint\ndata: {endpoint}\n\n")))));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(bytes)) => {
                let mut out = b"event: message\ndata: ".to_vec();
                out.extend_from_slice(&bytes);
                out.extend_from_slice(b"\n\n");
                Poll::Ready(Some(Ok(Bytes::from(out))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
