//! Resources, templates, prompts, completion and subscriptions, through `mcp::client`, in both eras.

mod support;

use mcp::client::{Client, ClientOptions, Era};
use mcp::{Json, JsonSchema, PromptMessage, ProtocolVersion, ResourceContents, State};
use serde::Serialize;
use serde_json::{Value, json};

const ERAS: [Era; 2] = [Era::Stateless, Era::Handshake(ProtocolVersion::V2025_11_25)];

/// The readme.
#[mcp::resource("docs://readme", mime = "text/markdown", size = 7, title = "Read me")]
async fn readme() -> &'static str {
    "# Hello"
}

/// A tiny picture.
#[mcp::resource("docs://logo.png", mime = "image/png")]
fn logo() -> Vec<u8> {
    vec![0x89, b'P', b'N', b'G']
}

#[derive(Serialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Stats {
    files: u32,
}

/// Statistics as JSON.
#[mcp::resource("docs://stats")]
async fn stats() -> Json<Stats> {
    Json(Stats { files: 3 })
}

/// A directory: several contents.
#[mcp::resource("docs://dir")]
async fn dir() -> Vec<ResourceContents> {
    vec![
        ResourceContents::text("docs://dir/a", None, "a"),
        ResourceContents::text("docs://dir/b", None, "b"),
    ]
}

/// A page by name; none is named `missing`.
#[mcp::resource("pages://{name}", complete(name = page_names))]
async fn page(name: String) -> Option<String> {
    (name != "missing").then(|| format!("page {name}"))
}

async fn page_names(prefix: String) -> Vec<String> {
    (0..150)
        .map(|i| format!("p{i}"))
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// A file under the root, by path.
#[mcp::resource("files:///{+path}")]
async fn file(path: String) -> String {
    format!("file {path}")
}

/// A search with optional query parameters.
#[mcp::resource("search://notes{?term,limit}")]
async fn search(term: Option<String>, limit: Option<u8>, count: State<Counter>) -> String {
    format!("term={term:?} limit={limit:?} counter={}", count.n)
}

struct Counter {
    n: u32,
}

/// Say hello.
#[mcp::prompt]
async fn greet() -> &'static str {
    "Say hello."
}

/// Review some code.
///
/// # Arguments
/// * `code` - the code
/// * `lines` - how many lines to focus on
#[mcp::prompt(title = "Code review", complete(language = languages))]
async fn review(code: String, language: Option<String>, lines: Option<u32>) -> Vec<PromptMessage> {
    vec![
        PromptMessage::user(format!(
            "Review this {} code ({lines:?} lines):",
            language.unwrap_or_else(|| "any".into())
        )),
        PromptMessage::user(code),
        PromptMessage::assistant("Sure."),
    ]
}

