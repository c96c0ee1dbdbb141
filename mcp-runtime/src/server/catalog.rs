//! What the server offers right now: the registry of tools, prompts and resources (each enabled
//! or not), and the catalog built from it, with its lookup tables and serialised list pages.
//!
//! Requests read the current catalog (one `Arc` clone); a change builds a new one once and
//! swaps it in, so lists are serialised once per change, never per request.

use super::era::{Framing, Pages};
use super::prompt::PromptDef;
use super::resource::{self, ResourceDef};
use super::state::StateMap;
use super::tool::ToolDef;
use super::visibility::Component;
use crate::protocol::Method;
use mcp_grammar::{TOOL_NAME_RULE, is_valid_tool_name};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Everything registered, enabled or not.
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) tools: Vec<(ToolDef, bool)>,
    pub(crate) prompts: Vec<(PromptDef, bool)>,
    pub(crate) resources: Vec<(ResourceDef, bool)>,
}

/// A tool served now, with its name shared by the calls that run it.
pub(crate) struct ToolEntry {
    pub(crate) def: ToolDef,
    pub(crate) name: Arc<str>,
}

/// What is served now.
pub(crate) struct Catalog {
    pub(crate) tools: Vec<ToolEntry>,
    pub(crate) tool_index: HashMap<Arc<str>, usize>,
    pub(crate) tool_pages: Pages,
    pub(crate) prompts: Vec<PromptDef>,
    pub(crate) prompt_index: HashMap<String, usize>,
    pub(crate) prompt_pages: Pages,
    pub(crate) resources: Vec<ResourceDef>,
    /// Fixed resources by URI.
    pub(crate) resource_index: HashMap<String, usize>,
    /// Templates, in the order they were added.
    pub(crate) templates: Vec<usize>,
    pub(crate) resource_pages: Pages,
    pub(crate) template_pages: Pages,
    /// Whether some tool requires scopes: lists then depend on the caller.
    pub(crate) has_scopes: bool,
}

