//! Newline-delimited JSON over byte streams: the stdio transport (and any pipe or socket).

#[cfg(unix)]
mod reactor;

use super::{DEFAULT_MAX_MESSAGE_BYTES, FrameReader, FrameWriter, ReadFrame, Transport};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter, ReadBuf};
use tokio::sync::mpsc;

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
pub fn stdio() -> Stdio {
    Stdio {
        max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
    }
}

/// The process's stdin and stdout, each on the runtime's reactor or on a thread of its own (see
/// [`Stdin`] and [`Stdout`]): see [`stdio()`].
#[derive(Debug)]
pub struct Stdio {
    max_message_bytes: usize,
}

impl Stdio {
    /// Sets the largest message accepted, as [`LineTransport::max_message_bytes`] does.
    #[must_use]
    pub fn max_message_bytes(mut self, limit: usize) -> Self {
        self.max_message_bytes = limit;
        self
    }
}

impl Transport for Stdio {
    type Reader = LineReader<Stdin>;
    type Writer = Stdout;

    fn split(self) -> (Self::Reader, Self::Writer) {
        (LineReader::new(Stdin::new(), self.max_message_bytes), Stdout::new())
    }
}

/// The process's stdout.
///
/// On Unix, inside a Tokio runtime, when stdout is a pipe or a Unix socket that is not also
/// stdin or stderr (as an MCP client spawns a server), it is made non-blocking and written by
/// the runtime's reactor: a batch of frames is written by the task that wrote it, with no
/// thread woken, and the stream is left as it was found when this is dropped. Otherwise (a file,
/// a terminal, a TCP socket, the same file as stderr, whose writes must not fail with
/// `WouldBlock`, or another platform), it is written on a thread of its own. Either way a batch
/// is written before the next is taken: a failed write (the client closed its end) ends
/// serving, and a client that reads slowly slows the server down instead of growing its
/// memory. While it is on the reactor, a stray `println!` that finds the pipe full panics
/// instead of waiting: only protocol messages go to stdout.
#[derive(Debug)]
pub struct Stdout {
    sink: Sink,
    /// The last batch's buffer, written out.
    spare: Vec<u8>,
}

#[derive(Debug)]
enum Sink {
    #[cfg(unix)]
    Reactor(reactor::Out),
    Thread(ThreadStdout),
}

/// A batch's buffer larger than this is not kept for the next.
const STDOUT_SPARE_AT_MOST: usize = 1024 * 1024;

impl Stdout {
    /// Takes the process's stdout: on the current runtime's reactor when it can, else on a
    /// thread of its own (outside a Tokio runtime, always on a thread).
    ///
    /// # Panics
    /// If the thread is needed and cannot be started, or, when stdout is a pipe or a Unix socket,
    /// inside a Tokio runtime built without I/O (`enable_io`; `#[tokio::main]` has it).
    pub fn new() -> Self {
        #[cfg(unix)]
        if let Some(out) = reactor::stdout() {
            return Self {
                sink: Sink::Reactor(out),
                spare: Vec::new(),
            };
        }
        Self {
            sink: Sink::Thread(ThreadStdout::new()),
            spare: Vec::new(),
        }
    }
}

impl Default for Stdout {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameWriter for Stdout {
    async fn write_frames(&mut self, frames: &mut Vec<Vec<u8>>) -> io::Result<()> {
        let size = frames.iter().map(|f| f.len() + 1).sum();
        let mut batch = std::mem::take(&mut self.spare);
        batch.clear();
        batch.reserve(size);
        for frame in frames.drain(..) {
            batch.extend_from_slice(&frame);
            batch.push(b'\n');
        }
        let (result, batch) = match &mut self.sink {
            #[cfg(unix)]
            Sink::Reactor(out) => (out.write_all(&batch).await, Some(batch)),
            Sink::Thread(thread) => thread.write(batch).await,
        };
        if let Some(batch) = batch.filter(|b| b.capacity() <= STDOUT_SPARE_AT_MOST) {
            self.spare = batch;
        }
        result
    }

