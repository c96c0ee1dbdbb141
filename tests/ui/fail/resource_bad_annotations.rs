/// A note.
#[mcp::resource("notes://index", audience = ["everyone"], priority = 2)]
async fn index() -> String {
    String::new()
}

fn main() {}
