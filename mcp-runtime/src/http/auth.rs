//! Authorization for Streamable HTTP: the MCP server as an OAuth 2.1 resource server.
//!
//! Configure it with [`HttpOptions::authorization`](super::HttpOptions::authorization).
//! Every request to the endpoint needs `Authorization: Bearer <token>`; the
//! [`TokenVerifier`] you supply checks the token (signature, expiry and, crucially, that its
//! audience is this server) and names its [`Principal`], which handlers read as
//! `ctx.principal()`. A missing or bad token gets `401` with
//! `WWW-Authenticate: Bearer resource_metadata="…"`; a token without the required scopes gets
//! `403` with `error="insufficient_scope"`. The RFC 9728 metadata document is served at
//! `/.well-known/oauth-protected-resource` and `/.well-known/oauth-protected-resource/<path>`.

use crate::server::principal::Principal;
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
    use crate::http::auth::*;

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

/// A [`TokenVerifier`] for JWTs signed with HS256 (a secret shared with the authorization
/// server). It checks the signature, that `aud` names this server, `exp` and `nbf` (with a
/// minute of leeway) and, if set, `iss`; the principal is `sub` with the scopes of `scope`
/// (space-separated) or `scp` (a list). Asymmetric algorithms (RS256, ES256) are not built in:
/// implement [`TokenVerifier`] with the JWT library of your choice for those.
#[derive(Clone)]
pub struct JwtHs256 {
    secret: Vec<u8>,
    audience: String,
    issuer: Option<String>,
    leeway: u64,
}

impl fmt::Debug for JwtHs256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtHs256")
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl JwtHs256 {
    /// Tokens signed with `secret` whose `aud` is (or includes) `audience`.
    pub fn new(secret: impl Into<Vec<u8>>, audience: impl Into<String>) -> Self {
        Self {
            secret: secret.into(),
            audience: audience.into(),
            issuer: None,
            leeway: 60,
        }
    }

    /// Also requires `iss` to be `issuer`.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    fn mac(&self) -> hmac::Hmac<sha2::Sha256> {
        <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&self.secret).expect("HMAC takes any key length")
    }

    /// Signs `claims` into a token (for tests and tools; servers only verify).
    pub fn issue(&self, claims: &Value) -> String {
        use crate::protocol::base64::encode_url;
        use hmac::Mac as _;
        let header = encode_url(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = encode_url(&serde_json::to_vec(claims).expect("claims serialise"));
        let mut mac = self.mac();
        mac.update(format!("{header}.{payload}").as_bytes());
        format!("{header}.{payload}.{}", encode_url(&mac.finalize().into_bytes()))
    }

    /// The token's principal, or why it is refused.
    pub fn check(&self, token: &str) -> Result<Principal, String> {
        use crate::protocol::base64::decode_url;
        use hmac::Mac as _;
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err("not a JWT".into());
        };
        let header: Value = decode_url(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("bad header")?;
        if header["alg"] != "HS256" {
            return Err(format!("algorithm {} is not accepted", header["alg"]));
        }
        let signature = decode_url(s).ok_or("bad signature encoding")?;
        let mut mac = self.mac();
        mac.update(format!("{h}.{p}").as_bytes());
        mac.verify_slice(&signature).map_err(|_| "bad signature")?;
        let claims: Value = decode_url(p)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("bad claims")?;
        let now = crate::server::engine::seal::now();
        match claims["exp"].as_u64() {
            Some(exp) if exp + self.leeway > now => {}
            Some(_) => return Err("expired".into()),
            None => return Err("no expiry".into()),
        }
        if claims["nbf"].as_u64().is_some_and(|nbf| nbf > now + self.leeway) {
            return Err("not yet valid".into());
        }
        let audience_ok = match &claims["aud"] {
            Value::String(a) => *a == self.audience,
            Value::Array(list) => list.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => false,
        };
        if !audience_ok {
            return Err("issued for another audience".into());
        }
        if let Some(iss) = &self.issuer
            && claims["iss"].as_str() != Some(iss)
        {
            return Err("another issuer".into());
        }
        let subject = claims["sub"].as_str().ok_or("no subject")?.to_owned();
        let scopes = match (&claims["scope"], &claims["scp"]) {
            (Value::String(s), _) => s.split_whitespace().map(str::to_owned).collect(),
            (_, Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        Ok(Principal { subject, scopes })
    }
}

impl TokenVerifier for JwtHs256 {
    fn verify(&self, token: String) -> Pin<Box<dyn Future<Output = Result<Principal, String>> + Send + '_>> {
        Box::pin(std::future::ready(self.check(&token)))
    }
}

#[cfg(test)]
mod jwt_tests {
    use crate::http::auth::*;

    #[test]
    fn checks_signature_audience_expiry_and_issuer() {
        let v = JwtHs256::new("s3cret", "https://mcp.example.com/mcp").issuer("https://auth.example.com");
        let now = crate::server::engine::seal::now();
        let good = json!({"sub": "alice", "aud": "https://mcp.example.com/mcp", "iss": "https://auth.example.com", "exp": now + 600, "scope": "mcp read"});
        let p = v.check(&v.issue(&good)).unwrap();
        assert_eq!(
            (p.subject.as_str(), p.scopes),
            ("alice", vec!["mcp".to_owned(), "read".to_owned()])
        );
        let mut other = good.clone();
        other["aud"] = json!(["https://other.example.com"]);
        assert_eq!(v.check(&v.issue(&other)).unwrap_err(), "issued for another audience");
        let mut old = good.clone();
        old["exp"] = json!(now - 3600);
        assert_eq!(v.check(&v.issue(&old)).unwrap_err(), "expired");
        let mut wrong_iss = good.clone();
        wrong_iss["iss"] = json!("https://evil.example.com");
        assert_eq!(v.check(&v.issue(&wrong_iss)).unwrap_err(), "another issuer");
        let forged = JwtHs256::new("guess", "https://mcp.example.com/mcp").issue(&good);
        assert_eq!(v.check(&forged).unwrap_err(), "bad signature");
        let token = v.issue(&good);
        let (head, rest) = token.split_once('.').unwrap();
        let none = format!("{}.{rest}", crate::protocol::base64::encode_url(br#"{"alg":"none"}"#));
        assert!(v.check(&none).unwrap_err().contains("not accepted"), "{head}");
        assert_eq!(v.check("a.b").unwrap_err(), "not a JWT");
    }
}
