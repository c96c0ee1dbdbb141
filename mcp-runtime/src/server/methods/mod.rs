//! The server's methods, one module per group. Each adds its handlers to
//! [`Connection`](super::connection::Connection), which `incoming` routes to.

pub(crate) mod calls;
pub(crate) mod complete;
pub(crate) mod lifecycle;
pub(crate) mod lists;
pub(crate) mod subscriptions;
pub(crate) mod tasks;
