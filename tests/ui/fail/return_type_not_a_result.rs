/// Open a file.
#[mcp::tool]
async fn open(path: String) -> std::fs::File {
    std::fs::File::open(path).unwrap()
}

fn main() {}
