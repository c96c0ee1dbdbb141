//! Multi round-trip requests (2026-07-28): a handler's client requests collected into rounds.
//!
//! In the stateless era a server may not send requests to the client. When a handler calls
//! `ctx.sample(..)`, the request is registered here under a key and the handler's future waits.
//! When the future has nothing left to do but wait for such answers, the call is answered with
//! `resultType: "input_required"`, listing the waiting requests, and the future is *parked*. The
//! client's retry carries `inputResponses`; they are delivered here and the same future resumes.
//! If the parked future is gone, the handler runs again from the top with the answers carried
//! in the sealed `requestState`, and each earlier request is answered at once from them.

use crate::protocol::{ErrorObject, Method};
use crate::server::peer::Reply;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;

struct Waiting {
    key: String,
    method: String,
    /// `{"method", "params"}`, serialised once when the handler asks: each `input_required`
    /// writes it as it is.
    request: Box<RawValue>,
    tx: oneshot::Sender<Arc<Value>>,
}

#[derive(Default)]
struct Inner {
    /// Shared with the handler that asked: an answer is kept for later rounds with no copy.
    answers: BTreeMap<String, Arc<Value>>,
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
    pub(crate) fn new(answers: Map<String, Value>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                answers: answers.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
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
        let mut g = self.lock();
        g.next += 1;
        format!("{prefix}-{}", g.next)
    }

    /// The answer to `method` under `key`: at once if it is known, else when a retry brings it.
    pub(crate) async fn request(&self, key: String, method: &str, params: &RawValue) -> Reply {
        let rx = {
            let mut g = self.lock();
            if let Some(answer) = g.answers.get(&key) {
                return Reply::Shared(Arc::clone(answer));
            }
            let (tx, rx) = oneshot::channel();
            // The client's work on this input request joins the call's trace.
            #[cfg(feature = "otel")]
            let traced = crate::server::otel::inject_raw(params);
            #[cfg(feature = "otel")]
            let params = traced.as_deref().unwrap_or(params);
            #[derive(serde::Serialize)]
            struct Request<'a> {
                method: &'a str,
                params: &'a RawValue,
            }
            let request = serde_json::value::to_raw_value(&Request { method, params }).expect("JSON text serialises");
            g.waiting.push(Waiting {
                key,
                method: method.to_owned(),
                request,
                tx,
            });
            if let Some(driver) = g.driver.take() {
                driver.wake();
            }
            rx
        };
        match rx.await {
            Ok(v) => Reply::Shared(v),
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
                let request = serde_json::from_str(w.request.get()).expect("written as JSON");
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
    pub(crate) fn answers(&self) -> Map<String, Value> {
        let g = self.lock();
        g.answers.iter().map(|(k, v)| (k.clone(), Value::clone(v))).collect()
    }

    /// Hands the retry's `inputResponses` to the requests waiting for them. Keys nobody waits
    /// for are ignored; an answer of the wrong shape is an invalid-params error.
    pub(crate) fn deliver(&self, mut responses: Map<String, Value>) -> Result<(), ErrorObject> {
        let mut g = self.lock();
        for w in &g.waiting {
            if let Some(answer) = responses.get(&w.key) {
                check_answer(&w.key, &w.method, answer)?;
            }
        }
        let waiting = std::mem::take(&mut g.waiting);
        for w in waiting {
            match responses.remove(&w.key) {
                Some(answer) => {
                    let answer = Arc::new(answer);
                    g.answers.insert(w.key, Arc::clone(&answer));
                    let _ = w.tx.send(answer);
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
            match responses.get(&w.key).filter(|a| check_shape(&w.method, a).is_ok()) {
                Some(answer) => {
                    let answer = Arc::new(answer.clone());
                    g.answers.insert(w.key, Arc::clone(&answer));
                    let _ = w.tx.send(answer);
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

/// Checks the answer to input request `key`, of `method`: the error says what is wrong with it.
pub(crate) fn check_answer(key: &str, method: &str, answer: &Value) -> Result<(), ErrorObject> {
    check_shape(method, answer).map_err(|why| {
        ErrorObject::invalid_params(format!("inputResponses[\"{key}\"] is not a {method} result: {why}"))
    })
}

/// The minimal shape of each kind of answer.
fn check_shape(method: &str, answer: &Value) -> Result<(), &'static str> {
    let has = |k: &str| answer.get(k).is_some();
    match Method::parse(method) {
        Some(Method::SamplingCreateMessage) if !(has("role") && has("content") && has("model")) => {
            Err("it needs role, content and model")
        }
        Some(Method::ElicitationCreate) if !answer.get("action").is_some_and(Value::is_string) => {
            Err("it needs an action")
        }
        Some(Method::RootsList) if !answer.get("roots").is_some_and(Value::is_array) => Err("it needs a roots array"),
        _ if !answer.is_object() => Err("it must be an object"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn known_answers_return_at_once_and_others_wait_for_delivery() {
        let m = std::sync::Arc::new(Mrtr::new(Map::from_iter([("a".to_owned(), json!({"roots": []}))])));
        let empty = serde_json::value::to_raw_value(&json!({})).unwrap();
        assert_eq!(
            m.request("a".into(), "roots/list", &empty).await.into_value().unwrap(),
            json!({"roots": []})
        );
        let waiter = tokio::spawn({
            let m = m.clone();
            async move { m.request("b".into(), "roots/list", &empty).await.into_value().unwrap() }
        });
        while !m.has_unanswered() {
            tokio::task::yield_now().await;
        }
        assert_eq!(m.unanswered()["b"], json!({"method": "roots/list", "params": {}}));
        assert_eq!(
            serde_json::to_value(m.input_requests()).unwrap(),
            json!({"b": {"method": "roots/list", "params": {}}})
        );
        assert!(
            m.deliver(Map::from_iter([("b".to_owned(), json!({"nope": 1}))]))
                .is_err()
        );
        m.deliver(Map::from_iter([
            ("b".to_owned(), json!({"roots": [1]})),
            ("zzz".to_owned(), json!(0)),
        ]))
        .unwrap();
        assert_eq!(waiter.await.unwrap(), json!({"roots": [1]}));
        assert!(!m.has_unanswered());
        assert_eq!(m.answers().len(), 2);
    }
}
