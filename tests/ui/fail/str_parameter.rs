/// Greet.
#[mcp::tool]
async fn greet(name: &str) -> String {
    format!("hi {name}")
}

fn main() {}
