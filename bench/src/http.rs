//! The Streamable HTTP driver: `width` clients, each on its own keep-alive HTTP/1.1 connection,
//! each with one call in flight. A handshake-era client opens a session first; a sampling request
//! that arrives on a call's SSE stream is answered by POSTing on a second connection, as the
//! transport requires. SSE and JSON answers are both read.

use crate::wire::{self, Call, Era, Message};
use crate::{Load, Sample, procfs, summarize};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

async fn connect(addr: SocketAddr) -> io::Result<SendRequest<Full<Bytes>>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(other)?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One client: a connection, a second one for answers, and a session in the handshake era.
pub struct Client {
    addr: SocketAddr,
    era: Era,
    main: SendRequest<Full<Bytes>>,
    aux: Option<SendRequest<Full<Bytes>>>,
    session: Option<String>,
    next_id: u64,
}

/// What one POST brought back.
struct Answer {
    status: StatusCode,
    session: Option<String>,
    message: Option<Message>,
}

impl Client {
    /// Connect, with no session yet: for speaking in sessions opened elsewhere.
    pub async fn connect(addr: SocketAddr, era: Era) -> io::Result<Client> {
        let main = connect(addr).await?;
        Ok(Client {
            addr,
            era,
            main,
            aux: None,
            session: None,
            next_id: 1,
        })
    }

    /// Connect, and in the handshake era open a session (`initialize`, `notifications/initialized`).
    pub async fn open(addr: SocketAddr, era: Era) -> io::Result<Client> {
        let mut client = Client::connect(addr, era).await?;
        if era == Era::Handshake && client.handshake().await?.is_none() {
            return Err(other("initialize: answered without a session id"));
        }
        Ok(client)
    }

    /// `initialize`, then `notifications/initialized`: the session the server opened, if any.
    async fn handshake(&mut self) -> io::Result<Option<String>> {
        self.session = None;
        let answer = self.post(wire::initialize(0).into_bytes(), None).await?;
        if answer.status != StatusCode::OK {
            return Err(other(format!("initialize: HTTP {}", answer.status)));
        }
        self.session = answer.session;
        let answer = self.post(wire::INITIALIZED.as_bytes().to_vec(), None).await?;
        if !answer.status.is_success() {
            return Err(other(format!("notifications/initialized: HTTP {}", answer.status)));
        }
        Ok(self.session.clone())
    }

    fn build(&self, body: Vec<u8>, call: Option<Call>) -> Request<Full<Bytes>> {
        self.build_for(body, call.map(Call::method_and_name))
    }

    /// A POST of `body`, with the `Mcp-Method` and `Mcp-Name` headers of `method` (stateless era).
    fn build_for(&self, body: Vec<u8>, method: Option<(&str, Option<&str>)>) -> Request<Full<Bytes>> {
        let mut req = Request::post("/mcp")
            .header("host", self.addr.to_string())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", self.era.version());
        if let Some(session) = &self.session {
            req = req.header("mcp-session-id", session);
        }
        if let (Era::Stateless, Some((method, name))) = (self.era, method) {
            req = req.header("mcp-method", method);
            if let Some(name) = name {
                req = req.header("mcp-name", name);
            }
        }
        req.body(Full::new(Bytes::from(body))).expect("a valid request")
    }

    /// POST one message and read the whole answer, answering sampling requests on the way.
    async fn post(&mut self, body: Vec<u8>, call: Option<Call>) -> io::Result<Answer> {
        let req = self.build(body, call);
        self.send_built(req).await
    }

