//! The stateless era's keys of a request's `params._meta`, read apart from the rest of the
//! params.
//!
//! A 2026-07-28 client sends its protocol version, capabilities and `clientInfo` in the `_meta`
//! of every request. Read into a `serde_json::Value`, they cost a `String` per key and a map per
//! object, on every request, for values that are almost always the same as the last request's.
//! So [`parse_frame`](super::jsonrpc::parse_frame) takes them out of `_meta` as they are read,
//! each kept as its raw JSON text ([`StatelessMeta`]); the server compares that text with the
//! client it read last, and reads it again only when it differs. A text equal to the one last
//! read for its key on the same thread is shared with it, not copied. The rest of `_meta`
//! (`progressToken`, trace context, anything a client adds) stays in the params.

use super::types::meta_keys;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

/// The stateless-era keys of a request's `_meta`, each as the JSON text the client sent.
#[derive(Clone, Debug, Default)]
pub struct StatelessMeta {
    /// `io.modelcontextprotocol/protocolVersion`.
    pub protocol_version: Option<Arc<RawValue>>,
    /// `io.modelcontextprotocol/clientCapabilities`.
    pub client_capabilities: Option<Arc<RawValue>>,
    /// `io.modelcontextprotocol/clientInfo`.
    pub client_info: Option<Arc<RawValue>>,
    /// `io.modelcontextprotocol/logLevel`.
    pub log_level: Option<Arc<RawValue>>,
}

impl StatelessMeta {
    /// Whether the request marks itself as of the stateless era: its `_meta` names a protocol
    /// version.
    pub fn is_stateless(&self) -> bool {
        self.protocol_version.is_some()
    }

    /// The protocol version the request names, when it is a JSON string.
    pub fn protocol_version(&self) -> Option<std::borrow::Cow<'_, str>> {
        string_of(self.protocol_version.as_deref())
    }

    /// Whether `_meta` stays in the params once the era's keys are out of it, with `rest` left:
    /// a `_meta` that held nothing but the era's keys is gone with them (one sent empty stays).
    pub(crate) fn keeps(&self, rest: &Map<String, Value>) -> bool {
        !rest.is_empty() || self.is_empty()
    }

    fn is_empty(&self) -> bool {
        self.protocol_version.is_none()
            && self.client_capabilities.is_none()
            && self.client_info.is_none()
            && self.log_level.is_none()
    }

    /// The slot of `key`, and its index, when it is one of the stateless era's.
    fn slot(&mut self, key: &str) -> Option<(usize, &mut Option<Arc<RawValue>>)> {
        match key {
            meta_keys::PROTOCOL_VERSION => Some((0, &mut self.protocol_version)),
            meta_keys::CLIENT_CAPABILITIES => Some((1, &mut self.client_capabilities)),
            meta_keys::CLIENT_INFO => Some((2, &mut self.client_info)),
            meta_keys::LOG_LEVEL => Some((3, &mut self.log_level)),
            _ => None,
        }
    }

    /// Takes the stateless-era keys out of `params._meta`, already read as a value (a message
    /// that took the slow path of parsing).
    pub(crate) fn take_from(params: Option<&mut Value>) -> Self {
        let mut found = Self::default();
        let Some(Value::Object(params)) = params else {
            return found;
        };
        let Some(Value::Object(meta)) = params.get_mut("_meta") else {
            return found;
        };
        for key in [
            meta_keys::PROTOCOL_VERSION,
            meta_keys::CLIENT_CAPABILITIES,
            meta_keys::CLIENT_INFO,
            meta_keys::LOG_LEVEL,
        ] {
            if let Some(value) = meta.remove(key)
                && let Some((_, slot)) = found.slot(key)
            {
                *slot = serde_json::value::to_raw_value(&value).ok().map(Arc::from);
            }
        }
        if !found.keeps(meta) {
            params.remove("_meta");
        }
        found
    }

    /// Puts the keys back into `params._meta` (a notification's params stay as sent).
    pub(crate) fn restore_into(self, params: &mut Option<Value>) {
        if self.is_empty() {
            return;
        }
        let params = params.get_or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(params) = params else {
            return;
        };
        let meta = params.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(meta) = meta else {
            return;
        };
        for (key, raw) in [
            (meta_keys::PROTOCOL_VERSION, self.protocol_version),
            (meta_keys::CLIENT_CAPABILITIES, self.client_capabilities),
            (meta_keys::CLIENT_INFO, self.client_info),
            (meta_keys::LOG_LEVEL, self.log_level),
        ] {
            if let Some(value) = raw.and_then(|r| serde_json::from_str(r.get()).ok()) {
                meta.insert(key.to_owned(), value);
            }
        }
    }
}

