/// A note.
#[mcp::resource("notes://index", mim = "text/markdown")]
async fn index() -> String {
    String::new()
}

fn main() {}
