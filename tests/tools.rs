//! `#[mcp::tool]` end to end, through `mcp::client`, in both protocol eras.

mod support;

use mcp::client::Era;
use mcp::{CallToolResult, Content, Context, Json, JsonSchema, ProtocolVersion, State};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Notify;

const ERAS: [Era; 3] = [
    Era::Stateless,
    Era::Handshake(ProtocolVersion::V2025_11_25),
    Era::Handshake(ProtocolVersion::V2025_06_18),
];

/// Say hello.
#[mcp::tool]
async fn hello() -> &'static str {
    "hello"
}

/// Repeat a word.
///
/// # Arguments
/// * `word` - the word to repeat
/// * `times` - how often (default 2)
#[mcp::tool(
    name = "repeat-word",
    title = "Repeat",
    read_only,
    destructive = false,
    idempotent,
    open_world = false
)]
fn repeat(word: String, times: Option<usize>) -> String {
    word.repeat(times.unwrap_or(2))
}

#[derive(Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Point {
    x: i32,
    y: i32,
}

/// Mirror a point.
#[mcp::tool(icons = ["https://example.com/mirror.png"], meta = json!({"example.com/kind": "geometry"}))]
async fn mirror(p: Point) -> Json<Point> {
    Json(Point { x: -p.x, y: -p.y })
}

/// A list of numbers, structured (its schema is an array, so it is wrapped).
#[mcp::tool]
async fn evens(below: u32) -> Json<Vec<u32>> {
    Json((0..below).filter(|n| n % 2 == 0).collect())
}

/// Mixed content.
#[mcp::tool]
async fn mixed() -> Vec<Content> {
    vec![
        Content::text("look:"),
        Content::image([0x89, b'P', b'N', b'G'], "image/png"),
        Content::embedded_text("test://r", "text/plain", "body"),
    ]
}

/// A full result.
#[mcp::tool]
async fn full() -> CallToolResult {
    CallToolResult {
        content: vec![Content::text("partial")],
        is_error: true,
        ..CallToolResult::default()
    }
}

/// Fails with a message.
#[mcp::tool]
async fn fails(reason: String) -> mcp::Result<String> {
    Err(mcp::Error::msg(format!("refused: {reason}")))
}

/// Nothing to say.
#[mcp::tool]
async fn quiet() {}

/// Panics.
#[mcp::tool]
async fn explode() -> String {
    panic!("boom")
}

/// Served with a hand-written schema.
#[mcp::tool(input_schema = json!({"type": "object", "properties": {"q": {"type": "string", "maxLength": 3}}}))]
async fn raw_schema(q: Option<String>) -> String {
    q.unwrap_or_default()
}

/// Reads the context, taken by reference under another name.
#[mcp::tool]
async fn whoami(c: &Context, suffix: String) -> String {
    format!("{}{suffix}", if c.is_stateless() { "stateless" } else { "handshake" })
}

/// Shared gate: `wait` blocks until `open` is called.
#[derive(Default)]
struct Gate {
    notify: Notify,
}

/// Wait for the gate.
#[mcp::tool]
async fn wait(gate: State<Gate>) -> &'static str {
    gate.notify.notified().await;
    "through"
}

/// Open the gate.
#[mcp::tool]
async fn open(gate: State<Gate>) -> &'static str {
    gate.notify.notify_one();
    "opened"
}

struct Account {
    owner: String,
}

impl Account {
    /// Who owns the account.
    #[mcp::tool(read_only)]
    async fn owner(&self, greeting: String) -> String {
        format!("{greeting}, {}", self.owner)
    }

    /// A synchronous method.
    #[mcp::tool]
    fn owner_len(&self) -> usize {
        self.owner.len()
    }
}

fn server() -> mcp::Server {
    mcp::Server::new("tools-test", "1.0.0")
        .state(Gate::default())
        .state(Account { owner: "ada".into() })
        .tools(mcp::tools![
            hello,
            repeat,
            mirror,
            evens,
            mixed,
            full,
            fails,
            quiet,
            explode,
            raw_schema,
            whoami,
            wait,
            open,
            Account::owner,
            Account::owner_len
        ])
}

