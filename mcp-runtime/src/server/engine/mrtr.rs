//! Multi round-trip requests (2026-07-28): a handler's client requests collected into rounds.
//!
//! In the stateless era a server may not send requests to the client. When a handler calls
//! `ctx.sample(..)`, the request is registered here under a key and the handler's future waits.
//! When the future has nothing left to do but wait for such answers, the call is answered with
//! `resultType: "input_required"`, listing the waiting requests, and the future is *parked*. The
//! client's retry carries `inputResponses`; they are delivered here and the same future resumes.
//! If the parked future is gone, the handler runs again from the top with the answers carried
//! in the sealed `requestState`, and each earlier request is answered at once from them.

use crate::protocol::era_meta::Text;
use crate::protocol::params::InputResponses;
use crate::protocol::sampling::CreateMessageResult;
use crate::protocol::{ErrorObject, Method};
use crate::server::peer::Reply;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;

struct Waiting {
    key: String,
    /// The request, as each `input_required` writes it.
    request: Request,
    /// A sampling answer read while a retry's answers are checked, to be handed over with
    /// them.
    sampled: Option<Box<CreateMessageResult>>,
    tx: oneshot::Sender<Reply>,
}

/// An input request: its params serialised once, when the handler asks.
#[derive(serde::Serialize)]
struct Request {
    method: Cow<'static, str>,
    params: Box<RawValue>,
}

#[derive(Default)]
struct Inner {
    /// Shared with the handler that asked: an answer is kept for later rounds with no copy.
    answers: InputResponses,
    waiting: Vec<Waiting>,
    next: u32,
    /// Wakes the driver of the call when a request is made from outside the call's own future
    /// (a proxy relays its upstream's requests from another task).
    driver: Option<std::task::Waker>,
}

/// The input requests and answers of one tool call, across its rounds.
#[derive(Default)]
pub(crate) struct Mrtr {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Mrtr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.lock();
        f.debug_struct("Mrtr")
            .field("answers", &g.answers.len())
            .field("waiting", &g.waiting.len())
            .finish()
    }
}

