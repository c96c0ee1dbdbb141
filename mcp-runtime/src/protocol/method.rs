//! Every method name of the protocol, typed: parsed once from the wire, and knowing who serves
//! it, which era has it, and which server capability gates it.
//!
//! Code outside this module names methods by these variants, never by their strings, so a method
//! is added (or a third era described) here and nowhere else.

use std::fmt;

/// A method of MCP, in either direction: requests the server serves, requests the server sends
/// the client, and notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `initialize`: starts a handshake-era connection.
    Initialize,
    /// `ping`.
    Ping,
    /// `server/discover`: what a stateless-era server offers.
    ServerDiscover,
    /// `tools/list`.
    ToolsList,
    /// `tools/call`.
    ToolsCall,
    /// `prompts/list`.
    PromptsList,
    /// `prompts/get`.
    PromptsGet,
    /// `resources/list`.
    ResourcesList,
    /// `resources/templates/list`.
    ResourcesTemplatesList,
    /// `resources/read`.
    ResourcesRead,
    /// `resources/subscribe` (handshake era).
    ResourcesSubscribe,
    /// `resources/unsubscribe` (handshake era).
    ResourcesUnsubscribe,
    /// `subscriptions/listen` (stateless era).
    SubscriptionsListen,
    /// `completion/complete`.
    CompletionComplete,
    /// `logging/setLevel` (handshake era).
    LoggingSetLevel,
    /// `sampling/createMessage`: the client's model, asked by the server.
    SamplingCreateMessage,
    /// `elicitation/create`: the client's user, asked by the server.
    ElicitationCreate,
    /// `roots/list`: the client's roots, asked by the server.
    RootsList,
    /// `notifications/initialized`.
    Initialized,
    /// `notifications/cancelled`.
    Cancelled,
    /// `notifications/progress`.
    Progress,
    /// `notifications/message`: a log message.
    LogMessage,
    /// `notifications/resources/updated`.
    ResourceUpdated,
    /// `notifications/tools/list_changed`.
    ToolsListChanged,
    /// `notifications/prompts/list_changed`.
    PromptsListChanged,
    /// `notifications/resources/list_changed`.
    ResourcesListChanged,
    /// `notifications/roots/list_changed`.
    RootsListChanged,
    /// `notifications/subscriptions/acknowledged`: the first message of `subscriptions/listen`.
    SubscriptionsAcknowledged,
    /// `tasks/get`: a task's status (and, once done, its result in the stateless era).
    TasksGet,
    /// `tasks/update` (stateless era): answers to a task's input requests.
    TasksUpdate,
    /// `tasks/cancel`.
    TasksCancel,
    /// `tasks/result` (handshake era): waits for a task's result.
    TasksResult,
    /// `tasks/list` (handshake era).
    TasksList,
    /// `notifications/tasks/status` (handshake era): a task's status changed.
    TaskStatus,
    /// `notifications/tasks` (stateless era, on `subscriptions/listen`): a task, in full.
    TaskNotification,
}

/// Who sends a method, and whether it is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A request the client sends and the server answers.
    ServerRequest,
    /// A request the server sends and the client answers (handshake era), or asks for as an
    /// input request (stateless era).
    ClientRequest,
    /// A notification, in either direction.
    Notification,
}

/// Which protocol eras have a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eras {
    /// Both the handshake era (2024-11-05 … 2025-11-25) and the stateless era (2026-07-28).
    Both,
    /// Only the handshake era: the stateless era removed it.
    Handshake,
    /// Only the stateless era.
    Stateless,
}

/// A server capability that must be offered before a method is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    /// `tools`.
    Tools,
    /// `prompts`.
    Prompts,
    /// `resources`.
    Resources,
    /// `completions`.
    Completions,
    /// `logging`.
    Logging,
    /// `tasks` (handshake era), or the tasks extension (stateless era).
    Tasks,
}

