//! The JSON-RPC decoder: any bytes become a frame of messages or a clear error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp::protocol::jsonrpc::{Frame, Incoming, parse_frame};

fuzz_target!(|data: &[u8]| {
    match parse_frame(data) {
        Frame::Single(message) => check(&message, data),
        Frame::Batch(messages) => messages.iter().for_each(|m| check(m, data)),
    }
});

fn check(message: &Incoming, data: &[u8]) {
    // Whatever was refused must say why.
    if let Incoming::Invalid { error, .. } = message {
        assert!(!error.message.is_empty(), "an empty error for {data:?}");
    }
}
