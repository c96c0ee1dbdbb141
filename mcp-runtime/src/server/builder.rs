//! The builder: what a server is, what it offers, and how it answers, before it serves.

use super::catalog::Registry;
use super::core::{Core, Lister, Options, Setup};
use super::era::CacheScope;
use super::middleware::{self, McpService, Wrap};
use super::principal::Principal;
use super::prompt::PromptDef;
use super::resource::ResourceDef;
use super::service::Service;
use super::state::StateMap;
use super::store::{MemoryStore, Store};
use super::task::TaskOptions;
use super::tool::ToolDef;
use super::visibility::{Component, Rule};
use crate::error::Result;
use crate::protocol::Implementation;
use crate::transport::{self, Transport};
use std::sync::Arc;
use std::time::Duration;

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
    prompts: Vec<PromptDef>,
    resources: Vec<ResourceDef>,
    lister: Option<Lister>,
    state: StateMap,
    store: Arc<dyn Store>,
    options: Options,
    layers: Vec<Wrap>,
    visibility: Option<Rule>,
    /// What `mount` found wrong, reported by `build`.
    problems: Vec<String>,
    /// Run once the server is built, with its `Service`.
    hooks: Vec<Hook>,
}

/// What [`Server::on_build`] runs.
type Hook = Box<dyn FnOnce(&Service) + Send>;

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
            store: Arc::new(MemoryStore::new()),
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
                tasks: TaskOptions::default(),
            },
            layers: Vec::new(),
            visibility: None,
            problems: Vec::new(),
            hooks: Vec::new(),
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
    pub fn prompt(mut self, prompt: PromptDef) -> Self {
        self.prompts.push(prompt);
        self
    }

    /// Adds prompts: `mcp::prompts![a, b]`, or `mcp::all_prompts!()`.
    #[must_use]
    pub fn prompts(mut self, prompts: impl IntoIterator<Item = PromptDef>) -> Self {
        self.prompts.extend(prompts);
        self
    }

    /// Adds one resource or resource template.
    #[must_use]
    pub fn resource(mut self, resource: ResourceDef) -> Self {
        self.resources.push(resource);
        self
    }

    /// Adds resources and templates: `mcp::resources![a, b]`, or `mcp::all_resources!()`.
    /// A URI is looked up among fixed resources first, then tried against the templates in
    /// the order they were added.
    #[must_use]
    pub fn resources(mut self, resources: impl IntoIterator<Item = ResourceDef>) -> Self {
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

    /// Where state that outlives one request is kept (by default, this process's memory). A
    /// fleet of replicas that share a store and a [`request_state_key`](Self::request_state_key)
    /// acts as one server: a sealed `requestState` completes once across all of them.
    ///
    /// ```no_run
    /// # #[cfg(feature = "redis")]
    /// # fn demo() -> mcp_runtime::Result<()> {
    /// let server = mcp_runtime::Server::new("pay", "1.0.0")
    ///     .store(mcp_runtime::store::RedisStore::open("redis://127.0.0.1:6379/")?);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Arc::new(store);
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

    /// How long a task is kept after it is created, result included (default 1 hour). A
    /// handshake-era client may ask for less, or more up to 24 hours; a task still running
    /// when its time is up is cancelled and forgotten.
    #[must_use]
    pub fn task_ttl(mut self, ttl: Duration) -> Self {
        self.options.tasks.ttl = ttl.max(Duration::from_secs(1));
        self.options.tasks.max_ttl = self.options.tasks.max_ttl.max(self.options.tasks.ttl);
        self
    }

    /// How often clients are told to poll a task (default 500 ms).
    #[must_use]
    pub fn task_poll_interval(mut self, interval: Duration) -> Self {
        self.options.tasks.poll = interval.max(Duration::from_millis(1));
        self
    }

    /// How long, with a shared store, a replica's lease on its tasks lasts without renewal
    /// (default 6 s, renewed every third of it): a task whose replica stopped is picked up by
    /// another replica after at most this long, on its next `tasks/get`, `tasks/update` or
    /// `tasks/cancel`.
    #[must_use]
    pub fn task_lease(mut self, lease: Duration) -> Self {
        self.options.tasks.lease = lease.max(Duration::from_millis(300));
        self
    }

    /// The most tasks one replica runs at once (default 100,000); more are refused with an
    /// error until some end.
    #[must_use]
    pub fn max_tasks(mut self, max: usize) -> Self {
        self.options.tasks.max_running = max.max(1);
        self
    }

    /// Serves one client over this process's stdin and stdout until stdin closes, or until
    /// SIGTERM or Ctrl-C; calls in flight may then finish, up to the drain timeout. With a
    /// terminal on stdin, it first says on stderr how to connect a client (see
    /// [`run`](Self::run), which also chooses between stdio and HTTP).
    pub async fn serve_stdio(self) -> Result<()> {
        let service = self.build()?;
        super::hint::stdio_hint(&super::hint::server_name(&service), false);
        service.serve_stdio().await
    }

    /// Wraps every request the server serves in `layer`: a tower [`Layer`](tower::Layer) over
    /// [`middleware::Request`](crate::middleware::Request), such as
    /// [`middleware::from_fn`](crate::middleware::from_fn) or tower's own (concurrency limits,
    /// timeouts, load shedding). The first layer given is the outermost: it sees each request
    /// first and its answer last. See [`middleware`](crate::middleware).
    #[must_use]
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<McpService> + Send + Sync + 'static,
        L::Service:
            tower::Service<middleware::Request, Response = middleware::Response> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<middleware::Request>>::Error: Into<tower::BoxError>,
        <L::Service as tower::Service<middleware::Request>>::Future: Send + 'static,
    {
        self.layers.push(middleware::wrap(layer));
        self
    }

    /// Which components each principal sees: `rule(component, principal)` (the principal is
    /// `None` when the transport verified no token). A component the rule hides is not listed
    /// and, called, is answered as if it did not exist. Each handshake-era session can also
    /// hide and show components for itself, from a handler: [`Context::hide`](crate::Context::hide).
    #[must_use]
    pub fn visibility<F>(mut self, rule: F) -> Self
    where
        F: Fn(&Component, Option<&Principal>) -> bool + Send + Sync + 'static,
    {
        self.visibility = Some(Arc::new(rule));
        self
    }

    /// Serves `other`'s tools, prompts and resources as this server's own, under `prefix`: a
    /// tool or prompt `name` becomes `{prefix}_{name}`; resources keep their URIs (see
    /// [`mount_prefixing_uris`](Self::mount_prefixing_uris)). Its shared state joins this
    /// server's; its handlers' `Context` is this server's, so `ctx.sample` reaches this
    /// server's client. What is about serving (options, store, layers, visibility) is this
    /// server's. Adding, removing or enabling components later, through the built
    /// [`Service`], sends `list_changed` as for any other. A state type both servers hold, or
    /// two resource listers, make `build` fail.
    #[must_use]
    pub fn mount(self, prefix: &str, other: Server) -> Self {
        self.mount_with(prefix, other, |uri| uri.to_owned())
    }

    /// [`mount`](Self::mount), with resource URIs prefixed too: `scheme://rest` becomes
    /// `scheme://{prefix}/rest` (and the same for URI templates).
    #[must_use]
    pub fn mount_prefixing_uris(self, prefix: &str, other: Server) -> Self {
        let p = prefix.to_owned();
        self.mount_with(prefix, other, move |uri| match uri.split_once("://") {
            Some((scheme, rest)) => format!("{scheme}://{p}/{rest}"),
            None => format!("{p}/{uri}"),
        })
    }

    fn mount_with(mut self, prefix: &str, other: Server, uri: impl Fn(&str) -> String) -> Self {
        let name = |n: &str| format!("{prefix}_{n}");
        for mut tool in other.tools {
            tool.tool.name = name(&tool.tool.name);
            self.tools.push(tool);
        }
        for mut prompt in other.prompts {
            prompt.prompt.name = name(&prompt.prompt.name);
            self.prompts.push(prompt);
        }
        for resource in other.resources {
            match resource.renamed(&uri) {
                Ok(resource) => self.resources.push(resource),
                Err(e) => self.problems.push(format!("mounting `{prefix}`: {e}")),
            }
        }
        if self.state.merge(other.state) > 0 {
            self.problems.push(format!(
                "mounting `{prefix}`: both servers share state of the same type; give it to this server only"
            ));
        }
        match (&self.lister, other.lister) {
            (_, None) => {}
            (None, Some(lister)) => self.lister = Some(lister),
            (Some(_), Some(_)) => self.problems.push(format!(
                "mounting `{prefix}`: both servers list resources with a function"
            )),
        }
        self.problems.extend(other.problems);
        self.hooks.extend(other.hooks);
        self
    }

    /// Runs `hook` once the server is built, with its [`Service`]: for what must follow the
    /// server while it serves (a proxy follows its upstream's lists).
    #[must_use]
    pub fn on_build(mut self, hook: impl FnOnce(&Service) + Send + 'static) -> Self {
        self.hooks.push(Box::new(hook));
        self
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
        let Self {
            info,
            instructions,
            tools,
            prompts,
            resources,
            lister,
            state,
            store,
            options,
            layers,
            visibility,
            problems,
            hooks,
        } = self;
        if !problems.is_empty() {
            return Err(crate::Error::Config(problems.join("; ")));
        }
        let registry = Registry {
            tools: tools.into_iter().map(|t| (t, true)).collect(),
            prompts: prompts.into_iter().map(|p| (p, true)).collect(),
            resources: resources.into_iter().map(|r| (r, true)).collect(),
        };
        Core::new(Setup {
            info,
            instructions,
            registry,
            lister,
            state,
            store,
            options,
            middleware: middleware::stack(&layers),
            visibility,
        })
        .map(|core| {
            let service = Service { core: Arc::new(core) };
            for hook in hooks {
                hook(&service);
            }
            service
        })
    }
}