impl Mrtr {
    /// A call that already has these answers (from a sealed state and the retry).
    pub(crate) fn new(answers: InputResponses) -> Self {
        Self {
            inner: Mutex::new(Inner {
                answers,
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next automatic key: `sample-1`, `elicit-2`, …, in the order the handler asks. A
    /// replay asks in the same order, so it finds its earlier answers under the same keys.
    pub(crate) fn auto_key(&self, prefix: &str) -> String {
        let n = {
            let mut g = self.lock();
            g.next += 1;
            g.next
        };
        use std::fmt::Write as _;
        // One allocation of the right size (`format!` grows its buffer as it writes).
        let mut key = String::with_capacity(prefix.len() + 11);
        key.push_str(prefix);
        key.push('-');
        let _ = write!(key, "{n}");
        key
    }

    /// The answer to `method` under `key`: at once if it is known, else when a retry brings it.
    pub(crate) async fn request(&self, key: String, method: Cow<'static, str>, params: Box<RawValue>) -> Reply {
        let rx = {
            let mut g = self.lock();
            if let Some(answer) = g.answers.get_shared(&key) {
                return Reply::Shared(Arc::clone(answer));
            }
            let (tx, rx) = oneshot::channel();
            // The client's work on this input request joins the call's trace.
            #[cfg(feature = "otel")]
            let params = crate::server::otel::inject_raw(&params).unwrap_or(params);
            let request = Request { method, params };
            g.waiting.push(Waiting {
                key,
                request,
                sampled: None,
                tx,
            });
            if let Some(driver) = g.driver.take() {
                driver.wake();
            }
            rx
        };
        match rx.await {
            Ok(reply) => reply,
            // The call ended without this answer: nothing will ever come.
            Err(_) => std::future::pending().await,
        }
    }

    /// Wakes `waker` when a request is next made (the driver of the call, which ends a round
    /// once nothing but input is awaited).
    pub(crate) fn wake_on_request(&self, waker: &std::task::Waker) {
        let mut g = self.lock();
        if !g.driver.as_ref().is_some_and(|w| w.will_wake(waker)) {
            g.driver = Some(waker.clone());
        }
    }

    /// Whether some request still waits for its answer.
    pub(crate) fn has_unanswered(&self) -> bool {
        let mut g = self.lock();
        g.waiting.retain(|w| !w.tx.is_closed());
        !g.waiting.is_empty()
    }

    /// The waiting requests, by key, as values (a task's `inputRequests`, kept in its record).
    pub(crate) fn unanswered(&self) -> Map<String, Value> {
        let g = self.lock();
        g.waiting
            .iter()
            .filter(|w| !w.tx.is_closed())
            .map(|w| {
                let request = serde_json::to_value(&w.request).expect("JSON text serialises");
                (w.key.clone(), request)
            })
            .collect()
    }

    /// The waiting requests, by key, written as they were serialised: the `inputRequests` of
    /// an `input_required` result. (It holds the call's lock while it is written.)
    pub(crate) fn input_requests(&self) -> InputRequests<'_> {
        InputRequests(self.lock())
    }

    /// Every answer given so far: sealed into the next `requestState`, for replay.
    pub(crate) fn answers(&self) -> InputResponses {
        self.lock().answers.clone()
    }

    /// Hands the retry's `inputResponses` to the requests waiting for them. Keys nobody waits
    /// for are ignored; an answer of the wrong shape is an invalid-params error.
    /// A sampling answer is checked by reading it into its type, which its waiter then takes.
    pub(crate) fn deliver(&self, mut responses: InputResponses) -> Result<(), ErrorObject> {
        let mut g = self.lock();
        for w in &mut g.waiting {
            w.sampled = None;
            let Some(answer) = responses.get(&w.key) else {
                continue;
            };
            if w.request.method == Method::SamplingCreateMessage.as_str() {
                let read = serde_json::from_str::<CreateMessageResult>(answer.get()).map_err(|e| {
                    ErrorObject::invalid_params(format!(
                        "inputResponses[\"{}\"] is not a {} result: {e}",
                        w.key, w.request.method
                    ))
                })?;
                w.sampled = Some(Box::new(read));
            } else {
                check_answer(&w.key, &w.request.method, answer)?;
            }
        }
        let waiting = std::mem::take(&mut g.waiting);
        for mut w in waiting {
            match responses.remove(&w.key) {
                Some(answer) => {
                    g.answers.insert(w.key, Arc::clone(&answer));
                    let reply = match w.sampled.take() {
                        Some(read) => Reply::Sampled(answer, read),
                        None => Reply::Shared(answer),
                    };
                    let _ = w.tx.send(reply);
                }
                None => g.waiting.push(w),
            }
        }
        Ok(())
    }
}

impl Mrtr {
    /// Hands answers already checked (a task's inbox) to the requests waiting for them; keys
    /// nobody waits for, and answers of the wrong shape, are ignored.
    pub(crate) fn deliver_known(&self, responses: &Map<String, Value>) {
        let mut g = self.lock();
        let waiting = std::mem::take(&mut g.waiting);
        for w in waiting {
            match responses
                .get(&w.key)
                .filter(|a| check_shape(&w.request.method, *a).is_ok())
            {
                Some(answer) => {
                    let text = serde_json::value::to_raw_value(answer).expect("a JSON value serialises");
                    let answer: Arc<RawValue> = Arc::from(text);
                    g.answers.insert(w.key, Arc::clone(&answer));
                    let _ = w.tx.send(Reply::Shared(answer));
                }
                None => g.waiting.push(w),
            }
        }
    }
}

/// The waiting requests of a call, by key, as `input_required` writes them.
pub(crate) struct InputRequests<'a>(MutexGuard<'a, Inner>);

impl Serialize for InputRequests<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for w in self.0.waiting.iter().filter(|w| !w.tx.is_closed()) {
            map.serialize_entry(&w.key, &w.request)?;
        }
        map.end()
    }
}

/// Checks the answer to input request `key`, of `method` (as text or as a value): the error
/// says what is wrong with it.
pub(crate) fn check_answer<'de, D: Deserializer<'de>>(key: &str, method: &str, answer: D) -> Result<(), ErrorObject> {
    check_shape(method, answer).map_err(|why| {
        ErrorObject::invalid_params(format!("inputResponses[\"{key}\"] is not a {method} result: {why}"))
    })
}

/// The minimal shape of each kind of answer.
fn check_shape<'de, D: Deserializer<'de>>(method: &str, answer: D) -> Result<(), &'static str> {
    let Ok(shape) = answer.deserialize_map(ShapeVisitor) else {
        return Err("it must be an object");
    };
    match Method::parse(method) {
        Some(Method::SamplingCreateMessage) if !(shape.role && shape.content && shape.model) => {
            Err("it needs role, content and model")
        }
        Some(Method::ElicitationCreate) if shape.action != Some(Kind::String) => Err("it needs an action"),
        Some(Method::RootsList) if shape.roots != Some(Kind::Array) => Err("it needs a roots array"),
        _ => Ok(()),
    }
}

