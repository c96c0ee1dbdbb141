//! A server with every tool, resource, template and prompt the official conformance suite
//! (`@modelcontextprotocol/conformance`) calls, for both protocol revisions, over Streamable
//! HTTP on loopback:
//!
//! ```text
//! cargo run --example conformance -- --port 3210      # http://127.0.0.1:3210/mcp
//! ```
//!
//! Ordinary tools use the framework as any user would (`ctx.sample`, `ctx.elicit`, logging,
//! progress). The multi round-trip scenarios ask for exact keys, schemas and states, so those
//! tools return [`InputRequired`] by hand, as the suite's reference server does.

use mcp::{Content, Context, InputRequired, Method, PromptMessage, ToolOutput};
use serde_json::{Value, json};
use std::time::Duration;

const PNG_B64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const WAV_B64: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=";

fn image() -> Content {
    Content::Image {
        data: PNG_B64.into(),
        mime_type: "image/png".into(),
        annotations: None,
    }
}

fn done(text: impl Into<String>) -> ToolOutput {
    ToolOutput::Result(mcp::CallToolResult::text(text))
}

// ------------------------------------------------------------------------------------- tools

/// Returns a simple text response.
#[mcp::tool]
fn test_simple_text() -> &'static str {
    "This is a simple text response for testing."
}

/// Returns one PNG image.
#[mcp::tool]
fn test_image_content() -> Content {
    image()
}

/// Returns one WAV clip.
#[mcp::tool]
fn test_audio_content() -> Content {
    Content::Audio {
        data: WAV_B64.into(),
        mime_type: "audio/wav".into(),
        annotations: None,
    }
}

/// Returns an embedded text resource.
#[mcp::tool]
fn test_embedded_resource() -> Content {
    Content::embedded_text(
        "test://embedded-resource",
        "text/plain",
        "This is an embedded resource content.",
    )
}

/// Returns text, an image and an embedded resource.
#[mcp::tool]
fn test_multiple_content_types() -> Vec<Content> {
    vec![
        Content::text("Multiple content types test:"),
        image(),
        Content::embedded_text(
            "test://mixed-content-resource",
            "application/json",
            json!({"test": "data", "value": 123}).to_string(),
        ),
    ]
}

/// Sends three info logs about 50 ms apart.
#[mcp::tool]
async fn test_tool_with_logging(ctx: Context) -> &'static str {
    ctx.info("Tool execution started");
    tokio::time::sleep(Duration::from_millis(50)).await;
    ctx.info("Tool processing data");
    tokio::time::sleep(Duration::from_millis(50)).await;
    ctx.info("Tool execution completed");
    "Tool with logging executed successfully"
}

/// Reports progress 0, 50 and 100 of 100, about 50 ms apart.
#[mcp::tool]
async fn test_tool_with_progress(ctx: Context) -> &'static str {
    for (i, p) in [0.0, 50.0, 100.0].into_iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ctx.progress(p, Some(100.0), None);
    }
    "Tool with progress executed successfully"
}

/// Always fails.
#[mcp::tool]
fn test_error_handling() -> Result<String, String> {
    Err("This tool intentionally returns an error for testing".into())
}

/// Asks the client's model, in either era.
#[mcp::tool]
async fn test_sampling(ctx: Context, prompt: String) -> mcp::Result<String> {
    let reply = ctx.sample(prompt).max_tokens(100).key("llm").await?;
    Ok(format!("LLM response: {}", reply.text()))
}

async fn elicit(ctx: &Context, message: &str, schema: Value) -> mcp::Result<String> {
    ctx.require_capability("elicitation")?;
    let r = ctx
        .request(
            Method::ElicitationCreate,
            json!({ "message": message, "requestedSchema": schema }),
            Some("form"),
        )
        .await?;
    Ok(format!(
        "action={}, content={}",
        r["action"].as_str().unwrap_or(""),
        r.get("content").cloned().unwrap_or(json!({}))
    ))
}

/// Asks the user for a username and an email.
#[mcp::tool]
async fn test_elicitation(ctx: Context, message: String) -> mcp::Result<String> {
    let schema = json!({
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"}
        },
        "required": ["username", "email"]
    });
    Ok(format!("User response: {}", elicit(&ctx, &message, schema).await?))
}

