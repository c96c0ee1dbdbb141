//! A word on stderr for a person who starts a stdio server by hand, in a terminal: what it
//! waits for and how to connect a client to it.

use super::service::Service;
use std::io::IsTerminal as _;

/// Where `Server::run` serves when HTTP is asked for without an address.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8000";

/// The server's name, as clients see it.
pub(crate) fn server_name(service: &Service) -> String {
    let info = service.core.server_info();
    info.get("name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("server")
        .to_owned()
}

/// On stderr, when stdin is a terminal: what the server waits for and how to connect to it.
/// Nothing when stdin is a pipe, as it is when a client spawns the server.
pub(crate) fn stdio_hint(name: &str, offer_http: bool) {
    if !std::io::stdin().is_terminal() {
        return;
    }
    let exe = std::env::current_exe().map_or_else(|_| "/path/to/server".to_owned(), |p| p.display().to_string());
    eprint!("{}", hint_text(name, &exe, offer_http));
}

fn hint_text(name: &str, exe: &str, offer_http: bool) -> String {
    let quoted = serde_json::Value::String(exe.to_owned());
    let key = serde_json::Value::String(name.to_owned());
    let mut text = format!(
        "`{name}` is an MCP server and speaks JSON-RPC on stdin and stdout: it waits for an MCP client, not for typing.\n\
         To try it in the MCP Inspector:\n    npx @modelcontextprotocol/inspector {exe}\n\
         To use it from a client (Claude Desktop, Cursor, …), add to its \"mcpServers\":\n    {key}: {{ \"command\": {quoted} }}\n"
    );
    if offer_http {
        text.push_str(&format!(
            "To serve Streamable HTTP instead:\n    {exe} --http {DEFAULT_HTTP_ADDR}\n"
        ));
    }
    text.push_str("(Ctrl-D or Ctrl-C stops it.)\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_names_the_binary_three_ways() {
        let text = hint_text("calc", "/opt/calc", true);
        assert!(
            text.contains("npx @modelcontextprotocol/inspector /opt/calc\n"),
            "{text}"
        );
        assert!(text.contains(r#""calc": { "command": "/opt/calc" }"#), "{text}");
        assert!(text.contains("/opt/calc --http 127.0.0.1:8000"), "{text}");
        assert!(!hint_text("calc", "/opt/calc", false).contains("--http"));
    }
}
