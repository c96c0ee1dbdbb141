//! The connection driver: reads a transport's frames into a [`Connection`], writes what it
//! sends, and on the way out lets calls in flight finish (up to the drain timeout).

use super::connection::Connection;
use super::context::ServiceHandle;
use super::core::Core;
use super::link::Out;
use super::service::Service;
use crate::error::{Error, Result};
use crate::protocol::ErrorObject;
use crate::protocol::jsonrpc::encode_error;
use crate::transport::{self, FrameReader, FrameWriter, ReadFrame, Transport};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc};
use tokio::task::AbortHandle;

impl Service {
    /// Serves one connection until the peer closes it.
    pub async fn serve<T: Transport>(&self, transport: T) -> Result<()> {
        self.serve_with_shutdown(transport, std::future::pending()).await
    }

    /// Serves one connection until the peer closes it or `stop` resolves; either way, calls in
    /// flight may finish (up to the drain timeout) before it returns.
    pub async fn serve_with_shutdown<T: Transport>(
        &self,
        transport: T,
        stop: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        serve(Arc::clone(&self.core), self.handle(), transport, stop).await
    }

    /// Serves this process's stdin and stdout until stdin closes, or until SIGTERM or Ctrl-C,
    /// after which calls in flight may finish (up to the drain timeout).
    pub async fn serve_stdio(&self) -> Result<()> {
        let limit = self.core.options.max_message_bytes;
        let transport = transport::stdio::stdio().max_message_bytes(limit);
        // On a worker of the runtime, not on the thread that called (often `main`'s `block_on`):
        // the tasks it wakes, the writer first, then run on the same worker with no thread woken.
        let serving = tokio::spawn(serve(Arc::clone(&self.core), self.handle(), transport, terminated()));
        match serving.await {
            Ok(result) => result,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => Err(Error::Io(std::io::Error::other(e))),
            },
        }
    }
}

pub(crate) async fn serve<T: Transport>(
    core: Arc<Core>,
    service: ServiceHandle,
    transport: T,
    stop: impl Future<Output = ()> + Send,
) -> Result<()> {
    tokio::pin!(stop);
    let (mut reader, writer) = transport.split();
    let (tx, rx) = mpsc::channel::<Vec<u8>>(1024);
    let shutdown = Arc::new(Notify::new());
    let mut writer_task = tokio::spawn(write_loop(writer, rx, Arc::clone(&shutdown)));
    let conn = Arc::new(Connection::new(core, service, Out::Stream(tx)));
    let events = tokio::spawn(Arc::clone(&conn).forward_events());
    let _stop_events = AbortOnDrop(events.abort_handle());
    let mut result = Ok(());
    loop {
        tokio::select! {
            // Asked to stop: read no more, let calls in flight finish (the drain below).
            () = &mut stop => break,
            done = &mut writer_task => {
                // The peer stopped reading: nothing more can be answered.
                conn.abort_all();
                return match done {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    Ok(Err(e)) => Err(Error::Io(e)),
                    Err(e) => Err(Error::Io(std::io::Error::other(e))),
                };
            }
            frame = reader.read_frame() => match frame {
                Ok(Some(ReadFrame::Message(bytes))) => {
                    conn.handle_bytes(&bytes).await;
                    reader.recycle(bytes);
                }
                Ok(Some(ReadFrame::TooLarge { size, limit })) => {
                    let error = ErrorObject::invalid_request(format!(
                        "Invalid Request: the message has {size} bytes, over the limit of {limit}"
                    ));
                    conn.link.send(encode_error(None, &error)).await;
                }
                Ok(None) => break,
                Err(e) => {
                    result = Err(Error::Io(e));
                    break;
                }
            }
        }
    }
    conn.drain().await;
    shutdown.notify_one();
    match writer_task.await {
        Ok(Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe && result.is_ok() => {
            result = Err(Error::Io(e));
        }
        _ => {}
    }
    result
}

async fn write_loop<W: FrameWriter>(
    mut writer: W,
    mut rx: mpsc::Receiver<Vec<u8>>,
    shutdown: Arc<Notify>,
) -> std::io::Result<()> {
    let mut batch = Vec::with_capacity(64);
    loop {
        tokio::select! {
            message = rx.recv() => match message {
                Some(m) => batch.push(m),
                None => return writer.close().await,
            },
            () = shutdown.notified() => {
                while let Ok(m) = rx.try_recv() {
                    batch.push(m);
                }
                if !batch.is_empty() {
                    writer.write_frames(&mut batch).await?;
                }
                return writer.close().await;
            }
        }
        // Everything already queued goes out with one flush.
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        writer.write_frames(&mut batch).await?;
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub(crate) async fn terminated() {
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
