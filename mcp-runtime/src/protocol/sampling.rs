//! Client features a server asks for: sampling (`sampling/createMessage`), elicitation
//! (`elicitation/create`) and roots (`roots/list`).

use super::types::{Content, Role};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// A content block of a sampling message.
#[derive(Clone, Debug, PartialEq, Serialize)]
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

/// Read in one pass: serde's internally tagged enums first copy the whole block into a buffer
/// of their own (the `type` may come last), and a sampling result is read on every round trip.
/// The block is read as one flat set of every member a kind can have, then checked for its kind.
impl<'de> Deserialize<'de> for SamplingContent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Kind {
            Text,
            Image,
            Audio,
            ToolUse,
            ToolResult,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Block {
            #[serde(rename = "type")]
            kind: Kind,
            text: Option<String>,
            data: Option<String>,
            mime_type: Option<String>,
            id: Option<String>,
            name: Option<String>,
            /// `Some(Value::Null)` for `"input": null`, as the field is a `Value`.
            #[serde(default, deserialize_with = "present")]
            input: Option<Value>,
            tool_use_id: Option<String>,
            content: Option<Vec<Content>>,
            structured_content: Option<Value>,
            is_error: Option<bool>,
        }
        fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
            Value::deserialize(d).map(Some)
        }
        fn need<T, E: serde::de::Error>(field: Option<T>, name: &'static str) -> Result<T, E> {
            field.ok_or_else(|| E::missing_field(name))
        }
        let b = Block::deserialize(d)?;
        Ok(match b.kind {
            Kind::Text => Self::Text {
                text: need(b.text, "text")?,
            },
            Kind::Image => Self::Image {
                data: need(b.data, "data")?,
                mime_type: need(b.mime_type, "mimeType")?,
            },
            Kind::Audio => Self::Audio {
                data: need(b.data, "data")?,
                mime_type: need(b.mime_type, "mimeType")?,
            },
            Kind::ToolUse => Self::ToolUse {
                id: need(b.id, "id")?,
                name: need(b.name, "name")?,
                input: need(b.input, "input")?,
            },
            Kind::ToolResult => Self::ToolResult {
                tool_use_id: need(b.tool_use_id, "toolUseId")?,
                content: need(b.content, "content")?,
                structured_content: b.structured_content,
                is_error: b.is_error,
            },
        })
    }
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

/// One block (an object) or several (an array), told apart by what comes, with no buffer.
fn one_or_many_de<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SamplingContent>, D::Error> {
    struct OneOrMany;
    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Vec<SamplingContent>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a content block or an array of content blocks")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            SamplingContent::deserialize(MapAccessDeserializer::new(map)).map(|one| vec![one])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Vec::deserialize(SeqAccessDeserializer::new(seq))
        }
    }
    d.deserialize_any(OneOrMany)
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
        let mut texts = self.content.iter().filter_map(SamplingContent::as_text);
        let mut all = texts.next().unwrap_or_default().to_owned();
        texts.for_each(|t| all.push_str(t));
        all
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

    #[test]
    fn every_kind_of_block_reads_back_from_text_and_from_a_value_with_its_type_anywhere() {
        let blocks = vec![
            SamplingContent::Text { text: "a\"b".into() },
            SamplingContent::Image {
                data: "AAEC".into(),
                mime_type: "image/png".into(),
            },
            SamplingContent::Audio {
                data: "AAEC".into(),
                mime_type: "audio/wav".into(),
            },
            SamplingContent::ToolUse {
                id: "1".into(),
                name: "t".into(),
                input: Value::Null,
            },
            SamplingContent::ToolResult {
                tool_use_id: "1".into(),
                content: vec![Content::text("done")],
                structured_content: Some(json!({"n": 1})),
                is_error: Some(false),
            },
        ];
        let result = CreateMessageResult {
            role: Role::Assistant,
            content: blocks.clone(),
            model: "m".into(),
            stop_reason: None,
        };
        let text = serde_json::to_string(&result).unwrap();
        assert_eq!(serde_json::from_str::<CreateMessageResult>(&text).unwrap(), result);
        let value = serde_json::to_value(&result).unwrap();
        assert_eq!(serde_json::from_value::<CreateMessageResult>(value).unwrap(), result);
        // The kind last, and members a block does not have, are read the same.
        let late: SamplingContent =
            serde_json::from_str(r#"{"text":"x","_meta":{"k":1},"annotations":{},"type":"text"}"#).unwrap();
        assert_eq!(late, SamplingContent::Text { text: "x".into() });
        // A tool use's input may be null, but not absent.
        let null: SamplingContent =
            serde_json::from_str(r#"{"type":"tool_use","id":"1","name":"t","input":null}"#).unwrap();
        assert_eq!(null, blocks[3]);
    }

    #[test]
    fn a_block_that_lacks_what_its_kind_needs_is_refused_by_name() {
        let refuse = |text: &str| serde_json::from_str::<SamplingContent>(text).unwrap_err().to_string();
        assert!(refuse(r#"{"type":"text"}"#).contains("missing field `text`"));
        assert!(refuse(r#"{"text":"x"}"#).contains("missing field `type`"));
        assert!(refuse(r#"{"type":"image","data":"AA"}"#).contains("missing field `mimeType`"));
        assert!(refuse(r#"{"type":"tool_use","id":"1","name":"t"}"#).contains("missing field `input`"));
        assert!(refuse(r#"{"type":"video","text":"x"}"#).contains("unknown variant `video`"));
        assert!(refuse(r#"{"type":"text","text":"x","text":"y"}"#).contains("duplicate field `text`"));
        let content = |text: &str| {
            serde_json::from_str::<CreateMessageResult>(text)
                .unwrap_err()
                .to_string()
        };
        assert!(
            content(r#"{"role":"assistant","model":"m","content":"hi"}"#)
                .contains("expected a content block or an array of content blocks")
        );
    }
}
