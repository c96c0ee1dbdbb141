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

    /// An event of another replica of the fleet, delivered here (and not sent on again).
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // made by the HTTP front end
    FromPeer(Box<Event>),
}

impl Event {
    /// The event itself, wherever it happened.
    pub(crate) fn local(self) -> Event {
        match self {
            Self::FromPeer(event) => event.local(),
            event => event,
        }
    }

    /// The event as bytes, for the other replicas.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP front end
    pub(crate) fn encode(&self) -> Option<Vec<u8>> {
        match self {
            Self::ResourceUpdated(uri) => Some(format!("u {uri}").into_bytes()),
            Self::ListChanged(kind) => Some(format!("l {}", kind.listen_flag()).into_bytes()),

            Self::FromPeer(_) => None,
        }
    }

    /// An event another replica encoded.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP front end
    pub(crate) fn decode(bytes: &[u8]) -> Option<Event> {
        let text = std::str::from_utf8(bytes).ok()?;
        match text.split_once(' ')? {
            ("u", uri) => Some(Self::ResourceUpdated(uri.to_owned())),
            ("l", flag) => ListKind::ALL
                .into_iter()
                .find(|k| k.listen_flag() == flag)
                .map(Self::ListChanged),
            _ => None,
        }
    }
}
