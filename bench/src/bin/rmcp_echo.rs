//! The peer: `echo` and `ask` written with rmcp's own `#[tool]` macros, as its README teaches.
//! stdio by default; `--http ADDR` serves Streamable HTTP at `/mcp` with `TCP_NODELAY` set.
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

#[derive(Clone)]
struct Echo {
    #[allow(dead_code)]
    tool_router: rmcp::handler::server::router::tool::ToolRouter<Self>,
}

#[tool_router]
impl Echo {
    #[tool(description = "Return the text unchanged.")]
    async fn echo(&self, Parameters(Text { text }): Parameters<Text>) -> String {
        text
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

fn server() -> Echo {
    Echo {
        tool_router: Echo::tool_router(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--http").and_then(|i| args.get(i + 1)) {
        Some(addr) => {
            use rmcp::transport::streamable_http_server::{
                StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
            };
            let service = StreamableHttpService::new(
                || Ok(server()),
                LocalSessionManager::default().into(),
                StreamableHttpServerConfig::default(),
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
            let running = server().serve(rmcp::transport::stdio()).await?;
            running.waiting().await?;
        }
    }
    Ok(())
}
