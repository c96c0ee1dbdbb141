const ICON: &str = "https://example.com/a.png";

/// Add.
#[mcp::tool(icons = [ICON])]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
