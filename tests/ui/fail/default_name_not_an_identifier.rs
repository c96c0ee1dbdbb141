/// List.
#[mcp::tool(defaults(self::limit = 10))]
async fn list(limit: u32) -> u32 {
    limit
}

fn main() {}
