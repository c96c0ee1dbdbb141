/// A note.
#[mcp::resource("notes://index", read_only)]
async fn index() -> String {
    String::new()
}

fn main() {}
