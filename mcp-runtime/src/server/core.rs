//! What a built server shares among all its connections: the catalog, its answers serialised
//! once, the sealer and the calls parked between stateless rounds.

use super::catalog::{Catalog, Registry};
use super::engine::parked::ParkedCalls;
use super::engine::seal::Sealer;
use super::era::{CacheScope, Framing};
use super::events::Event;
use super::middleware::McpService;
use super::state::StateMap;
use super::store::Store;
use super::task::{TaskOptions, Tasks};
use super::visibility::Rule;
use crate::error::{Error, Result};
use crate::protocol::capabilities::{Enabled, ListCapability, ResourcesCapability};
use crate::protocol::types::TASKS_EXTENSION;
use crate::protocol::{Implementation, ProtocolVersion, ServerCapabilities};
use serde_json::json;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

/// Lists resources when asked: see [`Server::list_resources_with`].
pub(crate) type Lister = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<crate::protocol::Resource>> + Send>>
        + Send
        + Sync,
>;

#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) page_size: Option<usize>,
    pub(crate) cache_ttl: Duration,
    pub(crate) cache_scope: CacheScope,
    pub(crate) max_message_bytes: usize,
    pub(crate) drain_timeout: Duration,
    pub(crate) client_timeout: Duration,
    pub(crate) state_ttl: Duration,
    pub(crate) state_key: Option<[u8; 32]>,
    pub(crate) replay: bool,
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) tasks: TaskOptions,
}

pub(crate) struct Core {
    /// What is served now; replaced whole on a change.
    pub(crate) catalog: RwLock<Arc<Catalog>>,
    /// Everything registered, enabled or not: the source the catalog is built from.
    pub(crate) registry: Mutex<Registry>,
    /// Lists resources per request, beside the fixed ones.
    pub(crate) lister: Option<Lister>,
    pub(crate) events: tokio::sync::broadcast::Sender<Event>,
    /// What the server advertised when it started (lists may change later).
    pub(crate) capabilities: ServerCapabilities,
    /// The `server/discover` result, serialised.
    pub(crate) discover: Vec<u8>,
    /// The `initialize` result after its `protocolVersion`, serialised:
    /// `"capabilities":…,"serverInfo":…` (and `"instructions":…`), then the closing brace.
    pub(crate) initialize_rest: Vec<u8>,
    /// How stateless-era results close.
    pub(crate) framing: Framing,
    /// The last stateless client's capabilities and info, as read from `_meta`.
    pub(crate) clients: super::era::ClientCache,
    pub(crate) state: Arc<StateMap>,
    pub(crate) sealer: Sealer,
    pub(crate) parked: ParkedCalls,
    /// State that outlives one request (used `requestState` nonces).
    pub(crate) store: Arc<dyn Store>,
    /// Tasks: their state in the store, and the ones running here.
    pub(crate) tasks: Arc<Tasks>,
    /// The layers every request passes through; `None` when there are none.
    pub(crate) middleware: Option<McpService>,
    /// Which components each principal sees, when the server has a rule.
    pub(crate) visibility: Option<Rule>,
    pub(crate) options: Options,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("server_info", &self.framing.server_info)
            .finish_non_exhaustive()
    }
}

/// What a [`Server`](crate::Server) builds its core from.
pub(crate) struct Setup {
    pub(crate) info: Implementation,
    pub(crate) instructions: Option<String>,
    pub(crate) registry: Registry,
    pub(crate) lister: Option<Lister>,
    pub(crate) state: StateMap,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) options: Options,
    pub(crate) middleware: Option<McpService>,
    pub(crate) visibility: Option<Rule>,
}

impl Core {
    pub(crate) fn new(setup: Setup) -> Result<Self> {
        let Setup {
            info,
            instructions,
            registry,
            lister,
            state,
            store,
            options,
            middleware,
            visibility,
        } = setup;
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
            // The handshake era's tasks; `server/discover` offers the extension instead.
            tasks: catalog
                .has_tasks()
                .then(|| json!({ "list": {}, "cancel": {}, "requests": { "tools": { "call": {} } } })),
            extensions: None,
        };
        let mut stateless = capabilities.clone();
        if stateless.tasks.take().is_some() {
            stateless.extensions = Some(serde_json::Map::from_iter([(TASKS_EXTENSION.to_owned(), json!({}))]));
        }

        let mut discover = serde_json::Map::new();
        discover.insert("supportedVersions".into(), json!(ProtocolVersion::ALL));
        discover.insert("capabilities".into(), json!(stateless));
        if let Some(i) = &instructions {
            discover.insert("instructions".into(), json!(i));
        }
        let discover = framing.cacheable(serde_json::to_vec(&discover).expect("serialises"));

        let mut initialize_rest = br#""capabilities":"#.to_vec();
        serde_json::to_writer(&mut initialize_rest, &capabilities).expect("serialises");
        initialize_rest.extend_from_slice(br#","serverInfo":"#);
        serde_json::to_writer(&mut initialize_rest, &framing.server_info).expect("serialises");
        if let Some(i) = &instructions {
            initialize_rest.extend_from_slice(br#","instructions":"#);
            serde_json::to_writer(&mut initialize_rest, i).expect("serialises");
        }
        initialize_rest.push(b'}');

        let events = tokio::sync::broadcast::channel(256).0;
        let tasks = Arc::new(Tasks::new(Arc::clone(&store), options.tasks));
        Ok(Self {
            catalog: RwLock::new(Arc::new(catalog)),
            registry: Mutex::new(registry),
            lister,
            events,
            capabilities,
            discover,
            initialize_rest,
            framing,
            clients: super::era::ClientCache::default(),
            state: Arc::new(state),
            sealer: Sealer::new(options.state_key, options.state_ttl),
            parked: ParkedCalls::default(),
            store,
            tasks,
            middleware,
            visibility,
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
