//! Who made a request: [`Principal`], as the HTTP endpoint's token verifier established it.
//! Requests, tasks and visibility rules are bound to it.

/// Who made a request, as the server's [`TokenVerifier`](crate::http::auth::TokenVerifier)
/// established it (HTTP with authorization configured).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    /// The token's subject (`sub`).
    pub subject: String,
    /// The scopes the token grants.
    pub scopes: Vec<String>,
}
