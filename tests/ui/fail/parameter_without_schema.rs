#[derive(serde::Deserialize)]
struct Query {
    text: String,
}

/// Search.
#[mcp::tool]
async fn search(query: Query) -> String {
    query.text
}

fn main() {}