    async fn send_built(&mut self, req: Request<Full<Bytes>>) -> io::Result<Answer> {
        self.main.ready().await.map_err(other)?;
        let resp = self.main.send_request(req).await.map_err(other)?;
        let status = resp.status();
        let session = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let sse = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let mut body = resp.into_body();
        let mut message = None;
        if !sse {
            let bytes = body.collect().await.map_err(other)?.to_bytes();
            message = wire::classify(&bytes);
            return Ok(Answer {
                status,
                session,
                message,
            });
        }
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(other)?;
            let Ok(data) = frame.into_data() else { continue };
            buf.extend_from_slice(&data);
            while let Some(end) = find(&buf, b"\n\n") {
                let event: Vec<u8> = buf.drain(..end + 2).collect();
                let data = sse_data(&event);
                if data.is_empty() {
                    continue;
                }
                match wire::classify(&data) {
                    Some(Message::Sample { id }) => self.answer(&id).await?,
                    Some(m @ (Message::Done { .. } | Message::Retry { .. } | Message::Task { .. })) => {
                        message = Some(m);
                    }
                    _ => {}
                }
            }
        }
        Ok(Answer {
            status,
            session,
            message,
        })
    }

    /// POST the answer to a server's sampling request on the second connection.
    async fn answer(&mut self, id: &str) -> io::Result<()> {
        let mut body = Vec::new();
        wire::sample_answer(&mut body, id);
        body.pop();
        let req = self.build(body, None);
        if self.aux.is_none() {
            self.aux = Some(connect(self.addr).await?);
        }
        let aux = self.aux.as_mut().unwrap();
        aux.ready().await.map_err(other)?;
        let resp = aux.send_request(req).await.map_err(other)?;
        let status = resp.status();
        resp.into_body().collect().await.map_err(other)?;
        if !status.is_success() {
            return Err(other(format!("answer to a sampling request: HTTP {status}")));
        }
        Ok(())
    }

    /// One task created, then polled (`tasks/get`, back to back) until it ends; false unless
    /// it completed.
    async fn task(&mut self) -> io::Result<bool> {
        let id = self.next_id;
        self.next_id += 1;
        let mut body = Vec::with_capacity(512);
        wire::request(&mut body, id, Call::Task, self.era, None);
        body.pop();
        let mut answer = self.post(body, Some(Call::Task)).await?;
        for _ in 0..10_000 {
            let Some(Message::Task { task, ended, ok, .. }) = answer.message else {
                return Ok(false);
            };
            if ended {
                return Ok(ok);
            }
            let id = self.next_id;
            self.next_id += 1;
            let mut body = Vec::with_capacity(256);
            wire::task_get(&mut body, id, &task);
            body.pop();
            let name = task.trim_matches('"').to_owned();
            let req = self.build_for(body, Some(("tasks/get", Some(&name))));
            answer = self.send_built(req).await?;
        }
        Ok(false)
    }

    /// A whole session for one call: `initialize`, `notifications/initialized`, the `lookup`
    /// call, then `DELETE` when the server opened a session; false unless the call and the
    /// `DELETE` went well (a failed handshake is an error).
    async fn session_per_call(&mut self) -> io::Result<bool> {
        self.handshake().await?;
        let id = self.next_id;
        self.next_id += 1;
        let mut body = Vec::with_capacity(256);
        wire::request(&mut body, id, Call::SessionPerCall, Era::Handshake, None);
        body.pop();
        let answer = self.post(body, Some(Call::SessionPerCall)).await?;
        let mut ok = answer.status == StatusCode::OK
            && matches!(answer.message, Some(Message::Done { id: got, ok: true }) if got == id);
        if self.session.is_some() {
            ok &= self.delete().await?.is_success();
            self.session = None;
        }
        Ok(ok)
    }

    /// One call to its final answer, through any `input_required` rounds; false on an error.
    pub async fn call(&mut self, call: Call) -> io::Result<bool> {
        if call == Call::Task {
            return self.task().await;
        }
        if call == Call::SessionPerCall {
            return self.session_per_call().await;
        }
        let mut retry = None;
        for _ in 0..8 {
            let id = self.next_id;
            self.next_id += 1;
            let mut body = Vec::with_capacity(512);
            wire::request(&mut body, id, call, self.era, retry.as_ref());
            body.pop();
            let answer = self.post(body, Some(call)).await?;
            if answer.status != StatusCode::OK {
                return Ok(false);
            }
            match answer.message {
                Some(Message::Done { id: got, ok }) => return Ok(ok && got == id),
                Some(Message::Retry { retry: next, .. }) => retry = Some(next),
                _ => return Ok(false),
            }
        }
        Ok(false)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `data:` lines of one SSE event, joined.
fn sse_data(event: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    for line in event.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"data:") {
            if !data.is_empty() {
                data.push(b'\n');
            }
            data.extend_from_slice(rest.strip_prefix(b" ").unwrap_or(rest));
        }
    }
    data
}

/// `load.width` clients calling back to back for warm-up plus window; the window is measured.
/// In a session-per-call run, the server CPU is per counted request (`initialize` and the call,
/// two per iteration), and calls/s counts whole iterations.
pub async fn run(addr: SocketAddr, pid: u32, load: &Load) -> io::Result<Sample> {
    let mut clients = Vec::with_capacity(load.width);
    for _ in 0..load.width {
        clients.push(if load.call == Call::SessionPerCall {
            Client::connect(addr, load.era).await?
        } else {
            Client::open(addr, load.era).await?
        });
    }
    let counted = if load.call == Call::SessionPerCall { 2 } else { 1 };
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.window;
    let call = load.call;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0u64);
                loop {
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    let ok = client.call(call).await?;
                    let t1 = Instant::now();
                    if t0 >= measure_from && t1 < end {
                        latencies.push(t1 - t0);
                        errors += u64::from(!ok);
                    }
                }
                io::Result::Ok((latencies, errors))
            })
        })
        .collect();
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu0 = procfs::cpu_time(pid);
    tokio::time::sleep_until(end.into()).await;
    let cpu1 = procfs::cpu_time(pid);
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (l, e) = task.await.map_err(other)??;
        latencies.extend(l);
        errors += e;
    }
    Ok(summarize(
        latencies,
        end - measure_from,
        (cpu1 - cpu0) / counted,
        procfs::rss_kib(pid),
        errors,
    ))
}

