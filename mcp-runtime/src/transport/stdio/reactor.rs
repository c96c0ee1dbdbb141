//! Stdin and stdout on the runtime's reactor: each one that is a pipe or a Unix socket, and not
//! the same one as stderr, is made non-blocking and read or written by the task itself, with no
//! thread in between.
//!
//! Making a descriptor non-blocking changes it for every process that shares it. An MCP client
//! spawns its server with pipes (or, from Node, sockets) of its own, so only the server holds
//! them, and each is made blocking again when serving ends. stderr is left alone: a write to it (`eprintln!`, a log line) must never fail with
//! `WouldBlock`, so a stream that is the same pipe as stderr stays on its thread.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::UnixStream;
use tokio::net::unix::pipe;

/// A pipe or a Unix socket registered with the reactor.
#[derive(Debug)]
enum Fd<P> {
    Pipe(P),
    Socket(UnixStream),
}

/// Stdin, read by the reactor; made blocking again when dropped.
#[derive(Debug)]
pub(super) struct In(Option<Fd<pipe::Receiver>>);

/// Stdout, written by the reactor; made blocking again when dropped.
#[derive(Debug)]
pub(super) struct Out(Option<Fd<pipe::Sender>>);

/// Stdin on the reactor, when it can be.
pub(super) fn stdin() -> Option<In> {
    match own(io::stdin().as_fd())? {
        Own::Pipe(file) => pipe::Receiver::from_file(file).ok().map(Fd::Pipe),
        Own::Socket(socket) => UnixStream::from_std(socket).ok().map(Fd::Socket),
    }
    .map(|fd| In(Some(fd)))
}

/// Stdout on the reactor, when it can be.
pub(super) fn stdout() -> Option<Out> {
    match own(io::stdout().as_fd())? {
        Own::Pipe(file) => pipe::Sender::from_file(file).ok().map(Fd::Pipe),
        Own::Socket(socket) => UnixStream::from_std(socket).ok().map(Fd::Socket),
    }
    .map(|fd| Out(Some(fd)))
}

/// A standard stream's own copy of its descriptor.
enum Own {
    Pipe(File),
    Socket(std::os::unix::net::UnixStream),
}

/// A copy of `fd` when it is a pipe or a Unix socket other than stderr, inside a runtime.
fn own(fd: BorrowedFd<'_>) -> Option<Own> {
    tokio::runtime::Handle::try_current().ok()?;
    let file = File::from(fd.try_clone_to_owned().ok()?);
    let meta = file.metadata().ok()?;
    let stderr = io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(File::from)
        .and_then(|f| f.metadata());
    if stderr.is_ok_and(|e| (e.dev(), e.ino()) == (meta.dev(), meta.ino())) {
        return None;
    }
    let kind = meta.file_type();
    if kind.is_fifo() {
        return Some(Own::Pipe(file));
    }
    if !kind.is_socket() {
        return None;
    }
    let socket = std::os::unix::net::UnixStream::from(OwnedFd::from(file));
    // A TCP socket (inetd) has no Unix address: it stays on a thread.
    socket.local_addr().ok()?;
    socket.set_nonblocking(true).ok()?;
    Some(Own::Socket(socket))
}

impl AsyncRead for In {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Some(Fd::Pipe(pipe)) => Pin::new(pipe).poll_read(cx, buf),
            Some(Fd::Socket(socket)) => Pin::new(socket).poll_read(cx, buf),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl Out {
    /// Writes all of `bytes`, waiting on the reactor while the reader is behind.
    pub(super) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.0 {
            Some(Fd::Pipe(pipe)) => pipe.write_all(bytes).await,
            Some(Fd::Socket(socket)) => socket.write_all(bytes).await,
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }
}

// The flag is the shared description's, not the copy's: put it back, so that whatever uses the
// stream after serving (or shares it) finds it as it was.
impl Drop for In {
    fn drop(&mut self) {
        if let Some(fd) = self.0.take() {
            fd.restore(pipe::Receiver::into_blocking_fd);
        }
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        if let Some(fd) = self.0.take() {
            fd.restore(pipe::Sender::into_blocking_fd);
        }
    }
}

impl<P> Fd<P> {
    /// Makes the stream blocking again, a pipe by `blocking_pipe`, and closes this copy of it.
    fn restore(self, blocking_pipe: impl FnOnce(P) -> io::Result<OwnedFd>) {
        match self {
            Fd::Pipe(pipe) => drop(blocking_pipe(pipe)),
            Fd::Socket(socket) => {
                if let Ok(socket) = socket.into_std() {
                    let _ = socket.set_nonblocking(false);
                }
            }
        }
    }
}
