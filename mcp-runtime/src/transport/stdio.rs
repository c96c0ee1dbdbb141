//! Newline-delimited JSON over byte streams: the stdio transport (and any pipe or socket).

use super::{DEFAULT_MAX_MESSAGE_BYTES, FrameReader, FrameWriter, ReadFrame, Transport};
use std::io;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};

/// Messages as lines over a reader and a writer. [`stdio()`] makes one on the process's stdin
/// and stdout; the client uses one on a child's pipes.
#[derive(Debug)]
pub struct LineTransport<R, W> {
    reader: R,
    writer: W,
    max_message_bytes: usize,
}

impl<R, W> LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    /// Lines read from `reader`, written to `writer`.
    pub fn new(reader: R, writer: W) -> Self {
        Self {
            reader,
            writer,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    /// Sets the largest message accepted; a longer line is skipped and reported as
    /// [`ReadFrame::TooLarge`], never buffered whole.
    #[must_use]
    pub fn max_message_bytes(mut self, limit: usize) -> Self {
        self.max_message_bytes = limit;
        self
    }
}

/// The process's stdin and stdout as a transport. Only protocol messages go to stdout: log to
/// stderr.
pub fn stdio() -> LineTransport<tokio::io::Stdin, tokio::io::Stdout> {
    LineTransport::new(tokio::io::stdin(), tokio::io::stdout())
}

impl<R, W> Transport for LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Reader = LineReader<R>;
    type Writer = LineWriter<W>;

    fn split(self) -> (Self::Reader, Self::Writer) {
        (
            LineReader {
                inner: BufReader::with_capacity(64 * 1024, self.reader),
                max: self.max_message_bytes,
            },
            LineWriter {
                inner: BufWriter::with_capacity(64 * 1024, self.writer),
            },
        )
    }
}

/// Reads newline-delimited messages, with a size limit.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: BufReader<R>,
    max: usize,
}

impl<R: AsyncRead + Unpin + Send + 'static> FrameReader for LineReader<R> {
    async fn read_frame(&mut self) -> io::Result<Option<ReadFrame>> {
        loop {
            let mut line = Vec::new();
            let mut size = 0usize;
            let mut too_large = false;
            loop {
                let available = self.inner.fill_buf().await?;
                if available.is_empty() {
                    if size == 0 {
                        return Ok(None);
                    }
                    break;
                }
                let (chunk, consumed, done) = match available.iter().position(|&b| b == b'\n') {
                    Some(i) => (&available[..i], i + 1, true),
                    None => (available, available.len(), false),
                };
                size += chunk.len();
                if !too_large {
                    if line.len() + chunk.len() > self.max {
                        too_large = true;
                        line = Vec::new();
                    } else {
                        line.extend_from_slice(chunk);
                    }
                }
                self.inner.consume(consumed);
                if done {
                    break;
                }
            }
            if too_large {
                return Ok(Some(ReadFrame::TooLarge { size }));
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(ReadFrame::Message(line)));
        }
    }
}

/// Writes one message a line, flushing once a batch.
#[derive(Debug)]
pub struct LineWriter<W: AsyncWrite> {
    inner: BufWriter<W>,
}

impl<W: AsyncWrite + Unpin + Send + 'static> FrameWriter for LineWriter<W> {
    async fn write_frames(&mut self, frames: &mut Vec<Vec<u8>>) -> io::Result<()> {
        for frame in frames.drain(..) {
            self.inner.write_all(&frame).await?;
            self.inner.write_all(b"\n").await?;
        }
        self.inner.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &'static [u8], max: usize) -> Vec<ReadFrame> {
        let (mut r, _w) = LineTransport::new(input, tokio::io::sink())
            .max_message_bytes(max)
            .split();
        let mut out = Vec::new();
        while let Some(f) = r.read_frame().await.unwrap() {
            out.push(f);
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_skips_blanks_and_refuses_long_ones() {
        let got = frames(
            b"{\"a\":1}\r\n\n  \n{\"b\":2}\n0123456789abcdef\n{\"c\":3}",
            10,
        )
        .await;
        let shown: Vec<String> = got
            .iter()
            .map(|f| match f {
                ReadFrame::Message(m) => String::from_utf8(m.clone()).unwrap(),
                ReadFrame::TooLarge { size } => format!("too large: {size}"),
            })
            .collect();
        assert_eq!(
            shown,
            ["{\"a\":1}", "{\"b\":2}", "too large: 16", "{\"c\":3}"]
        );
    }
}