/// Which of the members an answer's shape is checked by it has, read without building it.
#[derive(Default)]
struct Shape {
    role: bool,
    content: bool,
    model: bool,
    action: Option<Kind>,
    roots: Option<Kind>,
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut shape = Shape::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match &*key {
                "role" => shape.role = true,
                "content" => shape.content = true,
                "model" => shape.model = true,
                "action" => {
                    shape.action = Some(map.next_value()?);
                    continue;
                }
                "roots" => {
                    shape.roots = Some(map.next_value()?);
                    continue;
                }
                _ => {}
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(shape)
    }
}

/// The kind of a JSON value, as far as [`check_shape`] asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    String,
    Array,
    Other,
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KindVisitor;
        impl<'de> Visitor<'de> for KindVisitor {
            type Value = Kind;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Kind, E> {
                Ok(Kind::String)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Kind::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Kind::Other)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Kind, E> {
                Ok(Kind::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Kind, E> {
                Ok(Kind::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Kind, E> {
                Ok(Kind::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Kind, E> {
                Ok(Kind::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
                Ok(Kind::Other)
            }
        }
        d.deserialize_any(KindVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn automatic_keys_count_up_across_kinds() {
        let m = Mrtr::new(InputResponses::new());
        let keys: Vec<String> = (0..12)
            .map(|i| m.auto_key(if i % 2 == 0 { "sample" } else { "elicit" }))
            .collect();
        assert_eq!(&keys[..3], ["sample-1", "elicit-2", "sample-3"]);
        assert_eq!(&keys[8..], ["sample-9", "elicit-10", "sample-11", "elicit-12"]);
    }

    #[tokio::test]
    async fn known_answers_return_at_once_and_others_wait_for_delivery() {
        let answers = |pairs: Value| InputResponses::from_values(pairs.as_object().unwrap().clone());
        let m = std::sync::Arc::new(Mrtr::new(answers(json!({"a": {"roots": []}}))));
        let empty = serde_json::value::to_raw_value(&json!({})).unwrap();
        assert_eq!(
            m.request("a".into(), "roots/list".into(), empty.clone())
                .await
                .into_value()
                .unwrap(),
            json!({"roots": []})
        );
        let waiter = tokio::spawn({
            let m = m.clone();
            async move {
                m.request("b".into(), "roots/list".into(), empty)
                    .await
                    .into_value()
                    .unwrap()
            }
        });
        while !m.has_unanswered() {
            tokio::task::yield_now().await;
        }
        assert_eq!(m.unanswered()["b"], json!({"method": "roots/list", "params": {}}));
        assert_eq!(
            serde_json::to_value(m.input_requests()).unwrap(),
            json!({"b": {"method": "roots/list", "params": {}}})
        );
        assert!(m.deliver(answers(json!({"b": {"nope": 1}}))).is_err());
        m.deliver(answers(json!({"b": {"roots": [1]}, "zzz": 0}))).unwrap();
        assert_eq!(waiter.await.unwrap(), json!({"roots": [1]}));
        assert!(!m.has_unanswered());
        assert_eq!(m.answers().len(), 2);
    }

    #[test]
    fn an_answer_is_checked_for_its_shape_as_text_and_as_a_value() {
        let cases = [
            (
                "sampling/createMessage",
                json!({"role": "assistant", "content": {}, "model": "m"}),
                Ok(()),
            ),
            (
                "sampling/createMessage",
                json!({"role": "assistant", "content": {}}),
                Err("it needs role, content and model"),
            ),
            ("sampling/createMessage", json!([1, 2, 3]), Err("it must be an object")),
            (
                "elicitation/create",
                json!({"action": "accept", "content": {"a": [1, {"b": null}]}}),
                Ok(()),
            ),
            (
                "elicitation/create",
                json!({"action": ["accept"]}),
                Err("it needs an action"),
            ),
            ("roots/list", json!({"roots": [{"uri": "file:///"}]}), Ok(())),
            (
                "roots/list",
                json!({"roots": {"uri": "file:///"}}),
                Err("it needs a roots array"),
            ),
            ("roots/list", json!("roots"), Err("it must be an object")),
            ("x/unknown", json!({}), Ok(())),
            ("x/unknown", json!(null), Err("it must be an object")),
        ];
        for (method, answer, expected) in cases {
            let text = serde_json::value::to_raw_value(&answer).unwrap();
            assert_eq!(check_shape(method, &*text), expected, "{method} {answer} as text");
            assert_eq!(check_shape(method, &answer), expected, "{method} {answer} as a value");
        }
        let e = check_answer("k", "roots/list", json!({})).unwrap_err();
        assert_eq!(
            e.message,
            r#"inputResponses["k"] is not a roots/list result: it needs a roots array"#
        );
    }
}
