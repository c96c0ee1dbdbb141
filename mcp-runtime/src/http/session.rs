//! Handshake-era sessions: opened by `initialize`, named by a random `Mcp-Session-Id`, bound to
//! the principal that opened them, dropped after sitting idle (the table shrinks back after a
//! burst), and ended by DELETE.

use super::response::json_response;
use super::resume::Replay;
use crate::protocol::jsonrpc::encode_error;
use crate::protocol::{ClientCapabilities, ErrorObject, Implementation, Incoming, LogLevel, Method, ProtocolVersion};
use crate::server::connection::Connection;
use crate::server::engine::seal::{hex, random};
use crate::server::link::Router;
use crate::server::peer::Peer;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use tokio::task::AbortHandle;

pub(super) const SESSION_HEADER: &str = "mcp-session-id";

/// What a replica needs to serve a session another replica opened.
#[derive(Serialize, Deserialize)]
pub(super) struct Record {
    #[serde(rename = "v")]
    pub(super) version: String,
    #[serde(rename = "c")]
    pub(super) capabilities: Map<String, Value>,
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub(super) client_info: Option<Implementation>,
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub(super) owner: Option<String>,
    /// The resources the client subscribed to.
    #[serde(rename = "s", default, skip_serializing_if = "Vec::is_empty")]
    pub(super) subscriptions: Vec<String>,
    /// The log level the client set (`logging/setLevel`), as an index into the levels.
    #[serde(rename = "l", default)]
    pub(super) log_level: usize,
}

/// A change a client made to its session, which every replica's copy follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Change {
    Subscribe(String),
    Unsubscribe(String),
    LogLevel(usize),
}

impl Change {
    /// The change a request makes, if it makes one.
    pub(super) fn of(message: &Incoming) -> Option<Self> {
        let Incoming::Request {
            method: Ok(method),
            params,
            ..
        } = message
        else {
            return None;
        };
        let param = |key: &str| params.str_field(key).map(str::to_owned);
        match method {
            Method::ResourcesSubscribe => param("uri").map(Self::Subscribe),
            Method::ResourcesUnsubscribe => param("uri").map(Self::Unsubscribe),
            Method::LoggingSetLevel => LogLevel::parse(&param("level")?).map(|l| Self::LogLevel(l as usize)),
            _ => None,
        }
    }

    /// Makes the change on `conn`.
    pub(super) fn apply(&self, conn: &Connection) {
        let mut subs = conn.subscriptions.lock().unwrap_or_else(PoisonError::into_inner);
        match self {
            Self::Subscribe(uri) => {
                subs.insert(uri.clone());
            }
            Self::Unsubscribe(uri) => {
                subs.remove(uri);
            }
            Self::LogLevel(level) => conn.link.set_log_level(*level),
        }
    }

    pub(super) fn encode(&self) -> String {
        match self {
            Self::Subscribe(uri) => format!("+{uri}"),
            Self::Unsubscribe(uri) => format!("-{uri}"),
            Self::LogLevel(level) => format!("L{level}"),
        }
    }

    pub(super) fn decode(text: &str) -> Option<Self> {
        match text.split_at_checked(1)? {
            ("+", uri) => Some(Self::Subscribe(uri.to_owned())),
            ("-", uri) => Some(Self::Unsubscribe(uri.to_owned())),
            ("L", level) => level.parse().ok().map(Self::LogLevel),
            _ => None,
        }
    }
}

impl Record {
    /// The record of a session that `conn` initialized.
    pub(super) fn of(conn: &Connection, owner: Option<String>) -> Option<Self> {
        let session = conn.session.get()?;
        Some(Self {
            version: session.version.as_str().to_owned(),
            capabilities: session.capabilities.as_map().clone(),
            client_info: session.client_info.as_deref().cloned(),
            owner,
            subscriptions: conn
                .subscriptions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .cloned()
                .collect(),
            log_level: conn.link.log_level(),
        })
    }

    pub(super) fn version(&self) -> Option<ProtocolVersion> {
        ProtocolVersion::parse(&self.version).filter(|v| !v.is_stateless())
    }

    pub(super) fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::from(self.capabilities.clone())
    }
}

pub(super) struct Session {
    /// Who opened it: only they may use it.
    owner: Option<String>,
    /// The session's SSE events, kept for resumption with `Last-Event-ID`: made by the first
    /// stream that needs it (an idle session has none), or at once in a fleet (mirrored).
    replay: OnceLock<Arc<Replay>>,
    pub(super) conn: Arc<Connection>,
    pub(super) router: Arc<Router>,
    last_used: Mutex<Instant>,
    events: AbortHandle,
    /// In a fleet: when the session's record was last kept in the store.
    pub(super) saved: Option<Mutex<Instant>>,
}

impl Session {
    /// A session of `owner`'s on `conn`, whose events `events` forwards.
    pub(super) fn new(owner: Option<String>, conn: Arc<Connection>, router: Arc<Router>, events: AbortHandle) -> Self {
        Self {
            owner,
            replay: OnceLock::new(),
            conn,
            router,
            last_used: Mutex::new(Instant::now()),
            events,
            saved: None,
        }
    }

    /// The session's SSE log, made empty on first use.
    pub(super) fn replay(&self) -> &Arc<Replay> {
        self.replay.get_or_init(Arc::default)
    }

    /// Mirrors the session's SSE log to a fleet's store: set before the session is shared.
    pub(super) fn mirror_replay(&mut self, replay: Replay) {
        self.replay = OnceLock::from(Arc::new(replay));
    }

