async fn ids(_: String) -> Vec<String> {
    vec![]
}

/// A note.
#[mcp::resource("notes://{id}", complete(name = ids))]
async fn note(id: u32) -> String {
    id.to_string()
}

fn main() {}
