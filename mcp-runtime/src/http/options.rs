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
    /// Bearer-token authorization; none by default (bind loopback, or put one in front).
    pub authorization: Option<Authorization>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            path: "/mcp".into(),
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()],
            max_body_bytes: 4 * 1024 * 1024,
            session_idle: Duration::from_secs(30 * 60),
            authorization: None,
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

    /// Requires a bearer token on every request, checked as `authorization` says.
    #[must_use]
    pub fn authorization(mut self, authorization: Authorization) -> Self {
        self.authorization = Some(authorization);
        self
    }

    /// Also accepts `host` in `Host` and `Origin` (when the server is reached by that name).
    #[must_use]
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into().to_ascii_lowercase());
        self
    }
}
