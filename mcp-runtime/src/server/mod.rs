//! The server: the builder and the built [`Service`]; what it serves (the catalog); the
//! connection and the jobs around it; the call engine; the era seam; handlers, extractors and
//! [`Context`](context::Context).
//!
//! | concept | module |
//! |---|---|
//! | building a server, its options | `builder` ([`Server`]) |
//! | a built server, changed while serving | `service` ([`Service`]) |
//! | what a built server shares among connections | `core` |
//! | what is served now, serialised once per change | `catalog` |
//! | what differs between protocol eras | `era` |
//! | one connection, its outbound link, its loop | `connection`, `link`, `driver` |
//! | reading messages and routing requests | `incoming` |
//! | one module per group of methods | `methods/` |
//! | running calls: rounds, sealed state, replay | `engine/` |
//! | what a handler sees of its request and client | [`context`], `peer` |
//! | who made a request (token subject, scopes) | [`principal`] |
//! | one call's arguments, shared by all handlers | [`call`] |
//! | tools, prompts, resources | [`tool`], [`prompt`], [`resource`] |
//! | parameters of handlers | [`extract`], `state` |
//! | state that outlives one request | [`store`] (the seam; stores in [`crate::store`]) |
//! | sampling, elicitation, roots | [`sampling`] |
//! | spans and metrics after the OpenTelemetry conventions (feature `otel`) | `otel` |

pub(crate) mod builder;
pub mod call;
pub(crate) mod catalog;
pub mod completion;
pub(crate) mod connection;
pub mod context;
pub(crate) mod core;
pub(crate) mod driver;
pub(crate) mod engine;
pub(crate) mod era;
pub(crate) mod events;
pub mod extract;
pub(crate) mod hint;
pub(crate) mod incoming;
pub(crate) mod link;
pub mod log_layer;
pub(crate) mod methods;
pub mod middleware;
#[cfg(feature = "otel")]
pub(crate) mod otel;
pub(crate) mod peer;
pub mod principal;
pub mod prompt;
pub mod resource;
pub mod sampling;
pub mod schema;
pub(crate) mod service;
pub(crate) mod state;
pub mod store;
pub(crate) mod strarg;
pub(crate) mod task;
pub mod tool;
pub mod uri_template;
pub mod visibility;

pub use builder::Server;
pub use era::CacheScope;
pub use hint::DEFAULT_HTTP_ADDR;
pub use mcp_grammar::is_valid_tool_name;
pub use service::Service;
