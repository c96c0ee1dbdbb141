//! Stdin and stdout on the runtime's reactor: each one that is a pipe or a Unix socket, and not
//! the same one as stderr, is made non-blocking and read or written by the task itself, with no
//! thread in between.
//!
//! Making a descriptor non-blocking changes it for every process that shares it. An MCP client
//! spawns its server with pipes (or, from Node, sockets) of its own, so only the server holds
//! them. stderr is left alone: a write to it (`eprintln!`, a log line) must never fail with
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

/// Stdin, read by the reactor.
#[derive(Debug)]
pub(super) enum In {
    Pipe(pipe::Receiver),
    Socket(UnixStream),
}

/// Stdout, written by the reactor.
#[derive(Debug)]
pub(super) enum Out {
    Pipe(pipe::Sender),
    Socket(UnixStream),
}

/// Stdin on the reactor, when it can be.
pub(super) fn stdin() -> Option<In> {
    match own(io::stdin().as_fd())? {
        Own::Pipe(file) => pipe::Receiver::from_file(file).ok().map(In::Pipe),
        Own::Socket(socket) => UnixStream::from_std(socket).ok().map(In::Socket),
    }
}

/// Stdout on the reactor, when it can be.
pub(super) fn stdout() -> Option<Out> {
    match own(io::stdout().as_fd())? {
        Own::Pipe(file) => pipe::Sender::from_file(file).ok().map(Out::Pipe),
        Own::Socket(socket) => UnixStream::from_std(socket).ok().map(Out::Socket),
    }
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
    let stderr = io::stderr().as_fd().try_clone_to_owned().map(File::from).and_then(|f| f.metadata());
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
        match self.get_mut() {
            In::Pipe(pipe) => Pin::new(pipe).poll_read(cx, buf),
            In::Socket(socket) => Pin::new(socket).poll_read(cx, buf),
        }
    }
}

impl Out {
    /// Writes all of `bytes`, waiting on the reactor while the reader is behind.
    pub(super) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Out::Pipe(pipe) => pipe.write_all(bytes).await,
            Out::Socket(socket) => socket.write_all(bytes).await,
        }
    }
}