/// Elicitation whose schema has a default for every primitive type (SEP-1034).
#[mcp::tool]
async fn test_elicitation_sep1034_defaults(ctx: Context) -> mcp::Result<String> {
    let schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active"},
            "verified": {"type": "boolean", "description": "Verification status", "default": true}
        },
        "required": []
    });
    let r = elicit(&ctx, "Please review and update the form fields with defaults", schema).await?;
    Ok(format!("Elicitation completed: {r}"))
}

/// Elicitation with the five enum shapes of SEP-1330.
#[mcp::tool]
async fn test_elicitation_sep1330_enums(ctx: Context) -> mcp::Result<String> {
    let titled = |prefix: &str, title: &str| {
        (1..=3)
            .map(|i| json!({"const": format!("{prefix}{i}"), "title": format!("{} {title}", ["First", "Second", "Third"][i - 1])}))
            .collect::<Vec<_>>()
    };
    let schema = json!({
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
            "titledSingle": {"type": "string", "oneOf": titled("value", "Option")},
            "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
            "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
            "titledMulti": {"type": "array", "items": {"anyOf": titled("value", "Choice")}}
        },
        "required": []
    });
    let r = elicit(&ctx, "Please select options from the enum fields", schema).await?;
    Ok(format!("Elicitation completed: {r}"))
}

/// Greets a region; the region travels in the `Mcp-Param-Region` header too (SEP-2243).
#[mcp::tool(headers(region = "Region"))]
fn test_custom_header(region: String) -> String {
    format!("hello {region}")
}

/// Logs, waits, logs again (the pending SSE polling scenario).
#[mcp::tool]
async fn test_reconnection(ctx: Context) -> &'static str {
    ctx.info("Before disconnect");
    tokio::time::sleep(Duration::from_millis(200)).await;
    ctx.info("After reconnect");
    "Reconnection test completed successfully"
}

/// Tool with JSON Schema 2020-12 features.
#[mcp::tool(input_schema = json!({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"}
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": false
}))]
fn json_schema_2020_12_tool(ctx: Context) -> String {
    serde_json::to_string(ctx.meta().map_or(&Value::Null, |_| &Value::Null)).unwrap_or_default()
}

// ------------------------------------------------------------ 2026-07-28 (stateless) tools

/// Needs the client's sampling capability: refused with -32021 when it was not declared.
#[mcp::tool]
fn test_missing_capability(ctx: Context) -> mcp::Result<&'static str> {
    ctx.require_capability("sampling")?;
    Ok("sampling capability present")
}

/// Elicits while the call is in flight: the stream holds only an input_required result.
#[mcp::tool]
async fn test_streaming_elicitation(ctx: Context) -> mcp::Result<String> {
    let r = ctx
        .request(
            Method::ElicitationCreate,
            ask_name("What is your name?", "name"),
            Some("user_name"),
        )
        .await?;
    Ok(format!("Hello, {}!", r["content"]["name"].as_str().unwrap_or("?")))
}

/// Logs; nothing reaches a client that did not ask for a log level.
#[mcp::tool]
fn test_logging_tool(ctx: Context) -> &'static str {
    ctx.info("a log message the client did not ask for");
    "logged"
}

/// A tool that `test_trigger_tool_change` switches on and off.
#[mcp::tool]
fn test_toggled_tool() -> &'static str {
    "on"
}

/// A prompt that `test_trigger_prompt_change` switches on and off.
#[mcp::prompt]
fn test_toggled_prompt() -> &'static str {
    "on"
}

/// Changes the tool list (listen streams hear `notifications/tools/list_changed`).
#[mcp::tool]
fn test_trigger_tool_change(ctx: Context) -> mcp::Result<&'static str> {
    let on = ctx.service().tool_names().iter().any(|n| n == "test_toggled_tool");
    ctx.service().set_tool_enabled("test_toggled_tool", !on)?;
    Ok("tools changed")
}

/// Changes the prompt list (listen streams hear `notifications/prompts/list_changed`).
#[mcp::tool]
fn test_trigger_prompt_change(ctx: Context) -> mcp::Result<&'static str> {
    let on = ctx.service().prompt_names().iter().any(|n| n == "test_toggled_prompt");
    ctx.service().set_prompt_enabled("test_toggled_prompt", !on)?;
    Ok("prompts changed")
}

