//! The server: registration, the dispatch table, and both protocol eras.

pub(crate) mod catalog;
pub mod completion;
pub mod context;
pub(crate) mod dispatch;
pub mod extract;
pub mod log_layer;
pub(crate) mod mrtr;
pub mod prompt;
pub mod resource;
pub mod sampling;
pub mod schema;
pub(crate) mod seal;
pub(crate) mod strarg;
pub mod tool;
pub mod uri_template;

use crate::error::{Error, Result};
use crate::protocol::{Implementation, ProtocolVersion};
use crate::transport::{self, Transport};
use extract::StateMap;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tool::ToolDef;

/// An MCP server: what it is, what it offers, and how it answers.
///
/// With the `mcp` crate, tools come from `#[mcp::tool]` functions:
/// `Server::new("calc", "1.0.0").tools(mcp::tools![add]).serve_stdio().await`.
///
/// ```no_run
/// # async fn demo() -> mcp_runtime::Result<()> {
/// mcp_runtime::Server::new("calc", "1.0.0")
///     .instructions("Arithmetic.")
///     .serve_stdio()
///     .await
/// # }
/// ```
pub struct Server {
    info: Implementation,
    instructions: Option<String>,
    tools: Vec<ToolDef>,
    prompts: Vec<prompt::PromptDef>,
    resources: Vec<resource::ResourceDef>,
    lister: Option<Lister>,
    state: StateMap,
    options: Options,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("info", &self.info)
            .field("tools", &self.tools.len())
            .field("prompts", &self.prompts.len())
            .field("resources", &self.resources.len())
            .finish_non_exhaustive()
    }
}

/// Lists resources when asked: see [`Server::list_resources_with`].
pub(crate) type Lister = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<crate::protocol::Resource>> + Send>>
        + Send
        + Sync,
>;

/// How long clients may cache list results, and for whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheScope {
    /// Any cache may serve the result to any user.
    Public,
    /// Only the requesting user's cache may keep it.
    Private,
}

impl CacheScope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
        }
    }
}

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
}

