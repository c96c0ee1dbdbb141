//! The input schemas of a catalogue of Rust parameter types, pinned as snapshots.
//!
//! Each snapshot (`tests/snapshots/schemas/<shape>.json`) holds the schema and example
//! arguments: the ones under `valid` must be accepted by the tool, the ones under `invalid`
//! refused. This test checks the schema against the snapshot and sends every example through a
//! real call; `tests/interop/python/test_schemas.py` validates each schema against the JSON
//! Schema 2020-12 meta-schema and each example against its schema, so serde and the schema agree.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test --test schemas` rewrites the snapshots.

#![allow(dead_code)] // the types exist for their schemas and their deserialisation

mod support;

use mcp::JsonSchema;
use mcp::client::Era;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Point {
    x: f64,
    y: f64,
}

/// A line between two points.
#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Line {
    /// Where it starts.
    from: Point,
    /// Where it ends.
    to: Point,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(crate = "mcp::schemars")]
enum Color {
    Red,
    Green,
    Blue,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
enum Shape {
    Circle { radius: f64 },
    Square(f64),
    Empty,
}

#[derive(Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[schemars(crate = "mcp::schemars")]
enum Event {
    Click { x: i32, y: i32 },
    Key { code: String },
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(crate = "mcp::schemars")]
enum IdOrName {
    Id(u32),
    Name(String),
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Tree {
    value: i32,
    #[serde(default)]
    children: Vec<Tree>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(crate = "mcp::schemars")]
struct Renamed {
    first_name: String,
    #[serde(rename = "years")]
    age: u8,
}

fn default_limit() -> u32 {
    10
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Defaults {
    name: String,
    #[serde(default)]
    verbose: bool,
    #[serde(default = "default_limit")]
    limit: u32,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct OptionalFields {
    note: Option<String>,
    at: Option<Point>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct UserId(u64);

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "mcp::schemars")]
struct Strict {
    a: i32,
}

macro_rules! shapes {
    ($($name:ident: $ty:ty, valid $valid:tt, invalid $invalid:tt;)*) => {
        mod shapes {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[mcp::tool]
                pub(crate) async fn $name(value: $ty) {
                    let _ = value;
                }
            )*
        }
        fn catalogue() -> Vec<(mcp::ToolDef, Value, Value)> {
            mcp::tools![$(shapes::$name),*].into_iter().zip([$((json!($valid), json!($invalid))),*]).map(|(t, (v, i))| (t, v, i)).collect()
        }
    };
}

shapes! {
    integer: i64, valid [0, -5, 9_007_199_254_740_991_i64], invalid ["1", 1.5, null];
    unsigned_u64: u64, valid [0, 42], invalid [-1, "x"];
    byte_u8: u8, valid [0, 255], invalid [256, -1];
    float_f64: f64, valid [1.5, 2, -0.25], invalid ["1.5", true];
    boolean: bool, valid [true, false], invalid [0, "true"];
    string: String, valid ["", "hi"], invalid [1, null];
    character: char, valid ["a"], invalid ["ab", ""];
    optional_integer: Option<i32>, valid [5, -1], invalid ["x", 1.5];
    list_of_strings: Vec<String>, valid [[], ["a", "b"]], invalid [["a", 1], "a"];
    string_map: BTreeMap<String, i32>, valid [{}, {"a": 1}], invalid [{"a": "x"}, []];
    tuple: (i32, String), valid [[1, "a"]], invalid [[1], ["a", 1]];
    nested_struct: Line, valid [{"from": {"x": 0, "y": 0}, "to": {"x": 1, "y": 1.5}}], invalid [{"from": {"x": 0}}, {}];
    unit_enum: Color, valid ["red", "blue"], invalid ["Red", "purple"];
    data_enum: Shape, valid [{"Circle": {"radius": 1}}, {"Square": 2}, "Empty"], invalid [{"Triangle": 1}, "Circle"];
    internally_tagged: Event, valid [{"kind": "click", "x": 1, "y": 2}, {"kind": "key", "code": "Esc"}], invalid [{"kind": "scroll"}, {"x": 1}];
    untagged: IdOrName, valid [5, "bob"], invalid [true, -1];
    recursive: Tree, valid [{"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]}], invalid [{"children": []}];
    renamed_fields: Renamed, valid [{"firstName": "ada", "years": 36}], invalid [{"first_name": "ada", "years": 36}];
    defaults: Defaults, valid [{"name": "x"}, {"name": "x", "verbose": true, "limit": 5}], invalid [{"verbose": true}];
    optional_fields: OptionalFields, valid [{}, {"note": "n", "at": {"x": 1, "y": 2}}], invalid [{"note": 5}];
    newtype: UserId, valid [7], invalid [-7, "7"];
    string_set: BTreeSet<String>, valid [[], ["a", "b"]], invalid [[1]];
    any_json: Value, valid [1, "x", {"a": [1]}, null], invalid [];
    strict: Strict, valid [{"a": 1}], invalid [{"a": 1, "b": 2}];
    fixed_array: [u8; 3], valid [[1, 2, 3]], invalid [[1, 2], [1, 2, 3, 4]];
}

fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots/schemas")
        .join(format!("{name}.json"))
}

#[test]
fn schemas_match_their_snapshots() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut mismatched = Vec::new();
    let catalogue = catalogue();
    assert!(catalogue.len() >= 20);
    for (tool, valid, invalid) in catalogue {
        let name = tool.name().to_owned();
        let schema = tool.definition().input_schema.clone();
        let snapshot = json!({ "inputSchema": schema, "valid": valid, "invalid": invalid });
        let path = snapshot_path(&name);
        let text = serde_json::to_string_pretty(&snapshot).unwrap() + "\n";
        if update {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == text => {}
            Ok(existing) => {
                mismatched.push(format!("{name}:\n--- snapshot\n{existing}+++ now\n{text}"));
            }
            Err(_) => mismatched.push(format!(
                "{name}: no snapshot at {} (UPDATE_SNAPSHOTS=1 writes it)",
                path.display()
            )),
        }
    }
    assert!(mismatched.is_empty(), "schemas changed:\n{}", mismatched.join("\n"));
}

#[tokio::test]
async fn every_example_is_accepted_or_refused_as_its_snapshot_says() {
    let catalogue = catalogue();
    let mut server = mcp::Server::new("schemas", "1");
    let mut cases = Vec::new();
    for (tool, valid, invalid) in catalogue {
        cases.push((tool.name().to_owned(), valid, invalid));
        server = server.tool(tool);
    }
    let client = support::client(server, Era::Stateless).await;
    for (name, valid, invalid) in cases {
        for v in valid.as_array().unwrap() {
            let r = client.call_tool(&name, json!({ "value": v })).await.unwrap();
            assert!(!r.is_error, "{name}: {v} should be accepted, got {}", r.text_content());
        }
        for v in invalid.as_array().unwrap() {
            let r = client.call_tool(&name, json!({ "value": v })).await.unwrap();
            assert!(r.is_error, "{name}: {v} should be refused");
        }
    }
}

// Whole tools, whose arguments are not one `value`: pinned in `tests/snapshots/tools/`, with
// examples of the whole `arguments` object.

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(rename_all = "lowercase")]
#[schemars(crate = "mcp::schemars")]
enum Order {
    Newest,
    Oldest,
}

/// Search the notes.
///
/// # Arguments
/// * `query` - what to look for
/// * `limit` - at most this many notes
#[mcp::tool(defaults(limit = 10, order = "newest", tags = ["inbox"]))]
async fn search(query: String, limit: u32, order: Order, tags: Vec<String>) -> String {
    format!("{query} {limit} {order:?} {tags:?}")
}

fn ten() -> u32 {
    10
}

/// What to look for, and how.
#[derive(Deserialize, JsonSchema, Debug)]
#[schemars(crate = "mcp::schemars")]
struct Query {
    /// What to look for.
    query: String,
    /// At most this many notes.
    #[serde(default = "ten")]
    limit: u32,
    /// Newest first unless given.
    order: Option<Order>,
}

/// The same search, with its arguments in one struct.
#[mcp::tool(read_only)]
async fn search_struct(ctx: mcp::Context, args: mcp::Args<Query>, prefix: mcp::State<String>) -> String {
    let _ = ctx;
    let mcp::Args(Query { query, limit, order }) = args;
    format!("{}{query} {limit} {order:?}", *prefix)
}

/// Arguments that refuse what they do not name.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "mcp::schemars")]
struct StrictQuery {
    query: String,
}

/// A search that refuses unknown arguments.
#[mcp::tool]
async fn search_strict(args: mcp::Args<StrictQuery>) -> String {
    args.query.clone()
}

fn whole_tools() -> Vec<(mcp::ToolDef, Value, Value)> {
    vec![
        (
            mcp::tools![search_struct].remove(0),
            json!([{"query": "x"}, {"query": "x", "limit": 3, "order": "oldest"}, {"query": "x", "other": 1}]),
            json!([{}, {"query": "x", "limit": -1}, {"query": "x", "order": "sideways"}]),
        ),
        (
            mcp::tools![search_strict].remove(0),
            json!([{"query": "x"}]),
            json!([{}, {"query": "x", "other": 1}]),
        ),
        (
            mcp::tools![search].remove(0),
            json!([{"query": "x"}, {"query": "x", "limit": 3, "order": "oldest", "tags": []}, {"query": "x", "limit": null}]),
            json!([{}, {"query": "x", "limit": -1}, {"query": "x", "order": "sideways"}]),
        ),
    ]
}

#[test]
fn whole_tool_schemas_match_their_snapshots() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut mismatched = Vec::new();
    for (tool, valid, invalid) in whole_tools() {
        let name = tool.name().to_owned();
        let schema = tool.definition().input_schema.clone();
        let snapshot = json!({ "inputSchema": schema, "valid": valid, "invalid": invalid });
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/snapshots/tools/{name}.json"));
        let text = serde_json::to_string_pretty(&snapshot).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == text => {}
            Ok(existing) => mismatched.push(format!("{name}:\n--- snapshot\n{existing}+++ now\n{text}")),
            Err(_) => mismatched.push(format!("{name}: no snapshot (UPDATE_SNAPSHOTS=1 writes it)")),
        }
    }
    assert!(mismatched.is_empty(), "schemas changed:\n{}", mismatched.join("\n"));
}