    /// The session's record as it stands, if the session is in a fleet and its record was
    /// kept longer ago than a quarter of `ttl` (or `now`); the record is then marked kept (the
    /// caller keeps it).
    pub(super) fn record_due(&self, ttl: Duration, now: bool) -> Option<Record> {
        let saved = self.saved.as_ref()?;
        let mut saved = saved.lock().unwrap_or_else(PoisonError::into_inner);
        if !now && saved.elapsed() < ttl / 4 {
            return None;
        }
        *saved = Instant::now();
        Record::of(&self.conn, self.owner.clone())
    }

    /// How long since the session was last used.
    fn idle_for(&self) -> Duration {
        self.last_used.lock().unwrap_or_else(PoisonError::into_inner).elapsed()
    }

    /// Whether a call is in flight in the session, or its GET stream is open.
    fn is_busy(&self) -> bool {
        !self.conn.link.is_idle()
            || self
                .router
                .standalone
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .is_some_and(|tx| !tx.is_closed())
    }

    /// Marks the session used now.
    pub(super) fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.events.abort();
        self.conn.abort_all();
    }
}

/// A new session's id: 32 random bytes, in hex. One allocation serves the session table's key
/// and the connection's task binding.
pub(super) fn new_id() -> Arc<str> {
    hex(&random::<32>()).into()
}

/// The open sessions, by id.
pub(super) struct Sessions {
    table: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    /// When idle sessions were last looked for.
    swept: Mutex<Instant>,
}

impl Sessions {
    pub(super) fn new() -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
            swept: Mutex::new(Instant::now()),
        }
    }

    /// Whether a new session fits under `max`, once sessions idle for `evict_idle` or longer
    /// are evicted to make room.
    pub(super) fn make_room(&self, max: usize, evict_idle: Duration) -> bool {
        let mut sessions = self.lock();
        if sessions.len() < max {
            return true;
        }
        // Busy sessions stay: a call in flight (perhaps waiting on a person) or an open stream.
        sessions.retain(|_, s| s.idle_for() < evict_idle || s.is_busy());
        shrink_when_sparse(&mut sessions);
        sessions.len() < max
    }

    /// Keeps `session` as `id`, and names it in `response`'s `Mcp-Session-Id` header.
    pub(super) fn insert(&self, id: Arc<str>, session: Session, response: &mut Response) {
        let header = HeaderValue::from_str(&id).expect("hex is a valid header");
        self.lock().insert(id, Arc::new(session));
        response.headers_mut().insert(SESSION_HEADER, header);
    }

    /// Keeps `session`, opened on another replica of the fleet, as `id`.
    /// If two requests adopt it at once, the first copy stays and is returned to both.
    pub(super) fn adopt(&self, id: Arc<str>, session: Session) -> Arc<Session> {
        Arc::clone(self.lock().entry(id).or_insert_with(|| Arc::new(session)))
    }

    /// Forgets this replica's copy of session `id` (it ended elsewhere).
    pub(super) fn forget(&self, id: &str) {
        let mut sessions = self.lock();
        sessions.remove(id);
        shrink_when_sparse(&mut sessions);
    }

    /// Session `id`, whoever opened it.
    pub(super) fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.lock().get(id).cloned()
    }

    /// Session `id`, if `owner` opened it: someone else's session is, for this principal, no
    /// session at all.
    pub(super) fn get_owned(&self, id: &str, owner: Option<&str>) -> Option<Arc<Session>> {
        self.get(id).filter(|s| s.owner.as_deref() == owner)
    }

    /// DELETE: ends session `id`.
    pub(super) fn delete(&self, id: &str) -> Response {
        let mut sessions = self.lock();
        let removed = sessions.remove(id);
        shrink_when_sparse(&mut sessions);
        match removed {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => session_not_found(),
        }
    }

    /// Drops sessions idle for `limit` or longer. It looks at every session, so it runs at most
    /// once a second (or once per idle limit, if that is shorter): opening sessions stays O(1)
    /// each however many are open.
    pub(super) fn sweep(&self, limit: Duration) {
        {
            let mut swept = self.swept.lock().unwrap_or_else(PoisonError::into_inner);
            if swept.elapsed() < limit.min(Duration::from_secs(1)) {
                return;
            }
            *swept = Instant::now();
        }
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.idle_for() < limit);
        shrink_when_sparse(&mut sessions);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Arc<Session>>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Gives back the table's room once most of it is empty: a burst of sessions must not keep
/// its memory after the sessions ended. (Shrinking to twice the size keeps this rare.)
fn shrink_when_sparse<V>(map: &mut HashMap<Arc<str>, V>) {
    if map.capacity() > 64 && map.len() < map.capacity() / 8 {
        map.shrink_to(map.len() * 2);
    }
}

/// `503` when the session table is full of sessions in use.
pub(super) fn sessions_full(max: usize) -> Response {
    let error = ErrorObject::internal(format!(
        "Server busy: {max} sessions are open, the most this server keeps; try again later"
    ));
    let mut response = json_response(StatusCode::SERVICE_UNAVAILABLE, encode_error(None, &error));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// `404` for a session id that names no session (of this principal's).
pub(super) fn session_not_found() -> Response {
    let error = ErrorObject::invalid_request("Session not found: it expired or was ended; initialize again");
    json_response(StatusCode::NOT_FOUND, encode_error(None, &error))
}
