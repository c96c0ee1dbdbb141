//! The stdio driver: one server process, `width` requests kept in flight on its stdin, every
//! answer read from its stdout. Sampling requests are answered at once (handshake era) and
//! `input_required` rounds retried at once (stateless era). Writes are batched: the driver
//! flushes only when it has read everything the server has written so far.

use crate::wire::{self, Call, Era, Message};
use crate::{Load, Sample, procfs, summarize};
use std::collections::HashMap;
use std::io;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// A server process under test, talked to over stdio.
pub struct Server {
    child: Child,
    /// Its process id.
    pub pid: u32,
    writer: BufWriter<ChildStdin>,
    reader: BufReader<ChildStdout>,
    line: Vec<u8>,
    out: Vec<u8>,
}

impl Server {
    /// Start `cmd` with piped stdin and stdout.
    pub fn spawn(cmd: &[String]) -> io::Result<Server> {
        let mut child = Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().unwrap_or(0);
        let writer = BufWriter::with_capacity(1 << 16, child.stdin.take().unwrap());
        let reader = BufReader::with_capacity(1 << 18, child.stdout.take().unwrap());
        Ok(Server {
            child,
            pid,
            writer,
            reader,
            line: Vec::new(),
            out: Vec::new(),
        })
    }

    /// Read one line; an error when the server closed its stdout.
    async fn read_line(&mut self) -> io::Result<&[u8]> {
        self.line.clear();
        if self.reader.read_until(b'\n', &mut self.line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed its stdout",
            ));
        }
        Ok(&self.line)
    }

    async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes).await?;
        self.writer.flush().await
    }

    /// `initialize` then `notifications/initialized`; returns when the server has answered.
    pub async fn handshake(&mut self) -> io::Result<()> {
        let init = wire::initialize(0) + "\n";
        self.send(init.as_bytes()).await?;
        loop {
            if let Some(Message::Done { id: 0, .. }) = wire::classify(self.read_line().await?) {
                break;
            }
        }
        self.send(format!("{}\n", wire::INITIALIZED).as_bytes()).await
    }

    /// One request and its answer, for warm-up and the idle figures.
    pub async fn call_once(&mut self, call: Call, era: Era) -> io::Result<()> {
        let mut out = Vec::new();
        wire::request(&mut out, u64::MAX >> 12, call, era, None);
        self.send(&out).await?;
        loop {
            if let Some(Message::Done { .. }) = wire::classify(self.read_line().await?) {
                return Ok(());
            }
        }
    }

    /// Keep `load.width` calls in flight for warm-up plus window; measure the window.
    pub async fn run(&mut self, load: &Load) -> io::Result<Sample> {
        let start = Instant::now();
        let measure_from = start + load.warmup;
        let end = measure_from + load.window;
        let mut started: HashMap<u64, Instant> = HashMap::with_capacity(load.width * 2);
        let mut next_id = 1u64;
        let mut latencies = Vec::with_capacity(1 << 16);
        let (mut errors, mut cpu_start, mut measuring) = (0, Duration::ZERO, false);
        for _ in 0..load.width {
            wire::request(&mut self.out, next_id, load.call, load.era, None);
            started.insert(next_id, Instant::now());
            next_id += 1;
        }
        self.writer.write_all(&self.out).await?;
        self.writer.flush().await?;
        self.out.clear();
        let mut cpu_end = None;
        while !started.is_empty() {
            let line = {
                self.line.clear();
                if self.reader.read_until(b'\n', &mut self.line).await? == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed its stdout",
                    ));
                }
                &self.line
            };
            let now = Instant::now();
            if !measuring && now >= measure_from {
                measuring = true;
                cpu_start = procfs::cpu_time(self.pid);
            }
            if now >= end && cpu_end.is_none() {
                cpu_end = Some((procfs::cpu_time(self.pid), now));
            }
            match wire::classify(line) {
                Some(Message::Done { id, ok }) => {
                    let Some(t0) = started.remove(&id) else { continue };
                    if measuring && cpu_end.is_none() {
                        latencies.push(now - t0);
                        errors += u64::from(!ok);
                    }
                    if now < end {
                        wire::request(&mut self.out, next_id, load.call, load.era, None);
                        started.insert(next_id, now);
                        next_id += 1;
                    }
                }
                Some(Message::Retry { id, retry }) => {
                    let Some(t0) = started.remove(&id) else { continue };
                    wire::request(&mut self.out, next_id, load.call, load.era, Some(&retry));
                    started.insert(next_id, t0);
                    next_id += 1;
                }
                Some(Message::Sample { id }) => wire::sample_answer(&mut self.out, &id),
                // The stdio driver does not run the tasks scenario (HTTP only).
                Some(Message::Task { .. } | Message::Other) => {}
                None => errors += 1,
            }
            if self.reader.buffer().is_empty() && !self.out.is_empty() {
                self.writer.write_all(&self.out).await?;
                self.writer.flush().await?;
                self.out.clear();
            }
        }
        let (cpu_stop, stopped) = cpu_end.unwrap_or_else(|| (procfs::cpu_time(self.pid), Instant::now()));
        let rss = procfs::rss_kib(self.pid);
        Ok(summarize(
            latencies,
            stopped - measure_from,
            cpu_stop - cpu_start,
            rss,
            errors,
        ))
    }

    /// Stop the server.
    pub async fn stop(mut self) {
        drop(self.writer);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}
