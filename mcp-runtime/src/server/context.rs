//! What a handler can know about the request it serves, and ask of the client behind it.

use super::engine::mrtr::Mrtr;
use super::peer::{Peer, Reply, cannot_ask};
pub use super::principal::Principal;
use super::state::StateMap;
use super::task::tasks::Running;
use super::visibility::{Component, Hidden};
use crate::error::{Error, Result};
pub use crate::protocol::LogLevel;
use crate::protocol::jsonrpc::encode_notification;
use crate::protocol::method::MethodName;
use crate::protocol::params::InputResponses;
use crate::protocol::{ClientCapabilities, Implementation, Method, ProtocolVersion, RequestId};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// How a request reaches the client for sampling, elicitation and roots.
pub(crate) enum Exchange {
    /// Handshake era: real JSON-RPC requests on the connection.
    Handshake(Arc<dyn Peer>),
    /// Stateless era: input requests collected into `input_required` rounds.
    Stateless {
        mrtr: Arc<Mrtr>,
        /// The `inputResponses` of this request, as sent.
        input_responses: Option<SentAnswers>,
        /// State a handler returned by hand, verified and unwrapped.
        user_state: Option<String>,
        /// The handler runs again from the top, its earlier requests answered from state.
        replay: bool,
    },
}

/// A request's `inputResponses` as sent, read into values only if a handler asks for them
/// ([`Context::input_responses`]): `ctx.sample(..)` reads its answer from the text.
pub(crate) struct SentAnswers {
    texts: InputResponses,
    values: std::sync::OnceLock<Map<String, Value>>,
}

impl SentAnswers {
    pub(crate) fn new(texts: InputResponses) -> Self {
        Self {
            texts,
            values: std::sync::OnceLock::new(),
        }
    }

    fn values(&self) -> &Map<String, Value> {
        self.values.get_or_init(|| self.texts.to_values())
    }
}

/// Answers to input requests a handler wrote by hand, when it runs again with them outside a
/// stateless round (handshake era, or inside a task).
pub(crate) struct Answered {
    pub(crate) input_responses: Option<Map<String, Value>>,
    pub(crate) user_state: Option<String>,
}

/// The request being answered now. In the stateless era each round is a new request, with its
/// own progress token and log level.
pub(crate) struct Round {
    /// The request answered in this round.
    pub(crate) request_id: RequestId,
    /// Where this round's notifications go.
    pub(crate) peer: Arc<dyn Peer>,
    pub(crate) progress_token: Option<Value>,
    /// Index into the log levels; `None`: this request asked for no logs.
    pub(crate) log_level: Option<usize>,
    pub(crate) last_progress: Option<f64>,
    /// The answer went out: no more notifications for this request.
    pub(crate) finished: bool,
}

/// Cooperative cancellation of one request.
#[derive(Default)]
pub(crate) struct Cancel {
    flag: AtomicBool,
    notify: Notify,
}

impl Cancel {
    pub(crate) fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
}

/// The `Service` serving a connection, as its requests' contexts hold it (made once per served
/// transport or HTTP endpoint; see `RequestParts::service`).
pub(crate) type ServiceHandle = Arc<dyn Any + Send + Sync>;

/// The parts of one request that handlers and extractors read.
pub struct RequestParts {
    pub(crate) request_id: RequestId,
    pub(crate) version: ProtocolVersion,
    pub(crate) client_capabilities: Arc<ClientCapabilities>,
    pub(crate) client_info: Option<Arc<Implementation>>,
    pub(crate) meta: Option<Map<String, Value>>,
    pub(crate) state: Arc<StateMap>,
    pub(crate) exchange: Exchange,
    pub(crate) round: Mutex<Round>,
    pub(crate) cancel: Arc<Cancel>,
    /// Set when a handler asked for a capability the client lacks (for `-32021`).
    pub(crate) missing_capability: Mutex<Option<Value>>,
    pub(crate) client_timeout: Duration,
    /// The `Service` serving the request, behind `Any`: the service sits above the context in
    /// the layering (it holds the catalog, whose handlers take a `Context`), so the context
    /// names it only where `Context::service` is defined, in `service.rs`.
    pub(crate) service: ServiceHandle,
    pub(crate) principal: Option<Arc<Principal>>,
    /// Set when the handler runs again with the answers to what it asked by hand.
    pub(crate) answered: Option<Answered>,
    /// The task this call runs as, if it does.
    pub(crate) task: Option<Arc<Running>>,
    /// Handshake era: what this session's handlers hid from it.
    pub(crate) hidden: Option<Arc<Hidden>>,
}

