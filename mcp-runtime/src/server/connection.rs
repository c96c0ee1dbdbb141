//! One connection to a client: what its handshake said (if any), what it subscribed to, who it
//! is, and its outbound [`Link`].
//!
//! The connection's jobs live beside it: reading and routing messages (`incoming`), serving
//! each group of methods (`methods/`), running calls (`engine/`), and the loop that drives a
//! transport (`driver`).

use super::context::ServiceHandle;
use super::core::Core;
use super::era::Requester;
use super::events::ListKind;
use super::link::{Link, Out};
use super::principal::Principal;
use super::task::record::Era;
use super::visibility::{Component, Hidden, Seen, has_scopes};
use crate::protocol::{ClientCapabilities, Implementation, ProtocolVersion, RequestId};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// What `initialize` settled for a handshake-era connection.
pub(crate) struct Session {
    pub(crate) version: ProtocolVersion,
    pub(crate) capabilities: Arc<ClientCapabilities>,
    pub(crate) client_info: Option<Arc<Implementation>>,
}

/// What one `subscriptions/listen` request follows.
#[derive(Default)]
pub(crate) struct Listen {
    pub(crate) uris: Vec<String>,
    pub(crate) lists: Vec<ListKind>,
    pub(crate) tasks: Vec<String>,
}

pub(crate) struct Connection {
    pub(crate) core: Arc<Core>,
    pub(crate) link: Arc<Link>,
    pub(crate) session: OnceLock<Session>,
    /// Handshake era: the URIs this client subscribed to.
    pub(crate) subscriptions: Mutex<HashSet<String>>,
    /// Stateless era: open `subscriptions/listen` requests and what each follows.
    pub(crate) listens: Mutex<HashMap<RequestId, Listen>>,
    /// Who is on the other end, when the transport verified a token.
    pub(crate) principal: Option<Arc<Principal>>,
    /// The `Service` handlers reach through their `Context`.
    pub(crate) service: ServiceHandle,
    /// The tasks created on this connection, oldest first (`tasks/list`).
    pub(crate) tasks: Mutex<Vec<String>>,
    /// What handshake-era tasks are bound to besides the principal: the HTTP session's id
    /// (set by the HTTP front end), else a random name for this connection.
    pub(crate) binding: OnceLock<Arc<str>>,
    /// What this session's handlers hid from it.
    pub(crate) hidden: Arc<Hidden>,
    /// How long the session lasts, and over what (feature `otel`).
    #[cfg(feature = "otel")]
    pub(crate) clock: super::otel::SessionClock,
}

impl Connection {
    pub(crate) fn new(core: Arc<Core>, service: ServiceHandle, out: Out) -> Self {
        Self::with_link(core, service, Link::new(out))
    }

    /// A connection for one handshake-era request of a client served without a session: it
    /// speaks `version`, and can ask the client nothing.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // made by the HTTP front end
    pub(crate) fn one_shot(core: Arc<Core>, service: ServiceHandle, out: Out, version: ProtocolVersion) -> Self {
        let conn = Self::with_link(core, service, Link::one_shot(out));
        let _ = conn.session.set(Session {
            version,
            capabilities: Arc::default(),
            client_info: None,
        });
        conn
    }

    fn with_link(core: Arc<Core>, service: ServiceHandle, link: Link) -> Self {
        #[cfg(feature = "otel")]
        let clock = super::otel::SessionClock::new(if link.is_http() {
            super::otel::Transport::Http
        } else {
            super::otel::Transport::Pipe
        });
        Self {
            core,
            link: Arc::new(link),
            session: OnceLock::new(),
            subscriptions: Mutex::new(HashSet::new()),
            listens: Mutex::new(HashMap::new()),
            principal: None,
            service,
            tasks: Mutex::new(Vec::new()),
            binding: OnceLock::new(),
            hidden: Arc::default(),
            #[cfg(feature = "otel")]
            clock,
        }
    }

