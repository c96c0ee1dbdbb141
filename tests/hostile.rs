//! Hostile input: each case gets a clear answer, and the next request is served as usual.

mod support;

use mcp::transport::stdio::LineTransport;
use serde_json::{Value, json};
use std::time::Duration;
use support::{Raw, code, modern};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Add two numbers.
#[mcp::tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// A very large result.
#[mcp::tool]
async fn huge(megabytes: usize) -> String {
    "x".repeat(megabytes * 1024 * 1024)
}

/// Asks the client's model once.
#[mcp::tool]
async fn ask(ctx: mcp::Context) -> mcp::Result<String> {
    Ok(ctx.sample("?").await?.text())
}

fn server() -> mcp::Server {
    mcp::Server::new("hostile", "1").tools(mcp::tools![add, huge, ask])
}

async fn still_serves(raw: &mut Raw, id: i64) {
    let r = raw
        .call(
            id,
            "tools/call",
            modern(json!({"name": "add", "arguments": {"a": 1, "b": 2}})),
        )
        .await;
    assert_eq!(r["result"]["structuredContent"], json!({"result": 3}), "{r}");
}

#[tokio::test]
async fn deeply_nested_json_is_a_parse_error() {
    let mut raw = Raw::new(server());
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    raw.send(deep).await;
    let r = raw.recv().await;
    assert_eq!((code(&r), r["id"].clone()), (-32700, Value::Null));
    assert!(
        r["error"]["message"].as_str().unwrap().contains("recursion limit"),
        "{r}"
    );
    let mut nested = json!(1);
    for _ in 0..200 {
        nested = json!({ "n": nested });
    }
    let r = raw
        .call(
            1,
            "tools/call",
            modern(json!({"name": "add", "arguments": {"a": nested, "b": 1}})),
        )
        .await;
    assert_eq!(code(&r), -32700, "{r}");
    // An answer in inputResponses is kept as text, past serde_json's limit for values: it is
    // held to a depth of its own, so it can always be read as a value.
    let r = raw
        .call(
            3,
            "tools/call",
            modern(json!({"name": "add", "arguments": {"a": 1, "b": 1}, "inputResponses": {"k": nested}})),
        )
        .await;
    assert_eq!(code(&r), -32700, "{r}");
    still_serves(&mut raw, 2).await;
}

#[tokio::test]
async fn a_hundred_megabyte_line_is_refused_without_holding_it() {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let (read, write) = tokio::io::split(theirs);
    let transport = LineTransport::new(read, write).max_message_bytes(1 << 20);
    tokio::spawn(server().serve(transport));
    let (read, mut write) = tokio::io::split(ours);
    let writer = tokio::spawn(async move {
        let chunk = vec![b'x'; 1 << 20];
        write
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"pad\":\"")
            .await
            .unwrap();
        for _ in 0..100 {
            write.write_all(&chunk).await.unwrap();
        }
        write.write_all(b"\"}}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"x\",\"version\":\"0\"}}}\n").await.unwrap();
        write
    });
    let mut lines = BufReader::new(read).lines();
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["error"]["code"], -32600);
    assert!(
        first["error"]["message"].as_str().unwrap().contains("104857"),
        "{first}"
    );
    let second: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(second["result"]["protocolVersion"], "2025-11-25");
    drop(writer.await.unwrap());
}

#[tokio::test]
async fn odd_tool_names_are_unknown_tools() {
    let mut raw = Raw::new(server());
    for (i, name) in [
        "ａｄｄ",
        "add\u{200b}",
        "add\u{0}",
        "",
        "../add",
        "ADD",
        &"a".repeat(10_000),
    ]
    .into_iter()
    .enumerate()
    {
        let r = raw
            .call(i as i64, "tools/call", modern(json!({"name": name, "arguments": {}})))
            .await;
        assert_eq!(code(&r), -32602, "{name:?}: {r}");
    }
    still_serves(&mut raw, 100).await;
}

