//! The MCP endpoint: `Host`/`Origin` and token checks, then GET (a session's stream, or its
//! resumption), POST (one message or a batch, stateless or in a session) or DELETE (ends a
//! session). A request is answered as JSON when its answer comes first, as SSE otherwise.

use super::fleet::Fleet;
use super::headers::{VERSION_HEADER, check_headers, check_host_and_origin};
use super::options::HttpOptions;
use super::response::{json_response, status_of};
use super::resume::{Replay, Resumed};
use super::session::{self, Change, Record, SESSION_HEADER, Session, Sessions, session_not_found, sessions_full};
use super::sse::{resumable_sse, sse};
use super::stream::{Guard, claim_stream, open_standalone_stream, open_stream, relay, release_stream, reopen_stream};
use crate::protocol::Method as McpMethod;
use crate::protocol::jsonrpc::{self, encode_error};
use crate::protocol::{ErrorObject, Frame, Incoming, ProtocolVersion, RequestId};
use crate::server::connection::{Connection, Session as ConnSession};
use crate::server::context::ServiceHandle;
use crate::server::core::Core;
use crate::server::incoming::batches_refused;
use crate::server::link::{Out, Routed, Router};
use crate::server::principal::Principal;
use crate::server::store::StoreError;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What the endpoint's handlers share.
pub(super) struct Shared {
    #[cfg(feature = "legacy-sse")]
    pub(super) legacy: Arc<super::legacy_sse::LegacySessions>,
    pub(super) core: Arc<Core>,
    pub(super) service: ServiceHandle,
    pub(super) options: HttpOptions,
    pub(super) sessions: Arc<Sessions>,
    /// This replica's part in a fleet, when the server's store is shared.
    pub(super) fleet: Option<Fleet>,
}

impl Shared {
    /// Session `id` of `owner`: this replica's copy, or, in a fleet, one made from the record
    /// another replica kept. The error is the answer to send: `404` for no such session (of
    /// this principal's), `503` when the fleet's store cannot say.
    async fn session(&self, id: &str, owner: Option<&Principal>) -> Result<Arc<Session>, Response> {
        let subject = owner.map(|p| p.subject.as_str());
        if let Some(found) = self.sessions.get_owned(id, subject) {
            return Ok(found);
        }
        let Some(fleet) = &self.fleet else {
            return Err(session_not_found());
        };
        // Boxed: the common case above keeps every request's future small.
        Box::pin(self.adopt(fleet, id, owner)).await
    }

    /// Session `id`, made here from the record another replica kept.
    async fn adopt(&self, fleet: &Fleet, id: &str, owner: Option<&Principal>) -> Result<Arc<Session>, Response> {
        let subject = owner.map(|p| p.subject.as_str());
        let record = match fleet.load(id).await {
            Ok(Some(record)) if record.owner.as_deref() == subject => record,
            Ok(_) => return Err(session_not_found()),
            Err(e) => return Err(store_unavailable(&e)),
        };
        let Some(version) = record.version() else {
            return Err(session_not_found());
        };
        let router = Arc::new(Router::default());
        let conn = self.connection(&router, owner.map(|p| Arc::new(p.clone())));
        let id: Arc<str> = id.into();
        let _ = conn.binding.set(Arc::clone(&id));
        let _ = conn.session.set(ConnSession {
            version,
            capabilities: Arc::new(record.capabilities()),
            client_info: record.client_info.clone().map(Arc::new),
        });
        let conn = Arc::new(conn);
        let events = tokio::spawn(Arc::clone(&conn).forward_events()).abort_handle();
        conn.subscriptions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(record.subscriptions.iter().cloned());
        conn.link.set_log_level(record.log_level);
        let mut session = Session::new(record.owner, conn, router, events);
        session.saved = Some(std::sync::Mutex::new(std::time::Instant::now()));
        session.mirror_replay(Replay::mirrored(fleet.mirror(&id, self.options.session_idle)));
        Ok(self.sessions.adopt(id, session))
    }

