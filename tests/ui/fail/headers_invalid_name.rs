/// Greet.
#[mcp::tool(headers(region = "The Region"))]
async fn greet(region: String) -> String {
    region
}

fn main() {}
