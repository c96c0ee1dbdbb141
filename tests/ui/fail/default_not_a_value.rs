/// List.
#[mcp::tool(defaults(limit))]
async fn list(limit: u32) -> u32 {
    limit
}

/// Page.
#[mcp::tool(defaults(page = fn))]
async fn page(page: u32) -> u32 {
    page
}

fn main() {}