/// A JSON string, borrowed from the text read when it has no escapes (`Cow<str>`'s own
/// `Deserialize` always copies).
pub(crate) struct Text<'de>(pub(crate) std::borrow::Cow<'de, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

/// A JSON string's value, from its text (`None` when it is not a string); borrowed when it has
/// no escapes.
pub(crate) fn string_of(raw: Option<&RawValue>) -> Option<std::borrow::Cow<'_, str>> {
    raw.and_then(|r| serde_json::from_str::<Text<'_>>(r.get()).ok())
        .map(|Text(text)| text)
}

/// Deserialises `params` (an object or an array) as a value, with the stateless-era keys of
/// its `_meta` taken out into a [`StatelessMeta`]. Anything else is an error, and the message
/// then takes the slow path of parsing, whose errors say precisely what is wrong.
pub(crate) struct ParamsSeed;

impl<'de> DeserializeSeed<'de> for ParamsSeed {
    type Value = (Value, StatelessMeta);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ParamsVisitor)
    }
}

struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = (Value, StatelessMeta);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object or an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok((Value::Array(items), StatelessMeta::default()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut params = Map::new();
        let mut era = StatelessMeta::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if params.contains_key(&*key) {
                return Err(de::Error::custom("duplicate key"));
            }
            let value = if key == "_meta" {
                let rest = map.next_value_seed(MetaSeed(&mut era))?;
                if rest.as_object().is_some_and(|rest| !era.keeps(rest)) {
                    continue;
                }
                rest
            } else {
                map.next_value::<Value>()?
            };
            params.insert(key.into_owned(), value);
        }
        Ok((Value::Object(params), era))
    }
}

thread_local! {
    /// The text last read for each of the era's keys on this thread.
    static LAST: RefCell<[Option<Arc<RawValue>>; 4]> = const { RefCell::new([None, None, None, None]) };
}

/// Texts longer than this are not kept for the next request to share.
const SHARED_AT_MOST: usize = 4096;

/// `text`, the value of the era's key number `index`: the text last read for that key on this
/// thread when it is the same (a client sends the same ones with every request), else a copy.
fn shared(index: usize, text: &RawValue) -> Arc<RawValue> {
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some(found) = &last[index]
            && found.get() == text.get()
        {
            return Arc::clone(found);
        }
        let copy: Arc<RawValue> = Arc::from(text.to_owned());
        if text.get().len() <= SHARED_AT_MOST {
            last[index] = Some(Arc::clone(&copy));
        }
        copy
    })
}

/// `_meta`: an object, whose stateless-era keys go to the [`StatelessMeta`]. Taken as text
/// first: a client sends the same `_meta` with every request, and one equal to the last read on
/// this thread is not read again (the deserializer must lend its text, as `serde_json`'s does
/// from a slice or a `str`).
pub(crate) struct MetaSeed<'a>(pub(crate) &'a mut StatelessMeta);

impl<'de> DeserializeSeed<'de> for MetaSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let text = <&'de RawValue as serde::Deserialize>::deserialize(d)?;
        read_meta(text, self.0).map_err(de::Error::custom)
    }
}

thread_local! {
    /// The `_meta` last read on this thread that held the era's keys and nothing else, and
    /// what they were.
    static LAST_META: RefCell<Option<(Box<str>, StatelessMeta)>> = const { RefCell::new(None) };
}

/// Reads `_meta` from its text into `era` and the rest: from the last one read on this thread
/// when the text is the same.
fn read_meta(text: &RawValue, era: &mut StatelessMeta) -> Result<Value, serde_json::Error> {
    let text = text.get();
    let known = LAST_META.with_borrow(|last| {
        last.as_ref()
            .filter(|(last, _)| **last == *text)
            .map(|(_, known)| known.clone())
    });
    if let Some(known) = known {
        *era = known;
        return Ok(Value::Object(Map::new()));
    }
    let mut d = serde_json::Deserializer::from_str(text);
    let rest = d.deserialize_map(MetaVisitor(era))?;
    d.end()?;
    if rest.as_object().is_some_and(Map::is_empty) && !era.is_empty() && text.len() <= SHARED_AT_MOST {
        LAST_META.with_borrow_mut(|last| *last = Some((text.into(), era.clone())));
    }
    Ok(rest)
}

struct MetaVisitor<'a>(&'a mut StatelessMeta);

