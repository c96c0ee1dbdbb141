/// List.
#[mcp::tool(defaults(limit = 10, limit = 20))]
async fn list(limit: u32) -> u32 {
    limit
}

fn main() {}
