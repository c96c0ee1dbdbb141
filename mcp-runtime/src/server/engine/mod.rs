//! The call engine: how a `tools/call`, `prompts/get` or `resources/read` runs, in either era.
//!
//! - [`start`]: binds the call to its request, opens a retry's sealed `requestState`, resumes a
//!   parked call or replays it, and runs the handler: to its end at once when it does not wait,
//!   else on a task of its own;
//! - [`drive`]: runs a call that waits: to its end (handshake era), or in `input_required`
//!   rounds (stateless era), parking it between them;
//! - [`parked`]: calls parked between rounds, and where each round's answer goes;
//! - [`mrtr`]: the input requests of one call and their answers;
//! - [`seal`]: sealing and opening `requestState`;
//! - [`outcome`]: what a call ends with;
//! - [`answer`]: the answer that ends a call, in the request's era;
//! - [`panic`]: a handler that panics harms nothing else;
//! - [`rerun`]: input requests a handler writes by hand, outside a stateless round.

pub(crate) mod answer;
pub(crate) mod drive;
pub(crate) mod mrtr;
pub(crate) mod outcome;
pub(crate) mod panic;
pub(crate) mod parked;
pub(crate) mod rerun;
pub(crate) mod seal;
pub(crate) mod start;
