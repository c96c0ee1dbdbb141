/// Review.
#[mcp::prompt(read_only)]
async fn review(code: String) -> String {
    code
}

fn main() {}
