//! Handlers that write their input requests by hand ([`InputRequired`](crate::InputRequired))
//! outside a stateless round: in the handshake era, and inside a task. The requests are asked
//! (as real requests, or as a task's `inputRequests`), then the handler runs again from the top
//! with the answers, which it reads from `ctx.input_responses()`.

use super::mrtr::Mrtr;
use super::outcome::OutcomeFuture;
use crate::protocol::params::InputResponses;
use crate::protocol::{ErrorObject, RequestId};
use crate::server::context::{Answered, Exchange, RequestParts, Round};
use crate::server::peer::Peer;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs a call's handler again, with the same arguments, on new parts.
pub(crate) type Rerun = Arc<dyn Fn(Arc<RequestParts>) -> OutcomeFuture + Send + Sync>;

/// Asks the client each request (`{"method", "params"}` by key), one after the other, and
/// returns the answers by key.
pub(crate) async fn ask_all(
    peer: &dyn Peer,
    requests: &Map<String, Value>,
    timeout: Duration,
    related: RequestId,
) -> Result<Map<String, Value>, ErrorObject> {
    let mut answers = Map::new();
    for (key, request) in requests {
        let Some(method) = request.get("method").and_then(Value::as_str) else {
            return Err(ErrorObject::internal(format!(
                "the handler's input request `{key}` has no method"
            )));
        };
        let empty = Value::Object(Map::new());
        let params = serde_json::value::to_raw_value(request.get("params").unwrap_or(&empty))
            .map_err(|e| ErrorObject::internal(format!("the handler's input request `{key}`: {e}")))?;
        let answer = peer
            .request(method, &params, timeout, related.clone())
            .await
            .map_err(|e| ErrorObject::internal(format!("the client did not answer `{key}` ({method}): {e}")))?;
        answers.insert(key.clone(), crate::protocol::jsonrpc::raw_to_value(&answer)?);
    }
    Ok(answers)
}

impl RequestParts {
    /// The same request, for a handler run again with `answers` to the input requests it wrote
    /// by hand, and the state it asked to get back.
    pub(crate) fn again(&self, answers: Option<Map<String, Value>>, state: Option<String>) -> Self {
        let exchange = match &self.exchange {
            Exchange::Handshake(peer) => Exchange::Handshake(Arc::clone(peer)),
            Exchange::Stateless { .. } => Exchange::Stateless {
                mrtr: Arc::new(Mrtr::new(InputResponses::new())),
                // `ctx.input_responses()` reads them from `answered`, below.
                input_responses: None,
                user_state: state.clone(),
                replay: false,
            },
        };
        let round = self.round();
        Self {
            request_id: self.request_id.clone(),
            version: self.version,
            client_capabilities: Arc::clone(&self.client_capabilities),
            client_info: self.client_info.clone(),
            meta: self.meta.clone(),
            state: Arc::clone(&self.state),
            exchange,
            answered: Some(Answered {
                input_responses: answers,
                user_state: state,
            }),
            round: Mutex::new(Round {
                request_id: round.request_id.clone(),
                peer: Arc::clone(&round.peer),
                progress_token: round.progress_token.clone(),
                log_level: round.log_level,
                last_progress: round.last_progress,
                finished: round.finished,
            }),
            cancel: Arc::clone(&self.cancel),
            missing_capability: Mutex::new(None),
            client_timeout: self.client_timeout,
            service: Arc::clone(&self.service),
            principal: self.principal.clone(),
            task: self.task.clone(),
            hidden: self.hidden.clone(),
        }
    }
}