    /// A connection whose messages go through `router`, for `principal`; in a fleet, it
    /// numbers its requests to clients from the replica's counter.
    fn connection(&self, router: &Arc<Router>, principal: Option<Arc<Principal>>) -> Connection {
        let mut conn = Connection::new(
            Arc::clone(&self.core),
            Arc::clone(&self.service),
            Out::Routed(Arc::clone(router)),
        );
        conn.principal = principal;
        if let Some(fleet) = &self.fleet {
            conn.link.share_ids(&fleet.next_id);
        }
        conn
    }

    /// DELETE: ends session `id`, here and, in a fleet, everywhere.
    async fn end(&self, id: &str, owner: Option<&Principal>) -> Response {
        let Some(fleet) = &self.fleet else {
            if let Err(refused) = self.session(id, owner).await {
                return refused;
            }
            return self.sessions.delete(id);
        };
        if let Err(refused) = self.session(id, owner).await {
            return refused;
        }
        self.sessions.forget(id);
        fleet.end(id).await;
        StatusCode::NO_CONTENT.into_response()
    }
}

/// The endpoint's one handler, for every method.
pub(super) async fn endpoint(State(shared): State<Arc<Shared>>, request: axum::extract::Request) -> Response {
    // Taken apart, not extracted one by one: a `HeaderMap` extractor copies every header.
    let (parts, body) = request.into_parts();
    let (method, headers) = (parts.method, parts.headers);
    if let Err(refused) = check_host_and_origin(&shared.options, &headers) {
        return refused;
    }
    if let Some(fleet) = &shared.fleet {
        fleet.listen(&shared.sessions, &shared.core);
    }
    let principal = match &shared.options.authorization {
        Some(auth) => match Box::pin(auth.check(&headers)).await {
            Ok(p) => Some(p),
            Err(refused) => return refused,
        },
        None => None,
    };
    let session = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match method {
        Method::POST => match read_body(&headers, body, shared.options.max_body_bytes).await {
            #[cfg(not(feature = "otel"))]
            Ok(body) => post(&shared, &headers, session, &body, principal).await,
            // The request's trace context is the ambient one while its messages are read: the
            // parent of their spans when their `_meta` names none.
            #[cfg(feature = "otel")]
            Ok(body) => {
                let context = crate::server::otel::http_context(&headers);
                let post = post(&shared, &headers, session, &body, principal);
                opentelemetry::context::FutureExt::with_context(post, context).await
            }
            Err(refused) => refused,
        },
        Method::GET => {
            let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
            Box::pin(get(&shared, session.as_deref(), principal.as_deref(), last)).await
        }
        Method::DELETE => match session {
            Some(id) => Box::pin(shared.end(&id, principal.as_deref())).await,
            None => StatusCode::METHOD_NOT_ALLOWED.into_response(),
        },
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

/// `503` for a request about a session the fleet's store could not look up.
fn store_unavailable(e: &StoreError) -> Response {
    tracing::warn!(error = %e, "a session could not be looked up in the store");
    let error = ErrorObject::internal(format!("{e}; try again"));
    let mut response = json_response(StatusCode::SERVICE_UNAVAILABLE, encode_error(None, &error));
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("1"),
    );
    response
}

/// A POST's body, read only once its headers say it is JSON and not too large: a declared
/// `Content-Length` over `limit` is refused at once (`413`), before a byte of the body is read,
/// and so is a body that turns out larger; a `Content-Type` other than JSON gets `415`.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Response> {
    let refuse = |status: StatusCode, message: String| {
        let error = ErrorObject::invalid_request(message);
        json_response(status, encode_error(None, &error))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Invalid Request: the body is over the limit of {limit} bytes"),
        ));
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let is_json = content_type.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
    });
    if !is_json {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Invalid Request: a POST must have `Content-Type: application/json`".to_owned(),
        ));
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Invalid Request: the body is over the limit of {limit} bytes"),
        )
    })
}