#[tokio::test]
async fn definitions_come_from_the_code() {
    for era in ERAS {
        let client = support::client(server(), era).await;
        let tools = client.list_all_tools().await.unwrap();
        let find = |n: &str| {
            tools
                .iter()
                .find(|t| t.name == n)
                .unwrap_or_else(|| panic!("no tool {n}"))
                .clone()
        };

        let repeat = find("repeat-word");
        assert_eq!(repeat.title.as_deref(), Some("Repeat"));
        assert_eq!(repeat.description.as_deref(), Some("Repeat a word."));
        assert_eq!(
            repeat.input_schema,
            json!({
                "type": "object",
                "properties": {
                    "word": {"type": "string", "description": "the word to repeat"},
                    "times": {"type": "integer", "minimum": 0, "description": "how often (default 2)"}
                },
                "required": ["word"],
                "additionalProperties": false
            })
        );
        let a = repeat.annotations.unwrap();
        assert_eq!(
            (
                a.read_only_hint,
                a.destructive_hint,
                a.idempotent_hint,
                a.open_world_hint
            ),
            (Some(true), Some(false), Some(true), Some(false))
        );
        assert!(repeat.output_schema.is_none(), "a string result has no output schema");

        let mirror = find("mirror");
        assert_eq!(mirror.icons[0].src, "https://example.com/mirror.png");
        assert_eq!(mirror.icons[0].mime_type.as_deref(), Some("image/png"));
        assert_eq!(mirror.meta.unwrap()["example.com/kind"], "geometry");
        assert_eq!(mirror.output_schema.unwrap()["required"], json!(["x", "y"]));

        let evens = find("evens");
        assert_eq!(evens.output_schema.unwrap()["properties"]["result"]["type"], "array");

        assert_eq!(
            find("raw_schema").input_schema,
            json!({"type": "object", "properties": {"q": {"type": "string", "maxLength": 3}}})
        );
        assert_eq!(
            find("hello").input_schema,
            json!({"type": "object", "additionalProperties": false})
        );
        // Extractors add nothing to the schema; `self` is not an argument.
        assert_eq!(find("whoami").input_schema["required"], json!(["suffix"]));
        assert_eq!(
            find("wait").input_schema,
            json!({"type": "object", "additionalProperties": false})
        );
        assert_eq!(find("owner").input_schema["required"], json!(["greeting"]));
    }
}

#[tokio::test]
async fn results_convert_from_what_the_tool_returns() {
    for era in ERAS {
        let c = support::client(server(), era).await;
        assert_eq!(c.call_tool("hello", json!(null)).await.unwrap().text_content(), "hello");
        assert_eq!(
            c.call_tool("repeat-word", json!({"word": "ab"}))
                .await
                .unwrap()
                .text_content(),
            "abab"
        );
        assert_eq!(
            c.call_tool("repeat-word", json!({"word": "ab", "times": 3}))
                .await
                .unwrap()
                .text_content(),
            "ababab"
        );
        assert_eq!(
            c.call_tool("repeat-word", json!({"word": "ab", "times": null}))
                .await
                .unwrap()
                .text_content(),
            "abab"
        );

        let m = c.call_tool("mirror", json!({"p": {"x": 1, "y": -2}})).await.unwrap();
        assert_eq!(m.structured_content, Some(json!({"x": -1, "y": 2})));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&m.text_content()).unwrap(),
            json!({"x": -1, "y": 2})
        );

        let e = c.call_tool("evens", json!({"below": 7})).await.unwrap();
        assert_eq!(e.structured_content, Some(json!({"result": [0, 2, 4, 6]})));
        assert_eq!(e.text_content(), "[0,2,4,6]");

        let mixed = c.call_tool("mixed", json!({})).await.unwrap();
        assert_eq!(
            serde_json::to_value(&mixed.content).unwrap(),
            json!([
                {"type": "text", "text": "look:"},
                {"type": "image", "data": "iVBORw==", "mimeType": "image/png"},
                {"type": "resource", "resource": {"uri": "test://r", "mimeType": "text/plain", "text": "body"}}
            ])
        );
        let full = c.call_tool("full", json!({})).await.unwrap();
        assert!(full.is_error);
        assert_eq!(full.text_content(), "partial");

        let failed = c.call_tool("fails", json!({"reason": "no"})).await.unwrap();
        assert!(failed.is_error);
        assert_eq!(failed.text_content(), "refused: no");

        let quiet = c.call_tool("quiet", json!({})).await.unwrap();
        assert!(quiet.content.is_empty() && !quiet.is_error);

        let expected = if era == Era::Stateless {
            "stateless!"
        } else {
            "handshake!"
        };
        assert_eq!(
            c.call_tool("whoami", json!({"suffix": "!"}))
                .await
                .unwrap()
                .text_content(),
            expected
        );
        assert_eq!(
            c.call_tool("owner", json!({"greeting": "hi"}))
                .await
                .unwrap()
                .text_content(),
            "hi, ada"
        );
        assert_eq!(
            c.call_tool("owner_len", json!({})).await.unwrap().structured_content,
            Some(json!({"result": 3}))
        );
    }
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_naming_each_argument() {
    for era in ERAS {
        let c = support::client(server(), era).await;
        let r = c
            .call_tool("repeat-word", json!({"word": 5, "times": -1, "extra": true, "more": 1}))
            .await
            .unwrap();
        assert!(r.is_error);
        assert_eq!(
            r.text_content(),
            "Invalid arguments for tool `repeat-word`:\n\
             - invalid argument `word`: invalid type: integer `5`, expected a string\n\
             - invalid argument `times`: invalid value: integer `-1`, expected usize\n\
             - unknown arguments `extra`, `more`"
        );
        let missing = c.call_tool("mirror", json!({})).await.unwrap();
        assert_eq!(
            missing.text_content(),
            "Invalid arguments for tool `mirror`:\n- missing required argument `p`"
        );
        let nested = c.call_tool("mirror", json!({"p": {"x": 1}})).await.unwrap();
        assert!(
            nested
                .text_content()
                .contains("invalid argument `p`: missing field `y`"),
            "{}",
            nested.text_content()
        );
        // Only unknown arguments.
        let extra = c.call_tool("hello", json!({"x": 1})).await.unwrap();
        assert_eq!(
            extra.text_content(),
            "Invalid arguments for tool `hello`:\n- unknown argument `x`"
        );
    }
}