async fn languages(prefix: String) -> Vec<String> {
    ["rust", "python", "ruby"]
        .into_iter()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// Fails.
#[mcp::prompt]
async fn broken() -> mcp::Result<String> {
    Err(mcp::Error::msg("no prompt today"))
}

fn server() -> mcp::Server {
    mcp::Server::new("res-test", "1")
        .state(Counter { n: 7 })
        .resources(mcp::resources![readme, logo, stats, dir, page, file, search])
        .prompts(mcp::prompts![greet, review, broken])
}

async fn connect(era: Era) -> Client {
    Client::connect(support::start(server()), ClientOptions::default().era(era))
        .await
        .unwrap()
}

fn code(e: mcp::Error) -> (i32, Option<Value>) {
    match e {
        mcp::Error::Protocol(o) => (o.code.0, o.data),
        other => panic!("expected a protocol error, got {other}"),
    }
}

#[tokio::test]
async fn lists_show_what_the_code_declares() {
    for era in ERAS {
        let c = connect(era).await;
        let resources = c.list_resources().await.unwrap();
        let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
        assert_eq!(uris, ["docs://readme", "docs://logo.png", "docs://stats", "docs://dir"]);
        assert_eq!(resources[0].title.as_deref(), Some("Read me"));
        assert_eq!(resources[0].size, Some(7));
        assert_eq!(resources[0].description.as_deref(), Some("The readme."));
        let templates = c.list_resource_templates().await.unwrap();
        let t: Vec<&str> = templates.iter().map(|t| t.uri_template.as_str()).collect();
        assert_eq!(t, ["pages://{name}", "files:///{+path}", "search://notes{?term,limit}"]);
        let prompts = c.list_prompts().await.unwrap();
        assert_eq!(
            prompts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["greet", "review", "broken"]
        );
        let review = &prompts[1];
        assert_eq!(review.title.as_deref(), Some("Code review"));
        assert_eq!(
            serde_json::to_value(&review.arguments).unwrap(),
            json!([
                {"name": "code", "description": "the code", "required": true},
                {"name": "language", "required": false},
                {"name": "lines", "description": "how many lines to focus on", "required": false}
            ])
        );
        let caps = &c.negotiated().capabilities;
        assert_eq!(caps["resources"], json!({"subscribe": true, "listChanged": true}));
        assert_eq!(caps["completions"], json!({}));
    }
}

#[tokio::test]
async fn reads_text_blob_json_and_several_contents() {
    for era in ERAS {
        let c = connect(era).await;
        let r = c.read_resource("docs://readme").await.unwrap();
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"contents": [{"uri": "docs://readme", "mimeType": "text/markdown", "text": "# Hello"}]})
        );
        let logo = c.read_resource("docs://logo.png").await.unwrap();
        assert_eq!(
            serde_json::to_value(&logo.contents[0]).unwrap(),
            json!({"uri": "docs://logo.png", "mimeType": "image/png", "blob": "iVBORw=="})
        );
        let s = c.read_resource("docs://stats").await.unwrap();
        assert_eq!(
            serde_json::to_value(&s.contents[0]).unwrap(),
            json!({"uri": "docs://stats", "mimeType": "application/json", "text": "{\"files\":3}"})
        );
        assert_eq!(c.read_resource("docs://dir").await.unwrap().contents.len(), 2);
    }
    // Stateless reads are cacheable.
    let c = connect(Era::Stateless).await;
    let raw = c
        .request("resources/read", json!({"uri": "docs://readme"}))
        .await
        .unwrap();
    assert_eq!(
        (
            raw["ttlMs"].clone(),
            raw["cacheScope"].clone(),
            raw["resultType"].clone()
        ),
        (json!(60000), json!("public"), json!("complete"))
    );
}

#[tokio::test]
async fn templates_decode_variables_and_refuse_traversal() {
    for era in ERAS {
        let c = connect(era).await;
        let text = |r: mcp::ReadResourceResult| r.contents[0].as_text().unwrap().to_owned();
        assert_eq!(
            text(c.read_resource("pages://hello%20world").await.unwrap()),
            "page hello world"
        );
        assert_eq!(
            text(c.read_resource("files:///a/b/c.txt").await.unwrap()),
            "file a/b/c.txt"
        );
        assert_eq!(
            text(c.read_resource("search://notes?limit=5&term=r%26d").await.unwrap()),
            "term=Some(\"r&d\") limit=Some(5) counter=7"
        );
        assert_eq!(
            text(c.read_resource("search://notes").await.unwrap()),
            "term=None limit=None counter=7"
        );
        let (code_, _) = code(c.read_resource("files:///a/../../etc/passwd").await.unwrap_err());
        assert_eq!(code_, -32602);
        let (code_, _) = code(c.read_resource("pages://..%2F..%2Fsecret").await.unwrap_err());
        assert_eq!(code_, -32602);
        let (code_, data) = code(c.read_resource("search://notes?limit=many").await.unwrap_err());
        assert_eq!(code_, -32602, "{data:?}");
    }
}