impl Server {
    /// A server named `name` at `version`. Name the *application*: clients show it. The
    /// `mcp::server!` macro fills both from your crate's `Cargo.toml`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            info: Implementation {
                name: name.into(),
                version: version.into(),
                ..Implementation::default()
            },
            instructions: None,
            tools: Vec::new(),
            prompts: Vec::new(),
            resources: Vec::new(),
            lister: None,
            state: StateMap::default(),
            options: Options {
                page_size: None,
                cache_ttl: Duration::from_secs(60),
                cache_scope: CacheScope::Public,
                max_message_bytes: transport::DEFAULT_MAX_MESSAGE_BYTES,
                drain_timeout: Duration::from_secs(5),
                client_timeout: Duration::from_secs(120),
                state_ttl: Duration::from_secs(600),
                state_key: None,
                replay: true,
                call_timeout: None,
            },
        }
    }

    /// A display name.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.info.title = Some(title.into());
        self
    }

    /// A one-line description of the server.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.info.description = Some(description.into());
        self
    }

    /// The server's home page.
    #[must_use]
    pub fn website_url(mut self, url: impl Into<String>) -> Self {
        self.info.website_url = Some(url.into());
        self
    }

    /// Guidance for the model on how to use this server, sent at connection time.
    #[must_use]
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// Adds one tool.
    #[must_use]
    pub fn tool(mut self, tool: ToolDef) -> Self {
        self.tools.push(tool);
        self
    }

    /// Adds tools: `mcp::tools![a, b]`, or `mcp::all_tools!()` for every tool of the crate.
    #[must_use]
    pub fn tools(mut self, tools: impl IntoIterator<Item = ToolDef>) -> Self {
        self.tools.extend(tools);
        self
    }

    /// Adds one prompt.
    #[must_use]
    pub fn prompt(mut self, prompt: prompt::PromptDef) -> Self {
        self.prompts.push(prompt);
        self
    }

    /// Adds prompts: `mcp::prompts![a, b]`, or `mcp::all_prompts!()`.
    #[must_use]
    pub fn prompts(mut self, prompts: impl IntoIterator<Item = prompt::PromptDef>) -> Self {
        self.prompts.extend(prompts);
        self
    }

    /// Adds one resource or resource template.
    #[must_use]
    pub fn resource(mut self, resource: resource::ResourceDef) -> Self {
        self.resources.push(resource);
        self
    }

    /// Adds resources and templates: `mcp::resources![a, b]`, or `mcp::all_resources!()`.
    /// A URI is looked up among fixed resources first, then tried against the templates in
    /// the order they were added.
    #[must_use]
    pub fn resources(mut self, resources: impl IntoIterator<Item = resource::ResourceDef>) -> Self {
        self.resources.extend(resources);
        self
    }

    /// Adds to `resources/list` what `f` returns each time a client lists: resources that come
    /// and go (files, records), read through a matching template. Such a list is one page, built
    /// per request.
    #[must_use]
    pub fn list_resources_with<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Vec<crate::protocol::Resource>> + Send + 'static,
    {
        self.lister = Some(Arc::new(move || Box::pin(f())));
        self
    }

    /// Shares `value` with every handler: as `State<T>`, or as `&self` of a tool method on `T`.
    /// One value per type.
    #[must_use]
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(Arc::new(value));
        self
    }

    /// Shares a value already behind an `Arc`.
    #[must_use]
    pub fn state_arc<T: Send + Sync + 'static>(mut self, value: Arc<T>) -> Self {
        self.state.insert(value);
        self
    }

    /// Splits `tools/list` into pages of `n` (by default one page holds every tool).
    #[must_use]
    pub fn page_size(mut self, n: usize) -> Self {
        self.options.page_size = Some(n.max(1));
        self
    }

    /// How long clients may cache list results (2026-07-28 `ttlMs`; default 60 s), and for whom.
    #[must_use]
    pub fn cache(mut self, ttl: Duration, scope: CacheScope) -> Self {
        self.options.cache_ttl = ttl;
        self.options.cache_scope = scope;
        self
    }

    /// The largest message accepted (default 16 MiB); larger ones are refused with an error.
    #[must_use]
    pub fn max_message_bytes(mut self, limit: usize) -> Self {
        self.options.max_message_bytes = limit;
        self
    }

    /// How long in-flight calls may finish after the client closes its side (default 5 s).
    #[must_use]
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.options.drain_timeout = timeout;
        self
    }

    /// The longest a tool call may take, from the call to its result (none by default). A tool
    /// still running then is dropped and the call answered with an error result. The time counts
    /// waits for the client too (sampling, elicitation), so leave them room.
    #[must_use]
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.options.call_timeout = Some(timeout);
        self
    }

    /// How long a request to the client (sampling, elicitation, roots) may wait for its answer
    /// in the handshake era (default 120 s; a person may be approving it).
    #[must_use]
    pub fn client_request_timeout(mut self, timeout: Duration) -> Self {
        self.options.client_timeout = timeout;
        self
    }

    /// How long a stateless-era `requestState` stays valid, and a parked call waits for its
    /// retry (default 10 minutes).
    #[must_use]
    pub fn request_state_ttl(mut self, ttl: Duration) -> Self {
        self.options.state_ttl = ttl;
        self
    }

    /// The key that seals `requestState` (HMAC-SHA256). By default each process draws a random
    /// one; give every replica of a fleet the same secret key so any of them can continue a
    /// call another started.
    #[must_use]
    pub fn request_state_key(mut self, key: [u8; 32]) -> Self {
        self.options.state_key = Some(key);
        self
    }

    /// Whether a stateless-era retry whose parked call is gone runs the handler again from the
    /// top, answering its earlier client requests from the sealed state (default `true`). With
    /// `false`, such a retry is refused and the client must start over; the sealed state then
    /// carries no answers.
    #[must_use]
    pub fn replay(mut self, replay: bool) -> Self {
        self.options.replay = replay;
        self
    }

    /// Serves one client over this process's stdin and stdout until stdin closes, or until
    /// SIGTERM or Ctrl-C; calls in flight may then finish, up to the drain timeout.
    pub async fn serve_stdio(self) -> Result<()> {
        self.build()?.serve_stdio().await
    }

    /// Serves one client over any transport until it closes.
    pub async fn serve<T: Transport>(self, transport: T) -> Result<()> {
        let service = self.build()?;
        service.serve(transport).await
    }

    /// Checks the configuration and builds the dispatch tables and cached answers once.
    ///
    /// Fails on a tool name that is invalid or used twice, and on a handler that needs
    /// shared state the server does not hold.
    pub fn build(self) -> Result<Service> {
        Core::new(self).map(|core| Service { core: Arc::new(core) })
    }
}

/// A built server: cheap to clone, serving any number of connections.
#[derive(Clone, Debug)]
pub struct Service {
    pub(crate) core: Arc<Core>,
}

