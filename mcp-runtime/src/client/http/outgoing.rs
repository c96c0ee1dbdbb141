//! What the transport reads of a message it sends: the ids of its requests (which must get an
//! answer), its method, and the stateless era's routing headers (`Mcp-Method`, `Mcp-Name`,
//! `Mcp-Param-*`), whose values are `=?base64?…?=`-encoded when they are not plain ASCII.

use crate::protocol::base64;
use crate::protocol::types::meta_keys;
use crate::protocol::{Method, RequestId};
use hyper::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

/// One frame to POST, read.
#[derive(Debug, Default)]
pub(super) struct Outgoing {
    /// The ids of the requests in it: one, several (a batch), or none (a notification or a
    /// response).
    pub(super) requests: Vec<RequestId>,
    /// The method of a single request or notification.
    pub(super) method: Option<String>,
    /// The protocol version its `_meta` names (a stateless-era request).
    pub(super) version: Option<String>,
    /// `Mcp-Name`: the tool or prompt name, the resource URI, or the task id.
    pub(super) name: Option<String>,
    /// The tool and arguments of a `tools/call`, for its `Mcp-Param-*` headers.
    pub(super) tool_call: Option<(String, Map<String, Value>)>,
    /// The request a `notifications/cancelled` cancels.
    pub(super) cancels: Option<RequestId>,
}

impl Outgoing {
    /// Reads `frame`. Bytes that are not JSON-RPC are sent as they are (a test of the server,
    /// say), with nothing known about them.
    pub(super) fn read(frame: &[u8]) -> Self {
        match serde_json::from_slice::<Value>(frame) {
            Ok(Value::Object(message)) => Self::single(message),
            Ok(Value::Array(batch)) => Self {
                requests: batch
                    .iter()
                    .filter_map(Value::as_object)
                    .filter_map(request_id)
                    .collect(),
                ..Self::default()
            },
            _ => Self::default(),
        }
    }

    fn single(mut message: Map<String, Value>) -> Self {
        let requests = request_id(&message).into_iter().collect();
        let Some(Value::String(method)) = message.remove("method") else {
            return Self::default(); // a response
        };
        let mut params = match message.remove("params") {
            Some(Value::Object(params)) => params,
            _ => Map::new(),
        };
        let version = params
            .get("_meta")
            .and_then(|m| m.get(meta_keys::PROTOCOL_VERSION))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let text = |params: &Map<String, Value>, key: &str| params.get(key).and_then(Value::as_str).map(str::to_owned);
        let parsed = Method::parse(&method);
        let name = match parsed {
            Some(Method::ToolsCall | Method::PromptsGet) => text(&params, "name"),
            Some(Method::ResourcesRead) => text(&params, "uri"),
            _ if method.starts_with("tasks/") => text(&params, "taskId"),
            _ => None,
        };
        let tool_call = match (parsed, &name) {
            (Some(Method::ToolsCall), Some(tool)) => match params.remove("arguments") {
                Some(Value::Object(arguments)) => Some((tool.clone(), arguments)),
                _ => None,
            },
            _ => None,
        };
        let cancels = match parsed {
            Some(Method::Cancelled) => params.get("requestId").and_then(RequestId::from_value),
            _ => None,
        };
        Self {
            requests,
            method: Some(method),
            version,
            name,
            tool_call,
            cancels,
        }
    }

    /// Whether it is an `initialize` request.
    pub(super) fn is_initialize(&self) -> bool {
        self.requests.len() == 1 && self.method.as_deref() == Some(Method::Initialize.as_str())
    }

    /// The single request in it, if it is one.
    pub(super) fn single_request(&self) -> Option<&RequestId> {
        match self.requests.as_slice() {
            [id] if self.method.is_some() => Some(id),
            _ => None,
        }
    }