impl Catalog {
    /// Builds the catalog of what is enabled, or says everything that is wrong with it.
    pub(crate) fn build(
        registry: &Registry,
        state: &StateMap,
        page_size: Option<usize>,
        framing: &Framing,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let mut check_state = |what: &str, needs: &[(std::any::TypeId, &'static str)]| {
            for (id, type_name) in needs {
                if !state.contains(*id) {
                    problems.push(format!(
                        "{what} needs shared state of type `{type_name}`: add it with `Server::state(..)`"
                    ));
                }
            }
        };
        let mut names = Vec::new();
        let mut tools = Vec::new();
        let mut tool_index = HashMap::new();
        for (def, _) in registry.tools.iter().filter(|(_, on)| *on) {
            let name: Arc<str> = Arc::from(def.name());
            if !is_valid_tool_name(&name) {
                names.push(format!("invalid tool name `{name}`: use {TOOL_NAME_RULE}"));
            }
            check_state(&format!("tool `{name}`"), &def.needs_state);
            names.extend(def.problems.iter().map(|p| format!("tool `{name}`: {p}")));
            if tool_index.insert(Arc::clone(&name), tools.len()).is_some() {
                names.push(format!("two tools are named `{name}`"));
            }
            tools.push(ToolEntry { def: def.clone(), name });
        }
        let prompts: Vec<PromptDef> = registry
            .prompts
            .iter()
            .filter(|(_, on)| *on)
            .map(|(p, _)| p.clone())
            .collect();
        let mut prompt_index = HashMap::new();
        for (i, p) in prompts.iter().enumerate() {
            check_state(&format!("prompt `{}`", p.name()), &p.needs_state);
            if prompt_index.insert(p.name().to_owned(), i).is_some() {
                names.push(format!("two prompts are named `{}`", p.name()));
            }
        }
        let resources: Vec<ResourceDef> = registry
            .resources
            .iter()
            .filter(|(_, on)| *on)
            .map(|(r, _)| r.clone())
            .collect();
        let mut resource_index = HashMap::new();
        let mut templates = Vec::new();
        let mut seen = HashSet::new();
        for (i, r) in resources.iter().enumerate() {
            check_state(&format!("resource `{}`", r.uri()), &r.needs_state);
            match &r.kind {
                resource::Kind::Fixed(res) => {
                    if resource_index.insert(res.uri.clone(), i).is_some() {
                        names.push(format!("two resources have the URI `{}`", res.uri));
                    }
                }
                resource::Kind::Template { template, .. } => {
                    if !seen.insert(template.uri_template.clone()) {
                        names.push(format!("two resource templates are `{}`", template.uri_template));
                    }
                    templates.push(i);
                }
            }
        }
        problems.extend(names);
        if !problems.is_empty() {
            return Err(problems);
        }

        let has_scopes = tools.iter().any(|t| !t.def.scopes.is_empty());
        let mut catalog = Self {
            tools,
            tool_index,
            tool_pages: Pages::default(),
            prompts,
            prompt_index,
            prompt_pages: Pages::default(),
            resources,
            resource_index,
            templates,
            resource_pages: Pages::default(),
            template_pages: Pages::default(),
            has_scopes,
        };
        let all = |_: &Component, _: &[String]| true;
        catalog.tool_pages = catalog.pages(Method::ToolsList, &all, page_size, framing);
        catalog.prompt_pages = catalog.pages(Method::PromptsList, &all, page_size, framing);
        catalog.resource_pages = catalog.pages(Method::ResourcesList, &all, page_size, framing);
        catalog.template_pages = catalog.pages(Method::ResourcesTemplatesList, &all, page_size, framing);
        Ok(catalog)
    }

    /// The pages of the list `method` names, of the components `keep` keeps (given each one's
    /// required scopes): serialised once per catalog change for everyone, or per request when
    /// what a client sees depends on who it is.
    pub(crate) fn pages(
        &self,
        method: Method,
        keep: &dyn Fn(&Component, &[String]) -> bool,
        page_size: Option<usize>,
        framing: &Framing,
    ) -> Pages {
        let value = |v: &dyn erased::Ser| v.to_value();
        let (key, items): (&str, Vec<Value>) = match method {
            Method::ToolsList => (
                "tools",
                self.tools
                    .iter()
                    .filter(|e| keep(&Component::Tool(e.name.to_string()), &e.def.scopes))
                    .map(|e| value(&e.def.tool))
                    .collect(),
            ),
            Method::PromptsList => (
                "prompts",
                self.prompts
                    .iter()
                    .filter(|p| keep(&Component::Prompt(p.name().to_owned()), &[]))
                    .map(|p| value(&p.prompt))
                    .collect(),
            ),
            Method::ResourcesList => (
                "resources",
                self.resources
                    .iter()
                    .filter_map(|r| match &r.kind {
                        resource::Kind::Fixed(res) => {
                            keep(&Component::Resource(res.uri.clone()), &[]).then(|| value(res))
                        }
                        resource::Kind::Template { .. } => None,
                    })
                    .collect(),
            ),
            _ => (
                "resourceTemplates",
                self.templates
                    .iter()
                    .filter_map(|&i| match &self.resources[i].kind {
                        resource::Kind::Template { template, .. } => {
                            keep(&Component::Resource(template.uri_template.clone()), &[]).then(|| value(template))
                        }
                        resource::Kind::Fixed(_) => None,
                    })
                    .collect(),
            ),
        };
        Pages::build(key, &items, page_size, framing)
    }

    /// Whether any prompt or resource has a completer.
    /// Whether some tool runs as a task.
    pub(crate) fn has_tasks(&self) -> bool {
        self.tools
            .iter()
            .any(|t| t.def.task_support() != crate::protocol::TaskSupport::Forbidden)
    }

    pub(crate) fn has_completions(&self) -> bool {
        self.prompts.iter().any(|p| !p.completers.is_empty()) || self.resources.iter().any(|r| !r.completers.is_empty())
    }
}

mod erased {
    /// Serialises any definition to JSON (a small object-safe wrapper over `Serialize`).
    pub(super) trait Ser {
        fn to_value(&self) -> serde_json::Value;
    }

    impl<T: serde::Serialize> Ser for T {
        fn to_value(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("definitions serialise")
        }
    }
}