/// `(method, wire name, kind, eras, gating capability)`, for every method.
const TABLE: &[(Method, &str, Kind, Eras, Option<Capability>)] = {
    use Capability as C;
    use Eras::{Both, Handshake, Stateless};
    use Kind::{ClientRequest, Notification, ServerRequest};
    use Method as M;
    &[
        (M::Initialize, "initialize", ServerRequest, Handshake, None),
        (M::Ping, "ping", ServerRequest, Handshake, None),
        (M::ServerDiscover, "server/discover", ServerRequest, Stateless, None),
        (M::ToolsList, "tools/list", ServerRequest, Both, Some(C::Tools)),
        (M::ToolsCall, "tools/call", ServerRequest, Both, Some(C::Tools)),
        (M::PromptsList, "prompts/list", ServerRequest, Both, Some(C::Prompts)),
        (M::PromptsGet, "prompts/get", ServerRequest, Both, Some(C::Prompts)),
        (
            M::ResourcesList,
            "resources/list",
            ServerRequest,
            Both,
            Some(C::Resources),
        ),
        (
            M::ResourcesTemplatesList,
            "resources/templates/list",
            ServerRequest,
            Both,
            Some(C::Resources),
        ),
        (
            M::ResourcesRead,
            "resources/read",
            ServerRequest,
            Both,
            Some(C::Resources),
        ),
        (
            M::ResourcesSubscribe,
            "resources/subscribe",
            ServerRequest,
            Handshake,
            Some(C::Resources),
        ),
        (
            M::ResourcesUnsubscribe,
            "resources/unsubscribe",
            ServerRequest,
            Handshake,
            Some(C::Resources),
        ),
        (
            M::SubscriptionsListen,
            "subscriptions/listen",
            ServerRequest,
            Stateless,
            None,
        ),
        (
            M::CompletionComplete,
            "completion/complete",
            ServerRequest,
            Both,
            Some(C::Completions),
        ),
        (
            M::LoggingSetLevel,
            "logging/setLevel",
            ServerRequest,
            Handshake,
            Some(C::Logging),
        ),
        (
            M::SamplingCreateMessage,
            "sampling/createMessage",
            ClientRequest,
            Both,
            None,
        ),
        (M::ElicitationCreate, "elicitation/create", ClientRequest, Both, None),
        (M::RootsList, "roots/list", ClientRequest, Both, None),
        (
            M::Initialized,
            "notifications/initialized",
            Notification,
            Handshake,
            None,
        ),
        (M::Cancelled, "notifications/cancelled", Notification, Both, None),
        (M::Progress, "notifications/progress", Notification, Both, None),
        (M::LogMessage, "notifications/message", Notification, Both, None),
        (
            M::ResourceUpdated,
            "notifications/resources/updated",
            Notification,
            Both,
            None,
        ),
        (
            M::ToolsListChanged,
            "notifications/tools/list_changed",
            Notification,
            Both,
            None,
        ),
        (
            M::PromptsListChanged,
            "notifications/prompts/list_changed",
            Notification,
            Both,
            None,
        ),
        (
            M::ResourcesListChanged,
            "notifications/resources/list_changed",
            Notification,
            Both,
            None,
        ),
        (
            M::RootsListChanged,
            "notifications/roots/list_changed",
            Notification,
            Both,
            None,
        ),
        (
            M::SubscriptionsAcknowledged,
            "notifications/subscriptions/acknowledged",
            Notification,
            Stateless,
            None,
        ),
        (M::TasksGet, "tasks/get", ServerRequest, Both, Some(C::Tasks)),
        (M::TasksUpdate, "tasks/update", ServerRequest, Stateless, Some(C::Tasks)),
        (M::TasksCancel, "tasks/cancel", ServerRequest, Both, Some(C::Tasks)),
        (M::TasksResult, "tasks/result", ServerRequest, Handshake, Some(C::Tasks)),
        (M::TasksList, "tasks/list", ServerRequest, Handshake, Some(C::Tasks)),
        (
            M::TaskStatus,
            "notifications/tasks/status",
            Notification,
            Handshake,
            None,
        ),
        (
            M::TaskNotification,
            "notifications/tasks",
            Notification,
            Stateless,
            None,
        ),
    ]
};

impl Method {
    /// Every method, in the order of the table above.
    pub fn all() -> impl Iterator<Item = Method> {
        TABLE.iter().map(|row| row.0)
    }

    fn row(self) -> &'static (Method, &'static str, Kind, Eras, Option<Capability>) {
        // The table lists the variants in declaration order.
        &TABLE[self as usize]
    }

    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        self.row().1
    }

    /// The method named `name`, if MCP has one.
    pub fn parse(name: &str) -> Option<Method> {
        TABLE.iter().find(|row| row.1 == name).map(|row| row.0)
    }

    /// Who sends it, and whether it is answered.
    pub fn kind(self) -> Kind {
        self.row().2
    }

    /// Which eras have it.
    pub fn eras(self) -> Eras {
        self.row().3
    }

    /// Whether the era of `stateless` has it.
    pub fn in_era(self, stateless: bool) -> bool {
        match self.eras() {
            Eras::Both => true,
            Eras::Handshake => !stateless,
            Eras::Stateless => stateless,
        }
    }

    /// The server capability that must be offered before the server serves it, if any.
    pub fn capability(self) -> Option<Capability> {
        self.row().4
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A method, named by its variant or, for one MCP does not define, by its wire name: what
/// APIs that send a method to the client take (`InputRequired::request`, `Context::request`).
pub trait MethodName {
    /// The name on the wire.
    fn method_name(&self) -> &str;
}

impl MethodName for Method {
    fn method_name(&self) -> &str {
        self.as_str()
    }
}

impl MethodName for &str {
    fn method_name(&self) -> &str {
        self
    }
}

impl MethodName for String {
    fn method_name(&self) -> &str {
        self
    }
}

/// A method name as read from the wire: one MCP defines, or any other string (a request for it
/// is answered "method not found"; a notification of it is ignored).
pub type WireMethod = Result<Method, String>;

/// Reads a method name from the wire.
pub fn parse_wire(name: String) -> WireMethod {
    Method::parse(&name).ok_or(name)
}

/// The name of a method read from the wire, known or not.
pub fn wire_name(method: &WireMethod) -> &str {
    match method {
        Ok(m) => m.as_str(),
        Err(name) => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_declaration_order_and_names_round_trip() {
        for (i, row) in TABLE.iter().enumerate() {
            assert_eq!(row.0 as usize, i, "{} is out of order", row.1);
            assert_eq!(Method::parse(row.1), Some(row.0));
        }
        assert_eq!(Method::parse("tools/cal"), None);
    }

    #[test]
    fn eras_and_capabilities() {
        assert!(Method::ToolsCall.in_era(true) && Method::ToolsCall.in_era(false));
        assert!(!Method::Initialize.in_era(true));
        assert!(!Method::ServerDiscover.in_era(false));
        assert_eq!(Method::ResourcesSubscribe.capability(), Some(Capability::Resources));
        assert_eq!(Method::SamplingCreateMessage.kind(), Kind::ClientRequest);
    }
}
