//! Client features a server asks for: sampling (`sampling/createMessage`), elicitation
//! (`elicitation/create`) and roots (`roots/list`).

use super::types::{Content, Role};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A content block of a sampling message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SamplingContent {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, base64 encoded.
    Image {
        /// Base64 of the bytes.
        data: String,
        /// MIME type.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// Audio, base64 encoded.
    Audio {
        /// Base64 of the bytes.
        data: String,
        /// MIME type.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// The model calls a tool (sampling with tools).
    ToolUse {
        /// The call's id, echoed by the result.
        id: String,
        /// The tool's name.
        name: String,
        /// The arguments.
        input: Value,
    },
    /// The result of a tool call, sent back to the model.
    ToolResult {
        /// The id of the `tool_use` it answers.
        #[serde(rename = "toolUseId")]
        tool_use_id: String,
        /// The result's content.
        content: Vec<Content>,
        /// Structured output, if any.
        #[serde(default, rename = "structuredContent", skip_serializing_if = "Option::is_none")]
        structured_content: Option<Value>,
        /// Whether the tool failed.
        #[serde(default, rename = "isError", skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
}

impl SamplingContent {
    /// The text, for a text block.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text { text } => Some(text),
            _ => None,
        }
    }
}

/// A message of a sampling conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplingMessage {
    /// Who speaks.
    pub role: Role,
    /// One block or several (serialised as one object when there is one).
    #[serde(serialize_with = "one_or_many_ser", deserialize_with = "one_or_many_de")]
    pub content: Vec<SamplingContent>,
}

impl SamplingMessage {
    /// A user message with text.
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: vec![SamplingContent::Text { text: text.into() }],
        }
    }

    /// An assistant message with text.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: vec![SamplingContent::Text { text: text.into() }],
        }
    }

    /// A user message with an image (raw bytes, encoded here).
    pub fn user_image(bytes: impl AsRef<[u8]>, mime_type: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: vec![SamplingContent::Image {
                data: super::base64::encode(bytes.as_ref()),
                mime_type: mime_type.into(),
            }],
        }
    }

    /// A user message with audio (raw bytes, encoded here).
    pub fn user_audio(bytes: impl AsRef<[u8]>, mime_type: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: vec![SamplingContent::Audio {
                data: super::base64::encode(bytes.as_ref()),
                mime_type: mime_type.into(),
            }],
        }
    }
}

impl From<&str> for SamplingMessage {
    fn from(text: &str) -> Self {
        Self::user(text)
    }
}

impl From<String> for SamplingMessage {
    fn from(text: String) -> Self {
        Self::user(text)
    }
}

fn one_or_many_ser<S: Serializer>(v: &[SamplingContent], s: S) -> Result<S::Ok, S::Error> {
    match v {
        [one] => one.serialize(s),
        many => many.serialize(s),
    }
}

fn one_or_many_de<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SamplingContent>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(SamplingContent),
        Many(Vec<SamplingContent>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(c) => vec![c],
        OneOrMany::Many(v) => v,
    })
}

/// The client's answer to `sampling/createMessage`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMessageResult {
    /// Who speaks (the assistant).
    pub role: Role,
    /// What the model said.
    #[serde(serialize_with = "one_or_many_ser", deserialize_with = "one_or_many_de")]
    pub content: Vec<SamplingContent>,
    /// The model that answered.
    pub model: String,
    /// Why it stopped: `endTurn`, `stopSequence`, `maxTokens`, `toolUse`, or another string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
}

impl CreateMessageResult {
    /// The text blocks, joined.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(SamplingContent::as_text)
            .collect::<Vec<_>>()
            .join("")
    }
}

/// What the user did with an elicitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElicitAction {
    /// Submitted (form) or consented (URL).
    Accept,
    /// Said no.
    Decline,
    /// Dismissed without choosing.
    Cancel,
}

/// The client's answer to `elicitation/create`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElicitResult {
    /// What the user did.
    pub action: ElicitAction,
    /// The form's content, on accept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Map<String, Value>>,
}

/// A root the client exposes: a `file://` URI and an optional name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    /// The URI (`file://…`).
    pub uri: String,
    /// A display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_is_one_block_or_many_on_the_wire() {
        let one = SamplingMessage::user("hi");
        assert_eq!(
            serde_json::to_value(&one).unwrap(),
            json!({"role":"user","content":{"type":"text","text":"hi"}})
        );
        let back: CreateMessageResult = serde_json::from_value(json!({
            "role": "assistant", "model": "m", "stopReason": "toolUse",
            "content": [{"type":"text","text":"a"},{"type":"tool_use","id":"1","name":"t","input":{}}]
        }))
        .unwrap();
        assert_eq!(back.content.len(), 2);
        assert_eq!(back.text(), "a");
        let single: CreateMessageResult =
            serde_json::from_value(json!({"role":"assistant","model":"m","content":{"type":"text","text":"b"}}))
                .unwrap();
        assert_eq!(single.text(), "b");
    }
}