fn ask_name(message: &str, field: &str) -> Value {
    json!({
        "mode": "form",
        "message": message,
        "requestedSchema": {"type": "object", "properties": {field: {"type": "string"}}, "required": [field]}
    })
}

fn ask_llm(prompt: &str, max_tokens: u32) -> Value {
    json!({"messages": [{"role": "user", "content": {"type": "text", "text": prompt}}], "maxTokens": max_tokens})
}

/// A field of an accepted elicitation answer.
fn field<'a>(answer: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    answer
        .filter(|a| a["action"] == "accept")
        .and_then(|a| a["content"].get(name))
}

/// The text of a sampling answer.
fn sampled(answer: Option<&Value>) -> Option<String> {
    let content = &answer?["content"];
    let block = if content.is_array() { &content[0] } else { content };
    block["text"].as_str().map(str::to_owned)
}

fn answers(ctx: &Context) -> serde_json::Map<String, Value> {
    ctx.input_responses().cloned().unwrap_or_default()
}

/// MRTR: asks for the user's name (key user_name), then greets.
#[mcp::tool]
fn test_input_required_result_elicitation(ctx: Context) -> ToolOutput {
    match field(answers(&ctx).get("user_name"), "name").and_then(Value::as_str) {
        Some(name) => done(format!("Hello, {name}!")),
        None => InputRequired::new()
            .request(
                "user_name",
                Method::ElicitationCreate,
                ask_name("What is your name?", "name"),
            )
            .into(),
    }
}

/// MRTR: asks the client's model (key capital_question), then returns its answer.
#[mcp::tool]
fn test_input_required_result_sampling(ctx: Context) -> ToolOutput {
    match sampled(answers(&ctx).get("capital_question")) {
        Some(answer) => done(format!("LLM said: {answer}")),
        None => InputRequired::new()
            .request(
                "capital_question",
                Method::SamplingCreateMessage,
                ask_llm("What is the capital of France?", 100),
            )
            .into(),
    }
}

/// MRTR: asks for the client's roots (key client_roots), then lists them.
#[mcp::tool]
fn test_input_required_result_list_roots(ctx: Context) -> ToolOutput {
    match answers(&ctx).get("client_roots").and_then(|r| r["roots"].as_array()) {
        Some(roots) => done(format!(
            "Client roots: {}",
            roots
                .iter()
                .filter_map(|r| r["uri"].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => InputRequired::new()
            .request("client_roots", Method::RootsList, json!({}))
            .into(),
    }
}

/// MRTR: round 1 sends requestState; round 2 must bring it back ("state-ok").
#[mcp::tool]
fn test_input_required_result_request_state(ctx: Context) -> ToolOutput {
    let a = answers(&ctx);
    if a.contains_key("confirm") && ctx.request_state() == Some("request-state-round-1") {
        return done(format!(
            "state-ok: confirmed={}",
            field(a.get("confirm"), "ok").cloned().unwrap_or(Value::Null)
        ));
    }
    let schema = json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]});
    InputRequired::new()
        .request(
            "confirm",
            Method::ElicitationCreate,
            json!({"mode": "form", "message": "Please confirm", "requestedSchema": schema}),
        )
        .state("request-state-round-1")
        .into()
}

/// MRTR: one round asking for a name, a greeting and the roots at once.
#[mcp::tool]
fn test_input_required_result_multiple_inputs(ctx: Context) -> ToolOutput {
    let a = answers(&ctx);
    let all = ["user_name", "greeting", "client_roots"]
        .iter()
        .all(|k| a.contains_key(*k));
    if !all || ctx.request_state() != Some("multi-inputs") {
        return InputRequired::new()
            .request(
                "user_name",
                Method::ElicitationCreate,
                ask_name("What is your name?", "name"),
            )
            .request(
                "greeting",
                Method::SamplingCreateMessage,
                ask_llm("Generate a greeting", 50),
            )
            .request("client_roots", Method::RootsList, json!({}))
            .state("multi-inputs")
            .into();
    }
    let roots = a["client_roots"]["roots"].as_array().map_or(0, Vec::len);
    let name = field(a.get("user_name"), "name").and_then(Value::as_str).unwrap_or("");
    done(format!(
        "name={name} greeting={} roots={roots}",
        sampled(a.get("greeting")).unwrap_or_default()
    ))
}

