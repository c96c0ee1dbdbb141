use mcp::{Args, Context, JsonSchema};

#[derive(serde::Deserialize, JsonSchema)]
#[schemars(crate = "mcp::schemars")]
struct Query {
    query: String,
}

/// The whole object, then one more argument.
#[mcp::tool]
async fn after(ctx: Context, args: Args<Query>, limit: u32) -> String {
    let _ = (ctx, limit);
    args.0.query
}

/// An argument, then the whole object.
#[mcp::tool]
async fn before(limit: u32, args: Args<Query>) -> String {
    let _ = limit;
    args.0.query
}

/// The whole object twice.
#[mcp::tool]
async fn twice(a: Args<Query>, b: Args<Query>) -> String {
    let _ = b;
    a.0.query
}

fn main() {}