    /// The span and clock of request `id` (`None`: a notification): over HTTP, with the
    /// session's id.
    #[cfg(feature = "otel")]
    pub(crate) fn operation(
        &self,
        id: Option<&RequestId>,
        method: &crate::protocol::method::WireMethod,
        params: &crate::protocol::params::Params,
    ) -> super::otel::Operation {
        let transport = self.clock.transport();
        let session_id = self.binding.get().filter(|_| transport == super::otel::Transport::Http);
        super::otel::Operation::start(id, method, params, transport, session_id.map(|id| &**id))
    }

    /// Whom a task of `era` created on this connection belongs to: the principal, and in the
    /// handshake era also the session (a digest of its id), as 2025-11-25 binds tasks to it.
    /// A client served without sessions has nothing but its principal to be bound to.
    pub(crate) fn task_owner(&self, era: Era) -> Option<String> {
        let subject = self.principal.as_ref().map(|p| p.subject.as_str());
        if era == Era::Stateless || !super::peer::Peer::can_ask(&*self.link) {
            return subject.map(str::to_owned);
        }
        let binding = self
            .binding
            .get_or_init(|| crate::server::engine::seal::hex(&crate::server::engine::seal::random::<16>()).into());
        let digest =
            crate::server::engine::seal::request_digest("task-owner", &serde_json::json!(&**binding), None).to_hex();
        Some(format!("{}#{}", subject.unwrap_or_default(), &digest[..32]))
    }

    /// What this client may do with `component`, which requires `scopes`.
    pub(crate) fn sees(&self, component: &Component, scopes: &[String]) -> Seen {
        let principal = self.principal.as_deref();
        let ruled_out = self
            .core
            .visibility
            .as_ref()
            .is_some_and(|rule| !rule(component, principal));
        if ruled_out || self.hidden.contains(component) {
            Seen::Hidden
        } else if has_scopes(principal, scopes) {
            Seen::Yes
        } else {
            Seen::MissingScopes
        }
    }

    /// Why this client may not use `component` (`None`: it may). Costs nothing when no rule,
    /// hidden component or scope applies.
    pub(crate) fn refuse(&self, component: impl FnOnce() -> Component, scopes: &[String]) -> Option<Seen> {
        let restricted =
            self.core.visibility.is_some() || self.hidden.any() || (!scopes.is_empty() && self.principal.is_some());
        if !restricted {
            return None;
        }
        match self.sees(&component(), scopes) {
            Seen::Yes => None,
            refused => Some(refused),
        }
    }

    /// Whether what this client is listed depends on who it is: some rule, scope or hidden
    /// component applies.
    pub(crate) fn lists_depend_on_client(&self, catalog: &super::catalog::Catalog) -> bool {
        self.core.visibility.is_some() || self.hidden.any() || (catalog.has_scopes && self.principal.is_some())
    }

    /// Who asks on this connection, once it has initialized (handshake era).
    pub(crate) fn session_requester(&self) -> Option<Requester> {
        self.session.get().map(|session| Requester {
            version: session.version,
            capabilities: Arc::clone(&session.capabilities),
            client_info: session.client_info.clone(),
            log_level: None,
        })
    }

    /// Whether the session speaks 2025-03-26, the one revision with batches.
    pub(crate) fn allows_batches(&self) -> bool {
        self.session.get().is_some_and(|s| s.version.allows_batches())
    }

    /// Cancels a request in flight, as `notifications/cancelled` does: it gets no answer.
    pub(crate) fn cancel_request(&self, id: &RequestId) {
        self.listens.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
        self.link.cancel(id);
    }

    /// Lets in-flight calls finish (up to the drain timeout), then cancels the rest.
    pub(crate) async fn drain(&self) {
        self.link.drain(self.core.options.drain_timeout).await;
    }

    /// Cancels every call in flight: the client is gone.
    pub(crate) fn abort_all(&self) {
        self.link.abort_all();
    }
}