#[tokio::test]
async fn a_second_answer_to_a_sampling_request_is_ignored() {
    let mut raw = Raw::new(server());
    let init = raw
        .call(0, "initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {"sampling": {}}, "clientInfo": {"name": "x", "version": "0"}}))
        .await;
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    raw.send_json(
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "ask", "arguments": {}}}),
    )
    .await;
    let request = raw.recv().await;
    assert_eq!(request["method"], "sampling/createMessage");
    let answer = |text: &str| json!({"jsonrpc": "2.0", "id": request["id"], "result": {"role": "assistant", "content": {"type": "text", "text": text}, "model": "m"}});
    raw.send_json(answer("first")).await;
    raw.send_json(answer("second")).await;
    let result = raw.recv().await;
    assert_eq!(result["result"]["content"][0]["text"], "first");
    let next = raw
        .call(2, "tools/call", json!({"name": "add", "arguments": {"a": 2, "b": 2}}))
        .await;
    assert_eq!(next["result"]["structuredContent"], json!({"result": 4}));
}

#[tokio::test]
async fn a_fifty_megabyte_result_arrives_whole_and_the_server_serves_on() {
    let mut raw = Raw::new(server());
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        raw.call(
            1,
            "tools/call",
            modern(json!({"name": "huge", "arguments": {"megabytes": 50}})),
        ),
    )
    .await
    .expect("answered");
    assert_eq!(
        r["result"]["content"][0]["text"].as_str().unwrap().len(),
        50 * 1024 * 1024
    );
    still_serves(&mut raw, 2).await;
}

#[tokio::test]
async fn params_of_the_wrong_type_and_strange_ids_get_errors() {
    let mut raw = Raw::new(server());
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"add"}"#)
        .await;
    assert_eq!(code(&raw.recv().await), -32600);
    raw.send(r#"{"jsonrpc":"2.0","id":[1],"method":"tools/call"}"#).await;
    assert_eq!(code(&raw.recv().await), -32600);
    raw.send(r#"{"jsonrpc":"2.0","id":true,"method":"tools/call"}"#).await;
    assert_eq!(code(&raw.recv().await), -32600);
    let r = raw.call(2, "tools/call", modern(json!({"name": 7}))).await;
    assert_eq!(code(&r), -32602);
    let r = raw.call(3, "tools/call", json!({"name": "add", "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": "all"}})).await;
    assert_eq!(code(&r), -32602);
    still_serves(&mut raw, 4).await;
}

#[tokio::test]
async fn invalid_utf8_and_float_or_object_ids_are_refused() {
    let mut raw = Raw::new(server());
    raw.initialize("2025-11-25").await;
    raw.send(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":\"\xff\xfe\"}".to_vec())
        .await;
    let r = raw.recv().await;
    assert_eq!((code(&r), r["id"].clone()), (-32700, Value::Null), "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("UTF-8"), "{r}");
    for id in ["1.5", r#"{"a":1}"#] {
        raw.send(format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#))
            .await;
        let r = raw.recv().await;
        assert_eq!((code(&r), r["id"].clone()), (-32600, Value::Null), "{r}");
        assert!(r["error"]["message"].as_str().unwrap().contains("`id`"), "{r}");
    }
    still_serves(&mut raw, 2).await;
}

#[tokio::test]
async fn a_second_initialize_is_refused_and_the_session_goes_on() {
    let mut raw = Raw::new(server());
    raw.initialize("2025-11-25").await;
    let again =
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}});
    let r = raw.call(2, "initialize", again).await;
    assert_eq!((code(&r), r["id"].clone()), (-32600, json!(2)), "{r}");
    let r = raw
        .call(3, "tools/call", json!({"name": "add", "arguments": {"a": 2, "b": 2}}))
        .await;
    assert_eq!(r["result"]["structuredContent"], json!({"result": 4}), "{r}");
}

#[tokio::test]
async fn a_huge_extra_argument_and_a_missing_one_are_named_in_tool_errors() {
    let mut raw = Raw::new(server());
    let blob = "QUFB".repeat(2 * 1024 * 1024); // 8 MB of base64
    let r = raw
        .call(
            1,
            "tools/call",
            modern(json!({"name": "add", "arguments": {"a": 1, "b": 2, "blob": blob}})),
        )
        .await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    let text = r["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("unknown argument `blob`") && text.len() < 200, "{text}");
    let r = raw
        .call(2, "tools/call", modern(json!({"name": "add", "arguments": {"a": 1}})))
        .await;
    assert!(
        r["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("missing required argument `b`"),
        "{r}"
    );
    still_serves(&mut raw, 3).await;
}
