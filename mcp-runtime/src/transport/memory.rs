//! An in-process transport: two connected ends, for tests and embedding.

use super::{FrameReader, FrameWriter, ReadFrame, Transport};
use std::io;
use tokio::sync::mpsc;

/// One end of an in-memory connection.
#[derive(Debug)]
pub struct MemoryTransport {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
}

/// Two connected ends: give one to the server and one to the client.
pub fn pair() -> (MemoryTransport, MemoryTransport) {
    let (a_tx, a_rx) = mpsc::channel(1024);
    let (b_tx, b_rx) = mpsc::channel(1024);
    (
        MemoryTransport { tx: a_tx, rx: b_rx },
        MemoryTransport { tx: b_tx, rx: a_rx },
    )
}

/// The receiving half of a [`MemoryTransport`].
#[derive(Debug)]
pub struct MemoryReader(mpsc::Receiver<Vec<u8>>);

/// The sending half of a [`MemoryTransport`].
#[derive(Debug)]
pub struct MemoryWriter(mpsc::Sender<Vec<u8>>);

impl Transport for MemoryTransport {
    type Reader = MemoryReader;
    type Writer = MemoryWriter;

    fn split(self) -> (MemoryReader, MemoryWriter) {
        (MemoryReader(self.rx), MemoryWriter(self.tx))
    }
}

impl FrameReader for MemoryReader {
    async fn read_frame(&mut self) -> io::Result<Option<ReadFrame>> {
        Ok(self.0.recv().await.map(ReadFrame::Message))
    }
}

impl FrameWriter for MemoryWriter {
    async fn write_frames(&mut self, frames: &mut Vec<Vec<u8>>) -> io::Result<()> {
        for frame in frames.drain(..) {
            self.0
                .send(frame)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the other end is closed"))?;
        }
        Ok(())
    }
}
