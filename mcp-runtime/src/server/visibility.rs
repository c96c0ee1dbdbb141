//! Which tools, prompts and resources a client sees: a rule of the server's, per principal
//! ([`Server::visibility`](crate::Server::visibility)); the scopes a tool requires
//! (`#[mcp::tool(scopes = [..])]`); and what a handshake-era session's own handlers hid
//! ([`Context::hide`](crate::Context::hide)). A hidden component is not listed, and calling it
//! is answered as if it did not exist; a tool whose scopes the caller's token lacks is not
//! listed either, and calling it is refused with `insufficient_scope`.

use super::events::ListKind;
use super::principal::Principal;
use crate::protocol::{ErrorCode, ErrorObject};
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A component of the server, by kind and name; a resource by its URI (or URI template).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    /// A tool, by name.
    Tool(String),
    /// A prompt, by name.
    Prompt(String),
    /// A resource, by URI, or a resource template, by URI template.
    Resource(String),
}

impl Component {
    /// The tool `name`.
    pub fn tool(name: impl Into<String>) -> Self {
        Self::Tool(name.into())
    }

    /// The prompt `name`.
    pub fn prompt(name: impl Into<String>) -> Self {
        Self::Prompt(name.into())
    }

    /// The resource (or template) `uri`.
    pub fn resource(uri: impl Into<String>) -> Self {
        Self::Resource(uri.into())
    }

    /// The list it is in.
    pub(crate) fn list(&self) -> ListKind {
        match self {
            Self::Tool(_) => ListKind::Tools,
            Self::Prompt(_) => ListKind::Prompts,
            Self::Resource(_) => ListKind::Resources,
        }
    }
}

/// Whether a principal (`None` when the transport verified no token) sees a component.
pub(crate) type Rule = Arc<dyn Fn(&Component, Option<&Principal>) -> bool + Send + Sync>;

/// What one session's handlers hid from it.
#[derive(Default)]
pub(crate) struct Hidden {
    set: Mutex<HashSet<Component>>,
    /// Whether anything is hidden: lists are filtered only then.
    any: AtomicBool,
}

impl Hidden {
    /// Hides or shows `component`; whether that changed anything.
    pub(crate) fn set(&self, component: Component, hidden: bool) -> bool {
        let mut set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = if hidden {
            set.insert(component)
        } else {
            set.remove(&component)
        };
        self.any.store(!set.is_empty(), Ordering::Relaxed);
        changed
    }

    pub(crate) fn any(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    pub(crate) fn contains(&self, component: &Component) -> bool {
        self.any()
            && self
                .set
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(component)
    }
}

/// What a client may do with a component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Listed and usable.
    Yes,
    /// Not there, as far as this client can tell.
    Hidden,
    /// A tool whose scopes the caller's token lacks.
    MissingScopes,
}

/// Whether `principal` has every scope of `scopes` (no principal: no token was verified, so
/// there is nothing to check).
pub(crate) fn has_scopes(principal: Option<&Principal>, scopes: &[String]) -> bool {
    principal.is_none_or(|p| scopes.iter().all(|s| p.scopes.contains(s)))
}

/// The refusal of a call to a tool whose scopes the caller lacks: `insufficient_scope`, with
/// the scopes it needs (HTTP answers it with `403`).
pub(crate) fn insufficient_scope(tool: &str, scopes: &[String]) -> ErrorObject {
    ErrorObject::new(
        ErrorCode::INVALID_REQUEST,
        format!(
            "insufficient_scope: the tool `{tool}` needs the scopes {}",
            scopes.join(" ")
        ),
    )
    .with_data(json!({ "error": "insufficient_scope", "requiredScopes": scopes }))
}