    /// The `Mcp-Param-*` headers of a `tools/call`, from the tool's `x-mcp-header`
    /// arguments (`params`: argument name, header name).
    pub(super) fn param_headers(&self, params: &[(String, HeaderName)]) -> Vec<(HeaderName, HeaderValue)> {
        let Some((_, arguments)) = &self.tool_call else {
            return Vec::new();
        };
        params
            .iter()
            .filter_map(|(argument, header)| {
                let text = match arguments.get(argument)? {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((header.clone(), header_value(&text)?))
            })
            .collect()
    }
}

/// The id of a request (a message with a method and an id).
fn request_id(message: &Map<String, Value>) -> Option<RequestId> {
    message.get("method")?;
    RequestId::from_value(message.get("id")?)
}

/// `text` as a header value: as it is when it is visible ASCII (spaces inside), else
/// `=?base64?…?=` of its UTF-8, as SEP-2243 says.
pub(super) fn header_value(text: &str) -> Option<HeaderValue> {
    let visible = text.bytes().all(|b| (0x20..0x7f).contains(&b));
    let padded = text.starts_with([' ', '\t']) || text.ends_with([' ', '\t']);
    let looks_encoded = text.starts_with("=?base64?") && text.ends_with("?=");
    if visible && !padded && !looks_encoded {
        HeaderValue::from_str(text).ok()
    } else {
        HeaderValue::from_str(&format!("=?base64?{}?=", base64::encode(text.as_bytes()))).ok()
    }
}

/// The `x-mcp-header` arguments of each tool in a `tools/list` result: tool name, then
/// (argument, `Mcp-Param-<Name>` header) pairs. Names that are not header tokens are left out.
pub(super) fn header_params(result: &Value) -> Vec<(String, Vec<(String, HeaderName)>)> {
    let tools = result.get("tools").and_then(Value::as_array).into_iter().flatten();
    tools
        .filter_map(|tool| {
            let name = tool.get("name")?.as_str()?.to_owned();
            let properties = tool.get("inputSchema")?.get("properties")?.as_object()?;
            let params = properties
                .iter()
                .filter_map(|(argument, schema)| {
                    let header = schema.get("x-mcp-header")?.as_str()?;
                    let name = HeaderName::from_bytes(format!("mcp-param-{header}").to_ascii_lowercase().as_bytes());
                    Some((argument.clone(), name.ok()?))
                })
                .collect();
            Some((name, params))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::client::http::outgoing::*;
    use serde_json::json;

    #[test]
    fn routing_headers_are_read_from_the_message() {
        let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "weather",
            "arguments": {"region": "Île-de-France", "days": 3, "metric": true, "note": null},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}});
        let out = Outgoing::read(&serde_json::to_vec(&call).unwrap());
        assert_eq!(out.requests, [RequestId::Number(7)]);
        assert_eq!(
            (out.method.as_deref(), out.version.as_deref(), out.name.as_deref()),
            (Some("tools/call"), Some("2026-07-28"), Some("weather"))
        );
        let listed = json!({"tools": [{"name": "weather", "inputSchema": {"properties": {
            "region": {"type": "string", "x-mcp-header": "Region"}, "days": {"x-mcp-header": "Days"},
            "metric": {"x-mcp-header": "Metric"}, "note": {"x-mcp-header": "Note"}, "bad": {"x-mcp-header": "a b"}}}}]});
        let params = header_params(&listed);
        assert_eq!(params[0].1.len(), 4, "the name that is not a token is left out");
        let mut headers: Vec<(String, String)> = out
            .param_headers(&params[0].1)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        assert_eq!(
            headers,
            [
                ("mcp-param-days".into(), "3".into()),
                ("mcp-param-metric".into(), "true".into()),
                ("mcp-param-region".into(), "=?base64?w45sZS1kZS1GcmFuY2U=?=".into()),
            ]
        );
        let task = json!({"jsonrpc": "2.0", "id": "t", "method": "tasks/get", "params": {"taskId": "abc"}});
        assert_eq!(
            Outgoing::read(&serde_json::to_vec(&task).unwrap()).name.as_deref(),
            Some("abc")
        );
        let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}});
        let out = Outgoing::read(&serde_json::to_vec(&cancel).unwrap());
        assert_eq!((out.requests.len(), out.cancels), (0, Some(RequestId::Number(7))));
        let answer = json!({"jsonrpc": "2.0", "id": 3, "result": {}});
        let out = Outgoing::read(&serde_json::to_vec(&answer).unwrap());
        assert!(out.requests.is_empty() && out.method.is_none());
        assert!(Outgoing::read(b"{oops").requests.is_empty());
        assert_eq!(header_value(" padded").unwrap(), "=?base64?IHBhZGRlZA==?=");
        assert_eq!(header_value("file:///a b").unwrap(), "file:///a b");
    }
}