#[tokio::test]
async fn whole_tools_accept_and_refuse_as_their_snapshots_say() {
    let mut server = mcp::Server::new("schemas", "1").state(String::new());
    let mut cases = Vec::new();
    for (tool, valid, invalid) in whole_tools() {
        cases.push((tool.name().to_owned(), valid, invalid));
        server = server.tool(tool);
    }
    let client = support::client(server, Era::Stateless).await;
    for (name, valid, invalid) in cases {
        for v in valid.as_array().unwrap() {
            let r = client.call_tool(&name, v.clone()).await.unwrap();
            assert!(!r.is_error, "{name}: {v} should be accepted, got {}", r.text_content());
        }
        for v in invalid.as_array().unwrap() {
            let r = client.call_tool(&name, v.clone()).await.unwrap();
            assert!(r.is_error, "{name}: {v} should be refused");
        }
    }
}

#[tokio::test]
async fn a_default_is_applied_when_the_argument_is_absent_or_null() {
    for era in [Era::Stateless, Era::Handshake(mcp::ProtocolVersion::V2025_11_25)] {
        let client = support::client(mcp::Server::new("s", "1").tools(mcp::tools![search]), era).await;
        let text = |args: Value| {
            let client = &client;
            async move { client.call_tool("search", args).await.unwrap().text_content() }
        };
        assert_eq!(text(json!({"query": "q"})).await, r#"q 10 Newest ["inbox"]"#);
        assert_eq!(
            text(json!({"query": "q", "limit": null})).await,
            r#"q 10 Newest ["inbox"]"#
        );
        assert_eq!(
            text(json!({"query": "q", "limit": 2, "order": "oldest", "tags": []})).await,
            "q 2 Oldest []"
        );
    }
}

/// A default that is no value of its type.
#[mcp::tool(defaults(limit = -1))]
async fn bad_default(limit: u32) -> u32 {
    limit
}

#[test]
fn a_default_that_is_no_value_of_its_type_stops_the_server_from_starting() {
    let err = mcp::Server::new("s", "1")
        .tools(mcp::tools![bad_default])
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tool `bad_default`: the default of `limit`, -1, is not a `u32`"),
        "{err}"
    );
}