#[tokio::test]
async fn not_found_is_minus_32002_or_minus_32602_with_the_uri() {
    for (era, expected) in [(ERAS[0], -32602), (ERAS[1], -32002)] {
        let c = connect(era).await;
        for uri in ["nope://x", "pages://missing"] {
            let (code_, data) = code(c.read_resource(uri).await.unwrap_err());
            assert_eq!((code_, data), (expected, Some(json!({"uri": uri}))), "{era:?}");
        }
    }
}

#[tokio::test]
async fn prompts_with_and_without_arguments() {
    for era in ERAS {
        let c = connect(era).await;
        let g = c.get_prompt("greet", json!({})).await.unwrap();
        assert_eq!(
            serde_json::to_value(&g.messages).unwrap(),
            json!([{"role": "user", "content": {"type": "text", "text": "Say hello."}}])
        );
        let r = c
            .get_prompt(
                "review",
                json!({"code": "fn main() {}", "language": "rust", "lines": "3"}),
            )
            .await
            .unwrap();
        assert_eq!(r.messages.len(), 3);
        assert_eq!(
            r.messages[0].content.as_text(),
            Some("Review this rust code (Some(3) lines):")
        );
        assert_eq!(r.messages[2].role, mcp::Role::Assistant);
        let (c1, _) = code(c.get_prompt("review", json!({})).await.unwrap_err());
        assert_eq!(c1, -32602);
        let e = c
            .get_prompt("review", json!({"code": "x", "lines": "many"}))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("invalid argument `lines`"), "{e}");
        let (c3, _) = code(c.get_prompt("nope", json!({})).await.unwrap_err());
        assert_eq!(c3, -32602);
        let e = c.get_prompt("broken", json!({})).await.unwrap_err();
        assert!(e.to_string().contains("no prompt today"), "{e}");
    }
}

#[tokio::test]
async fn completion_suggests_at_most_a_hundred_values() {
    for era in ERAS {
        let c = connect(era).await;
        let langs = c
            .complete(json!({"type": "ref/prompt", "name": "review"}), "language", "r")
            .await
            .unwrap();
        assert_eq!(langs, json!({"values": ["rust", "ruby"], "total": 2, "hasMore": false}));
        let pages = c
            .complete(json!({"type": "ref/resource", "uri": "pages://{name}"}), "name", "p")
            .await
            .unwrap();
        assert_eq!(pages["values"].as_array().unwrap().len(), 100);
        assert_eq!(
            (pages["total"].clone(), pages["hasMore"].clone()),
            (json!(150), json!(true))
        );
        let none = c
            .complete(json!({"type": "ref/prompt", "name": "review"}), "code", "")
            .await
            .unwrap();
        assert_eq!(none["values"], json!([]));
        let (e, _) = code(
            c.complete(json!({"type": "ref/prompt", "name": "nope"}), "x", "")
                .await
                .unwrap_err(),
        );
        assert_eq!(e, -32602);
    }
    // No completer anywhere: no `completions` capability, and the method is not found.
    let plain = mcp::Server::new("plain", "1").resources(mcp::resources![readme]);
    let c = Client::connect(support::start(plain), ClientOptions::default())
        .await
        .unwrap();
    assert!(c.negotiated().capabilities.get("completions").is_none());
    let (e, _) = code(
        c.complete(json!({"type": "ref/resource", "uri": "docs://readme"}), "x", "")
            .await
            .unwrap_err(),
    );
    assert_eq!(e, -32601);
}

