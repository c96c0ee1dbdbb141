/// A note.
#[mcp::resource("notes://index")]
async fn index() -> u32 {
    7
}

fn main() {}
