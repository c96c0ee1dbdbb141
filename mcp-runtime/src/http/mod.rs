//! Streamable HTTP, both protocol eras on one endpoint.
//!
//! - **Stateless era (2026-07-28)**: every POST carries one request whose `_meta` names the
//!   protocol version. It is answered as JSON, or as an SSE stream when progress or log messages
//!   come before the answer. Closing the connection cancels the request. `MCP-Protocol-Version`,
//!   `Mcp-Method` and `Mcp-Name` must agree with the body (else `400` and `-32020`).
//! - **Handshake era (2025-03-26 … 2025-11-25)**: `initialize` opens a session, named by a random
//!   `Mcp-Session-Id`. Its POSTs are answered as JSON or SSE. Requests the server makes for a call
//!   (sampling, elicitation, roots) go on that call's stream, and their answers come back as
//!   POSTs. A GET opens a stream for everything else, and DELETE ends the session.
//!
//! By default the server binds loopback and accepts only loopback `Host` and `Origin` values
//! (anything else is `403`, against DNS rebinding).
//!
//! This front end sits above the server and imports it; the server and the transports never
//! import it. Its files, by job: the endpoint's handler (`endpoint`), handshake-era sessions
//! (`session`), each request's response stream (`stream`), the resumption log (`resume`), the
//! accept loop and each connection's task (`serve`), header checks (`headers`), JSON answers
//! and their status (`response`), SSE framing (`sse`), the options ([`HttpOptions`]),
//! bearer-token authorization ([`auth`]), and the deprecated HTTP+SSE transport of 2024-11-05
//! (`legacy_sse`, feature `legacy-sse`).

pub mod auth;
mod endpoint;
mod fleet;
mod headers;
#[cfg(feature = "legacy-sse")]
mod legacy_sse;
mod options;
mod response;
mod resume;
mod serve;
mod session;
mod sse;
mod stream;

pub use self::options::HttpOptions;
pub use self::serve::serve_router;

use self::serve::{App, serve};

use self::auth::Authorization;
use self::endpoint::{Shared, endpoint};
use self::fleet::Fleet;
#[cfg(feature = "legacy-sse")]
use self::headers::check_host_and_origin;
use self::response::json_response;
use self::session::Sessions;
use crate::error::Result;
use crate::server::service::Service;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
#[cfg(feature = "legacy-sse")]
use axum::{body::Bytes, extract::State, http::HeaderMap, response::Response};
use std::sync::Arc;

impl Service {
    /// The MCP endpoint as an axum router, with default [`HttpOptions`]: nest it in an
    /// application, add tower layers, serve it with `axum::serve`.
    pub fn into_router(self) -> axum::Router {
        self.into_router_with(HttpOptions::default())
    }

    /// The MCP endpoint as an axum router.
    pub fn into_router_with(self, options: HttpOptions) -> axum::Router {
        self.into_app(options).router
    }

    /// The router, and the endpoint apart from it for `serve_http` (see `serve::App`).
    fn into_app(self, mut options: HttpOptions) -> App {
        let extra = std::mem::take(&mut options.routes);
        let path = options.path.clone();
        let limit = options.max_body_bytes;
        let metadata = options.authorization.as_ref().map(Authorization::metadata);
        let shared = Arc::new(Shared {
            #[cfg(feature = "legacy-sse")]
            legacy: Arc::default(),
            fleet: Fleet::new(&self.core.store),
            service: self.handle(),
            core: self.core,
            options,
            sessions: Arc::new(Sessions::new()),
        });
        let mut router = axum::Router::new().route(&path, axum::routing::any(endpoint));
        if let Some(doc) = metadata {
            // RFC 9728: at the root, and with the endpoint's path inserted.
            let body: Arc<[u8]> = serde_json::to_vec(&doc).expect("metadata serialises").into();
            let serve = move || {
                let body = Arc::clone(&body);
                async move { json_response(StatusCode::OK, body.to_vec()) }
            };
            router = router
                .route(
                    "/.well-known/oauth-protected-resource",
                    axum::routing::get(serve.clone()),
                )
                .route(
                    &format!("/.well-known/oauth-protected-resource{path}"),
                    axum::routing::get(serve),
                );
        }
        #[cfg(feature = "legacy-sse")]
        {
            router = router
                .route("/sse", axum::routing::get(legacy_open))
                .route("/messages", axum::routing::post(legacy_post));
        }
        let router = router
            .layer(DefaultBodyLimit::max(limit))
            .with_state(Arc::clone(&shared))
            .merge(extra);
        App {
            router,
            endpoint: Some((path.into(), shared)),
        }
    }

    /// Serves Streamable HTTP at `addr` (the endpoint is `/mcp`) until the process ends.
    pub async fn serve_http(self, addr: impl tokio::net::ToSocketAddrs) -> Result<()> {
        self.serve_http_with(addr, HttpOptions::default(), std::future::pending())
            .await
    }

    /// Serves Streamable HTTP at `addr` until `shutdown` resolves, then lets requests in
    /// flight finish.
    pub async fn serve_http_with(
        self,
        addr: impl tokio::net::ToSocketAddrs,
        options: HttpOptions,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let app = self.into_app(options);
        serve(listener, app, shutdown).await
    }

    /// `serve_http_with`, saying on stderr where it listens, until SIGTERM or Ctrl-C (for
    /// `Server::run`): requests in flight then finish, up to the drain timeout, after which
    /// what is still open (a client's GET stream, say) is dropped.
    pub(crate) async fn serve_http_announced(
        self,
        addr: impl tokio::net::ToSocketAddrs,
        options: HttpOptions,
    ) -> Result<()> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let url = format!("http://{}{}", listener.local_addr()?, options.path);
        let name = crate::server::hint::server_name(&self);
        let drain = self.core.options.drain_timeout;
        let app = self.into_app(options);
        eprintln!("`{name}` serves MCP over Streamable HTTP at {url}");
        tracing::info!(%url, "serving MCP over Streamable HTTP");
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            crate::server::driver::terminated().await;
            let _ = stopping.send(());
        };
        let drained = async move {
            match stopped.await {
                Ok(()) => tokio::time::sleep(drain).await,
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            served = serve(listener, app, shutdown) => served,
            () = drained => Ok(()),
        }
    }
}

impl crate::Server {
    /// Serves Streamable HTTP at `addr` (such as `127.0.0.1:3000`; the endpoint is `/mcp`).
    pub async fn serve_http(self, addr: impl tokio::net::ToSocketAddrs) -> Result<()> {
        self.build()?.serve_http(addr).await
    }
}

/// `GET /sse` (2024-11-05 HTTP+SSE): the same checks as the endpoint, then a stream.
#[cfg(feature = "legacy-sse")]
async fn legacy_open(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(refused) = admit(&shared, &headers).await {
        return refused;
    }
    legacy_sse::open(&shared.core, &shared.service, &shared.legacy, "/messages")
}

/// `POST /messages?session_id=…` (2024-11-05 HTTP+SSE).
#[cfg(feature = "legacy-sse")]
async fn legacy_post(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = admit(&shared, &headers).await {
        return refused;
    }
    legacy_sse::post(&shared.legacy, uri.query(), &body).await
}

/// The `Host`/`Origin` checks and, when configured, the bearer token.
#[cfg(feature = "legacy-sse")]
async fn admit(shared: &Shared, headers: &HeaderMap) -> std::result::Result<(), Response> {
    check_host_and_origin(&shared.options, headers)?;
    if let Some(auth) = &shared.options.authorization {
        auth.check(headers).await?;
    }
    Ok(())
}
