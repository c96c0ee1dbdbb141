//! What a call of any kind ends with, and the future that runs it: the answer it gets is
//! [`answer`](super::answer)'s.

use crate::protocol::ErrorObject;
use crate::server::call::InputRequired;
use crate::server::prompt::PromptOutput;
use crate::server::resource::ResourceOutput;
use crate::server::tool::ToolOutput;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a call of any kind ends with.
pub(crate) enum Outcome {
    Tool(ToolOutput),
    Prompt(PromptOutput),
    /// A read, and the URI read.
    Resource(ResourceOutput, Arc<str>),
    /// A protocol-level failure: a task's tool that panicked.
    Failed(ErrorObject),
}

impl Outcome {
    /// Whether the handler ended with input requests written by hand.
    pub(crate) fn is_input_required(&self) -> bool {
        matches!(
            self,
            Outcome::Tool(ToolOutput::InputRequired(_))
                | Outcome::Prompt(PromptOutput::InputRequired(_))
                | Outcome::Resource(ResourceOutput::InputRequired(_), _)
        )
    }

    /// The input requests a handler wrote by hand, if it ended with them; else itself.
    pub(crate) fn into_input_required(self) -> Result<InputRequired, Self> {
        match self {
            Outcome::Tool(ToolOutput::InputRequired(ir))
            | Outcome::Prompt(PromptOutput::InputRequired(ir))
            | Outcome::Resource(ResourceOutput::InputRequired(ir), _) => Ok(ir),
            other => Err(other),
        }
    }
}

/// A call of any kind, running.
pub(crate) type OutcomeFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;
