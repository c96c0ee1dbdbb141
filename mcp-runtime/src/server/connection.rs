//! One connection to a client: what its handshake said (if any), what it subscribed to, who it
//! is, and its outbound [`Link`].
//!
//! The connection's jobs live beside it: reading and routing messages (`incoming`), serving
//! each group of methods (`methods/`), running calls (`engine/`), and the loop that drives a
//! transport (`driver`).

use super::context::{Principal, ServiceHandle};
use super::core::Core;
use super::era::Requester;
use super::events::ListKind;
use super::link::{Link, Out};
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
    /// The tasks created on this connection, oldest first (`tasks/list` without a principal).
    pub(crate) tasks: Mutex<Vec<String>>,
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
        Self {
            core,
            link: Arc::new(link),
            session: OnceLock::new(),
            subscriptions: Mutex::new(HashSet::new()),
            listens: Mutex::new(HashMap::new()),
            principal: None,
            service,
            tasks: Mutex::new(Vec::new()),
        }
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
