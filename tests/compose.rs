//! Composition: one server mounted inside another, under a prefix. Its tools keep working,
//! `ctx.sample` included, and changes made while serving reach the client.

mod support;

use mcp::client::{Client, ClientOptions, Era};
use mcp::{Context, ProtocolVersion};
use serde_json::{Value, json};
use std::time::Duration;

const ERAS: [Era; 2] = [Era::Stateless, Era::Handshake(ProtocolVersion::V2025_11_25)];

/// Forecast the weather in a city, by asking the client's model.
#[mcp::tool]
async fn forecast(ctx: Context, city: String) -> mcp::Result<String> {
    let reply = ctx.sample(format!("Weather in {city}?")).max_tokens(50).await?;
    Ok(format!("{city}: {}", reply.text()))
}

/// A weather briefing.
#[mcp::prompt]
fn brief(city: String) -> String {
    format!("Brief me on the weather in {city}.")
}

/// Today's weather.
#[mcp::resource("weather://today", mime = "text/plain")]
fn today() -> &'static str {
    "sunny"
}

/// A city's weather.
#[mcp::resource("weather://city/{name}", mime = "text/plain")]
fn city(name: String) -> String {
    format!("{name}: cloudy")
}

/// Add two numbers.
#[mcp::tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn weather() -> mcp::Server {
    mcp::Server::new("weather", "1")
        .tools(mcp::tools![forecast])
        .prompts(mcp::prompts![brief])
        .resources(mcp::resources![today, city])
}

fn sampler() -> ClientOptions {
    ClientOptions::default().on_sampling(|params: Value| async move {
        let asked = params["messages"][0]["content"]["text"].as_str().unwrap_or("?").to_owned();
        Ok(json!({"role": "assistant", "content": {"type": "text", "text": format!("model saw `{asked}`")}, "model": "m"}))
    })
}

#[tokio::test]
async fn a_mounted_server_serves_under_its_prefix_and_its_tools_reach_the_client() {
    for era in ERAS {
        let server = mcp::Server::new("app", "1")
            .tools(mcp::tools![add])
            .mount("weather", weather());
        let client = Client::connect(support::start(server), sampler().era(era))
            .await
            .unwrap();
        let tools: Vec<String> = client
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(tools, ["add", "weather_forecast"], "{era:?}");
        let result = client
            .call_tool("weather_forecast", json!({"city": "Oslo"}))
            .await
            .unwrap();
        assert_eq!(
            result.text_content(),
            "Oslo: model saw `Weather in Oslo?`",
            "{era:?}: sampling through the mount"
        );
        let prompts: Vec<String> = client
            .list_prompts()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(prompts, ["weather_brief"]);
        let prompt = client
            .get_prompt("weather_brief", json!({"city": "Oslo"}))
            .await
            .unwrap();
        assert_eq!(
            serde_json::to_value(&prompt.messages[0]).unwrap()["content"]["text"],
            "Brief me on the weather in Oslo."
        );
        let read = client.read_resource("weather://today").await.unwrap();
        assert_eq!(
            serde_json::to_value(&read).unwrap()["contents"][0]["text"],
            "sunny",
            "URIs kept"
        );
    }
}

#[tokio::test]
async fn uris_can_be_prefixed_too_and_conflicts_fail_the_build() {
    let server = mcp::Server::new("app", "1").mount_prefixing_uris("wx", weather());
    let client = support::client(server, Era::Stateless).await;
    let read = client.read_resource("weather://wx/today").await.unwrap();
    assert_eq!(serde_json::to_value(&read).unwrap()["contents"][0]["text"], "sunny");
    let read = client.read_resource("weather://wx/city/Rome").await.unwrap();
    assert_eq!(
        serde_json::to_value(&read).unwrap()["contents"][0]["text"],
        "Rome: cloudy"
    );
    assert!(client.read_resource("weather://today").await.is_err());

    // The same name twice, or the same state type on both sides: a clear build error.
    let twice = mcp::Server::new("app", "1")
        .mount("a", weather())
        .mount("a", weather())
        .build();
    assert!(
        twice.unwrap_err().to_string().contains("a_forecast"),
        "a duplicate name is named"
    );
    let state = mcp::Server::new("app", "1")
        .state(1u8)
        .mount("w", weather().state(2u8))
        .build();
    assert!(state.unwrap_err().to_string().contains("state of the same type"));
}

#[tokio::test]
async fn changes_to_mounted_tools_while_serving_send_list_changed() {
    let service = mcp::Server::new("app", "1")
        .tools(mcp::tools![add])
        .mount("weather", weather())
        .build()
        .unwrap();
    let (ours, theirs) = mcp::transport::memory::pair();
    let serving = service.clone();
    tokio::spawn(async move { serving.serve(theirs).await });
    let client = Client::connect(ours, sampler().era(ERAS[1])).await.unwrap();
    assert!(service.set_tool_enabled("weather_forecast", false).unwrap());
    let (method, _) = tokio::time::timeout(Duration::from_secs(5), client.next_notification())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(method, "notifications/tools/list_changed");
    let tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(tools, ["add"]);
}
