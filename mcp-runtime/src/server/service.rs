//! A built server ([`Service`]): what it serves now, changed while it serves.

use super::catalog::{Catalog, Registry};
use super::context::{Context, ServiceHandle};
use super::core::Core;
use super::events::{Event, ListKind};
use super::prompt::PromptDef;
use super::resource::ResourceDef;
use super::tool::ToolDef;
use crate::error::{Error, Result};
use crate::protocol::ProtocolVersion;
use std::sync::Arc;

/// A built server: cheap to clone, serving any number of connections.
#[derive(Clone, Debug)]
pub struct Service {
    pub(crate) core: Arc<Core>,
}

impl Service {
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
        catalog.tool_pages.for_version(version).get(page).cloned()
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
    pub fn add_prompt(&self, prompt: PromptDef) -> Result<()> {
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
    pub fn add_resource(&self, resource: ResourceDef) -> Result<()> {
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

    fn change(&self, kind: ListKind, f: impl FnOnce(&mut Registry)) -> Result<()> {
        self.change_if(kind, |r| {
            f(r);
            true
        })
        .map(drop)
    }

    /// Applies a change to the registry, rebuilds the catalog once, swaps it in and announces
    /// it; a change that would make the catalog invalid is undone and reported.
    fn change_if(&self, kind: ListKind, f: impl FnOnce(&mut Registry) -> bool) -> Result<bool> {
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
        match Catalog::build(&registry, &core.state, core.options.page_size, &core.framing) {
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

impl Service {
    /// Tells every client subscribed to `uri` that the resource changed
    /// (`notifications/resources/updated`): handshake-era subscribers, and stateless-era
    /// `subscriptions/listen` streams that asked for it.
    pub fn resource_updated(&self, uri: impl Into<String>) {
        let _ = self.core.events.send(Event::ResourceUpdated(uri.into()));
    }

    /// This service as the contexts of the requests it serves hold it: make one per transport
    /// or endpoint, and share it among its connections.
    pub(crate) fn handle(&self) -> ServiceHandle {
        Arc::new(self.clone())
    }
}

impl Context {
    /// Tells every client subscribed to `uri` that the resource changed.
    pub fn resource_updated(&self, uri: impl Into<String>) {
        self.service().resource_updated(uri);
    }

    /// The server serving this request: to add, remove, enable or disable tools, prompts and
    /// resources while serving (clients hear that the lists changed).
    pub fn service(&self) -> &Service {
        self.parts
            .service
            .downcast_ref::<Service>()
            .expect("a request's parts hold the Service serving it")
    }
}
