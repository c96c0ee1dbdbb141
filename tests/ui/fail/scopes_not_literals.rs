/// Needs a scope, given as a number.
#[mcp::tool(scopes = [42])]
async fn purge() -> &'static str {
    "purged"
}

/// Needs a scope, given as a bare string.
#[mcp::tool(scopes = "admin")]
async fn wipe() -> &'static str {
    "wiped"
}

fn main() {}
