//! What each side declares it can do: the server's capabilities (sent in `initialize` and
//! `server/discover`) and the client's (from `initialize`, or each request's `_meta`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// `{}`: a capability with no options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enabled {}

/// A list the client may be told has changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListCapability {
    /// Whether the server sends `notifications/…/list_changed`.
    pub list_changed: bool,
}

/// The server's `resources` capability.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesCapability {
    /// Whether clients may subscribe to a resource's updates.
    pub subscribe: bool,
    /// Whether the server sends `notifications/resources/list_changed`.
    pub list_changed: bool,
}

/// What a server offers. A capability is offered when its field is `Some`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCapabilities {
    /// Tools (`tools/list`, `tools/call`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ListCapability>,
    /// Prompts (`prompts/list`, `prompts/get`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<ListCapability>,
    /// Resources and templates (`resources/*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesCapability>,
    /// Argument completion (`completion/complete`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completions: Option<Enabled>,
    /// Log messages to the client (`notifications/message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Enabled>,
    /// Non-standard capabilities, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experimental: Option<Map<String, Value>>,
    /// Tasks as protocol 2025-11-25 has them (`tasks/get`, `tasks/result`, `tasks/list`,
    /// `tasks/cancel`). The stateless era declares the tasks *extension* instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Value>,
    /// Extensions, by identifier (2026-07-28), such as `io.modelcontextprotocol/tasks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Map<String, Value>>,
}

impl ServerCapabilities {
    /// Whether `capability` is offered.
    pub fn offers(&self, capability: super::method::Capability) -> bool {
        use super::method::Capability as C;
        match capability {
            C::Tools => self.tools.is_some(),
            C::Prompts => self.prompts.is_some(),
            C::Resources => self.resources.is_some(),
            C::Completions => self.completions.is_some(),
            C::Logging => self.logging.is_some(),
            C::Tasks => self.tasks.is_some(),
        }
    }
}

/// The client's `sampling` capability.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SamplingCapability {
    /// `sampling.tools`: the client's model may call tools the server lists.
    pub tools: bool,
    /// `sampling.context`: the client honours `includeContext`.
    pub context: bool,
}

/// The client's `elicitation` capability.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ElicitationCapability {
    /// Form mode (implied when the client declares neither mode, as `{}`).
    pub form: bool,
    /// URL mode.
    pub url: bool,
}

/// The client's `roots` capability.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RootsCapability {
    /// Whether the client sends `notifications/roots/list_changed`.
    pub list_changed: bool,
}

/// A client's capabilities, as it declared them (in `initialize` or in a request's `_meta`).
///
/// The protocol's own capabilities are typed fields; the declaration is also kept as sent, so
/// that any capability, an extension's too, can be checked by its dotted path
/// ([`declares`](ClientCapabilities::declares)). It serialises as it was declared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientCapabilities {
    /// `sampling`, when declared.
    pub sampling: Option<SamplingCapability>,
    /// `elicitation`, when declared.
    pub elicitation: Option<ElicitationCapability>,
    /// `roots`, when declared.
    pub roots: Option<RootsCapability>,
    declared: Map<String, Value>,
}

impl From<Map<String, Value>> for ClientCapabilities {
    fn from(declared: Map<String, Value>) -> Self {
        let has = |cap: &str, option: &str| declared.get(cap).and_then(|c| c.get(option)).is_some();
        let sampling = declared.contains_key("sampling").then(|| SamplingCapability {
            tools: has("sampling", "tools"),
            context: has("sampling", "context"),
        });
        let elicitation = declared.contains_key("elicitation").then(|| {
            let url = has("elicitation", "url");
            ElicitationCapability {
                form: has("elicitation", "form") || !url,
                url,
            }
        });
        let roots = declared.get("roots").map(|r| RootsCapability {
            list_changed: r.get("listChanged").and_then(Value::as_bool) == Some(true),
        });
        Self {
            sampling,
            elicitation,
            roots,
            declared,
        }
    }
}

impl ClientCapabilities {
    /// Whether the client declared `sampling`.
    pub fn sampling(&self) -> bool {
        self.sampling.is_some()
    }

    /// Whether the client declared `sampling.tools` (sampling with tool use).
    pub fn sampling_tools(&self) -> bool {
        self.sampling.is_some_and(|s| s.tools)
    }

    /// Whether the client declared `elicitation` (form mode is implied by `{}`).
    pub fn elicitation(&self) -> bool {
        self.elicitation.is_some()
    }

    /// Whether the client declared `roots`.
    pub fn roots(&self) -> bool {
        self.roots.is_some()
    }

    /// Whether the client declared the capability at a dotted path, such as `sampling`,
    /// `sampling.tools`, `elicitation.url` or an extension's key.
    pub fn declares(&self, path: &str) -> bool {
        let mut keys = path.split('.');
        let Some(first) = keys.next() else {
            return false;
        };
        let mut at = self.declared.get(first);
        for key in keys {
            at = at.and_then(|v| v.get(key));
        }
        at.is_some()
    }

    /// Whether the client declared the extension `id` (2026-07-28), such as
    /// `io.modelcontextprotocol/tasks`.
    pub fn extension(&self, id: &str) -> bool {
        self.declared
            .get("extensions")
            .and_then(|e| e.get(id))
            .is_some_and(Value::is_object)
    }

    /// The declaration as the client sent it.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.declared
    }
}

impl Serialize for ClientCapabilities {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.declared.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ClientCapabilities {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Map::deserialize(d).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caps(v: Value) -> ClientCapabilities {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn client_capabilities_are_typed_and_keep_what_was_declared() {
        let c = caps(json!({"sampling": {"tools": {}}, "elicitation": {}, "x": {"y": {}}}));
        assert!(c.sampling_tools() && c.elicitation.unwrap().form && !c.elicitation.unwrap().url);
        assert!(!c.roots());
        assert!(c.declares("x.y") && !c.declares("x.z") && c.declares("sampling.tools"));
        let url_only = caps(json!({"elicitation": {"url": {}}}));
        assert_eq!(
            url_only.elicitation,
            Some(ElicitationCapability { form: false, url: true })
        );
        assert_eq!(serde_json::to_value(&c).unwrap()["x"], json!({"y": {}}));
    }

    #[test]
    fn server_capabilities_serialise_as_offered() {
        let s = ServerCapabilities {
            tools: Some(ListCapability { list_changed: true }),
            logging: Some(Enabled {}),
            ..ServerCapabilities::default()
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"tools": {"listChanged": true}, "logging": {}})
        );
    }
}