    async fn close(&mut self) -> io::Result<()> {
        // Every batch was written before `write_frames` returned; a thread ends with its
        // channel, and the reactor's descriptor is a copy of stdout's, closed when dropped.
        match &mut self.sink {
            #[cfg(unix)]
            Sink::Reactor(_) => {}
            Sink::Thread(thread) => thread.batches = None,
        }
        Ok(())
    }
}

/// The process's stdout, written on a thread of its own: where the reactor cannot take it
/// ([`Stdout`]).
///
/// Each batch of frames is handed to the thread whole and written with one `write` and one
/// flush, and the writer waits for it: a failed write (the client closed its end) ends serving,
/// and a client that reads slowly slows the server down instead of growing its memory. The
/// runtime's blocking pool is not involved, so a batch costs two thread wake-ups, not a blocking
/// task per write. The batch's buffer comes back with the result, for the next batch.
/// Dropping it ends the thread.
#[derive(Debug)]
struct ThreadStdout {
    batches: Option<mpsc::Sender<Vec<u8>>>,
    written: mpsc::Receiver<(io::Result<()>, Vec<u8>)>,
}

impl ThreadStdout {
    /// Starts the writing thread.
    ///
    /// # Panics
    /// If the thread cannot be started.
    fn new() -> Self {
        let (batches, mut rx) = mpsc::channel::<Vec<u8>>(1);
        let (done, written) = mpsc::channel(1);
        std::thread::Builder::new()
            .name("mcp-stdout".into())
            .spawn(move || {
                let mut stdout = std::io::stdout().lock();
                while let Some(batch) = rx.blocking_recv() {
                    let result = std::io::Write::write_all(&mut stdout, &batch)
                        .and_then(|()| std::io::Write::flush(&mut stdout));
                    let failed = result.is_err();
                    if done.blocking_send((result, batch)).is_err() || failed {
                        break;
                    }
                }
            })
            .expect("the stdout thread starts");
        Self {
            batches: Some(batches),
            written,
        }
    }

    /// Writes one batch; its buffer comes back for the next, unless the thread is gone.
    async fn write(&mut self, batch: Vec<u8>) -> (io::Result<()>, Option<Vec<u8>>) {
        let sent = match &self.batches {
            Some(tx) => tx.send(batch).await.is_ok(),
            None => false,
        };
        match self.written.recv().await {
            Some((result, batch)) if sent => (result, Some(batch)),
            _ => (Err(io::Error::from(io::ErrorKind::BrokenPipe)), None),
        }
    }
}

/// The process's stdin.
///
/// On Unix, inside a Tokio runtime, when stdin is a pipe or a Unix socket that is not also
/// stdout or stderr (as an MCP client spawns a server), it is made non-blocking and read by the
/// runtime's reactor, with no thread in between, and left as it was found when this is dropped;
/// it reads the descriptor itself, not through `std::io::stdin()`'s buffer. Otherwise (a file,
/// a terminal, a TCP socket, another platform) it is read on a thread of its own, never on the
/// runtime's blocking pool: `tokio::io::stdin` reads there, and a runtime does not shut down
/// while a blocking read is pending, so a server whose client stopped reading, but kept stdin
/// open, would never exit.
#[derive(Debug)]
pub struct Stdin {
    source: Source,
}

#[derive(Debug)]
enum Source {
    #[cfg(unix)]
    Reactor(reactor::In),
    Thread(ThreadStdin),
}

impl Stdin {
    /// Takes the process's stdin: on the current runtime's reactor when it can, else on a
    /// thread of its own (outside a Tokio runtime, always on a thread).
    ///
    /// # Panics
    /// If the thread is needed and cannot be started, or, when stdin is a pipe or a Unix socket,
    /// inside a Tokio runtime built without I/O (`enable_io`; `#[tokio::main]` has it).
    pub fn new() -> Self {
        #[cfg(unix)]
        if let Some(source) = reactor::stdin() {
            return Self {
                source: Source::Reactor(source),
            };
        }
        Self {
            source: Source::Thread(ThreadStdin::new()),
        }
    }
}

impl Default for Stdin {
    fn default() -> Self {
        Self::new()
    }
}

impl AsyncRead for Stdin {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match &mut self.source {
            #[cfg(unix)]
            Source::Reactor(source) => Pin::new(source).poll_read(cx, buf),
            Source::Thread(thread) => Pin::new(thread).poll_read(cx, buf),
        }
    }
}

/// The process's stdin, read on a thread of its own: where the reactor cannot take it
/// ([`Stdin`]). A plain thread does not hold the process open.
///
/// The thread reads into buffers the reader hands back once it has taken their bytes: no copy
/// is made between the two, and no buffer is allocated on one thread and freed on the other
/// (BENCHMARKS.md, seventh pass).
#[derive(Debug)]
struct ThreadStdin {
    /// Buffers the thread filled, with how many bytes it read into each.
    rx: mpsc::Receiver<io::Result<(Vec<u8>, usize)>>,
    chunk: Vec<u8>,
    len: usize,
    pos: usize,
    /// Buffers read out, for the thread to read into again.
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// The size of each buffer stdin is read into.
const STDIN_CHUNK: usize = 16 * 1024;
/// The reads the thread may queue ahead of the reader.
const STDIN_QUEUED: usize = 8;
/// How many read-out buffers wait for the thread at most: as many as can be in use at once (the
/// queued ones, the one being read out and the one being read into), so that once every one of
/// them was made, none is made or freed again (a new one is zeroed first).
const STDIN_SPARE_AT_MOST: usize = STDIN_QUEUED + 2;

impl ThreadStdin {
    /// Starts the reading thread.
    ///
    /// # Panics
    /// If the thread cannot be started.
    fn new() -> Self {
        let (tx, rx) = mpsc::channel(STDIN_QUEUED);
        let spare = Arc::new(Mutex::new(Vec::new()));
        let thread_spare = Arc::clone(&spare);
        std::thread::Builder::new()
            .name("mcp-stdin".into())
            .spawn(move || {
                let mut stdin = std::io::stdin().lock();
                loop {
                    let taken = thread_spare.lock().unwrap_or_else(PoisonError::into_inner).pop();
                    let mut buf = taken.unwrap_or_else(|| vec![0u8; STDIN_CHUNK]);
                    let read = loop {
                        match std::io::Read::read(&mut stdin, &mut buf) {
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            other => break other,
                        }
                    };
                    match read {
                        Ok(0) => break,
                        Ok(n) => {
                            if tx.blocking_send(Ok((buf, n))).is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = tx.blocking_send(Err(e));
                            break;
                        }
                    }
                }
            })
            .expect("the stdin thread starts");
        Self {
            rx,
            chunk: Vec::new(),
            len: 0,
            pos: 0,
            spare,
        }
    }