impl Service {
    /// Serves one connection until the peer closes it.
    pub async fn serve<T: Transport>(&self, transport: T) -> Result<()> {
        self.serve_with_shutdown(transport, std::future::pending()).await
    }

    /// Serves one connection until the peer closes it or `stop` resolves; either way, calls in
    /// flight may finish (up to the drain timeout) before it returns.
    pub async fn serve_with_shutdown<T: Transport>(
        &self,
        transport: T,
        stop: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        dispatch::serve(Arc::clone(&self.core), transport, stop).await
    }

    /// The names of the tools served now, in `tools/list` order.
    pub fn tool_names(&self) -> Vec<String> {
        self.core
            .catalog()
            .tools
            .iter()
            .map(|t| t.def.name().to_owned())
            .collect()
    }

    /// The names of the prompts served now, in `prompts/list` order.
    pub fn prompt_names(&self) -> Vec<String> {
        self.core
            .catalog()
            .prompts
            .iter()
            .map(|p| p.name().to_owned())
            .collect()
    }

    /// Finds a tool served now by name, in constant time.
    pub fn find_tool(&self, name: &str) -> Option<ToolDef> {
        let catalog = self.core.catalog();
        catalog.tool_index.get(name).map(|&i| catalog.tools[i].def.clone())
    }

    /// The cached `tools/list` page `page` as sent in `version` (result object only), or `None`
    /// past the last page. Served as these bytes, never serialised again until the list changes.
    pub fn cached_tools_page(&self, version: ProtocolVersion, page: usize) -> Option<Vec<u8>> {
        let catalog = self.core.catalog();
        let pages = if version.is_stateless() {
            &catalog.tool_pages.1
        } else {
            &catalog.tool_pages.0
        };
        pages.get(page).cloned()
    }

    /// Serves this process's stdin and stdout until stdin closes, or until SIGTERM or Ctrl-C,
    /// after which calls in flight may finish (up to the drain timeout).
    pub async fn serve_stdio(&self) -> Result<()> {
        let limit = self.core.options.max_message_bytes;
        let transport = transport::stdio::stdio().max_message_bytes(limit);
        // On a worker of the runtime, not on the thread that called (often `main`'s `block_on`):
        // the tasks it wakes, the writer first, then run on the same worker with no thread woken.
        let serving = tokio::spawn(dispatch::serve(Arc::clone(&self.core), transport, terminated()));
        match serving.await {
            Ok(result) => result,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => Err(Error::Io(std::io::Error::other(e))),
            },
        }
    }

    /// Adds a tool while serving; clients hear `notifications/tools/list_changed`.
    pub fn add_tool(&self, tool: ToolDef) -> Result<()> {
        self.change(ListKind::Tools, |r| r.tools.push((tool, true)))
    }

    /// Removes a tool by name; `false` if there was none.
    pub fn remove_tool(&self, name: &str) -> Result<bool> {
        self.change_if(ListKind::Tools, |r| remove_where(&mut r.tools, |t| t.name() == name))
    }

    /// Enables or disables a tool by name: a disabled tool is neither listed nor callable.
    /// `false` if there is no such tool.
    pub fn set_tool_enabled(&self, name: &str, enabled: bool) -> Result<bool> {
        self.change_if(ListKind::Tools, |r| {
            set_where(&mut r.tools, |t| t.name() == name, enabled)
        })
    }

    /// Adds a prompt while serving; clients hear `notifications/prompts/list_changed`.
    pub fn add_prompt(&self, prompt: prompt::PromptDef) -> Result<()> {
        self.change(ListKind::Prompts, |r| r.prompts.push((prompt, true)))
    }

    /// Removes a prompt by name; `false` if there was none.
    pub fn remove_prompt(&self, name: &str) -> Result<bool> {
        self.change_if(ListKind::Prompts, |r| {
            remove_where(&mut r.prompts, |p| p.name() == name)
        })
    }

    /// Enables or disables a prompt by name; `false` if there is no such prompt.
    pub fn set_prompt_enabled(&self, name: &str, enabled: bool) -> Result<bool> {
        self.change_if(ListKind::Prompts, |r| {
            set_where(&mut r.prompts, |p| p.name() == name, enabled)
        })
    }

    /// Adds a resource or template while serving; clients hear
    /// `notifications/resources/list_changed`.
    pub fn add_resource(&self, resource: resource::ResourceDef) -> Result<()> {
        self.change(ListKind::Resources, |r| r.resources.push((resource, true)))
    }

    /// Removes a resource or template by its URI (or URI template); `false` if there was none.
    pub fn remove_resource(&self, uri: &str) -> Result<bool> {
        self.change_if(ListKind::Resources, |r| {
            remove_where(&mut r.resources, |x| x.uri() == uri)
        })
    }

    /// Enables or disables a resource or template by URI; `false` if there is no such one.
    pub fn set_resource_enabled(&self, uri: &str, enabled: bool) -> Result<bool> {
        self.change_if(ListKind::Resources, |r| {
            set_where(&mut r.resources, |x| x.uri() == uri, enabled)
        })
    }

    fn change(&self, kind: ListKind, f: impl FnOnce(&mut catalog::Registry)) -> Result<()> {
        self.change_if(kind, |r| {
            f(r);
            true
        })
        .map(drop)
    }

    /// Applies a change to the registry, rebuilds the catalog once, swaps it in and announces
    /// it; a change that would make the catalog invalid is undone and reported.
    fn change_if(&self, kind: ListKind, f: impl FnOnce(&mut catalog::Registry) -> bool) -> Result<bool> {
        let core = &self.core;
        let mut registry = core.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = (
            registry.tools.clone(),
            registry.prompts.clone(),
            registry.resources.clone(),
        );
        if !f(&mut registry) {
            return Ok(false);
        }
        match catalog::Catalog::build(&registry, &core.state, core.options.page_size, &core.cacheable_suffix) {
            Ok(catalog) => {
                *core.catalog.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(catalog);
                drop(registry);
                let _ = core.events.send(Event::ListChanged(kind));
                Ok(true)
            }
            Err(problems) => {
                (registry.tools, registry.prompts, registry.resources) = before;
                Err(Error::Config(problems.join("; ")))
            }
        }
    }
}

