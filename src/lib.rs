#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub use mcp_macros::{prompt, prompts, resource, resources, tool, tools};
pub use mcp_runtime::*;

/// Transports: how frames travel between client and server (stdio, in-memory), as in
/// [`mcp_runtime::transport`].
///
/// This module shadows the `transport` that `pub use mcp_runtime::*` brings in, to keep two
/// older paths working: `mcp::transport::http` is `mcp::http` and `mcp::transport::auth` is
/// `mcp::http::auth`, where the Streamable HTTP front end lives now (feature `http`). The
/// runtime cannot re-export them from its own `transport`: the transports sit below the server,
/// and HTTP above it.
pub mod transport {
    pub use mcp_runtime::transport::*;

    #[cfg(feature = "http")]
    pub use mcp_runtime::http;
    #[cfg(feature = "http")]
    pub use mcp_runtime::http::auth;
}

/// JSON Schema generation, re-exported: `#[derive(mcp::JsonSchema)]` on argument and result
/// types (add `#[schemars(crate = "mcp::schemars")]` if your crate does not depend on
/// `schemars` itself).
pub use mcp_runtime::__private::schemars;
pub use mcp_runtime::__private::schemars::JsonSchema;

/// Every tool marked `#[mcp::tool]` in the calling crate (free functions; list methods with
/// [`tools!`]), sorted by name.
///
/// ```
/// /// Echo the text back.
/// #[mcp::tool]
/// async fn echo(text: String) -> String { text }
///
/// let tools = mcp::all_tools!();
/// assert!(tools.iter().any(|t| t.name() == "echo"));
/// ```
#[macro_export]
macro_rules! all_tools {
    () => {
        $crate::__private::collect_tools($crate::__private::module_path!())
    };
}

/// Every prompt marked `#[mcp::prompt]` in the calling crate (free functions), sorted by name.
#[macro_export]
macro_rules! all_prompts {
    () => {
        $crate::__private::collect_prompts($crate::__private::module_path!())
    };
}

/// Every resource and template marked `#[mcp::resource]` in the calling crate (free
/// functions), sorted by URI.
#[macro_export]
macro_rules! all_resources {
    () => {
        $crate::__private::collect_resources($crate::__private::module_path!())
    };
}

/// A [`Server`] named and versioned from the calling crate's `Cargo.toml`.
///
/// ```
/// let server = mcp::server!();
/// ```
#[macro_export]
macro_rules! server {
    () => {
        $crate::Server::new(::core::env!("CARGO_PKG_NAME"), ::core::env!("CARGO_PKG_VERSION"))
    };
}
