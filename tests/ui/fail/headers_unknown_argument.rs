/// Greet.
#[mcp::tool(headers(place = "Region"))]
async fn greet(region: String) -> String {
    region
}

fn main() {}
