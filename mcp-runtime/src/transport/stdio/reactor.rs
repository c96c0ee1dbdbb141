//! Stdin and stdout on the runtime's reactor: each one that is a pipe or a Unix socket, and not
//! the same one as another standard stream, is made non-blocking and read or written by the
//! task itself, with no thread in between.
//!
//! Non-blocking is a property of the open file, shared by every descriptor and process that
//! holds it. An MCP client spawns its server with pipes (or, from Node, sockets) made for it;
//! a wrapper that waits for the server (`npx`, `uvx`, a shell script) holds them too but does
//! not use them. A tool that spawns a child should not let it inherit stdin or stdout (the child
//! would read or write the protocol's stream): `Stdio::null()`. So that nothing else sees the
//! change:
//! - a stream that is the same file as another standard stream stays on its thread: a write to
//!   stderr (`eprintln!`, a log line) must never fail with `WouldBlock`, and one file for stdin
//!   and stdout (`socat`, inetd) would be registered twice;
//! - a stream found blocking is made blocking again when serving ends, and left alone when it
//!   was found non-blocking;
//! - a stream whose registration fails is put back as it was, for its thread.

use socket2::SockRef;
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

/// A stream on the reactor, and whether it was found blocking (and is made so again when
/// dropped).
#[derive(Debug)]
struct Registered<P: AsFd> {
    fd: Option<Fd<P>>,
    was_blocking: bool,
}

/// Stdin, read by the reactor.
#[derive(Debug)]
pub(super) struct In(Registered<pipe::Receiver>);

/// Stdout, written by the reactor.
#[derive(Debug)]
pub(super) struct Out(Registered<pipe::Sender>);

/// Stdin on the reactor, when it can be.
pub(super) fn stdin() -> Option<In> {
    let (stdin, stdout, stderr) = (io::stdin(), io::stdout(), io::stderr());
    let registered = register(
        stdin.as_fd(),
        [stdout.as_fd(), stderr.as_fd()],
        pipe::Receiver::from_file,
    )?;
    Some(In(registered))
}

/// Stdout on the reactor, when it can be.
pub(super) fn stdout() -> Option<Out> {
    let (stdin, stdout, stderr) = (io::stdin(), io::stdout(), io::stderr());
    let registered = register(stdout.as_fd(), [stdin.as_fd(), stderr.as_fd()], pipe::Sender::from_file)?;
    Some(Out(registered))
}

/// `stream` registered with the reactor, a pipe by `pipe`, when it is a pipe or a Unix socket
/// that none of `others` is, inside a runtime.
fn register<P: AsFd>(
    stream: BorrowedFd<'_>,
    others: [BorrowedFd<'_>; 2],
    pipe: impl FnOnce(File) -> io::Result<P>,
) -> Option<Registered<P>> {
    tokio::runtime::Handle::try_current().ok()?;
    let file = File::from(stream.try_clone_to_owned().ok()?);
    let meta = file.metadata().ok()?;
    let this = (meta.dev(), meta.ino());
    if others.iter().any(|other| identity(*other) == Some(this)) {
        return None;
    }
    // socket2's `fcntl` wrappers work on any descriptor; the standard library has none.
    let was_blocking = !SockRef::from(&file).nonblocking().ok()?;
    let kind = meta.file_type();
    let fd = if kind.is_fifo() {
        // Sets the flag, then registers.
        pipe(file).map(Fd::Pipe)
    } else if kind.is_socket() {
        let socket = std::os::unix::net::UnixStream::from(OwnedFd::from(file));
        // A TCP socket (inetd) has no Unix address: it stays on a thread.
        socket.local_addr().ok()?;
        socket
            .set_nonblocking(true)
            .and_then(|()| UnixStream::from_std(socket))
            .map(Fd::Socket)
    } else {
        return None;
    };
    match fd {
        Ok(fd) => Some(Registered {
            fd: Some(fd),
            was_blocking,
        }),
        Err(_) => {
            // The flag may have been set before registering failed.
            if was_blocking {
                let _ = SockRef::from(&stream).set_nonblocking(false);
            }
            None
        }
    }
}

/// The device and inode of an open file.
fn identity(fd: BorrowedFd<'_>) -> Option<(u64, u64)> {
    let meta = File::from(fd.try_clone_to_owned().ok()?).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

impl AsyncRead for In {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0.fd {
            Some(Fd::Pipe(pipe)) => Pin::new(pipe).poll_read(cx, buf),
            Some(Fd::Socket(socket)) => Pin::new(socket).poll_read(cx, buf),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl Out {
    /// Writes all of `bytes`, waiting on the reactor while the reader is behind.
    pub(super) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.0.fd {
            Some(Fd::Pipe(pipe)) => pipe.write_all(bytes).await,
            Some(Fd::Socket(socket)) => socket.write_all(bytes).await,
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }
}

impl<P: AsFd> Drop for Registered<P> {
    fn drop(&mut self) {
        let Some(fd) = self.fd.take() else { return };
        if !self.was_blocking {
            return;
        }
        // The flag is the open file's, not this copy's, which closes as it goes.
        let _ = match fd {
            Fd::Pipe(pipe) => SockRef::from(&pipe).set_nonblocking(false),
            Fd::Socket(socket) => socket.into_std().and_then(|s| s.set_nonblocking(false)),
        };
    }
}
