//! The methods that run a handler: `tools/call`, `prompts/get` and `resources/read`. Each finds
//! what it names in the catalog and hands the engine the future to run.

use crate::protocol::jsonrpc::encode_error;
use crate::protocol::params::{CallParams, FromParams, ReadResourceParams};
use crate::protocol::{CallToolResult, ErrorObject, Method, RequestId};
use crate::server::call::ToolCall;
use crate::server::connection::Connection;
use crate::server::engine::outcome::Outcome;
use crate::server::engine::panic::{catch, panicked, run_tool};
use crate::server::engine::start::{CallRequest, identity_if_needed};
use crate::server::era::{self, Requester};
use crate::server::incoming::Collect;
use crate::server::prompt::PromptOutput;
use crate::server::resource::{self, ResourceOutput};
use crate::server::tool::ToolOutput;
use crate::server::uri_template::Refused;
use serde_json::{Map, Value, json};
use std::sync::Arc;

impl Connection {
    pub(crate) fn call_tool(
        self: &Arc<Self>,
        id: RequestId,
        params: Option<Value>,
        req: Requester,
        collect: Collect,
    ) -> Option<Vec<u8>> {
        let CallParams {
            name,
            arguments,
            input,
            meta,
        } = match CallParams::read(Method::ToolsCall, params) {
            Ok(p) => p,
            Err(e) => return Some(encode_error(Some(&id), &e)),
        };
        let catalog = self.core.catalog();
        let Some(&index) = catalog.tool_index.get(name.as_str()) else {
            let e = ErrorObject::invalid_params(format!("Unknown tool: {name}"));
            return Some(encode_error(Some(&id), &e));
        };
        let entry = &catalog.tools[index];
        let uses_context = entry.def.uses_context;
        let identity = identity_if_needed(
            &req,
            uses_context,
            &input,
            || json!({ "name": name, "arguments": arguments }),
        );
        let handler = Arc::clone(&entry.def.handler);
        let (tool_name, wrap) = (Arc::clone(&entry.name), entry.def.wrap);
        let timeout = self.core.options.call_timeout;
        let call = CallRequest {
            id,
            method: Method::ToolsCall,
            identity,
            input,
            meta,
            req,
            uses_context,
            collect,
        };
        self.start(call, move |parts| {
            let call = ToolCall::new(Arc::clone(&tool_name), arguments, parts, wrap);
            Box::pin(async move {
                let name = Arc::clone(&call.name);
                let run = run_tool(&*handler, call, &name);
                let output = match timeout {
                    None => run.await,
                    Some(limit) => tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
                        ToolOutput::Result(CallToolResult::error(format!(
                            "the tool `{name}` did not finish within {} ms",
                            limit.as_millis()
                        )))
                    }),
                };
                Outcome::Tool(output)
            })
        })
    }

    pub(crate) fn get_prompt(
        self: &Arc<Self>,
        id: RequestId,
        params: Option<Value>,
        req: Requester,
        collect: Collect,
    ) -> Option<Vec<u8>> {
        let CallParams {
            name,
            arguments,
            input,
            meta,
        } = match CallParams::read(Method::PromptsGet, params) {
            Ok(p) => p,
            Err(e) => return Some(encode_error(Some(&id), &e)),
        };
        let catalog = self.core.catalog();
        let Some(&index) = catalog.prompt_index.get(&name) else {
            let e = ErrorObject::invalid_params(format!("Unknown prompt: {name}"));
            return Some(encode_error(Some(&id), &e));
        };
        let def = &catalog.prompts[index];
        let identity = identity_if_needed(
            &req,
            def.uses_context,
            &input,
            || json!({ "name": name, "arguments": arguments }),
        );
        let handler = Arc::clone(&def.handler);
        let prompt_name: Arc<str> = Arc::from(name.as_str());
        let call = CallRequest {
            id,
            method: Method::PromptsGet,
            identity,
            input,
            meta,
            req,
            uses_context: def.uses_context,
            collect,
        };
        self.start(call, move |parts| {
            let call = ToolCall::new(prompt_name, arguments, parts, false);
            Box::pin(async move {
                Outcome::Prompt(catch(|| handler(call), || PromptOutput::Error(panicked("prompt"))).await)
            })
        })
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
        let Some((index, vars)) = found else {
            return Some(encode_error(Some(&id), &era::not_found(req.version, &uri)));
        };
        let def = &catalog.resources[index];
        let handler = Arc::clone(&def.handler);
        let mime = def.mime_type.clone();
        let name: Arc<str> = Arc::from(def.name());
        let uri_for_outcome: Arc<str> = Arc::from(uri.as_str());
        let call = CallRequest {
            id,
            method: Method::ResourcesRead,
            identity: json!({ "uri": uri }),
            input,
            meta,
            req,
            uses_context: def.uses_context,
            collect,
        };
        self.start(call, move |parts| {
            let mut call = ToolCall::new(name, vars, parts, false);
            call.uri = Some(uri);
            call.mime = mime;
            Box::pin(async move {
                let output = catch(|| handler(call), || ResourceOutput::Error(panicked("resource"))).await;
                Outcome::Resource(output, uri_for_outcome)
            })
        })
    }
}
