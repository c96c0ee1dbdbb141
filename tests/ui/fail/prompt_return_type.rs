/// Review.
#[mcp::prompt]
async fn review(code: String) -> usize {
    code.len()
}

fn main() {}
