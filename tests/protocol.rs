//! The wire, both eras: what a server built with `mcp` answers to each kind of request.

mod support;

use serde_json::{Value, json};
use support::{Raw, code, modern};

/// Add two numbers.
#[mcp::tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Block until cancelled.
#[mcp::tool]
async fn hang() -> String {
    std::future::pending::<()>().await;
    unreachable!()
}

fn server() -> mcp::Server {
    mcp::Server::new("wire-test", "9.9.9")
        .instructions("Be brief.")
        .tools(mcp::tools![add, hang])
}

#[tokio::test]
async fn discover_describes_the_server_statelessly() {
    let mut raw = Raw::new(server());
    let r = raw.call(1, "server/discover", modern(json!({}))).await;
    let result = &r["result"];
    assert_eq!(
        result["supportedVersions"],
        json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"])
    );
    assert_eq!(result["capabilities"]["tools"], json!({"listChanged": true}));
    assert_eq!(result["instructions"], "Be brief.");
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["ttlMs"], 60000);
    assert_eq!(result["cacheScope"], "public");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"],
        json!({"name": "wire-test", "version": "9.9.9"})
    );
}

#[tokio::test]
async fn stateless_results_carry_result_type_cache_hints_and_server_info() {
    let mut raw = Raw::new(server());
    let list = raw.call(1, "tools/list", modern(json!({}))).await;
    assert_eq!(list["result"]["resultType"], "complete");
    assert_eq!(list["result"]["ttlMs"], 60000);
    assert_eq!(list["result"]["cacheScope"], "public");
    assert_eq!(list["result"]["tools"][0]["name"], "add");
    let call = raw
        .call(
            2,
            "tools/call",
            modern(json!({"name": "add", "arguments": {"a": 1, "b": 2}})),
        )
        .await;
    assert_eq!(call["id"], 2);
    assert_eq!(call["result"]["structuredContent"], json!({"result": 3}));
    assert_eq!(call["result"]["resultType"], "complete");
    assert_eq!(
        call["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "wire-test"
    );
}

#[tokio::test]
async fn stateless_meta_is_validated() {
    let mut raw = Raw::new(server());
    // No _meta and no initialize.
    assert_eq!(code(&raw.call(1, "tools/list", json!({})).await), -32602);
    // Version but no capabilities.
    let r = raw
        .call(
            2,
            "tools/list",
            json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
        )
        .await;
    assert_eq!(code(&r), -32602);
    assert!(r["error"]["message"].as_str().unwrap().contains("clientCapabilities"));
    // A version the server does not serve statelessly.
    for requested in ["2099-01-01", "2025-11-25"] {
        let r = raw
            .call(
                3,
                "tools/list",
                json!({"_meta": {
                    "io.modelcontextprotocol/protocolVersion": requested,
                    "io.modelcontextprotocol/clientCapabilities": {}
                }}),
            )
            .await;
        assert_eq!(code(&r), -32022, "{r}");
        assert_eq!(
            r["error"]["data"],
            json!({"supported": ["2026-07-28"], "requested": requested})
        );
        assert_eq!(r["id"], 3);
    }
    // Version not a string.
    let r = raw
        .call(4, "tools/list", json!({"_meta": {"io.modelcontextprotocol/protocolVersion": 7, "io.modelcontextprotocol/clientCapabilities": {}}}))
        .await;
    assert_eq!(code(&r), -32602);
}

#[tokio::test]
async fn methods_removed_in_the_stateless_era_and_unknown_methods_are_not_found() {
    let mut raw = Raw::new(server());
    for (i, method) in ["ping", "logging/setLevel", "initialize", "no/such/method"]
        .into_iter()
        .enumerate()
    {
        let r = raw.call(i as i64, method, modern(json!({}))).await;
        assert_eq!(code(&r), -32601, "{method}: {r}");
    }
}

#[tokio::test]
async fn every_request_before_initialize_gets_an_answer() {
    let mut raw = Raw::new(server());
    // What the official Python client sends first, without the modern _meta.
    assert_eq!(code(&raw.call(1, "server/discover", json!({})).await), -32602);
    assert_eq!(code(&raw.call(2, "tools/call", json!({"name": "add"})).await), -32602);
    // Every method the server serves gets the same hint; an unknown one is not found.
    assert_eq!(code(&raw.call(3, "resources/list", json!({})).await), -32602);
    assert_eq!(code(&raw.call(4, "prompts/list", json!({})).await), -32602);
    assert_eq!(code(&raw.call(5, "no/such/method", json!({})).await), -32601);
    assert_eq!(raw.call(6, "ping", json!({})).await["result"], json!({}));
}

#[tokio::test]
async fn initialize_negotiates_the_version() {
    for (requested, answered) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2026-07-28", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
    ] {
        let mut raw = Raw::new(server());
        let r = raw.initialize(requested).await;
        let result = &r["result"];
        assert_eq!(result["protocolVersion"], answered, "asked for {requested}");
        assert_eq!(result["serverInfo"], json!({"name": "wire-test", "version": "9.9.9"}));
        assert_eq!(result["instructions"], "Be brief.");
        assert_eq!(
            result["capabilities"],
            json!({"logging": {}, "tools": {"listChanged": true}})
        );
        assert!(
            result.get("resultType").is_none(),
            "handshake results have no resultType"
        );
    }
}

