//! The methods that run a handler: `tools/call`, `prompts/get` and `resources/read`. Each finds
//! what it names in the catalog and hands the engine the future to run.

use crate::protocol::jsonrpc::encode_error;
use crate::protocol::params::{CallParams, FromParams, ReadResourceParams};
use crate::protocol::{CallToolResult, ErrorObject, Method, RequestId};
use crate::server::call::ToolCall;
use crate::server::connection::Connection;
use crate::server::context::RequestParts;
use crate::server::engine::outcome::Outcome;
use crate::server::engine::outcome::OutcomeFuture;
use crate::server::engine::panic::{catch, panicked, run_tool};
use crate::server::engine::rerun::Rerun;
use crate::server::engine::start::{CallRequest, NamedCall, UriRead};
use crate::server::era::{self, Requester};
use crate::server::incoming::Collect;
use crate::server::prompt::PromptOutput;
use crate::server::resource::{self, ResourceOutput};
use crate::server::task::start::TaskPlan;
use crate::server::tool::Handler;
use crate::server::tool::ToolOutput;
use crate::server::uri_template::Refused;
use crate::server::visibility::{Component, Seen, insufficient_scope};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// What builds a run of a tool: from a request's parts and the call's arguments, the future
/// that runs the handler. Kept to run the tool again (input asked by hand, a task's replay).
#[derive(Clone)]
pub(crate) struct ToolMaker {
    handler: Arc<Handler>,
    name: Arc<str>,
    wrap: bool,
    timeout: Option<Duration>,
}

impl ToolMaker {
    pub(crate) fn new(handler: Arc<Handler>, name: Arc<str>, wrap: bool, timeout: Option<Duration>) -> Self {
        Self {
            handler,
            name,
            wrap,
            timeout,
        }
    }

    /// A run of the tool, unboxed: the engine boxes it once, with its scope.
    pub(crate) fn run(
        &self,
        parts: Arc<RequestParts>,
        arguments: Map<String, Value>,
    ) -> impl Future<Output = Outcome> + Send + use<> {
        // A task runs as long as its time to live, not a call's timeout.
        let in_task = parts.task.is_some();
        let timeout = self.timeout.filter(|_| !in_task);
        let (handler, name, wrap) = (Arc::clone(&self.handler), Arc::clone(&self.name), self.wrap);
        async move {
            // Made here, not captured: the future holds the call's parts until its first poll,
            // not a whole `ToolCall`.
            let call = ToolCall::new(Arc::clone(&name), arguments, parts, wrap);
            let run = run_tool(&*handler, call, &name);
            let output = match timeout {
                None => run.await,
                Some(limit) => tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
                    Some(ToolOutput::Result(CallToolResult::error(format!(
                        "the tool `{name}` did not finish within {} ms",
                        limit.as_millis()
                    ))))
                }),
            };
            match output {
                Some(output) => Outcome::Tool(output),
                // A task's tool that panicked failed at the protocol level.
                None if in_task => Outcome::Failed(panicked(&format!("tool `{name}`"))),
                None => Outcome::Tool(ToolOutput::Result(CallToolResult::error(format!(
                    "the tool `{name}` failed: it panicked (the server logged the details)"
                )))),
            }
        }
    }

    /// A run of the tool, boxed: to run it again.
    pub(crate) fn rerun(&self, arguments: Map<String, Value>) -> Rerun {
        let make = self.clone();
        Arc::new(move |parts| Box::pin(make.run(parts, arguments.clone())) as OutcomeFuture)
    }
}

impl Connection {
    pub(crate) fn call_tool(
        self: &Arc<Self>,
        id: RequestId,
        params: Result<CallParams, ErrorObject>,
        req: Requester,
        collect: Collect,
    ) -> Option<Vec<u8>> {
        let CallParams {
            name,
            arguments,
            input,
            meta,
            task,
            ..
        } = match params {
            Ok(p) => p,
            Err(e) => return Some(encode_error(Some(&id), &e)),
        };
        let catalog = self.core.catalog();
        let Some(&index) = catalog.tool_index.get(name.as_str()) else {
            let e = ErrorObject::invalid_params(format!("Unknown tool: {name}"));
            return Some(encode_error(Some(&id), &e));
        };
        let entry = &catalog.tools[index];
        match self.refuse(|| Component::Tool(name.clone()), &entry.def.scopes) {
            None => {}
            Some(Seen::MissingScopes) => {
                return Some(encode_error(Some(&id), &insufficient_scope(&name, &entry.def.scopes)));
            }
            Some(_) => {
                let e = ErrorObject::invalid_params(format!("Unknown tool: {name}"));
                return Some(encode_error(Some(&id), &e));
            }
        }
        let uses_context = entry.def.uses_context;
        let task = match self.plan_task(entry.def.task_support(), &name, &req, task) {
            Ok(plan) => plan,
            Err(e) => return Some(encode_error(Some(&id), &e)),
        };
        let identity = NamedCall {
            arguments: &arguments,
            name: &name,
        };
        let digest = self.digest_if_needed(Method::ToolsCall, &req, uses_context, &input, &identity);
        let make = ToolMaker::new(
            Arc::clone(&entry.def.handler),
            Arc::clone(&entry.name),
            entry.def.wrap,
            self.core.options.call_timeout,
        );
        // Only a call that may run again keeps a copy of its arguments: a task, and a
        // handshake-era handler that may ask for input by hand.
        let rerun: Option<Rerun> =
            (task.is_some() || (!req.version.is_stateless() && uses_context)).then(|| make.rerun(arguments.clone()));
        let task = task.map(|era_ttl| TaskPlan::new(era_ttl, &name, &arguments, &req, meta.as_ref(), &input));
        let call = CallRequest {
            id,
            digest,
            input,
            meta,
            req,
            collect,
            rerun,
            task,
        };
        self.start(call, move |parts| make.run(parts, arguments))
    }

