//! The floor: `echo` and `ask` by hand on bare tokio (stdio) and bare hyper (HTTP), no framework.
//! It speaks only what the load generator sends, validates nothing it need not, and keeps its
//! answers as pre-built bytes: what any framework's overhead is measured against.
//! `--many` serves a pre-serialised 1,000-tool `tools/list` instead. Over HTTP, `--lookup URL`
//! answers `lookup(key)` with one Redis `GET`, and `--sessionless` gives no session id.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::io::Write;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};

#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Option<&'a str>,
    params: Option<Params>,
}

#[derive(Deserialize)]
struct Params {
    name: Option<String>,
    arguments: Option<Args>,
    #[serde(rename = "_meta")]
    meta: Option<serde::de::IgnoredAny>,
    #[serde(rename = "inputResponses")]
    input_responses: Option<HashMap<String, Answer>>,
}

#[derive(Deserialize)]
struct Args {
    text: Option<String>,
    key: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    content: Content,
}

#[derive(Deserialize)]
struct Content {
    text: String,
}

#[derive(Deserialize)]
struct Reply<'a> {
    id: u64,
    #[serde(borrow)]
    result: &'a RawValue,
}

const INIT: &str =
    r#"{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"floor","version":"0"}}"#;

fn text_result(out: &mut Vec<u8>, id: &str, text: &str, stateless: bool) {
    let complete = if stateless { r#","resultType":"complete""# } else { "" };
    let _ = write!(
        out,
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":"#
    );
    serde_json::to_writer(&mut *out, text).unwrap();
    let _ = writeln!(out, r#"}}]{complete}}}}}"#);
}

fn input_required(out: &mut Vec<u8>, id: &str, text: &str) {
    let _ = write!(
        out,
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"resultType":"input_required","requestState":"s","inputRequests":{{"answer":{{"method":"sampling/createMessage","params":{{"maxTokens":64,"messages":[{{"role":"user","content":{{"type":"text","text":"#
    );
    serde_json::to_writer(&mut *out, text).unwrap();
    let _ = writeln!(out, r#"}}}}]}}}}}}}}}}"#);
}

fn list(many: bool) -> String {
    let n = if many { 1000 } else { 0 };
    let tools: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"name":"tool_{i}","description":"Tool number {i}: returns its text.","inputSchema":{{"type":"object","properties":{{"text":{{"type":"string"}}}},"required":["text"]}}}}"#))
        .collect();
    format!(r#"{{"tools":[{}]}}"#, tools.join(","))
}

/// Answer one message into `out`; a handshake-era `ask` sends a sampling request instead and
/// remembers whom to answer.
fn handle(msg: Msg<'_>, out: &mut Vec<u8>, list: &str, pending: &mut HashMap<u64, String>, next: &mut u64) {
    let Some(id) = msg.id.map(RawValue::get) else { return };
    match msg.method {
        Some("initialize") => {
            let _ = writeln!(out, r#"{{"jsonrpc":"2.0","id":{id},"result":{INIT}}}"#);
        }
        Some("tools/list") => {
            let _ = writeln!(out, r#"{{"jsonrpc":"2.0","id":{id},"result":{list}}}"#);
        }
        Some("tools/call") => {
            let Some(p) = msg.params else { return };
            let stateless = p.meta.is_some();
            let text = p.arguments.and_then(|a| a.text).unwrap_or_default();
            match (p.name.as_deref(), stateless, p.input_responses) {
                (Some("ask"), true, Some(answers)) => {
                    let answer = answers.into_values().next().map(|a| a.content.text).unwrap_or_default();
                    text_result(out, id, &answer, true);
                }
                (Some("ask"), true, None) => input_required(out, id, &text),
                (Some("ask"), false, _) => {
                    *next += 1;
                    pending.insert(*next, id.to_owned());
                    let _ = write!(
                        out,
                        r#"{{"jsonrpc":"2.0","id":{next},"method":"sampling/createMessage","params":{{"maxTokens":64,"messages":[{{"role":"user","content":{{"type":"text","text":"#
                    );
                    serde_json::to_writer(&mut *out, &text).unwrap();
                    let _ = writeln!(out, r#"}}}}]}}}}"#);
                }
                _ => text_result(out, id, &text, stateless),
            }
        }
        Some(_) => {
            let _ = writeln!(
                out,
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32601,"message":"no such method"}}}}"#
            );
        }
        None => {}
    }
}

async fn stdio(list: String) -> std::io::Result<()> {
    let mut reader = BufReader::with_capacity(1 << 16, tokio::io::stdin());
    let mut writer = BufWriter::with_capacity(1 << 16, tokio::io::stdout());
    let (mut line, mut out) = (Vec::new(), Vec::new());
    let (mut pending, mut next): (HashMap<u64, String>, u64) = (HashMap::new(), 0);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        if let Ok(reply) = serde_json::from_slice::<Reply<'_>>(&line) {
            if let Some(id) = pending.remove(&reply.id) {
                let answer: Answer = serde_json::from_str(reply.result.get()).unwrap_or(Answer {
                    content: Content { text: String::new() },
                });
                text_result(&mut out, &id, &answer.content.text, false);
            }
        } else if let Ok(msg) = serde_json::from_slice::<Msg<'_>>(&line) {
            handle(msg, &mut out, &list, &mut pending, &mut next);
        }
        if reader.buffer().is_empty() && !out.is_empty() {
            writer.write_all(&out).await?;
            writer.flush().await?;
            out.clear();
        }
    }
}

/// `lookup(key)`: one Redis `GET`, answered by hand.
async fn lookup(data: &Option<redis::aio::ConnectionManager>, msg: &Msg<'_>, out: &mut Vec<u8>) -> bool {
    let (Some(data), Some(id), Some("tools/call")) = (data, msg.id, msg.method) else {
        return false;
    };
    let Some(key) = msg.params.as_ref().and_then(|p| {
        (p.name.as_deref() == Some("lookup"))
            .then(|| p.arguments.as_ref().and_then(|a| a.key.clone()))
            .flatten()
    }) else {
        return false;
    };
    let mut conn = data.clone();
    let value: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap_or(None);
    text_result(out, id.get(), &value.unwrap_or_default(), false);
    true
}

async fn http(
    addr: &str,
    list: String,
    data: Option<redis::aio::ConnectionManager>,
    sessionless: bool,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let list: &'static str = Box::leak(list.into_boxed_str());
    let sessions = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let sessions = sessions.clone();
        let data = data.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let sessions = sessions.clone();
                let data = data.clone();
                async move {
                    let body = req.into_body().collect().await?.to_bytes();
                    let mut out = Vec::with_capacity(256);
                    let mut resp = Response::builder().header("content-type", "application/json");
                    match serde_json::from_slice::<Msg<'_>>(&body) {
                        Ok(msg) if msg.id.is_none() => {
                            return Ok::<_, hyper::Error>(
                                Response::builder()
                                    .status(StatusCode::ACCEPTED)
                                    .body(Full::new(Bytes::new()))
                                    .unwrap(),
                            );
                        }
                        Ok(msg) if lookup(&data, &msg, &mut out).await => {
                            out.pop();
                        }
                        Ok(msg) => {
                            if msg.method == Some("initialize") && !sessionless {
                                let n = sessions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                resp = resp.header("mcp-session-id", format!("{n:032x}"));
                            }
                            let (mut pending, mut next) = (HashMap::new(), 0);
                            handle(msg, &mut out, list, &mut pending, &mut next);
                            out.pop();
                        }
                        Err(_) => {
                            return Ok(Response::builder()
                                .status(StatusCode::BAD_REQUEST)
                                .body(Full::new(Bytes::new()))
                                .unwrap());
                        }
                    }
                    Ok(resp.body(Full::new(Bytes::from(out))).unwrap())
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                .await;
        });
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let list = list(args.iter().any(|a| a == "--many"));
    let data = match args.iter().position(|a| a == "--lookup").and_then(|i| args.get(i + 1)) {
        Some(url) => Some(
            redis::Client::open(url.as_str())
                .map_err(std::io::Error::other)?
                .get_connection_manager()
                .await
                .map_err(std::io::Error::other)?,
        ),
        None => None,
    };
    let sessionless = args.iter().any(|a| a == "--sessionless");
    match args.iter().position(|a| a == "--http").and_then(|i| args.get(i + 1)) {
        Some(addr) => http(addr, list, data, sessionless).await,
        None => stdio(list).await,
    }
}