fn remove_where<T>(items: &mut Vec<(T, bool)>, matches: impl Fn(&T) -> bool) -> bool {
    let before = items.len();
    items.retain(|(t, _)| !matches(t));
    items.len() != before
}

fn set_where<T>(items: &mut [(T, bool)], matches: impl Fn(&T) -> bool, enabled: bool) -> bool {
    let mut found = false;
    for (t, on) in items.iter_mut() {
        if matches(t) {
            *on = enabled;
            found = true;
        }
    }
    found
}

/// Resolves on SIGTERM or Ctrl-C.
async fn terminated() {
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

impl Core {
    /// What is served now.
    pub(crate) fn catalog(&self) -> Arc<catalog::Catalog> {
        Arc::clone(&self.catalog.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// Which list changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    Tools,
    Prompts,
    Resources,
}

impl ListKind {
    /// The handshake-era notification, and the stateless `subscriptions/listen` flag.
    pub(crate) fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::Tools => ("notifications/tools/list_changed", "toolsListChanged"),
            Self::Prompts => ("notifications/prompts/list_changed", "promptsListChanged"),
            Self::Resources => ("notifications/resources/list_changed", "resourcesListChanged"),
        }
    }
}

pub(crate) struct ToolEntry {
    pub(crate) def: ToolDef,
    pub(crate) name: Arc<str>,
}

pub(crate) struct Core {
    /// What is served now; replaced whole on a change.
    pub(crate) catalog: std::sync::RwLock<Arc<catalog::Catalog>>,
    /// Everything registered, enabled or not: the source the catalog is built from.
    pub(crate) registry: std::sync::Mutex<catalog::Registry>,
    /// Lists resources per request, beside the fixed ones.
    pub(crate) lister: Option<Lister>,
    /// `,"ttlMs":…,"cacheScope":…` then the modern suffix: closes a cacheable modern result.
    pub(crate) cacheable_suffix: Vec<u8>,
    pub(crate) events: tokio::sync::broadcast::Sender<Event>,
    pub(crate) info: Implementation,
    pub(crate) instructions: Option<String>,
    pub(crate) capabilities: Value,
    pub(crate) discover: Vec<u8>,
    /// `,"resultType":"complete","_meta":{serverInfo}}`: closes a modern result object.
    pub(crate) modern_suffix: Vec<u8>,
    pub(crate) server_info_json: Value,
    pub(crate) state: Arc<StateMap>,
    pub(crate) sealer: seal::Sealer,
    pub(crate) parked: std::sync::Mutex<HashMap<String, dispatch::Parked>>,
    pub(crate) options: Options,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("info", &self.info).finish_non_exhaustive()
    }
}

