//! The peer: `echo` and `ask` (and with `--lookup REDIS_URL`, `lookup`: one Redis `GET`) written
//! with rmcp's own `#[tool]` macros, as its README teaches. stdio by default; `--http ADDR`
//! serves Streamable HTTP at `/mcp` with `TCP_NODELAY` set (`--sessionless`: rmcp's stateless
//! mode, `initialize` opens no session, JSON answers).
//!
//! rmcp's `create_message` refuses the 2026-07-28 era, where the tool has to build the
//! `input_required` round itself from `RequestState` and `InputResponses`; `ask` does both.
#![allow(deprecated)] // rmcp marks sampling deprecated (SEP-2577) but it is the round trip measured

use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::*;
use rmcp::service::{Peer, RoleServer};
use rmcp::{ErrorData, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Text {
    /// The text.
    text: String,
}

#[derive(Deserialize, JsonSchema)]
struct Key {
    /// The key.
    key: String,
}

#[derive(Clone)]
struct Echo {
    #[allow(dead_code)]
    tool_router: rmcp::handler::server::router::tool::ToolRouter<Self>,
    /// The Redis `lookup` reads (`--lookup URL`).
    data: Option<redis::aio::ConnectionManager>,
}

#[tool_router]
impl Echo {
    #[tool(description = "Return the text unchanged.")]
    async fn echo(&self, Parameters(Text { text }): Parameters<Text>) -> String {
        text
    }

    #[tool(description = "Read one key from Redis.")]
    async fn lookup(&self, Parameters(Key { key }): Parameters<Key>) -> Result<CallToolResult, ErrorData> {
        let mut conn = self
            .data
            .clone()
            .ok_or_else(|| ErrorData::internal_error("started without --lookup", None))?;
        let value: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(CallToolResult::success(vec![ContentBlock::text(
            value.unwrap_or_default(),
        )]))
    }

    #[tool(description = "Ask the client's model about the text and return its answer.")]
    async fn ask(
        &self,
        Parameters(Text { text }): Parameters<Text>,
        peer: Peer<RoleServer>,
        RequestState(state): RequestState,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let params = CreateMessageRequestParams::new(vec![SamplingMessage::user_text(text)], 64);
        let reply = if let (Some(_), Some(responses)) = (state, responses) {
            let answer = responses
                .get("answer")
                .ok_or_else(|| ErrorData::invalid_params("no answer", None))?;
            answer["content"]["text"].as_str().unwrap_or_default().to_owned()
        } else if peer
            .peer_info()
            .is_none_or(|info| info.protocol_version >= ProtocolVersion::V_2026_07_28)
        {
            let mut requests = InputRequests::new();
            requests.insert(
                "answer".to_owned(),
                InputRequest::CreateMessage(CreateMessageRequest::new(params)),
            );
            return Ok(InputRequiredResult::new(Some(requests), Some("ask".into())).into());
        } else {
            let result = peer
                .create_message(params)
                .await
                .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
            result
                .message
                .content
                .first()
                .and_then(|b| b.as_text())
                .map(|t| t.text.clone())
                .unwrap_or_default()
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(reply)]).into())
    }
}

#[tool_handler]
impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

fn server(data: Option<redis::aio::ConnectionManager>) -> Echo {
    Echo {
        tool_router: Echo::tool_router(),
        data,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let data = match args.iter().position(|a| a == "--lookup").and_then(|i| args.get(i + 1)) {
        Some(url) => Some(redis::Client::open(url.as_str())?.get_connection_manager().await?),
        None => None,
    };
    match args.iter().position(|a| a == "--http").and_then(|i| args.get(i + 1)) {
        Some(addr) => {
            use rmcp::transport::streamable_http_server::{
                StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
            };
            let mut config = StreamableHttpServerConfig::default();
            if args.iter().any(|a| a == "--sessionless") {
                config.legacy_session_mode = false;
                config.json_response = true;
            }
            let service = StreamableHttpService::new(
                move || Ok(server(data.clone())),
                LocalSessionManager::default().into(),
                config,
            );
            let app = axum::Router::new().nest_service("/mcp", service);
            let listener = tokio::net::TcpListener::bind(addr).await?;
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app).await?;
        }
        None => {
            let running = server(data).serve(rmcp::transport::stdio()).await?;
            running.waiting().await?;
        }
    }
    Ok(())
}