/// POST: one message (stateless, in a session, or opening one with `initialize`) or a batch.
async fn post(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    session: Option<String>,
    body: &[u8],
    principal: Option<Arc<Principal>>,
) -> Response {
    let owner = principal.as_ref().map(|p| p.subject.clone());
    let connection = |router: &Arc<Router>| Arc::new(shared.connection(router, principal.clone()));
    let message = match jsonrpc::parse_frame(body) {
        Frame::Single(Incoming::Invalid { id, error }) => {
            return json_response(StatusCode::BAD_REQUEST, encode_error(id.as_ref(), &error));
        }
        Frame::Single(m) => m,
        Frame::Batch(items) => return Box::pin(batch(shared, session, owner.as_deref(), items)).await,
    };
    let stateless = matches!(&message, Incoming::Request { stateless, .. } if stateless.is_stateless());
    if stateless {
        if let Err(error) = check_headers(&shared.core, headers, &message) {
            let id = request_id(&message);
            return json_response(StatusCode::BAD_REQUEST, encode_error(id.as_ref(), &error));
        }
        let router = Arc::new(Router::default());
        let conn = connection(&router);
        return request(conn, &router, message, true).await;
    }
    if let Some(version) = headers.get(&VERSION_HEADER).and_then(|v| v.to_str().ok())
        && ProtocolVersion::parse(version).is_none()
    {
        let error = ErrorObject::invalid_request(format!("Unsupported MCP-Protocol-Version: {version}"));
        return json_response(
            StatusCode::BAD_REQUEST,
            encode_error(request_id(&message).as_ref(), &error),
        );
    }
    match (session, &message) {
        (
            None,
            Incoming::Request {
                method: Ok(McpMethod::Initialize),
                ..
            },
        ) if !shared.options.sessions => {
            // Without sessions: answered, and nothing is kept.
            let router = Arc::new(Router::default());
            request(connection(&router), &router, message, false).await
        }
        (
            None,
            Incoming::Request {
                method: Ok(McpMethod::Initialize),
                ..
            },
        ) => {
            shared.sessions.sweep(shared.options.session_idle);
            let options = &shared.options;
            if !shared
                .sessions
                .make_room(options.max_sessions, options.session_evict_idle)
            {
                return sessions_full(options.max_sessions);
            }
            let router = Arc::new(Router::default());
            let conn = connection(&router);
            let events = tokio::spawn(Arc::clone(&conn).forward_events()).abort_handle();
            let id = session::new_id();
            let _ = conn.binding.set(Arc::clone(&id));
            let mut response = request(Arc::clone(&conn), &router, message, false).await;
            if response.status() == StatusCode::OK {
                let record = shared.fleet.as_ref().and_then(|_| Record::of(&conn, owner.clone()));
                let mut session = Session::new(owner, conn, router, events);
                if let (Some(fleet), Some(record)) = (&shared.fleet, record) {
                    // Every replica can serve it once the record is kept; if it cannot be, the
                    // session is still served here.
                    Box::pin(fleet.save(&id, &record, shared.options.session_idle)).await;
                    session.saved = Some(std::sync::Mutex::new(std::time::Instant::now()));
                    session.mirror_replay(Replay::mirrored(fleet.mirror(&id, shared.options.session_idle)));
                }
                shared.sessions.insert(id, session, &mut response);
            }
            response
        }
        (Some(id), _) => {
            let session = match shared.session(&id, principal.as_deref()).await {
                Ok(session) => session,
                Err(refused) => return refused,
            };
            session.touch();
            if let Some(fleet) = &shared.fleet {
                if let Some(record) = session.record_due(shared.options.session_idle, false) {
                    fleet.refresh(&id, &record, shared.options.session_idle);
                }
                // An answer to a request another replica sent: to that replica.
                if let Incoming::Response { id: answered, .. } = &message
                    && !session.conn.link.is_waiting_for(answered)
                {
                    Box::pin(fleet.forward(&id, body)).await;
                    return StatusCode::ACCEPTED.into_response();
                }
            }
            match message {
                Incoming::Request { .. } => {
                    let change = shared.fleet.as_ref().and_then(|_| Change::of(&message));
                    let response = request_in(
                        Arc::clone(&session.conn),
                        &session.router,
                        message,
                        false,
                        Some(session.replay()),
                    )
                    .await;
                    // The session changed (a subscription, the log level): every replica's copy
                    // of it, and its record, follow.
                    if let (Some(fleet), Some(change)) = (&shared.fleet, change)
                        && let Some(record) = session.record_due(shared.options.session_idle, true)
                    {
                        Box::pin(fleet.save(&id, &record, shared.options.session_idle)).await;
                        Box::pin(fleet.changed(&id, &change)).await;
                    }
                    response
                }
                other => {
                    let _ = session.conn.handle(other, None);
                    StatusCode::ACCEPTED.into_response()
                }
            }
        }
        (None, Incoming::Request { .. }) if !shared.options.sessions => {
            // A handshake-era request served on its own, in the version its header names.
            let version = headers
                .get(&VERSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(ProtocolVersion::parse)
                .filter(|v| !v.is_stateless())
                .unwrap_or(ProtocolVersion::V2025_03_26);
            let router = Arc::new(Router::default());
            let mut conn = Connection::one_shot(
                Arc::clone(&shared.core),
                Arc::clone(&shared.service),
                Out::Routed(Arc::clone(&router)),
                version,
            );
            conn.principal = principal.clone();
            request(Arc::new(conn), &router, message, false).await
        }
        (None, Incoming::Request { .. }) => {
            // Neither stateless `_meta` nor a session: answered (with an error) by a connection
            // of its own, with the stateless era's status codes.
            let router = Arc::new(Router::default());
            let conn = connection(&router);
            request(conn, &router, message, true).await
        }
        (None, _) => StatusCode::ACCEPTED.into_response(),
    }
}

/// Answers one request: JSON when its answer is the first thing to send, SSE otherwise.
async fn request(conn: Arc<Connection>, router: &Arc<Router>, message: Incoming, stateless: bool) -> Response {
    request_in(conn, router, message, stateless, None).await
}

/// [`request`], with the session's replay log for resumable SSE.
async fn request_in(
    conn: Arc<Connection>,
    router: &Arc<Router>,
    message: Incoming,
    stateless: bool,
    replay: Option<&Arc<Replay>>,
) -> Response {
    let Some(id) = request_id(&message) else {
        return StatusCode::ACCEPTED.into_response();
    };
    let listen = matches!(
        &message,
        Incoming::Request {
            method: Ok(McpMethod::SubscriptionsListen),
            ..
        }
    );
    if !claim_stream(router, &id) {
        let reply = encode_error(Some(&id), &ErrorObject::id_in_use(&id));
        return json_response(status_of(&reply, stateless), reply);
    }
    if let Some(reply) = conn.handle(message, None) {
        let before = release_stream(router, &id);
        // A listen's acknowledgement starts its stream rather than answering it.
        if !listen {
            // A call that ended at once may have logged or reported progress first: then those
            // go out before its answer, as SSE.
            if before.is_empty() {
                return json_response(status_of(&reply, stateless), reply);
            }
            let (tx, queued) = mpsc::channel(before.len() + 1);
            for message in before {
                let _ = tx.try_send(message);
            }
            let _ = tx.try_send((reply, true));
            return Box::pin(stream_answer(conn, id, queued, stateless, replay)).await;
        }
        let events = tokio::spawn(Arc::clone(&conn).forward_events()).abort_handle();
        let rx = reopen_stream(router, &id);
        let guard = Guard {
            conn,
            id,
            cancel: stateless,
            events: Some(events),
        };
        return sse(Some(reply), rx, guard);
    }
    let rx = open_stream(router, &id);
    // Boxed: a request answered where it was read (most) keeps a small future.
    Box::pin(stream_answer(conn, id, rx, stateless, replay)).await
}

/// Answers request `id` from its stream: as JSON when the answer comes first, else as SSE.
async fn stream_answer(
    conn: Arc<Connection>,
    id: RequestId,
    mut rx: mpsc::Receiver<Routed>,
    stateless: bool,
    replay: Option<&Arc<Replay>>,
) -> Response {
    let guard = Guard {
        conn,
        id,
        cancel: stateless,
        events: None,
    };
    match rx.recv().await {
        Some((first, true)) => {
            guard.done();
            json_response(status_of(&first, stateless), first)
        }
        Some((first, false)) => match replay {
            Some(replay) => {
                let (key, live) = replay.open(false);
                let items = relay(Arc::clone(replay), key, Some(first), rx);
                drop(items);
                resumable_sse(replay, key, live, Some(guard))
            }
            None => sse(Some(first), rx, guard),
        },
        None => {
            guard.done();
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

/// A JSON-RPC batch, in a session that allows them: answered as one JSON array.
async fn batch(shared: &Arc<Shared>, session: Option<String>, owner: Option<&str>, items: Vec<Incoming>) -> Response {
    let found = session.and_then(|id| shared.sessions.get_owned(&id, owner));
    let Some(session) = found.filter(|s| s.conn.allows_batches()) else {
        return json_response(StatusCode::BAD_REQUEST, encode_error(None, &batches_refused()));
    };
    let mut replies = Vec::new();
    for item in items {
        let Some(id) = request_id(&item) else {
            let _ = session.conn.handle(item, None);
            continue;
        };
        if !claim_stream(&session.router, &id) {
            replies.push(encode_error(Some(&id), &ErrorObject::id_in_use(&id)));
            continue;
        }
        if let Some(reply) = session.conn.handle(item, None) {
            release_stream(&session.router, &id);
            replies.push(reply);
            continue;
        }
        let mut rx = open_stream(&session.router, &id);
        while let Some((bytes, last)) = rx.recv().await {
            if last {
                replies.push(bytes);
                break;
            }
        }
    }
    if replies.is_empty() {
        return StatusCode::ACCEPTED.into_response();
    }
    json_response(StatusCode::OK, jsonrpc::encode_batch(&replies))
}

/// GET: a session's stream for messages not tied to a request, or, with `Last-Event-ID`, the
/// resumption of a stream that dropped.
async fn get(
    shared: &Arc<Shared>,
    session: Option<&str>,
    principal: Option<&Principal>,
    last_event_id: Option<&str>,
) -> Response {
    let Some(id) = session else {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    };
    let session = match shared.session(id, principal).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    if let Some(last) = last_event_id {
        // Resumption: replay what the stream missed, then continue it live if it is not over.
        return match session.replay().resume(last) {
            Resumed::Local(key, live) => resumable_sse(session.replay(), key, live, None),
            Resumed::Remote(remote) => match &shared.fleet {
                // Another replica wrote it: its log is in the store. A GET stream then goes on
                // as this replica's own.
                Some(fleet) => {
                    let standalone = remote.standalone;
                    let (key, live) = session.replay().open(standalone);
                    let then = standalone.then(|| {
                        let rx = open_standalone_stream(&session.router);
                        drop(relay(Arc::clone(session.replay()), key, None, rx));
                        live
                    });
                    resumable_sse(session.replay(), key, fleet.follow(remote, then), None)
                }
                None => StatusCode::NOT_FOUND.into_response(),
            },
            Resumed::Unknown => StatusCode::NOT_FOUND.into_response(),
        };
    }
    let rx = open_standalone_stream(&session.router);
    let (key, live) = session.replay().open(true);
    drop(relay(Arc::clone(session.replay()), key, None, rx));
    resumable_sse(session.replay(), key, live, None)
}

/// The id of a request; `None` for anything else.
fn request_id(message: &Incoming) -> Option<RequestId> {
    match message {
        Incoming::Request { id, .. } => Some(id.clone()),
        _ => None,
    }
}