/// Whether a tool name follows the protocol's rule: 1–128 characters of `[A-Za-z0-9_.-]`.
pub fn is_valid_tool_name(name: &str) -> bool {
    mcp_grammar::is_valid_tool_name(name)
}

impl Core {
    fn new(server: Server) -> Result<Self> {
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
        let registry = catalog::Registry {
            tools: tools.into_iter().map(|t| (t, true)).collect(),
            prompts: prompts.into_iter().map(|p| (p, true)).collect(),
            resources: resources.into_iter().map(|r| (r, true)).collect(),
        };

        let server_info_json = serde_json::to_value(&info).expect("implementation info serialises");
        let ttl_ms = u64::try_from(options.cache_ttl.as_millis()).unwrap_or(u64::MAX);
        let scope = options.cache_scope.as_str();
        let mut modern_suffix = br#""resultType":"complete","_meta":{"io.modelcontextprotocol/serverInfo":"#.to_vec();
        serde_json::to_writer(&mut modern_suffix, &server_info_json).expect("serialises");
        modern_suffix.extend_from_slice(b"}}");
        let mut cacheable_suffix = format!(r#""ttlMs":{ttl_ms},"cacheScope":"{scope}","#).into_bytes();
        cacheable_suffix.extend_from_slice(&modern_suffix);

        let catalog = catalog::Catalog::build(&registry, &state, options.page_size, &cacheable_suffix)
            .map_err(|problems| Error::Config(problems.join("; ")))?;

        // What exists when the server starts decides what it advertises; lists may change later.
        let mut capabilities = serde_json::Map::new();
        if !catalog.tools.is_empty() {
            capabilities.insert("tools".into(), json!({ "listChanged": true }));
        }
        if !catalog.prompts.is_empty() {
            capabilities.insert("prompts".into(), json!({ "listChanged": true }));
        }
        if !catalog.resources.is_empty() || lister.is_some() {
            capabilities.insert("resources".into(), json!({ "subscribe": true, "listChanged": true }));
        }
        if catalog.has_completions() {
            capabilities.insert("completions".into(), json!({}));
        }
        capabilities.insert("logging".into(), json!({}));
        let capabilities = Value::Object(capabilities);

        let mut discover = serde_json::Map::new();
        discover.insert("supportedVersions".into(), json!(ProtocolVersion::ALL));
        discover.insert("capabilities".into(), capabilities.clone());
        if let Some(i) = &instructions {
            discover.insert("instructions".into(), json!(i));
        }
        let discover = close_modern(serde_json::to_vec(&discover).expect("serialises"), &cacheable_suffix);

        Ok(Self {
            catalog: std::sync::RwLock::new(Arc::new(catalog)),
            registry: std::sync::Mutex::new(registry),
            lister,
            cacheable_suffix,
            events: tokio::sync::broadcast::channel(256).0,
            info,
            instructions,
            capabilities,
            discover,
            modern_suffix,
            server_info_json,
            state: Arc::new(state),
            sealer: seal::Sealer::new(options.state_key, options.state_ttl),
            parked: std::sync::Mutex::new(HashMap::new()),
            options,
        })
    }
}

/// Something that happened on the server that subscribers may want to hear about.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// The resource at this URI changed.
    ResourceUpdated(String),
    /// A list changed.
    ListChanged(ListKind),
}

impl Service {
    /// Tells every client subscribed to `uri` that the resource changed
    /// (`notifications/resources/updated`): handshake-era subscribers, and stateless-era
    /// `subscriptions/listen` streams that asked for it.
    pub fn resource_updated(&self, uri: impl Into<String>) {
        let _ = self.core.events.send(Event::ResourceUpdated(uri.into()));
    }
}

/// Turns a serialised result object into a modern one: `resultType` and `serverInfo` added.
pub(crate) fn close_modern(mut object: Vec<u8>, suffix: &[u8]) -> Vec<u8> {
    debug_assert_eq!(object.last(), Some(&b'}'));
    object.pop();
    if object.len() > 1 {
        object.push(b',');
    }
    object.extend_from_slice(suffix);
    object
}

pub(crate) fn encode_cursor(page: usize) -> String {
    format!("page:{page}")
}

pub(crate) fn decode_cursor(cursor: &str) -> Option<usize> {
    if cursor.is_empty() {
        return Some(0);
    }
    cursor.strip_prefix("page:")?.parse().ok()
}
