//! The stdio transport: the quickstart example as a child process, and line framing limits; and
//! `run()`'s stop on SIGTERM, over stdio and over HTTP.

mod support;

use mcp::ProtocolVersion;
use mcp::client::{Client, ClientOptions, Era};
use mcp::transport::stdio::LineTransport;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The quickstart binary.
fn quickstart() -> PathBuf {
    support::example("quickstart")
}

/// The quickstart as a child whose stdin and stdout are pipes to this test.
fn quickstart_on_pipes(stderr: std::process::Stdio) -> tokio::process::Child {
    tokio::process::Command::new(quickstart())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn the_quickstart_serves_both_eras_over_stdio_and_exits_on_eof() {
    let bin = quickstart();
    for (era, version) in [
        (Era::Auto, ProtocolVersion::V2026_07_28),
        (
            Era::Handshake(ProtocolVersion::V2025_11_25),
            ProtocolVersion::V2025_11_25,
        ),
        (
            Era::Handshake(ProtocolVersion::V2024_11_05),
            ProtocolVersion::V2024_11_05,
        ),
    ] {
        let client = Client::spawn(tokio::process::Command::new(&bin), ClientOptions::default().era(era))
            .await
            .unwrap();
        assert_eq!(client.protocol_version(), version);
        assert_eq!(client.server_info().unwrap().name, "quickstart");
        let r = client.call_tool("add", json!({"a": 2, "b": 3})).await.unwrap();
        assert_eq!(r.structured_content, Some(json!({"result": 5})));
        // Shared state across calls.
        client.call_tool("increment", json!({"by": 4})).await.unwrap();
        let peek = client.call_tool("peek", json!({})).await.unwrap();
        assert_eq!(peek.structured_content, Some(json!({"result": 4})));
        client.close().await.unwrap();
    }
}

#[tokio::test]
async fn stdout_carries_only_protocol_and_eof_ends_the_process() {
    let mut child = quickstart_on_pipes(std::process::Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"0\"}}}\n")
        .await
        .unwrap();
    stdin.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}}\n").await.unwrap();
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits on EOF")
        .unwrap();
    assert!(status.success());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut answers = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        answers.push(serde_json::from_str::<Value>(&line).expect("every stdout line is a JSON-RPC message"));
    }
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(
        answers[1]["result"]["structuredContent"],
        json!({"result": 3}),
        "the call in flight at EOF was answered"
    );
}

/// 2,000 pipelined calls, with one message of 100 KiB among them: they take many reads of stdin
/// each, whether by the runtime's reactor or by the stdin thread and its buffers that go round.
fn many_calls(long_name: &str) -> Vec<u8> {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"0\"}}}\n");
    input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
    for id in 1..=2000 {
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": id, "b": 1000}}});
        input.extend_from_slice(call.to_string().as_bytes());
        input.push(b'\n');
        if id == 1000 {
            let call = json!({"jsonrpc": "2.0", "id": "long", "method": "tools/call",
                "params": {"name": "greet", "arguments": {"name": long_name}}});
            input.extend_from_slice(call.to_string().as_bytes());
            input.push(b'\n');
        }
    }
    input
}

/// Reads the answers to [`many_calls`] until stdout closes: every one must match its call.
async fn answers_to_many_calls(stdout: impl tokio::io::AsyncRead + Unpin, long_name: &str) {
    let mut lines = BufReader::new(stdout).lines();
    let (mut sums, mut greeted) = (0, false);
    while let Some(line) = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("answers keep coming")
        .unwrap()
    {
        let answer: Value = serde_json::from_str(&line).unwrap();
        match &answer["id"] {
            Value::Number(id) if id.as_i64() != Some(0) => {
                let id = id.as_i64().unwrap();
                assert_eq!(
                    answer["result"]["structuredContent"],
                    json!({"result": id + 1000}),
                    "{line}"
                );
                sums += 1;
            }
            Value::String(id) if id == "long" => {
                let text = answer["result"]["content"][0]["text"].as_str().unwrap();
                assert_eq!(text, format!("Hi {long_name}!"));
                greeted = true;
            }
            _ => {}
        }
    }
    assert_eq!((sums, greeted), (2000, true));
}