impl<'de> Visitor<'de> for MetaVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut rest = Map::new();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if let Some((index, slot)) = self.0.slot(&key) {
                if slot.is_some() {
                    return Err(de::Error::custom("duplicate key"));
                }
                *slot = Some(shared(index, map.next_value::<&'de RawValue>()?));
                continue;
            }
            if rest.contains_key(&*key) {
                return Err(de::Error::custom("duplicate key"));
            }
            let value = map.next_value::<Value>()?;
            rest.insert(key.into_owned(), value);
        }
        Ok(Value::Object(rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> (Value, StatelessMeta) {
        let mut d = serde_json::Deserializer::from_str(text);
        ParamsSeed.deserialize(&mut d).unwrap()
    }

    #[test]
    fn a_text_equal_to_the_last_one_is_shared_not_copied() {
        let meta = |caps: &str| {
            read(&format!(
                r#"{{"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{caps}}}}}"#
            ))
            .1
        };
        let (a, b, c) = (meta(r#"{"sampling":{}}"#), meta(r#"{"sampling":{}}"#), meta("{}"));
        let caps = |m: &StatelessMeta| m.client_capabilities.clone().unwrap();
        assert!(Arc::ptr_eq(&caps(&a), &caps(&b)), "the same text was copied again");
        assert!(!Arc::ptr_eq(&caps(&b), &caps(&c)));
        assert_eq!((caps(&b).get(), caps(&c).get()), (r#"{"sampling":{}}"#, "{}"));
        assert!(Arc::ptr_eq(
            a.protocol_version.as_ref().unwrap(),
            c.protocol_version.as_ref().unwrap()
        ));
    }

    #[test]
    fn a_meta_equal_to_the_last_one_is_not_read_again_and_reads_the_same() {
        let text = r#"{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"}}}"#;
        let (first, second) = (read(text), read(text));
        assert_eq!(
            (&first.0, &second.0),
            (&json!({"name": "echo"}), &json!({"name": "echo"}))
        );
        assert!(Arc::ptr_eq(
            first.1.client_info.as_ref().unwrap(),
            second.1.client_info.as_ref().unwrap()
        ));
        assert_eq!(second.1.protocol_version.unwrap().get(), r#""2026-07-28""#);
        // A `_meta` with more than the era's keys is read each time, and keeps the rest.
        let more = r#"{"_meta":{"progressToken":1,"io.modelcontextprotocol/protocolVersion":"v"}}"#;
        for _ in 0..2 {
            let (params, era) = read(more);
            assert_eq!(params, json!({"_meta": {"progressToken": 1}}));
            assert_eq!(era.protocol_version.unwrap().get(), r#""v""#);
        }
        // Another text after it is read afresh.
        let (_, era) = read(r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"w"}}"#);
        assert_eq!(era.protocol_version.unwrap().get(), r#""w""#);
        assert!(era.client_info.is_none());
    }

    #[test]
    fn the_eras_keys_are_taken_out_and_the_rest_stays() {
        let (params, era) = read(
            r#"{"name":"echo","_meta":{"progressToken":7,
                "io.modelcontextprotocol/protocolVersion":"2026-07-28",
                "io.modelcontextprotocol/clientCapabilities":{"sampling":{}},
                "io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"}}}"#,
        );
        assert_eq!(params, json!({"name": "echo", "_meta": {"progressToken": 7}}));
        assert!(era.is_stateless());
        assert_eq!(era.protocol_version.unwrap().get(), r#""2026-07-28""#);
        assert_eq!(era.client_capabilities.unwrap().get(), r#"{"sampling":{}}"#);
        assert!(era.log_level.is_none());
    }

    #[test]
    fn a_value_read_the_slow_way_gives_the_same_and_a_notification_gets_them_back() {
        let sent = json!({"x": 1, "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "k": true}});
        let mut params = Some(sent.clone());
        let era = StatelessMeta::take_from(params.as_mut());
        assert_eq!(params, Some(json!({"x": 1, "_meta": {"k": true}})));
        assert!(era.is_stateless());
        era.restore_into(&mut params);
        assert_eq!(params, Some(sent));
        // A `_meta` of nothing but the era's keys goes with them; an empty one sent stays.
        let sent = json!({"x": 1, "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}});
        let mut params = Some(sent.clone());
        let era = StatelessMeta::take_from(params.as_mut());
        assert_eq!(params, Some(json!({"x": 1})));
        era.restore_into(&mut params);
        assert_eq!(params, Some(sent));
        assert_eq!(read(r#"{"_meta":{}}"#).0, json!({"_meta": {}}));
        assert_eq!(
            read(r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"v"}}"#).0,
            json!({})
        );
    }

    #[test]
    fn arrays_pass_and_duplicates_or_odd_meta_go_the_slow_way() {
        assert_eq!(read("[1,2]").0, json!([1, 2]));
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"_meta":{"k":1,"k":2}}"#,
            r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"a","io.modelcontextprotocol/protocolVersion":"b"}}"#,
            r#"{"_meta":[1]}"#,
            "3",
        ] {
            let mut d = serde_json::Deserializer::from_str(text);
            assert!(ParamsSeed.deserialize(&mut d).is_err(), "{text}");
        }
    }
}
