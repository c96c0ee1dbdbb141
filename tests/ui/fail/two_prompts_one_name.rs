/// Review.
#[mcp::prompt]
async fn review(code: String) -> String {
    code
}

/// Also review.
#[mcp::prompt(name = "review")]
async fn critique(code: String) -> String {
    code
}

fn main() {}