#[tokio::test]
async fn args_takes_the_whole_arguments_object_beside_extractors() {
    for era in [Era::Stateless, Era::Handshake(mcp::ProtocolVersion::V2025_11_25)] {
        let server = mcp::Server::new("s", "1")
            .state("found: ".to_owned())
            .tools(mcp::tools![search_struct]);
        let client = support::client(server, era).await;
        let call = |args: Value| {
            let client = &client;
            async move { client.call_tool("search_struct", args).await.unwrap() }
        };
        assert_eq!(call(json!({"query": "q"})).await.text_content(), "found: q 10 None");
        assert_eq!(
            call(json!({"query": "q", "limit": 1, "order": "oldest"}))
                .await
                .text_content(),
            "found: q 1 Some(Oldest)"
        );
        let refused = call(json!({"limit": 1})).await;
        assert!(refused.is_error);
        assert!(
            refused.text_content().contains("missing field `query`"),
            "{}",
            refused.text_content()
        );
    }
}

/// Arguments that are no object.
#[mcp::tool]
async fn not_an_object(args: mcp::Args<u32>) -> u32 {
    args.0
}

#[test]
fn args_of_a_type_that_is_no_object_stops_the_server_from_starting() {
    let err = mcp::Server::new("s", "1")
        .tools(mcp::tools![not_an_object])
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tool `not_an_object`: `Args<u32>` needs a type whose schema is an object"),
        "{err}"
    );
}
