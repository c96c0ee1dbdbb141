//! What a built server shares among all its connections: the catalog, its answers serialised
//! once, the sealer and the calls parked between stateless rounds.

use super::builder::{Lister, Options, Server};
use super::catalog::{Catalog, Registry};
use super::engine::parked::ParkedCalls;
use super::engine::seal::Sealer;
use super::era::Framing;
use super::events::Event;
use super::state::StateMap;
use crate::error::{Error, Result};
use crate::protocol::capabilities::{Enabled, ListCapability, ResourcesCapability};
use crate::protocol::{ProtocolVersion, ServerCapabilities};
use serde_json::json;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

pub(crate) struct Core {
    /// What is served now; replaced whole on a change.
    pub(crate) catalog: RwLock<Arc<Catalog>>,
    /// Everything registered, enabled or not: the source the catalog is built from.
    pub(crate) registry: Mutex<Registry>,
    /// Lists resources per request, beside the fixed ones.
    pub(crate) lister: Option<Lister>,
    pub(crate) events: tokio::sync::broadcast::Sender<Event>,
    pub(crate) instructions: Option<String>,
    /// What the server advertised when it started (lists may change later).
    pub(crate) capabilities: ServerCapabilities,
    /// The `server/discover` result, serialised.
    pub(crate) discover: Vec<u8>,
    /// How stateless-era results close.
    pub(crate) framing: Framing,
    pub(crate) state: Arc<StateMap>,
    pub(crate) sealer: Sealer,
    pub(crate) parked: ParkedCalls,
    pub(crate) options: Options,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("server_info", &self.framing.server_info)
            .finish_non_exhaustive()
    }
}

impl Core {
    pub(crate) fn new(server: Server) -> Result<Self> {
        let Server {
            info,
            instructions,
            tools,
            prompts,
            resources,
            lister,
            state,
            options,
        } = server;
        let registry = Registry {
            tools: tools.into_iter().map(|t| (t, true)).collect(),
            prompts: prompts.into_iter().map(|p| (p, true)).collect(),
            resources: resources.into_iter().map(|r| (r, true)).collect(),
        };
        let framing = Framing::new(&info, options.cache_ttl, options.cache_scope);
        let catalog = Catalog::build(&registry, &state, options.page_size, &framing)
            .map_err(|problems| Error::Config(problems.join("; ")))?;

        // What exists when the server starts decides what it advertises; lists may change later.
        let listed = Some(ListCapability { list_changed: true });
        let capabilities = ServerCapabilities {
            tools: listed.filter(|_| !catalog.tools.is_empty()),
            prompts: listed.filter(|_| !catalog.prompts.is_empty()),
            resources: (!catalog.resources.is_empty() || lister.is_some()).then_some(ResourcesCapability {
                subscribe: true,
                list_changed: true,
            }),
            completions: catalog.has_completions().then_some(Enabled {}),
            logging: Some(Enabled {}),
            experimental: None,
        };

        let mut discover = serde_json::Map::new();
        discover.insert("supportedVersions".into(), json!(ProtocolVersion::ALL));
        discover.insert("capabilities".into(), json!(capabilities));
        if let Some(i) = &instructions {
            discover.insert("instructions".into(), json!(i));
        }
        let discover = framing.cacheable(serde_json::to_vec(&discover).expect("serialises"));

        Ok(Self {
            catalog: RwLock::new(Arc::new(catalog)),
            registry: Mutex::new(registry),
            lister,
            events: tokio::sync::broadcast::channel(256).0,
            instructions,
            capabilities,
            discover,
            framing,
            state: Arc::new(state),
            sealer: Sealer::new(options.state_key, options.state_ttl),
            parked: ParkedCalls::default(),
            options,
        })
    }

    /// What is served now.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The server's name and version, as JSON.
    pub(crate) fn server_info(&self) -> &serde_json::Value {
        &self.framing.server_info
    }
}