#[tokio::test]
async fn updates_reach_subscribers_and_no_one_else() {
    let service = server().build().unwrap();
    let connect_to = |service: &mcp::Service, era: Era| {
        let (ours, theirs) = mcp::transport::memory::pair();
        let s = service.clone();
        tokio::spawn(async move { s.serve(theirs).await });
        async move { Client::connect(ours, ClientOptions::default().era(era)).await.unwrap() }
    };
    let subscriber = connect_to(&service, ERAS[1]).await;
    let bystander = connect_to(&service, ERAS[1]).await;
    let listener = connect_to(&service, Era::Stateless).await;
    subscriber
        .request("resources/subscribe", json!({"uri": "docs://readme"}))
        .await
        .unwrap();
    bystander
        .request("resources/subscribe", json!({"uri": "docs://dir"}))
        .await
        .unwrap();

    // Stateless era: `subscriptions/listen`, acknowledged first. It never answers until it ends,
    // so it is sent as a notification-shaped raw request and followed through notifications.
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    listener
        .send_raw(
            serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": "listen-1", "method": "subscriptions/listen",
                "params": {"notifications": {"resourceSubscriptions": ["docs://readme"], "toolsListChanged": true}, "_meta": meta}}))
            .unwrap(),
        )
        .await
        .unwrap();
    let (method, ack) = listener.next_notification().await.unwrap();
    assert_eq!(method, "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["notifications"],
        json!({"resourceSubscriptions": ["docs://readme"]})
    );
    assert_eq!(ack["_meta"]["io.modelcontextprotocol/subscriptionId"], "listen-1");

    service.resource_updated("docs://readme");
    let (m1, p1) = subscriber.next_notification().await.unwrap();
    assert_eq!(
        (m1.as_str(), p1["uri"].as_str()),
        ("notifications/resources/updated", Some("docs://readme"))
    );
    let (m2, p2) = listener.next_notification().await.unwrap();
    assert_eq!(
        (m2.as_str(), p2["uri"].as_str()),
        ("notifications/resources/updated", Some("docs://readme"))
    );
    assert_eq!(p2["_meta"]["io.modelcontextprotocol/subscriptionId"], "listen-1");

    // The bystander hears only about what it subscribed to.
    service.resource_updated("docs://dir");
    let (m3, p3) = bystander.next_notification().await.unwrap();
    assert_eq!(
        (m3.as_str(), p3["uri"].as_str()),
        ("notifications/resources/updated", Some("docs://dir"))
    );

    subscriber
        .request("resources/subscribe", json!({"uri": "docs://dir"}))
        .await
        .unwrap();
    subscriber
        .request("resources/unsubscribe", json!({"uri": "docs://readme"}))
        .await
        .unwrap();
    service.resource_updated("docs://readme");
    service.resource_updated("docs://dir");
    let (_, p4) = bystander.next_notification().await.unwrap();
    assert_eq!(p4["uri"], "docs://dir", "the bystander never heard about docs://readme");
    let (_, p5) = subscriber.next_notification().await.unwrap();
    assert_eq!(
        p5["uri"], "docs://dir",
        "after unsubscribing, docs://readme is not heard of"
    );
}

/// Turn the `greet` prompt on or off, from inside a tool.
#[mcp::tool]
async fn toggle_greet(ctx: mcp::Context, on: bool) -> mcp::Result<String> {
    ctx.service().set_prompt_enabled("greet", on)?;
    Ok(format!("greet is {}", if on { "on" } else { "off" }))
}

/// Echo, added while serving.
#[mcp::tool]
async fn late(text: String) -> String {
    text
}

