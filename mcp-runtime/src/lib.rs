//! The runtime of [`mcp`](https://docs.rs/mcp): protocol types, the server for both protocol
//! eras, transports, the Streamable HTTP front end and a client. Depend on the `mcp` crate, which
//! re-exports this one with the macros.

#![deny(missing_docs)]

pub mod client;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod protocol;
pub mod server;
pub mod transport;

pub use error::{Error, Result};
pub use protocol::{CallToolResult, Content, Icon, Implementation, ProtocolVersion, Tool, ToolAnnotations};
pub use protocol::{CreateMessageResult, Root, SamplingContent, SamplingMessage};
pub use protocol::{
    GetPromptResult, Prompt, PromptArgument, PromptMessage, ReadResourceResult, Resource, ResourceContents,
    ResourceTemplate, Role,
};
pub use server::completion::Completer;
pub use server::context::{Context, LogLevel, Principal};
pub use server::extract::{Declaration, FromCallParts, FromToolCall, State};
pub use server::log_layer::ClientLogLayer;
pub use server::prompt::{IntoPromptResult, PromptDef, PromptOutput};
pub use server::resource::{IntoResourceResult, ResourceDef, ResourceOutput};
pub use server::sampling::{Elicit, Elicitation, IncludeContext, Sample, SampleReply, UrlElicitation};
pub use server::tool::{InputRequired, IntoToolResult, Json, Output, ToolCall, ToolDef, ToolOutput};
pub use server::{CacheScope, Server, Service};

/// What generated code names. Not a stable API: only the macros use it.
#[doc(hidden)]
pub mod __private {
    pub use crate::server::extract::State;
    pub use crate::server::extract::{Declaration, FromToolCall};
    pub use crate::server::tool::IntoToolResult;
    pub use crate::server::tool::{
        AutoTool, ToolCall, ToolDef, ToolFuture, ToolInfo, ToolOutput, collect_tools, output_schema, respond,
    };
    pub use ::core::module_path;
    pub use ::core::option::Option::{self, None, Some};
    pub use ::core::result::Result::{self, Err, Ok};
    pub use ::inventory;
    pub use ::schemars;
    pub use ::serde_json::Value;
    pub use ::std::boxed::Box;

    pub use crate::server::completion::completer;
    pub use crate::server::extract::{FromCallParts, FromStrArg, ViaArgument};
    pub use crate::server::prompt::{
        AutoPrompt, IntoPromptResult, PromptDef, PromptFuture, PromptInfo, collect_prompts, reject_prompt,
        respond_prompt,
    };
    pub use crate::server::resource::{
        AutoResource, IntoResourceResult, ResourceDef, ResourceFuture, ResourceInfo, collect_resources,
        reject_resource, respond_resource,
    };

    /// Checks, at the return type, that a prompt may return it.
    pub const fn assert_prompt_result<T: IntoPromptResult>() {}

    /// Checks, at the return type, that a resource may return it.
    pub const fn assert_resource_result<T: IntoResourceResult>() {}

    /// Serialises what an attribute's `meta = ..` or `input_schema = ..` gives.
    pub fn to_value<T: ::serde::Serialize>(value: T) -> Value {
        ::serde_json::to_value(value).expect("the attribute's value must serialise to JSON")
    }
}