#[tokio::test]
async fn the_handshake_era_serves_tools_ping_and_log_levels() {
    let mut raw = Raw::new(server());
    raw.initialize("2025-11-25").await;
    assert_eq!(raw.call(1, "ping", json!({})).await["result"], json!({}));
    let list = raw.call(2, "tools/list", json!({})).await;
    assert!(list["result"].get("ttlMs").is_none());
    assert_eq!(list["result"]["tools"].as_array().unwrap().len(), 2);
    let call = raw
        .call(3, "tools/call", json!({"name": "add", "arguments": {"a": 20, "b": 22}}))
        .await;
    assert_eq!(
        call["result"],
        json!({"content": [{"type": "text", "text": "42"}], "structuredContent": {"result": 42}})
    );
    assert_eq!(
        raw.call(4, "logging/setLevel", json!({"level": "warning"})).await["result"],
        json!({})
    );
    assert_eq!(
        code(&raw.call(5, "logging/setLevel", json!({"level": "loud"})).await),
        -32602
    );
    assert_eq!(code(&raw.call(6, "initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "0"}})).await), -32600);
    assert_eq!(code(&raw.call(7, "no/such/method", json!({})).await), -32601);
    // A stateless request on the same connection is still served statelessly.
    let modern_list = raw.call(8, "tools/list", modern(json!({}))).await;
    assert_eq!(modern_list["result"]["resultType"], "complete");
}

#[tokio::test]
async fn tools_call_params_are_checked() {
    let mut raw = Raw::new(server());
    raw.initialize("2025-11-25").await;
    let unknown = raw
        .call(1, "tools/call", json!({"name": "nope", "arguments": {}}))
        .await;
    assert_eq!(code(&unknown), -32602);
    assert_eq!(unknown["error"]["message"], "Unknown tool: nope");
    assert_eq!(code(&raw.call(2, "tools/call", json!({"arguments": {}})).await), -32602);
    assert_eq!(
        code(
            &raw.call(3, "tools/call", json!({"name": "add", "arguments": [1, 2]}))
                .await
        ),
        -32602
    );
    assert_eq!(code(&raw.call(4, "tools/call", Value::Null).await), -32602);
}

#[tokio::test]
async fn malformed_messages_get_errors_and_the_server_keeps_serving() {
    let mut raw = Raw::new(server());
    raw.initialize("2025-11-25").await;
    raw.send("{not json").await;
    let r = raw.recv().await;
    assert_eq!((code(&r), r["id"].clone()), (-32700, Value::Null));
    raw.send(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#).await;
    assert_eq!(code(&raw.recv().await), -32600);
    raw.send(r#"{"jsonrpc":"1.0","id":5,"method":"ping"}"#).await;
    let r = raw.recv().await;
    assert_eq!((code(&r), r["id"].clone()), (-32600, json!(5)));
    raw.send(b"[1,2,3".to_vec()).await;
    assert_eq!(code(&raw.recv().await), -32700);
    raw.send(b"\"just a string\"".to_vec()).await;
    assert_eq!(code(&raw.recv().await), -32600);
    // A response to a request the server never sent is ignored; a notification is never answered.
    raw.send(r#"{"jsonrpc":"2.0","id":99,"result":{}}"#).await;
    raw.send(r#"{"jsonrpc":"2.0","method":"notifications/whatever"}"#).await;
    let after = raw
        .call(6, "tools/call", json!({"name": "add", "arguments": {"a": 1, "b": 1}}))
        .await;
    assert_eq!(after["id"], 6);
    assert_eq!(after["result"]["structuredContent"], json!({"result": 2}));
}

#[tokio::test]
async fn string_ids_are_echoed_exactly() {
    let mut raw = Raw::new(server());
    raw.initialize("2025-11-25").await;
    raw.send_json(json!({"jsonrpc": "2.0", "id": "req-\"7\"", "method": "ping"}))
        .await;
    assert_eq!(raw.recv().await["id"], "req-\"7\"");
}

#[tokio::test]
async fn batches_belong_to_2025_03_26_only() {
    let mut raw = Raw::new(server());
    raw.initialize("2025-03-26").await;
    raw.send_json(json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 2}}},
        {"jsonrpc": "2.0", "method": "notifications/whatever"},
        {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    ]))
    .await;
    let answer = raw.recv().await;
    let mut items = answer.as_array().expect("a batch is answered with an array").clone();
    items.sort_by_key(|i| i["id"].as_i64());
    assert_eq!(items.len(), 2, "the notification has no answer");
    assert_eq!(items[0]["result"]["structuredContent"], json!({"result": 3}));
    assert_eq!(items[1]["result"], json!({}));

    let mut newer = Raw::new(server());
    newer.initialize("2025-11-25").await;
    newer
        .send_json(json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]))
        .await;
    assert_eq!(code(&newer.recv().await), -32600);
}

#[tokio::test]
async fn an_id_in_flight_cannot_be_reused_and_cancelled_requests_get_no_answer() {
    let mut raw = Raw::new(server());
    raw.initialize("2025-11-25").await;
    raw.send_json(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "hang"}}))
        .await;
    let dup = raw
        .call(1, "tools/call", json!({"name": "add", "arguments": {"a": 1, "b": 1}}))
        .await;
    assert_eq!(code(&dup), -32600);
    assert_eq!(dup["id"], 1);
    raw.send_json(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}))
        .await;
    // The next answer is to the next request: the cancelled call never answers, and id 1 is free.
    let next = raw
        .call(1, "tools/call", json!({"name": "add", "arguments": {"a": 2, "b": 2}}))
        .await;
    assert_eq!(next["result"]["structuredContent"], json!({"result": 4}));
}

#[tokio::test]
async fn pages_of_tools_follow_the_cursor() {
    let mut raw = Raw::new(server().page_size(1));
    raw.initialize("2025-11-25").await;
    let first = raw.call(1, "tools/list", json!({})).await;
    assert_eq!(first["result"]["tools"][0]["name"], "add");
    let cursor = first["result"]["nextCursor"].clone();
    assert!(cursor.is_string());
    let second = raw.call(2, "tools/list", json!({"cursor": cursor})).await;
    assert_eq!(second["result"]["tools"][0]["name"], "hang");
    assert!(second["result"].get("nextCursor").is_none());
    assert_eq!(
        code(&raw.call(3, "tools/list", json!({"cursor": "garbage"})).await),
        -32602
    );
    assert_eq!(
        code(&raw.call(4, "tools/list", json!({"cursor": "page:9"})).await),
        -32602
    );
}