/// MRTR over three rounds: step1 (name), step2 (color), with a requestState that changes.
#[mcp::tool]
fn test_input_required_result_multi_round(ctx: Context) -> ToolOutput {
    let a = answers(&ctx);
    let state = ctx.request_state().unwrap_or("");
    if state == "round-1"
        && let Some(name) = field(a.get("step1"), "name")
    {
        return InputRequired::new()
            .request(
                "step2",
                Method::ElicitationCreate,
                ask_name("Step 2: What is your favorite color?", "color"),
            )
            .state(format!("round-2:{name}"))
            .into();
    }
    if let (Some(name), Some(color)) = (state.strip_prefix("round-2:"), field(a.get("step2"), "color")) {
        let name: Value = serde_json::from_str(name).unwrap_or(Value::Null);
        return done(format!("Done: name={name}, color={color}"));
    }
    InputRequired::new()
        .request(
            "step1",
            Method::ElicitationCreate,
            ask_name("Step 1: What is your name?", "name"),
        )
        .state("round-1")
        .into()
}

/// MRTR with an integrity-protected requestState: a tampered one is refused (-32602).
#[mcp::tool]
fn test_input_required_result_tampered_state(ctx: Context) -> ToolOutput {
    if ctx.request_state() == Some("tamper-check") && answers(&ctx).contains_key("confirm") {
        return done("state verified");
    }
    InputRequired::new()
        .request(
            "confirm",
            Method::ElicitationCreate,
            ask_name("Confirm to continue", "ok"),
        )
        .state("tamper-check")
        .into()
}

/// MRTR that asks only for what the client declared.
#[mcp::tool]
fn test_input_required_result_capabilities(ctx: Context) -> ToolOutput {
    let caps = ctx.client_capabilities();
    let a = answers(&ctx);
    let mut ask = InputRequired::new();
    if caps.elicitation() && !a.contains_key("user_name") {
        ask = ask.request(
            "user_name",
            Method::ElicitationCreate,
            ask_name("What is your name?", "name"),
        );
    }
    if caps.sampling() && !a.contains_key("greeting") {
        ask = ask.request(
            "greeting",
            Method::SamplingCreateMessage,
            ask_llm("Generate a greeting", 50),
        );
    }
    if !ask.input_requests.is_empty() {
        return ask.into();
    }
    let mut keys: Vec<&String> = a.keys().collect();
    keys.sort();
    done(format!("done with {keys:?}"))
}

// ------------------------------------------------------------------- tasks (extension)
//
// The tools the `tasks-*` scenarios call. The task tools are ordinary tools: `task = ..` is all
// that makes them tasks, and `ctx.elicit` inside becomes the task's input requests.

/// Greets someone (never a task).
#[mcp::tool]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

/// Sleeps `seconds`, then says so; a task when the client can take one.
#[mcp::tool(task = "optional")]
async fn slow_compute(ctx: Context, seconds: f64, label: Option<String>) -> String {
    if seconds > 0.0 {
        ctx.progress(0.0, Some(seconds), Some("computing"));
        tokio::time::sleep(Duration::from_secs_f64(seconds.min(3600.0))).await;
    }
    format!("computed {} after {seconds} s", label.unwrap_or_default())
}

/// Fails as a tool (an execution error) after about a second; only runs as a task.
#[mcp::tool(task = "required")]
async fn failing_job() -> Result<String, String> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Err("the job failed, as it always does".into())
}

/// Panics: a protocol-level failure of the task.
#[mcp::tool(task = "optional")]
async fn protocol_error_job() -> String {
    tokio::time::sleep(Duration::from_millis(100)).await;
    panic!("protocol_error_job always panics")
}

/// What `confirm_delete` and `multi_input` ask the user.
#[derive(serde::Deserialize, mcp::JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Confirmation {
    /// Go ahead?
    #[serde(default)]
    confirm: bool,
    /// Who confirms.
    #[serde(default)]
    name: Option<String>,
}

/// Asks the user to confirm, then "deletes" the file.
#[mcp::tool(task = "optional")]
async fn confirm_delete(ctx: Context, filename: String) -> mcp::Result<String> {
    Ok(match ctx.elicit::<Confirmation>(format!("Delete {filename}?")).await? {
        mcp::Elicitation::Accept(Confirmation { confirm: true, .. }) => format!("deleted {filename}"),
        _ => format!("kept {filename}"),
    })
}

