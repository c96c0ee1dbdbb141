//! Transports: how frames (one JSON-RPC message, or a batch) travel between client and server.
//!
//! A transport splits into a [`FrameReader`] and a [`FrameWriter`]. The server and the
//! [`client`](crate::client) both run on any transport: [`stdio`] (newline-delimited, for a child
//! process), [`memory`] (in-process, for tests).

use std::future::Future;
use std::io;

pub mod memory;
pub mod stdio;

/// A frame read from the peer.
#[derive(Debug)]
pub enum ReadFrame {
    /// One message's bytes.
    Message(Vec<u8>),
    /// A message larger than the transport's limit, skipped without buffering it.
    TooLarge {
        /// How many bytes it had.
        size: usize,
        /// The transport's limit.
        limit: usize,
    },
}

/// The receiving half of a transport.
pub trait FrameReader: Send + 'static {
    /// The next frame; `None` when the peer closed its side.
    fn read_frame(&mut self) -> impl Future<Output = io::Result<Option<ReadFrame>>> + Send;

    /// Takes back a message's bytes once it is handled, to read a later one into: a reader
    /// that keeps them allocates nothing per message. Dropped by default.
    fn recycle(&mut self, frame: Vec<u8>) {
        drop(frame);
    }
}

/// The sending half of a transport.
pub trait FrameWriter: Send + 'static {
    /// Sends every frame in `frames` (draining it), then flushes once.
    fn write_frames(&mut self, frames: &mut Vec<Vec<u8>>) -> impl Future<Output = io::Result<()>> + Send;

    /// Called once after the last frame: returns when everything written has left the
    /// process, so that exiting loses nothing. Nothing to do by default.
    fn close(&mut self) -> impl Future<Output = io::Result<()>> + Send {
        std::future::ready(Ok(()))
    }
}

/// A bidirectional transport.
pub trait Transport: Send + 'static {
    /// The receiving half.
    type Reader: FrameReader;
    /// The sending half.
    type Writer: FrameWriter;
    /// Splits the transport into its halves.
    fn split(self) -> (Self::Reader, Self::Writer);
}

/// The default limit on one message: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
