/// A note.
#[mcp::resource(mime = "text/plain")]
async fn note() -> String {
    String::new()
}

fn main() {}