/// Asks two questions at once, then reports both answers.
#[mcp::tool(task = "optional")]
async fn multi_input(ctx: Context) -> mcp::Result<String> {
    let (first, second) = tokio::join!(
        ctx.elicit::<Confirmation>("First: who are you?"),
        ctx.elicit::<Confirmation>("Second: are you sure?"),
    );
    let name = |e: mcp::Elicitation<Confirmation>| match e {
        mcp::Elicitation::Accept(c) => c.name.unwrap_or_default(),
        _ => "-".into(),
    };
    Ok(format!("{} and {}", name(first?), name(second?)))
}

/// MRTR first (key user_name, by hand), then the work runs as a task.
#[mcp::tool(task = "required")]
async fn test_tool_with_task(ctx: Context) -> ToolOutput {
    let Some(name) = field(answers(&ctx).get("user_name"), "name")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return InputRequired::new()
            .request(
                "user_name",
                Method::ElicitationCreate,
                ask_name("What is your name?", "name"),
            )
            .into();
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    done(format!("Hello, {name}! The task is done."))
}

// ----------------------------------------------------------------------------- resources

/// A static text resource.
#[mcp::resource("test://static-text", mime = "text/plain")]
fn static_text() -> &'static str {
    "This is the content of the static text resource."
}

/// A static binary resource (PNG).
#[mcp::resource("test://static-binary", mime = "image/png")]
fn static_binary() -> Vec<u8> {
    mcp::protocol::base64::decode(PNG_B64).unwrap_or_default()
}

/// Resource template with parameter substitution.
#[mcp::resource("test://template/{id}/data", mime = "application/json")]
fn template_data(id: String) -> String {
    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")}).to_string()
}

/// A resource clients may subscribe to.
#[mcp::resource("test://watched-resource", mime = "text/plain")]
fn watched() -> &'static str {
    "Watched resource content"
}

// ------------------------------------------------------------------------------- prompts

/// A simple prompt without arguments.
#[mcp::prompt]
fn test_simple_prompt() -> &'static str {
    "This is a simple prompt for testing."
}

async fn complete_arg1(prefix: String) -> Vec<String> {
    ["paris", "park", "party"]
        .into_iter()
        .filter(|v| v.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// A prompt with two required arguments.
#[mcp::prompt(complete(arg1 = complete_arg1))]
fn test_prompt_with_arguments(arg1: String, arg2: String) -> String {
    format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")
}

/// A prompt that embeds a resource.
#[mcp::prompt]
#[allow(non_snake_case)]
fn test_prompt_with_embedded_resource(resourceUri: String) -> Vec<PromptMessage> {
    vec![
        PromptMessage::user(Content::embedded_text(
            resourceUri,
            "text/plain",
            "Embedded resource content for testing.",
        )),
        PromptMessage::user("Please process the embedded resource above."),
    ]
}

/// A prompt that includes an image.
#[mcp::prompt]
fn test_prompt_with_image() -> Vec<PromptMessage> {
    vec![
        PromptMessage::user(image()),
        PromptMessage::user("Please analyze the image above."),
    ]
}

/// MRTR on prompts/get: asks for the context to use (key user_context).
#[mcp::prompt]
fn test_input_required_result_prompt(ctx: Context) -> mcp::PromptOutput {
    match field(answers(&ctx).get("user_context"), "context").and_then(Value::as_str) {
        Some(c) => mcp::PromptOutput::Result(mcp::GetPromptResult {
            description: None,
            messages: vec![PromptMessage::user(format!("Use this context: {c}"))],
        }),
        None => mcp::PromptOutput::InputRequired(InputRequired::new().request(
            "user_context",
            Method::ElicitationCreate,
            ask_name("What context should the prompt use?", "context"),
        )),
    }
}

#[tokio::main]
async fn main() -> mcp::Result<()> {
    let mut port = 3210u16;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--port" {
            port = args.next().and_then(|p| p.parse().ok()).expect("--port takes a number");
        }
    }
    eprintln!("conformance server on http://127.0.0.1:{port}/mcp");
    mcp::Server::new("mcp-rust-conformance", env!("CARGO_PKG_VERSION"))
        .tools(mcp::all_tools!())
        .resources(mcp::all_resources!())
        .prompts(mcp::all_prompts!())
        .serve_http(("127.0.0.1", port))
        .await
}