#[tokio::test]
async fn a_panicking_tool_is_an_error_result_and_harms_nothing_else() {
    for era in ERAS {
        let c = support::client(server(), era).await;
        let r = c.call_tool("explode", json!({})).await.unwrap();
        assert!(r.is_error);
        assert!(
            r.text_content().contains("the tool `explode` failed: it panicked"),
            "{}",
            r.text_content()
        );
        assert_eq!(c.call_tool("hello", json!({})).await.unwrap().text_content(), "hello");
    }
}

#[tokio::test]
async fn a_slow_tool_blocks_nothing_else() {
    // `wait` can only finish if `open` runs while it is in flight.
    let c = support::client(server(), Era::Stateless).await;
    let (waited, opened) = tokio::join!(c.call_tool("wait", json!({})), async {
        tokio::task::yield_now().await;
        c.call_tool("open", json!({})).await
    });
    assert_eq!(waited.unwrap().text_content(), "through");
    assert_eq!(opened.unwrap().text_content(), "opened");
}

#[tokio::test]
async fn a_server_missing_state_or_with_clashing_names_does_not_start() {
    let err = mcp::Server::new("s", "1")
        .tools(mcp::tools![wait, Account::owner])
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tool `wait` needs shared state of type `tools::Gate`"),
        "{err}"
    );
    assert!(
        err.contains("tool `owner` needs shared state of type `tools::Account`"),
        "{err}"
    );
    let err = mcp::Server::new("s", "1")
        .tools(mcp::tools![hello])
        .tool(__mcp_tool_hello())
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("two tools are named `hello`"), "{err}");
}

#[tokio::test]
async fn all_tools_collects_every_free_function_of_the_crate_by_name() {
    let names: Vec<String> = mcp::all_tools!().iter().map(|t| t.name().to_owned()).collect();
    assert_eq!(
        names,
        [
            "evens",
            "explode",
            "fails",
            "full",
            "hello",
            "mirror",
            "mixed",
            "open",
            "quiet",
            "raw_schema",
            "repeat-word",
            "sleepy",
            "wait",
            "whoami"
        ]
    );
}

#[tokio::test]
async fn a_thousand_tools_dispatch_by_name_and_list_from_one_serialisation() {
    let defs = (0..1000).map(|i| {
        mcp::ToolDef::from_fn(
            mcp::Tool {
                name: format!("tool_{i:04}"),
                title: None,
                description: Some(format!("Tool number {i}.")),
                input_schema: json!({"type": "object"}),
                output_schema: None,
                annotations: None,
                icons: vec![],
                meta: None,
                execution: None,
            },
            move |_call| async move { CallToolResult::text(i.to_string()) },
        )
    });
    let service = mcp::Server::new("big", "1").tools(defs).build().unwrap();
    assert_eq!(service.find_tool("tool_0999").unwrap().name(), "tool_0999");
    assert!(service.find_tool("tool_1000").is_none());

    let (ours, theirs) = mcp::transport::memory::pair();
    let s = service.clone();
    tokio::spawn(async move { s.serve(theirs).await });
    let c = mcp::client::Client::connect(ours, mcp::client::ClientOptions::default())
        .await
        .unwrap();
    assert_eq!(c.call_tool("tool_0999", json!({})).await.unwrap().text_content(), "999");
    // The result of tools/list is the page serialised when the server was built, byte for byte.
    let listed = c.request("tools/list", json!({})).await.unwrap();
    let cached: serde_json::Value =
        serde_json::from_slice(&service.cached_tools_page(ProtocolVersion::V2026_07_28, 0).unwrap()).unwrap();
    assert_eq!(listed, cached);
    assert_eq!(listed["tools"].as_array().unwrap().len(), 1000);
}

/// Sleeps far too long.
#[mcp::tool]
async fn sleepy() -> &'static str {
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    "awake"
}

#[tokio::test]
async fn a_tool_that_never_returns_is_stopped_by_the_call_timeout() {
    for era in ERAS {
        let server = mcp::Server::new("t", "1")
            .call_timeout(std::time::Duration::from_millis(100))
            .tools(mcp::tools![sleepy, hello]);
        let c = support::client(server, era).await;
        let r = c.call_tool("sleepy", json!({})).await.unwrap();
        assert!(r.is_error);
        assert_eq!(r.text_content(), "the tool `sleepy` did not finish within 100 ms");
        assert_eq!(c.call_tool("hello", json!({})).await.unwrap().text_content(), "hello");
    }
}
