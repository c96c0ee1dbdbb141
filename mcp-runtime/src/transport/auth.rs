//! Authorization for Streamable HTTP: the MCP server as an OAuth 2.1 resource server.
//!
//! Configure it with [`HttpOptions::authorization`](super::http::HttpOptions::authorization).
//! Every request to the endpoint needs `Authorization: Bearer <token>`; the
//! [`TokenVerifier`] you supply checks the token (signature, expiry and, crucially, that its
//! audience is this server) and names its [`Principal`], which handlers read as
//! `ctx.principal()`. A missing or bad token gets `401` with
//! `WWW-Authenticate: Bearer resource_metadata="…"`; a token without the required scopes gets
//! `403` with `error="insufficient_scope"`. The RFC 9728 metadata document is served at
//! `/.well-known/oauth-protected-resource` and `/.well-known/oauth-protected-resource/<path>`.

use crate::server::context::Principal;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Checks a bearer token and says whose it is.
///
/// Implemented for any `Fn(String) -> impl Future<Output = Result<Principal, String>>`. An `Err`
/// (its text is for logs, not sent to the client) is a `401`. Check the audience: accept only
/// tokens issued for this server, never pass them on.
pub trait TokenVerifier: Send + Sync + 'static {
    /// The principal the token belongs to, or why it is refused.
    fn verify(&self, token: String) -> Pin<Box<dyn Future<Output = Result<Principal, String>> + Send + '_>>;
}

impl<F, Fut> TokenVerifier for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Principal, String>> + Send + 'static,
{
    fn verify(&self, token: String) -> Pin<Box<dyn Future<Output = Result<Principal, String>> + Send + '_>> {
        Box::pin(self(token))
    }
}

/// The server's authorization settings.
#[derive(Clone)]
pub struct Authorization {
    verifier: Arc<dyn TokenVerifier>,
    resource: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    required_scopes: Vec<String>,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("resource", &self.resource)
            .field("authorization_servers", &self.authorization_servers)
            .finish_non_exhaustive()
    }
}

impl Authorization {
    /// Tokens from `authorization_server`, for the resource `resource` (this server's canonical
    /// URI, such as `https://mcp.example.com/mcp`), checked by `verifier`.
    pub fn new(
        resource: impl Into<String>,
        authorization_server: impl Into<String>,
        verifier: impl TokenVerifier,
    ) -> Self {
        Self {
            verifier: Arc::new(verifier),
            resource: resource.into(),
            authorization_servers: vec![authorization_server.into()],
            scopes_supported: Vec::new(),
            required_scopes: Vec::new(),
        }
    }

    /// The scopes the metadata document lists.
    #[must_use]
    pub fn scopes_supported(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Scopes every request's token must carry (else `403 insufficient_scope`).
    #[must_use]
    pub fn require_scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.required_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The RFC 9728 Protected Resource Metadata document.
    pub(crate) fn metadata(&self) -> Value {
        json!({
            "resource": self.resource,
            "authorization_servers": self.authorization_servers,
            "scopes_supported": self.scopes_supported,
            "bearer_methods_supported": ["header"],
        })
    }

    /// Where the metadata document is: the well-known path inserted before the resource's path.
    pub(crate) fn metadata_url(&self) -> String {
        let (scheme, rest) = self.resource.split_once("://").unwrap_or(("https", &self.resource));
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            format!("{scheme}://{authority}/.well-known/oauth-protected-resource")
        } else {
            format!("{scheme}://{authority}/.well-known/oauth-protected-resource/{path}")
        }
    }

    /// The request's principal, or the `401`/`403` that refuses it.
    pub(crate) async fn check(&self, headers: &HeaderMap) -> Result<Arc<Principal>, Response> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(self.challenge(StatusCode::UNAUTHORIZED, None));
        };
        let principal = match self.verifier.verify(token.to_owned()).await {
            Ok(p) => p,
            Err(why) => {
                tracing::debug!(why, "refused a bearer token");
                return Err(self.challenge(StatusCode::UNAUTHORIZED, Some("invalid_token")));
            }
        };
        if !self.required_scopes.iter().all(|s| principal.scopes.contains(s)) {
            return Err(self.challenge(StatusCode::FORBIDDEN, Some("insufficient_scope")));
        }
        Ok(Arc::new(principal))
    }

    fn challenge(&self, status: StatusCode, error: Option<&str>) -> Response {
        let mut value = String::from("Bearer");
        let mut parts = Vec::new();
        if let Some(e) = error {
            parts.push(format!("error=\"{e}\""));
        }
        if !self.required_scopes.is_empty() {
            parts.push(format!("scope=\"{}\"", self.required_scopes.join(" ")));
        }
        parts.push(format!("resource_metadata=\"{}\"", self.metadata_url()));
        value.push(' ');
        value.push_str(&parts.join(", "));
        let mut r = status.into_response();
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_url_inserts_the_well_known_path() {
        let verifier = |_t: String| async { Err::<Principal, String>("no".into()) };
        let a = Authorization::new("https://mcp.example.com/mcp", "https://auth.example.com", verifier);
        assert_eq!(
            a.metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        let b = Authorization::new(
            "https://mcp.example.com",
            "https://auth.example.com",
            |_t: String| async { Err::<Principal, String>("no".into()) },
        );
        assert_eq!(
            b.metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource"
        );
    }
}