    /// Hands the buffer just read out back to the thread.
    fn give_back(&mut self) {
        let chunk = std::mem::take(&mut self.chunk);
        if chunk.len() == STDIN_CHUNK {
            let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
            if spare.len() < STDIN_SPARE_AT_MOST {
                spare.push(chunk);
            }
        }
    }
}

impl AsyncRead for ThreadStdin {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.pos < self.len {
                let n = buf.remaining().min(self.len - self.pos);
                let start = self.pos;
                buf.put_slice(&self.chunk[start..start + n]);
                self.pos += n;
                return Poll::Ready(Ok(()));
            }
            match std::task::ready!(self.rx.poll_recv(cx)) {
                Some(Ok((chunk, len))) => {
                    self.give_back();
                    self.chunk = chunk;
                    self.len = len;
                    self.pos = 0;
                }
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => return Poll::Ready(Ok(())),
            }
        }
    }
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
            LineReader::new(self.reader, self.max_message_bytes),
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
    /// The buffer of a message already handled ([`FrameReader::recycle`]): the next is read
    /// into it.
    spare: Vec<u8>,
}

/// A message's buffer larger than this is not kept for the next.
const SPARE_AT_MOST: usize = 64 * 1024;

impl<R: AsyncRead> LineReader<R> {
    fn new(reader: R, max: usize) -> Self {
        Self {
            inner: BufReader::with_capacity(64 * 1024, reader),
            max,
            spare: Vec::new(),
        }
    }
}

impl<R: AsyncRead + Unpin + Send + 'static> FrameReader for LineReader<R> {
    async fn read_frame(&mut self) -> io::Result<Option<ReadFrame>> {
        loop {
            let mut line = std::mem::take(&mut self.spare);
            line.clear();
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
                let (chunk, consumed, done) = match memchr::memchr(b'\n', available) {
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
                return Ok(Some(ReadFrame::TooLarge { size, limit: self.max }));
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                self.spare = line;
                continue;
            }
            return Ok(Some(ReadFrame::Message(line)));
        }
    }

    fn recycle(&mut self, frame: Vec<u8>) {
        if frame.capacity() <= SPARE_AT_MOST {
            self.spare = frame;
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
        let got = frames(b"{\"a\":1}\r\n\n  \n{\"b\":2}\n0123456789abcdef\n{\"c\":3}", 10).await;
        let shown: Vec<String> = got
            .iter()
            .map(|f| match f {
                ReadFrame::Message(m) => String::from_utf8(m.clone()).unwrap(),
                ReadFrame::TooLarge { size, .. } => format!("too large: {size}"),
            })
            .collect();
        assert_eq!(shown, ["{\"a\":1}", "{\"b\":2}", "too large: 16", "{\"c\":3}"]);
    }

    #[tokio::test]
    async fn a_message_handed_back_is_read_into_again_with_nothing_left_of_it() {
        let input: &[u8] = b"{\"first\":\"a longer message\"}\n\n{\"b\":2}\n";
        let (mut r, _w) = LineTransport::new(input, tokio::io::sink()).split();
        let Some(ReadFrame::Message(first)) = r.read_frame().await.unwrap() else {
            panic!("a message")
        };
        let at = first.as_ptr();
        r.recycle(first);
        let Some(ReadFrame::Message(second)) = r.read_frame().await.unwrap() else {
            panic!("a message")
        };
        assert_eq!(second, b"{\"b\":2}");
        assert_eq!(second.as_ptr(), at, "the buffer handed back was not used again");
        // One too large to keep is dropped.
        r.recycle(Vec::with_capacity(SPARE_AT_MOST + 1));
        assert_eq!(r.spare.capacity(), 0);
        assert!(r.read_frame().await.unwrap().is_none());
    }
}