#[tokio::test]
async fn lists_change_while_serving_and_clients_hear_it() {
    let service = server().tools(mcp::tools![toggle_greet]).build().unwrap();
    let connect_to = |era: Era| {
        let (ours, theirs) = mcp::transport::memory::pair();
        let s = service.clone();
        tokio::spawn(async move { s.serve(theirs).await });
        async move { Client::connect(ours, ClientOptions::default().era(era)).await.unwrap() }
    };
    let handshake = connect_to(ERAS[1]).await;
    let stateless = connect_to(Era::Stateless).await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let listen = |id: &str, notifications: Value| {
        serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "method": "subscriptions/listen",
            "params": {"notifications": notifications, "_meta": meta}}))
        .unwrap()
    };
    stateless
        .send_raw(listen("tools-only", json!({"toolsListChanged": true})))
        .await
        .unwrap();
    let (_, ack) = stateless.next_notification().await.unwrap();
    assert_eq!(ack["notifications"], json!({"toolsListChanged": true}));

    // Add a tool: both clients hear it, and it is listed and callable.
    service.add_tool(__mcp_tool_late()).unwrap();
    assert_eq!(
        handshake.next_notification().await.unwrap().0,
        "notifications/tools/list_changed"
    );
    let (method, params) = stateless.next_notification().await.unwrap();
    assert_eq!(method, "notifications/tools/list_changed");
    assert_eq!(params["_meta"]["io.modelcontextprotocol/subscriptionId"], "tools-only");
    let names: Vec<String> = handshake
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["toggle_greet", "late"]);
    assert_eq!(
        stateless
            .call_tool("late", json!({"text": "hi"}))
            .await
            .unwrap()
            .text_content(),
        "hi"
    );

    // A clashing name is refused and changes nothing.
    let err = service.add_tool(__mcp_tool_late()).unwrap_err().to_string();
    assert!(err.contains("two tools are named `late`"), "{err}");
    assert_eq!(handshake.list_all_tools().await.unwrap().len(), 2);

    // Disable a prompt from a tool: not listed, not gettable; the handshake client hears about
    // prompts, the stateless listener (tools only) does not.
    handshake.call_tool("toggle_greet", json!({"on": false})).await.unwrap();
    assert_eq!(
        handshake.next_notification().await.unwrap().0,
        "notifications/prompts/list_changed"
    );
    let prompts: Vec<String> = stateless
        .list_prompts()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(prompts, ["review", "broken"]);
    let (c, _) = code(stateless.get_prompt("greet", json!({})).await.unwrap_err());
    assert_eq!(c, -32602);
    handshake.call_tool("toggle_greet", json!({"on": true})).await.unwrap();
    assert_eq!(
        handshake.next_notification().await.unwrap().0,
        "notifications/prompts/list_changed"
    );
    assert_eq!(stateless.list_prompts().await.unwrap().len(), 3);

    // Remove a tool: the next thing the tools-only listener hears is that removal.
    assert!(service.remove_tool("late").unwrap());
    assert!(!service.remove_tool("late").unwrap());
    let (method, _) = stateless.next_notification().await.unwrap();
    assert_eq!(method, "notifications/tools/list_changed");
    let (c, _) = code(handshake.call_tool("late", json!({"text": "x"})).await.unwrap_err());
    assert_eq!(c, -32602);
    assert_eq!(service.tool_names(), ["toggle_greet"]);
}

/// For the assistant, fairly important.
#[mcp::resource("docs://priority", audience = ["assistant"], priority = 0.8)]
async fn important() -> &'static str {
    "read me first"
}

#[tokio::test]
async fn annotations_and_listed_resources_appear_in_the_list() {
    for era in ERAS {
        let server = mcp::Server::new("dyn", "1")
            .resources(mcp::resources![important, page])
            .list_resources_with(|| async {
                vec![mcp::Resource {
                    uri: "pages://today".into(),
                    name: "today".into(),
                    ..Default::default()
                }]
            });
        let c = Client::connect(support::start(server), ClientOptions::default().era(era))
            .await
            .unwrap();
        let listed = c.list_resources().await.unwrap();
        assert_eq!(
            listed.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>(),
            ["docs://priority", "pages://today"]
        );
        assert_eq!(
            serde_json::to_value(&listed[0].annotations).unwrap(),
            json!({"audience": ["assistant"], "priority": 0.8})
        );
        // A listed resource is read through the template that matches it.
        assert_eq!(
            c.read_resource("pages://today").await.unwrap().contents[0].as_text(),
            Some("page today")
        );
    }
}
