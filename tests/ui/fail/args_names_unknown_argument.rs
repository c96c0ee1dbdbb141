/// Add.
#[mcp::tool(args(a = "the first", z = "no such argument"))]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