#[tokio::test]
async fn messages_across_many_reads_of_stdin_each_get_their_own_answer() {
    // Pipes, as the SDKs' clients spawn a server: read and written by the runtime's reactor.
    let mut child = quickstart_on_pipes(std::process::Stdio::null());
    let mut stdin = child.stdin.take().unwrap();
    let long_name = "n".repeat(100 * 1024);
    let input = many_calls(&long_name);
    // Written while the answers are read: neither side's pipe may fill up and stop the other.
    let writer = tokio::spawn(async move {
        stdin.write_all(&input).await.unwrap();
        drop(stdin);
    });
    answers_to_many_calls(child.stdout.take().unwrap(), &long_name).await;
    writer.await.unwrap();
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn many_calls_read_from_a_file_on_the_stdin_thread_each_get_their_own_answer() {
    // A file is not a pipe: stdin is read on a thread, into buffers that go round.
    let long_name = "n".repeat(100 * 1024);
    let path = std::env::temp_dir().join(format!("mcp-stdin-{}.jsonl", std::process::id()));
    std::fs::write(&path, many_calls(&long_name)).unwrap();
    let mut child = tokio::process::Command::new(quickstart())
        .stdin(std::fs::File::open(&path).unwrap())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    answers_to_many_calls(child.stdout.take().unwrap(), &long_name).await;
    assert!(child.wait().await.unwrap().success());
}

/// The names of a process's threads.
#[cfg(target_os = "linux")]
fn thread_names(pid: u32) -> Vec<String> {
    // A thread that ends while it is listed is skipped.
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

/// Initializes the quickstart over `stdin`, reads the answer from `stdout`, and returns the
/// names of its threads while it serves.
#[cfg(target_os = "linux")]
async fn threads_while_serving(
    child: &tokio::process::Child,
    stdin: &mut (impl tokio::io::AsyncWrite + Unpin),
    stdout: impl tokio::io::AsyncRead + Unpin,
) -> Vec<String> {
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
        .await
        .unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let answer = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the server answers")
        .unwrap()
        .unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert!(answer["id"] == 1 && answer["result"].is_object(), "{answer}");
    let names = thread_names(child.id().unwrap());
    assert!(names.iter().any(|n| n == "quickstart"), "{names:?}");
    names
}

/// The quickstart as a child whose stdin and stdout are Unix socket pairs to this test, as
/// Node spawns a child.
#[cfg(target_os = "linux")]
fn quickstart_on_sockets() -> (tokio::process::Child, tokio::net::UnixStream, tokio::net::UnixStream) {
    let ((to_server, stdin_end), (from_server, stdout_end)) = (socket_pair(), socket_pair());
    (
        quickstart_with(stdin_end.into(), stdout_end.into()),
        to_server,
        from_server,
    )
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn stdio_on_pipes_or_sockets_runs_on_the_runtime_with_no_thread_of_its_own() {
    // Pipes (Python's and Rust's clients).
    let mut child = quickstart_on_pipes(std::process::Stdio::null());
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let names = threads_while_serving(&child, &mut stdin, stdout).await;
    assert!(!names.iter().any(|n| n.starts_with("mcp-std")), "{names:?}");
    drop(stdin);
    assert!(child.wait().await.unwrap().success());

    // Unix sockets (Node's clients).
    let (mut child, mut stdin, stdout) = quickstart_on_sockets();
    let names = threads_while_serving(&child, &mut stdin, stdout).await;
    assert!(!names.iter().any(|n| n.starts_with("mcp-std")), "{names:?}");
    drop(stdin);
    assert!(child.wait().await.unwrap().success());

    // And 2,000 calls through them.
    let (mut child, mut stdin, stdout) = quickstart_on_sockets();
    let long_name = "n".repeat(100 * 1024);
    let input = many_calls(&long_name);
    let writer = tokio::spawn(async move {
        stdin.write_all(&input).await.unwrap();
        drop(stdin);
    });
    answers_to_many_calls(stdout, &long_name).await;
    writer.await.unwrap();
    assert!(child.wait().await.unwrap().success());
}

/// Whether an open file of this process is non-blocking (`O_NONBLOCK` in its flags).
#[cfg(target_os = "linux")]
fn nonblocking(fd: &impl std::os::fd::AsRawFd) -> bool {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim();
    u32::from_str_radix(flags, 8).unwrap() & 0o4000 != 0
}

/// The quickstart with these ends of its stdin and stdout.
#[cfg(target_os = "linux")]
fn quickstart_with(stdin: std::os::fd::OwnedFd, stdout: std::os::fd::OwnedFd) -> tokio::process::Child {
    tokio::process::Command::new(quickstart())
        .stdin(stdin)
        .stdout(stdout)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// A Unix socket pair: this side's end on the runtime, and the server's end.
#[cfg(target_os = "linux")]
fn socket_pair() -> (tokio::net::UnixStream, std::os::unix::net::UnixStream) {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    (tokio::net::UnixStream::from_std(ours).unwrap(), theirs)
}

/// Pings the quickstart over `stdin` and `stdout`, then closes its stdin and waits for it to
/// exit; returns whether `ends` (copies of the server's own ends, which share their flags) were
/// non-blocking while it served, and are after it exited.
#[cfg(target_os = "linux")]
async fn flags_while_serving_and_after(
    mut child: tokio::process::Child,
    mut stdin: impl tokio::io::AsyncWrite + Unpin,
    stdout: impl tokio::io::AsyncRead + Unpin,
    ends: &[std::os::fd::OwnedFd],
) -> (Vec<bool>, Vec<bool>) {
    threads_while_serving(&child, &mut stdin, stdout).await;
    let serving = ends.iter().map(nonblocking).collect();
    drop(stdin);
    assert!(child.wait().await.unwrap().success());
    (serving, ends.iter().map(nonblocking).collect())
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn stdin_and_stdout_are_blocking_again_once_the_server_is_done() {
    // Pipes.
    let (stdin_end, to_server) = std::io::pipe().unwrap();
    let (from_server, stdout_end) = std::io::pipe().unwrap();
    let ends: [std::os::fd::OwnedFd; 2] = [stdin_end.into(), stdout_end.into()];
    let child = quickstart_with(ends[0].try_clone().unwrap(), ends[1].try_clone().unwrap());
    let to_server = tokio::net::unix::pipe::Sender::from_owned_fd(to_server.into()).unwrap();
    let from_server = tokio::net::unix::pipe::Receiver::from_owned_fd(from_server.into()).unwrap();
    let flags = flags_while_serving_and_after(child, to_server, from_server, &ends).await;
    assert_eq!(flags, (vec![true, true], vec![false, false]), "(serving, after)");

    // Unix sockets.
    let ((to_server, stdin_end), (from_server, stdout_end)) = (socket_pair(), socket_pair());
    let ends: [std::os::fd::OwnedFd; 2] = [stdin_end.into(), stdout_end.into()];
    let child = quickstart_with(ends[0].try_clone().unwrap(), ends[1].try_clone().unwrap());
    let flags = flags_while_serving_and_after(child, to_server, from_server, &ends).await;
    assert_eq!(flags, (vec![true, true], vec![false, false]), "(serving, after)");

    // A socket found non-blocking is left so.
    let ((to_server, stdin_end), (from_server, stdout_end)) = (socket_pair(), socket_pair());
    stdin_end.set_nonblocking(true).unwrap();
    let ends: [std::os::fd::OwnedFd; 2] = [stdin_end.into(), stdout_end.into()];
    let child = quickstart_with(ends[0].try_clone().unwrap(), ends[1].try_clone().unwrap());
    let flags = flags_while_serving_and_after(child, to_server, from_server, &ends).await;
    assert_eq!(flags, (vec![true, true], vec![true, false]), "(serving, after)");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_stream_that_is_another_standard_stream_stays_blocking_on_its_thread() {
    // `2>&1`: a write to stderr must never fail with `WouldBlock`, so the pipe is not made
    // non-blocking; stdout is written on its thread, and stdin (a pipe of its own) is not.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut child = tokio::process::Command::new(quickstart())
        .stdin(std::process::Stdio::piped())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer.try_clone().unwrap())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into()).unwrap();
    let names = threads_while_serving(&child, &mut stdin, stdout).await;
    assert!(!nonblocking(&writer), "stdout, also stderr, was made non-blocking");
    assert!(names.iter().any(|n| n == "mcp-stdout"), "{names:?}");
    assert!(!names.iter().any(|n| n == "mcp-stdin"), "{names:?}");
    drop(stdin);
    assert!(child.wait().await.unwrap().success());

    // One socket for stdin and stdout (`socat`, inetd): not registered twice, both on threads.
    let (ours, theirs) = socket_pair();
    let mut child = quickstart_with(theirs.try_clone().unwrap().into(), theirs.try_clone().unwrap().into());
    let (from_server, mut to_server) = ours.into_split();
    let names = threads_while_serving(&child, &mut to_server, from_server).await;
    assert!(!nonblocking(&theirs), "one socket for both was made non-blocking");
    assert!(names.iter().any(|n| n == "mcp-stdin"), "{names:?}");
    assert!(names.iter().any(|n| n == "mcp-stdout"), "{names:?}");
    drop(to_server);
    assert!(child.wait().await.unwrap().success());
}

/// Sleep a little, then answer.
#[mcp::tool]
async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(50)).await;
    "done"
}

fn line_server(limit: usize) -> (tokio::io::DuplexStream, tokio::task::JoinHandle<mcp::Result<()>>) {
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let (read, write) = tokio::io::split(theirs);
    let transport = LineTransport::new(read, write).max_message_bytes(limit);
    let server = mcp::Server::new("lines", "1").tools(mcp::tools![slow]);
    (ours, tokio::spawn(server.serve(transport)))
}

#[tokio::test]
async fn an_oversized_line_is_refused_without_buffering_and_the_next_one_is_served() {
    let (ours, server) = line_server(1024);
    let (read, mut write) = tokio::io::split(ours);
    let mut lines = BufReader::new(read).lines();
    let mut huge = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"pad\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 100_000));
    huge.extend_from_slice(b"\"}}\n");
    write.write_all(&huge).await.unwrap();
    write
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n")
        .await
        .unwrap();
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["error"]["code"], -32600);
    assert!(
        first["error"]["message"]
            .as_str()
            .unwrap()
            .contains("over the limit of 1024"),
        "{first}"
    );
    let second: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!((second["id"].clone(), second["result"].clone()), (json!(2), json!({})));
    // Both halves gone: the server reads end of input and returns.
    drop((write, lines));
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server ends")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn when_stdout_closes_under_the_server_it_exits() {
    let mut child = quickstart_on_pipes(std::process::Stdio::inherit());
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    // Stdin stays open: only the failed write can end the server.
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the server exits")
        .unwrap();
    assert!(status.success(), "{status:?}");
    drop(stdin);
}

#[tokio::test]
async fn a_stop_signal_lets_calls_in_flight_finish_then_returns() {
    let (ours, theirs) = mcp::transport::memory::pair();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let service = mcp::Server::new("s", "1").tools(mcp::tools![slow]).build().unwrap();
    let served = tokio::spawn(async move {
        service
            .serve_with_shutdown(theirs, async {
                let _ = stop_rx.await;
            })
            .await
    });
    let client = Client::connect(
        ours,
        ClientOptions::default().era(Era::Handshake(ProtocolVersion::V2025_11_25)),
    )
    .await
    .unwrap();
    let client = std::sync::Arc::new(client);
    let call = tokio::spawn({
        let c = client.clone();
        async move { c.call_tool("slow", json!({})).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    stop_tx.send(()).unwrap();
    // The call started before the stop still gets its answer, and then the server returns.
    assert_eq!(call.await.unwrap().unwrap().text_content(), "done");
    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .expect("the server returns")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn sigterm_stops_a_stdio_server_cleanly() {
    let mut child = quickstart_on_pipes(std::process::Stdio::inherit());
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
        .await
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    lines.next_line().await.unwrap().expect("the server answers");
    terminate(&child);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
    drop(stdin);
}

/// Sends the process SIGTERM.
fn terminate(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// Writes an HTTP/1.1 request on `tcp` and reads its status line and headers.
async fn http_request(tcp: &mut tokio::net::TcpStream, head: &str, body: &str) -> String {
    tcp.write_all(format!("{head}Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        tokio::io::AsyncReadExt::read_exact(tcp, &mut byte).await.unwrap();
        seen.push(byte[0]);
    }
    String::from_utf8(seen).unwrap()
}

#[tokio::test]
async fn sigterm_stops_an_http_server_even_with_a_stream_left_open() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(quickstart())
        .args(["--http", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut tcp = loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(tcp) => break tcp,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let host = format!("Host: 127.0.0.1:{port}\r\n");
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let head = http_request(
        &mut tcp,
        &format!("POST /mcp HTTP/1.1\r\n{host}Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"),
        initialize,
    )
    .await;
    let session = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("mcp-session-id: ")
                .map(str::to_owned)
        })
        .expect("a session id");
    // The session's GET stream, held open: it does not keep the server from stopping.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = http_request(
        &mut stream,
        &format!("GET /mcp HTTP/1.1\r\n{host}Accept: text/event-stream\r\nMcp-Session-Id: {session}\r\nMcp-Protocol-Version: 2025-11-25\r\n"),
        "",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    terminate(&child);
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits on SIGTERM, after the drain timeout at most")
        .unwrap();
    assert!(status.success(), "{status:?}");
}
