/// A note.
#[mcp::resource("notes://{id}")]
async fn note() -> String {
    String::new()
}

fn main() {}
