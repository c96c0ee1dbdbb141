/// Add.
#[mcp::tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Also add.
#[mcp::tool(name = "add")]
async fn plus(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
