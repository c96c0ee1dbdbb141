//! `completion/complete`: suggestions for a prompt's or a resource template's argument.

use crate::protocol::jsonrpc::encode_error;
use crate::protocol::params::{CompleteParams, CompletionRef};
use crate::protocol::{ErrorObject, ProtocolVersion, RequestId};
use crate::server::connection::Connection;
use crate::server::incoming::{Collect, Follow};
use serde_json::json;
use std::sync::Arc;

impl Connection {
    pub(crate) fn complete(
        self: &Arc<Self>,
        id: RequestId,
        params: CompleteParams,
        version: ProtocolVersion,
        collect: Collect,
    ) -> Option<Vec<u8>> {
        let catalog = self.core.catalog();
        let completers = match &params.reference {
            CompletionRef::Prompt(name) => match catalog.prompt_index.get(name) {
                Some(&i) => &catalog.prompts[i].completers,
                None => {
                    let e = ErrorObject::invalid_params(format!("Unknown prompt: {name}"));
                    return Some(encode_error(Some(&id), &e));
                }
            },
            CompletionRef::Resource(uri) => match catalog.resources.iter().find(|r| r.uri() == uri) {
                Some(r) => &r.completers,
                None => {
                    let e = ErrorObject::invalid_params(format!("Unknown resource or template: {uri}"));
                    return Some(encode_error(Some(&id), &e));
                }
            },
        };
        let completer = completers
            .iter()
            .find(|(name, _)| *name == params.argument)
            .map(|(_, c)| c.clone());
        let core = Arc::clone(&self.core);
        let value = params.value;
        let reply_id = id.clone();
        let work = async move {
            let completion = match completer {
                Some(c) => c.complete(value).await,
                None => json!({ "values": [], "total": 0, "hasMore": false }),
            };
            Some(
                core.framing
                    .plain(&reply_id, version, &json!({ "completion": completion })),
            )
        };
        self.answer_when_ready(id, collect, work, Follow::Untracked)
    }
}
