/// Greet.
#[mcp::tool]
async fn greet(name: &mut String) -> String {
    name.clone()
}

fn main() {}