impl fmt::Debug for RequestParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestParts")
            .field("request_id", &self.request_id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl RequestParts {
    pub(crate) fn round(&self) -> std::sync::MutexGuard<'_, Round> {
        self.round.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The request's context, injected into any handler that takes it (under any name, by value or
/// by reference). Through it a tool asks the *client* for things: a completion from its model
/// ([`sample`](Context::sample)), input from its user ([`elicit`](Context::elicit)), its roots;
/// and it logs, reports progress and notices cancellation.
///
/// The same calls work in both protocol eras:
///
/// - **handshake era** (2025-11-25 and earlier): each request goes to the client at once and the
///   tool waits for the answer;
/// - **stateless era** (2026-07-28): the server may not send requests. The call is answered with
///   `input_required`, listing what the tool asked for, and the tool waits, parked, until the
///   client calls again with the answers. If the parked tool is gone (a restart, another replica,
///   expiry), the tool runs again *from the top*: every request it made before is answered at once
///   from the sealed state, so code before a `ctx.sample` may run twice. [`Context::is_replay`]
///   tells it; `Server::replay(false)` turns replay off.
///
/// Cloning is cheap (one reference count).
#[derive(Clone)]
pub struct Context {
    pub(crate) parts: Arc<RequestParts>,
}

impl Context {
    pub(crate) fn new(parts: Arc<RequestParts>) -> Self {
        Self { parts }
    }

    /// The id of the request being served.
    pub fn request_id(&self) -> &RequestId {
        &self.parts.request_id
    }

    /// The protocol revision of this request.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.parts.version
    }

    /// Whether the request is served statelessly (2026-07-28 and later).
    pub fn is_stateless(&self) -> bool {
        self.parts.version.is_stateless()
    }

    /// The capabilities the client declared.
    pub fn client_capabilities(&self) -> &ClientCapabilities {
        &self.parts.client_capabilities
    }

    /// The client's self-reported name and version. Never use it for security decisions.
    pub fn client_info(&self) -> Option<&Implementation> {
        self.parts.client_info.as_deref()
    }

    /// The request's `params._meta`, if any, without the stateless era's own keys (its
    /// protocol version, client capabilities, client info and log level), which
    /// [`protocol_version`](Self::protocol_version), [`client_capabilities`](Self::client_capabilities)
    /// and [`client_info`](Self::client_info) give read.
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        self.parts.meta.as_ref()
    }

    /// Shared state of type `T`, if the server holds one.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.parts.state.get::<T>()
    }

    /// Whether this run of the handler is a replay: the stateless era lost the parked
    /// continuation, and the handler runs again from the top with the answers it already had.
    /// Skip side effects that must not happen twice when this is true.
    pub fn is_replay(&self) -> bool {
        matches!(&self.parts.exchange, Exchange::Stateless { replay: true, .. })
    }

    /// The retry's `inputResponses`, as sent (stateless era). For handlers that return
    /// [`InputRequired`](crate::InputRequired) themselves.
    pub fn input_responses(&self) -> Option<&Map<String, Value>> {
        if let Some(answered) = &self.parts.answered {
            return answered.input_responses.as_ref();
        }
        match &self.parts.exchange {
            Exchange::Stateless { input_responses, .. } => input_responses.as_ref().map(SentAnswers::values),
            Exchange::Handshake(_) => None,
        }
    }

    /// The state a handler put in its [`InputRequired`](crate::InputRequired), verified: the
    /// server seals it, so a client cannot change it.
    pub fn request_state(&self) -> Option<&str> {
        if let Some(answered) = &self.parts.answered {
            return answered.user_state.as_deref();
        }
        match &self.parts.exchange {
            Exchange::Stateless { user_state, .. } => user_state.as_deref(),
            Exchange::Handshake(_) => None,
        }
    }

    /// Who made the request, when the HTTP endpoint verifies tokens.
    pub fn principal(&self) -> Option<&Principal> {
        self.parts.principal.as_deref()
    }

    /// Hides `component` from this client's session (handshake era): it is no longer listed,
    /// and calling it is answered as if it did not exist. The client is told its list changed.
    /// A stateless-era request has no session: the rule of
    /// [`Server::visibility`](crate::Server::visibility) is for that.
    pub fn hide(&self, component: Component) -> Result<()> {
        self.set_visible(component, false)
    }

    /// Shows `component` again in this client's session, after [`hide`](Self::hide).
    pub fn show(&self, component: Component) -> Result<()> {
        self.set_visible(component, true)
    }

    fn set_visible(&self, component: Component, visible: bool) -> Result<()> {
        let Some(hidden) = &self.parts.hidden else {
            return Err(Error::Message(
                "a stateless-era request has no session to hide components from; use Server::visibility".into(),
            ));
        };
        let list = component.list();
        if hidden.set(component, !visible) {
            let peer = Arc::clone(&self.parts.round().peer);
            peer.notify(encode_notification(list.notification().as_str(), &json!({})), None);
        }
        Ok(())
    }

    /// Whether `other` serves a request of the same client: the same connection now.
    pub(crate) fn same_client(&self, other: &Context) -> bool {
        // One lock at a time: `other` may be this very context.
        let ours = Arc::clone(&self.parts.round().peer);
        let theirs = Arc::clone(&other.parts.round().peer);
        std::ptr::addr_eq(Arc::as_ptr(&ours), Arc::as_ptr(&theirs))
    }

    /// The id of the task this call runs as, if it runs as one.
    pub fn task_id(&self) -> Option<&str> {
        self.parts.task.as_ref().map(|t| t.id.as_str())
    }

    /// Whether the client cancelled this request.
    pub fn is_cancelled(&self) -> bool {
        self.parts.cancel.flag.load(Ordering::SeqCst)
    }

    /// Resolves when the client cancels this request: for work that checks cooperatively.
    /// (The tool's future is also dropped at its next `.await` after a cancellation.)
    pub async fn cancelled(&self) {
        loop {
            let notified = self.parts.cancel.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    /// Sends a log message to the client, if it asked for this level: by `logging/setLevel`
    /// (handshake era) or by this request's `_meta` log level (stateless era: nothing unless asked).
    pub fn log(&self, level: LogLevel, data: impl Serialize) {
        let (peer, threshold, related) = {
            let round = self.parts.round();
            if round.finished {
                return;
            }
            let threshold = match &self.parts.exchange {
                Exchange::Handshake(peer) => Some(peer.log_level()),
                Exchange::Stateless { .. } => round.log_level,
            };
            (Arc::clone(&round.peer), threshold, round.request_id.clone())
        };
        if threshold.is_some_and(|t| level as usize >= t) {
            let params = json!({ "level": level.as_str(), "data": data });
            peer.notify(
                encode_notification(Method::LogMessage.as_str(), &params),
                Some(&related),
            );
        }
    }

    /// Logs at `debug`.
    pub fn debug(&self, message: impl fmt::Display) {
        self.log(LogLevel::Debug, message.to_string());
    }

    /// Logs at `info`.
    pub fn info(&self, message: impl fmt::Display) {
        self.log(LogLevel::Info, message.to_string());
    }

    /// Logs at `notice`.
    pub fn notice(&self, message: impl fmt::Display) {
        self.log(LogLevel::Notice, message.to_string());
    }

    /// Logs at `warning`.
    pub fn warning(&self, message: impl fmt::Display) {
        self.log(LogLevel::Warning, message.to_string());
    }

    /// Logs at `error`.
    pub fn error(&self, message: impl fmt::Display) {
        self.log(LogLevel::Error, message.to_string());
    }

    /// Reports progress, if the request carried a `progressToken`. Values that do not increase
    /// are not sent (the protocol requires progress to increase). In a task, progress becomes
    /// the task's `statusMessage` (the message, else `progress/total`).
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        if let Some(task) = &self.parts.task {
            task.set_message(match (message, total) {
                (Some(m), _) => m.to_owned(),
                (None, Some(t)) => format!("{progress}/{t}"),
                (None, None) => format!("{progress}"),
            });
            if self.is_stateless() {
                return;
            }
        }
        let (peer, token, related) = {
            let mut round = self.parts.round();
            let Some(token) = round.progress_token.clone() else {
                return;
            };
            if round.finished || round.last_progress.is_some_and(|last| progress <= last) {
                return;
            }
            round.last_progress = Some(progress);
            (Arc::clone(&round.peer), token, round.request_id.clone())
        };
        let mut params = json!({ "progressToken": token, "progress": progress });
        if let Some(t) = total {
            params["total"] = json!(t);
        }
        if let Some(m) = message {
            params["message"] = json!(m);
        }
        peer.notify(encode_notification(Method::Progress.as_str(), &params), Some(&related));
    }

    /// Fails with [`Error::MissingCapability`] unless the client declared `capability`, a dotted
    /// path such as `sampling`, `sampling.tools`, `elicitation.url` or `roots`. Returned from a
    /// tool with `?`, it becomes `-32021` (stateless era) or an error result (handshake era).
    pub fn require_capability(&self, capability: &str) -> Result<()> {
        self.require(self.client_capabilities().declares(capability), capability)
    }

    /// Sends the client a request of the protocol's own kinds (`sampling/createMessage`,
    /// `elicitation/create`, `roots/list`) as given, and returns its raw result, in either era:
    /// for what [`sample`](Context::sample), [`elicit`](Context::elicit) and
    /// [`roots`](Context::roots) do not cover. `key` names it among the call's input requests
    /// (stateless era); the caller checks the client's capabilities.
    pub async fn request(&self, method: impl MethodName, params: Value, key: Option<&str>) -> Result<Value> {
        let params = serde_json::value::to_raw_value(&params)?;
        self.ask(
            method.method_name().to_owned().into(),
            params,
            key.map(str::to_owned),
            "request",
        )
        .await?
        .into_value()
    }

    /// Fails with [`Error::MissingCapability`] unless the client declared `name`; the failure
    /// is remembered, so that a tool which does not handle it gets `-32021` (stateless era).
    /// `name` is a dotted path, such as `sampling.tools`.
    pub(crate) fn require(&self, present: bool, name: &str) -> Result<()> {
        if present {
            return Ok(());
        }
        let required = name.rsplit('.').fold(json!({}), |inner, key| json!({ key: inner }));
        if let Exchange::Handshake(peer) = &self.parts.exchange
            && !peer.can_ask()
        {
            return Err(Error::Message(cannot_ask(name)));
        }
        *self
            .parts
            .missing_capability
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(required);
        Err(Error::MissingCapability(name.to_owned()))
    }

    /// Asks the client: a request now (handshake era) or an input request (stateless era).
    pub(crate) async fn ask(
        &self,
        method: Cow<'static, str>,
        params: Box<RawValue>,
        key: Option<String>,
        prefix: &str,
    ) -> Result<Reply> {
        match &self.parts.exchange {
            Exchange::Handshake(peer) => {
                let related = self.parts.round().request_id.clone();
                let answer = peer
                    .request(&method, &params, self.parts.client_timeout, related)
                    .await?;
                Ok(Reply::Raw(answer))
            }
            Exchange::Stateless { mrtr, .. } => {
                let key = key.unwrap_or_else(|| mrtr.auto_key(prefix));
                Ok(mrtr.request(key, method, params).await)
            }
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.parts.request_id)
            .field("version", &self.parts.version)
            .finish_non_exhaustive()
    }
}
