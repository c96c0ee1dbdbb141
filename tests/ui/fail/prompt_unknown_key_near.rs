/// Review.
#[mcp::prompt(titel = "Review")]
async fn review(code: String) -> String {
    code
}

fn main() {}
