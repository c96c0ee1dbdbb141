//! The runtime of [`mcp`](https://docs.rs/mcp): protocol types, the server for both protocol
//! eras, transports, the Streamable HTTP front end and a client. Depend on the `mcp` crate, which
//! re-exports this one with the macros.

#![deny(missing_docs)]

pub mod client;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "otel")]
pub mod otel;
pub mod protocol;
pub mod proxy;
pub mod run;
pub mod server;
pub mod store;
pub mod transport;

pub use error::{Error, Result};
pub use protocol::{
    CallToolResult, Content, Icon, Implementation, Method, ProtocolVersion, TaskSupport, Tool, ToolAnnotations,
    ToolExecution,
};
pub use protocol::{CreateMessageResult, Root, SamplingContent, SamplingMessage};
pub use protocol::{
    GetPromptResult, Prompt, PromptArgument, PromptMessage, ReadResourceResult, Resource, ResourceContents,
    ResourceTemplate, Role,
};
pub use run::RunMode;
pub use server::call::{InputRequired, ToolCall};
pub use server::completion::Completer;
pub use server::context::{Context, LogLevel};
pub use server::extract::{Args, Declaration, FromCallParts, FromToolCall, State};
pub use server::log_layer::ClientLogLayer;
pub use server::middleware;
pub use server::principal::Principal;
pub use server::prompt::{IntoPromptResult, PromptDef, PromptOutput};
pub use server::resource::{IntoResourceResult, ResourceDef, ResourceOutput};
pub use server::sampling::{Elicit, Elicitation, IncludeContext, Sample, SampleReply, UrlElicitation};
pub use server::tool::{IntoToolResult, Json, Output, ToolDef, ToolOutput};
pub use server::visibility;
pub use server::{CacheScope, DEFAULT_HTTP_ADDR, Server, Service};

/// What generated code names. Not a stable API: only the macros use it.
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
