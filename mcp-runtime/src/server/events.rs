//! What happens on a server that its clients may want to hear about.

use crate::protocol::Method;

/// Which list changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    Tools,
    Prompts,
    Resources,
}

impl ListKind {
    /// Every kind of list.
    pub(crate) const ALL: [ListKind; 3] = [Self::Tools, Self::Prompts, Self::Resources];

    /// The handshake-era notification that says it changed (also sent on `subscriptions/listen`).
    pub(crate) fn notification(self) -> Method {
        match self {
            Self::Tools => Method::ToolsListChanged,
            Self::Prompts => Method::PromptsListChanged,
            Self::Resources => Method::ResourcesListChanged,
        }
    }

    /// The `subscriptions/listen` flag that asks for it (stateless era).
    pub(crate) fn listen_flag(self) -> &'static str {
        match self {
            Self::Tools => "toolsListChanged",
            Self::Prompts => "promptsListChanged",
            Self::Resources => "resourcesListChanged",
        }
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
