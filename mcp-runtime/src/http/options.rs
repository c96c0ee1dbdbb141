//! [`HttpOptions`]: how the HTTP endpoint behaves.

use super::auth::Authorization;
use std::time::Duration;

/// How the HTTP endpoint behaves.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// The path of the MCP endpoint (default `/mcp`).
    pub path: String,
    /// Host names (without port) accepted in `Host` and `Origin`; default loopback only.
    pub allowed_hosts: Vec<String>,
    /// The largest request body, in bytes (default 4 MiB); larger ones get `413`.
    pub max_body_bytes: usize,
    /// How long a handshake-era session may sit idle before it is dropped (default 30 minutes).
    pub session_idle: Duration,
    /// The most handshake-era sessions open at once (default 20,000). When the table is full, a
    /// new session first evicts those idle for [`session_evict_idle`](Self::session_evict_idle)
    /// or longer; if none is, `initialize` is answered `503` with `Retry-After`.
    pub max_sessions: usize,
    /// How long a session must have sat idle to be evicted for a new one when the table is full
    /// (default 60 s).
    pub session_evict_idle: Duration,
    /// Whether `initialize` opens a handshake-era session (default `true`). See
    /// [`without_sessions`](Self::without_sessions).
    pub sessions: bool,
    /// Bearer-token authorization; none by default (bind loopback, or put one in front).
    pub authorization: Option<Authorization>,
    /// Routes of the application served beside the endpoint, such as a health check; none by
    /// default. See [`routes`](Self::routes).
    pub routes: axum::Router,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            path: "/mcp".into(),
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()],
            max_body_bytes: 4 * 1024 * 1024,
            session_idle: Duration::from_secs(30 * 60),
            sessions: true,
            max_sessions: 20_000,
            session_evict_idle: Duration::from_secs(60),
            authorization: None,
            routes: axum::Router::new(),
        }
    }
}

impl HttpOptions {
    /// Serves the endpoint at `path`.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Serves `routes` beside the MCP endpoint, on the same listener: a health check, a
    /// status page, anything of the application's. They are merged with the endpoint's router
    /// as they are: the endpoint's `Host`/`Origin` checks, body limit and authorization do not
    /// apply to them (add your own layers). A route on the endpoint's path (or, with
    /// authorization, on `/.well-known/oauth-protected-resource…`) makes the merge panic, as
    /// axum's `Router::merge` does.
    ///
    /// ```no_run
    /// # async fn run() -> mcp_runtime::Result<()> {
    /// use mcp_runtime::http::HttpOptions;
    /// let health = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    /// mcp_runtime::Server::new("app", "1.0.0")
    ///     .build()?
    ///     .serve_http_with("127.0.0.1:3000", HttpOptions::default().routes(health), std::future::pending())
    ///     .await
    /// # }
    /// ```
    #[must_use]
    pub fn routes(mut self, routes: axum::Router) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// Requires a bearer token on every request, checked as `authorization` says.
    #[must_use]
    pub fn authorization(mut self, authorization: Authorization) -> Self {
        self.authorization = Some(authorization);
        self
    }

    /// Caps the handshake-era sessions open at once; when full, sessions idle for `evict_idle`
    /// or longer make room, else `initialize` gets `503`.
    #[must_use]
    pub fn max_sessions(mut self, max: usize, evict_idle: Duration) -> Self {
        self.max_sessions = max.max(1);
        self.session_evict_idle = evict_idle;
        self
    }

    /// Serves handshake-era clients without sessions, as the official SDKs' "stateless HTTP"
    /// does: `initialize` is answered without an `Mcp-Session-Id`, and every POST is served on
    /// its own, in the version its `MCP-Protocol-Version` header names (2025-03-26 without one).
    /// Nothing is kept between requests, so any replica of a fleet serves any of them, with no
    /// shared store, when nothing must happen once. The price: the server cannot ask the
    /// client anything (sampling, elicitation, roots) in that era, since the answer would come
    /// in another POST; a tool that tries gets a clear error at once. 2026-07-28 clients are
    /// served as always.
    #[must_use]
    pub fn without_sessions(mut self) -> Self {
        self.sessions = false;
        self
    }

    /// Refuses request bodies over `limit` bytes with `413` (default 4 MiB).
    #[must_use]
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Also accepts `host` in `Host` and `Origin` (when the server is reached by that name).
    #[must_use]
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into().to_ascii_lowercase());
        self
    }
}
