//! The list methods: pages serialised once per catalog change, and `resources/list` built per
//! request when the server lists resources with a function.

use crate::protocol::params::ListParams;
use crate::protocol::{Method, ProtocolVersion, RequestId};
use crate::server::connection::Connection;
use crate::server::incoming::{Collect, Follow};
use crate::server::resource;
use crate::server::visibility::{Component, Seen};
use serde_json::{Value, json};
use std::sync::Arc;

impl Connection {
    /// A page of a list the catalog keeps serialised.
    pub(crate) fn list(
        &self,
        id: &RequestId,
        method: Method,
        version: ProtocolVersion,
        params: &ListParams,
    ) -> Vec<u8> {
        let catalog = self.core.catalog();
        if self.lists_depend_on_client(&catalog) {
            let keep = |c: &Component, scopes: &[String]| self.sees(c, scopes) == Seen::Yes;
            let options = &self.core.options;
            let pages = catalog.pages(method, &keep, options.page_size, &self.core.framing);
            return pages.answer(id, version, params);
        }
        let pages = match method {
            Method::ToolsList => &catalog.tool_pages,
            Method::PromptsList => &catalog.prompt_pages,
            Method::ResourcesList => &catalog.resource_pages,
            _ => &catalog.template_pages,
        };
        pages.answer(id, version, params)
    }

    /// `resources/list` with a lister: the fixed resources and what the lister returns, one page.
    pub(crate) fn list_dynamic(
        self: &Arc<Self>,
        id: RequestId,
        version: ProtocolVersion,
        collect: Collect,
    ) -> Option<Vec<u8>> {
        let lister = Arc::clone(self.core.lister.as_ref().expect("checked by the caller"));
        let catalog = self.core.catalog();
        let mut resources: Vec<Value> = catalog
            .resources
            .iter()
            .filter_map(|r| match &r.kind {
                resource::Kind::Fixed(res) => serde_json::to_value(res).ok(),
                resource::Kind::Template { .. } => None,
            })
            .collect();
        let core = Arc::clone(&self.core);
        let reply_id = id.clone();
        let work = async move {
            resources.extend(lister().await.iter().filter_map(|r| serde_json::to_value(r).ok()));
            Some(
                core.framing
                    .cached(&reply_id, version, &json!({ "resources": resources })),
            )
        };
        self.answer_when_ready(id, collect, work, Follow::Untracked)
    }
}
