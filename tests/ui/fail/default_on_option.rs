/// List.
#[mcp::tool(defaults(limit = 10))]
async fn list(limit: Option<u32>) -> u32 {
    limit.unwrap_or(10)
}

fn main() {}
