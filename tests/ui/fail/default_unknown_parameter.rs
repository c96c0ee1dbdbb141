/// List.
#[mcp::tool(defaults(limt = 10))]
async fn list(limit: u32) -> u32 {
    limit
}

fn main() {
    // The function is still there, as written.
    let _ = list(3);
}
