struct Code(String);

/// Review.
#[mcp::prompt]
async fn review(code: Code) -> String {
    code.0
}

fn main() {}
