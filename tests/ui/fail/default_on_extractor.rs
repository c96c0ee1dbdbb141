use mcp::Context;

/// Count.
#[mcp::tool(defaults(ctx = 1))]
async fn count(ctx: Context, n: u32) -> u32 {
    let _ = ctx;
    n
}

fn main() {}