/// Open `n` handshake-era sessions over `width` connections; returns their ids. The sessions
/// stay on the server, idle, until they are deleted or expire.
pub async fn open_sessions(addr: SocketAddr, n: usize, width: usize) -> io::Result<Vec<String>> {
    let per = n.div_ceil(width);
    let tasks: Vec<_> = (0..width)
        .map(|_| {
            tokio::spawn(async move {
                let mut client = Client::open(addr, Era::Handshake).await?;
                let mut ids = vec![client.session.clone().unwrap_or_default()];
                while ids.len() < per {
                    let Some(id) = client.handshake().await? else {
                        return Err(other("initialize gave no session id"));
                    };
                    ids.push(id);
                }
                io::Result::Ok(ids)
            })
        })
        .collect();
    let mut ids = Vec::with_capacity(n);
    for task in tasks {
        ids.extend(task.await.map_err(other)??);
    }
    Ok(ids)
}

impl Client {
    /// The session this client speaks for.
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// Number this client's requests from `first` on.
    pub fn number_from(&mut self, first: u64) {
        self.next_id = first;
    }

    /// Speak for session `id` from now on.
    pub fn use_session(&mut self, id: String) {
        self.session = Some(id);
    }

    /// POST one JSON-RPC message; the HTTP status and the final answer, if one came.
    pub async fn send(&mut self, body: String) -> io::Result<(StatusCode, Option<Message>)> {
        let answer = self.post(body.into_bytes(), None).await?;
        Ok((answer.status, answer.message))
    }

    /// POST one `tools/call` and return the first text of its JSON answer.
    pub async fn send_text(&mut self, body: String) -> io::Result<(StatusCode, Option<String>)> {
        let req = self.build(body.into_bytes(), None);
        self.main.ready().await.map_err(other)?;
        let resp = self.main.send_request(req).await.map_err(other)?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await.map_err(other)?.to_bytes();
        let text = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["result"]["content"][0]["text"].as_str().map(str::to_owned));
        Ok((status, text))
    }

    /// End the session with DELETE; the HTTP status.
    pub async fn delete(&mut self) -> io::Result<StatusCode> {
        let mut req = Request::delete("/mcp")
            .header("host", self.addr.to_string())
            .header("mcp-protocol-version", self.era.version());
        if let Some(session) = &self.session {
            req = req.header("mcp-session-id", session);
        }
        let req = req.body(Full::new(Bytes::new())).expect("a valid request");
        self.main.ready().await.map_err(other)?;
        let resp = self.main.send_request(req).await.map_err(other)?;
        let status = resp.status();
        resp.into_body().collect().await.map_err(other)?;
        Ok(status)
    }
}

/// Open the session's GET stream and count the server's messages whose text contains `needle`
/// until `stop` resolves; an error if the stream does not open.
pub async fn listen(
    addr: SocketAddr,
    session: String,
    needle: &'static str,
    stop: impl std::future::Future<Output = ()>,
) -> io::Result<u64> {
    let mut sender = connect(addr).await?;
    let req = Request::get("/mcp")
        .header("host", addr.to_string())
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", Era::Handshake.version())
        .header("mcp-session-id", session)
        .body(Full::new(Bytes::new()))
        .expect("a valid request");
    sender.ready().await.map_err(other)?;
    let resp = sender.send_request(req).await.map_err(other)?;
    if resp.status() != StatusCode::OK {
        return Err(other(format!("GET stream: HTTP {}", resp.status())));
    }
    let mut body = resp.into_body();
    let (mut count, mut buf) = (0u64, Vec::new());
    tokio::pin!(stop);
    loop {
        let frame = tokio::select! {
            () = &mut stop => return Ok(count),
            frame = body.frame() => frame,
        };
        let Some(frame) = frame else { return Ok(count) };
        let Ok(data) = frame.map_err(other)?.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(end) = find(&buf, b"\n\n") {
            let event: Vec<u8> = buf.drain(..end + 2).collect();
            if find(&sse_data(&event), needle.as_bytes()).is_some() {
                count += 1;
            }
        }
    }
}
