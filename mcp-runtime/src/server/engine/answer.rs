//! The answer that ends a call of any kind, in the request's era.

use super::outcome::Outcome;
use super::seal::{Digest, Payload};
use crate::protocol::jsonrpc::encode_error;
use crate::protocol::{CallToolResult, ErrorCode, ErrorObject, RequestId};
use crate::server::call::InputRequired;
use crate::server::context::RequestParts;
use crate::server::core::Core;
use crate::server::era;
use crate::server::prompt::PromptOutput;
use crate::server::resource::ResourceOutput;
use crate::server::tool::ToolOutput;
use serde_json::{Value, json};
use std::sync::PoisonError;

/// Encodes the answer that ends a call. `digest` binds the sealed state of a hand-written
/// `input_required` to the request.
pub(crate) fn encode(core: &Core, parts: &RequestParts, id: &RequestId, outcome: Outcome, digest: &Digest) -> Vec<u8> {
    let version = parts.version;
    let framing = &core.framing;
    let missing = || {
        parts
            .missing_capability
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    };
    let required = |required: Value, why: String| {
        let error = ErrorObject::new(
            ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
            format!("Missing required client capability: {why}"),
        )
        .with_data(json!({ "requiredCapabilities": required }));
        encode_error(Some(id), &error)
    };
    let input_required = |ir: InputRequired| {
        let state = core.sealer.seal(Payload {
            digest: *digest,
            user: ir.request_state,
            ..Payload::default()
        });
        framing.input_required(id, &ir.input_requests, &state)
    };
    match outcome {
        Outcome::Tool(ToolOutput::Result(result)) => {
            if version.is_stateless()
                && result.is_error
                && let Some(req) = missing()
            {
                return required(req, result.text_content());
            }
            framing.call_result(id, version, result)
        }
        Outcome::Tool(ToolOutput::InputRequired(ir)) if version.is_stateless() => input_required(ir),
        Outcome::Tool(ToolOutput::InputRequired(_)) => framing.call_result(
            id,
            version,
            CallToolResult::error("this tool needs input that only protocol version 2026-07-28 can carry"),
        ),
        Outcome::Prompt(PromptOutput::Result(r)) => framing.plain(id, version, &r),
        Outcome::Resource(ResourceOutput::Result(r), _) => framing.cached(id, version, &r),
        Outcome::Resource(ResourceOutput::NotFound, uri) => encode_error(Some(id), &era::not_found(version, &uri)),
        Outcome::Prompt(PromptOutput::InputRequired(ir)) | Outcome::Resource(ResourceOutput::InputRequired(ir), _)
            if version.is_stateless() =>
        {
            input_required(ir)
        }
        Outcome::Prompt(PromptOutput::InputRequired(_)) | Outcome::Resource(ResourceOutput::InputRequired(_), _) => {
            encode_error(
                Some(id),
                &ErrorObject::internal("this handler needs input that only protocol version 2026-07-28 can carry"),
            )
        }
        Outcome::Failed(e) => encode_error(Some(id), &e),
        Outcome::Prompt(PromptOutput::Error(e)) | Outcome::Resource(ResourceOutput::Error(e), _) => {
            if version.is_stateless()
                && let Some(req) = missing()
            {
                return required(req, e.message);
            }
            encode_error(Some(id), &e)
        }
    }
}
