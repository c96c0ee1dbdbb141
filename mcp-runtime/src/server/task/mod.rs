//! Tasks: tool calls that outlive their request. The client gets a task id at once, then polls
//! it (`tasks/get`), answers what it asks (`tasks/update`, or real requests in the handshake
//! era), cancels it (`tasks/cancel`) and reads its result.
//!
//! Both eras are served: the `io.modelcontextprotocol/tasks` extension of 2026-07-28, and the
//! experimental tasks of 2025-11-25 (`params.task`, `tasks/result`, `tasks/list`). One tool
//! opts in with `#[mcp::tool(task = "optional")]` and runs unchanged in either: its
//! `ctx.sample`, `ctx.elicit` and `ctx.roots` become the task's input requests, its progress
//! becomes the task's status message, and a cancellation reaches `ctx.cancelled()`.
//!
//! - [`record`]: a task as the store keeps it, and its wire shapes;
//! - [`tasks`]: the server's tasks, in the [`Store`](crate::server::store::Store), and the ones
//!   running here;
//! - [`run`]: driving one task to its end;
//! - [`peer`]: how a handshake-era task asks the client.
//!
//! The methods themselves are in `methods/tasks.rs`; starting a call as a task is in the
//! engine (`engine/start.rs`).

pub(crate) mod peer;
pub(crate) mod record;
pub(crate) mod run;
pub(crate) mod start;
pub(crate) mod tasks;

pub(crate) use tasks::{TaskOptions, Tasks};
