async fn langs(_: String) -> Vec<String> {
    vec![]
}

/// Review.
#[mcp::prompt(complete(lang = langs))]
async fn review(code: String, language: Option<String>) -> String {
    format!("{code} {language:?}")
}

fn main() {}