    pub(crate) fn get_prompt(
        self: &Arc<Self>,
        id: RequestId,
        params: Result<CallParams, ErrorObject>,
        req: Requester,
        collect: Collect,
    ) -> Option<Vec<u8>> {
        let CallParams {
            name,
            arguments,
            input,
            meta,
            ..
        } = match params {
            Ok(p) => p,
            Err(e) => return Some(encode_error(Some(&id), &e)),
        };
        let catalog = self.core.catalog();
        let index = catalog
            .prompt_index
            .get(&name)
            .copied()
            .filter(|_| self.refuse(|| Component::Prompt(name.clone()), &[]).is_none());
        let Some(index) = index else {
            let e = ErrorObject::invalid_params(format!("Unknown prompt: {name}"));
            return Some(encode_error(Some(&id), &e));
        };
        let def = &catalog.prompts[index];
        let identity = NamedCall {
            arguments: &arguments,
            name: &name,
        };
        let digest = self.digest_if_needed(Method::PromptsGet, &req, def.uses_context, &input, &identity);
        let handler = Arc::clone(&def.handler);
        let prompt_name: Arc<str> = Arc::from(name.as_str());
        let make = move |parts: Arc<RequestParts>, arguments: Map<String, Value>| -> OutcomeFuture {
            let call = ToolCall::new(Arc::clone(&prompt_name), arguments, parts, false);
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                Outcome::Prompt(catch(|| handler(call), || PromptOutput::Error(panicked("prompt"))).await)
            })
        };
        let rerun = rerun_by_hand(&req, def.uses_context, &make, &arguments);
        let call = CallRequest {
            id,
            digest,
            input,
            meta,
            req,
            collect,
            rerun,
            task: None,
        };
        self.start(call, move |parts| make(parts, arguments))
    }

    pub(crate) fn read_resource(
        self: &Arc<Self>,
        id: RequestId,
        params: Option<Value>,
        req: Requester,
        collect: Collect,
    ) -> Option<Vec<u8>> {
        let ReadResourceParams { uri, input, meta } = match ReadResourceParams::from_params(params) {
            Ok(p) => p,
            Err(e) => return Some(encode_error(Some(&id), &e)),
        };
        let catalog = self.core.catalog();
        let found = match catalog.resource_index.get(&uri) {
            Some(&i) => Some((i, Map::new())),
            None => {
                let mut found = None;
                for &i in &catalog.templates {
                    let resource::Kind::Template {
                        parsed,
                        allow_traversal,
                        ..
                    } = &catalog.resources[i].kind
                    else {
                        continue;
                    };
                    match parsed.match_uri(&uri, *allow_traversal) {
                        None => {}
                        Some(Ok(vars)) => {
                            found = Some((i, vars.into_iter().map(|(k, v)| (k, Value::String(v))).collect()));
                            break;
                        }
                        Some(Err(Refused::Unsafe(var))) => {
                            let e = ErrorObject::invalid_params(format!(
                                "refused `{uri}`: its `{var}` climbs out with `..` or holds a NUL byte"
                            ));
                            return Some(encode_error(Some(&id), &e));
                        }
                    }
                }
                found
            }
        };
        let found = found.filter(|(i, _)| {
            let key = match &catalog.resources[*i].kind {
                resource::Kind::Fixed(r) => &r.uri,
                resource::Kind::Template { template, .. } => &template.uri_template,
            };
            self.refuse(|| Component::Resource(key.clone()), &[]).is_none()
        });
        let Some((index, vars)) = found else {
            return Some(encode_error(Some(&id), &era::not_found(req.version, &uri)));
        };
        let def = &catalog.resources[index];
        let handler = Arc::clone(&def.handler);
        let mime = def.mime_type.clone();
        let name: Arc<str> = Arc::from(def.name());
        let uri_for_outcome: Arc<str> = Arc::from(uri.as_str());
        let digest = self.digest_if_needed(
            Method::ResourcesRead,
            &req,
            def.uses_context,
            &input,
            &UriRead { uri: &uri },
        );
        let make = move |parts: Arc<RequestParts>, vars: Map<String, Value>| -> OutcomeFuture {
            let mut call = ToolCall::new(Arc::clone(&name), vars, parts, false);
            call.uri = Some(uri_for_outcome.to_string());
            call.mime.clone_from(&mime);
            let (handler, uri) = (Arc::clone(&handler), Arc::clone(&uri_for_outcome));
            Box::pin(async move {
                let output = catch(|| handler(call), || ResourceOutput::Error(panicked("resource"))).await;
                Outcome::Resource(output, uri)
            })
        };
        let rerun = rerun_by_hand(&req, def.uses_context, &make, &vars);
        let call = CallRequest {
            id,
            digest,
            input,
            meta,
            req,
            collect,
            rerun,
            task: None,
        };
        self.start(call, move |parts| make(parts, vars))
    }
}

/// What runs a prompt or a resource handler again, in the handshake era, should it ask for
/// input by hand (only a handler that takes a `Context` can read the answers).
fn rerun_by_hand<F>(req: &Requester, uses_context: bool, make: &F, arguments: &Map<String, Value>) -> Option<Rerun>
where
    F: Fn(Arc<RequestParts>, Map<String, Value>) -> OutcomeFuture + Clone + Send + Sync + 'static,
{
    (!req.version.is_stateless() && uses_context).then(|| {
        let (make, arguments) = (make.clone(), arguments.clone());
        Arc::new(move |parts| make(parts, arguments.clone())) as Rerun
    })
}
