/// Add.
///
/// # Arguments
/// * `a` - the first
/// * `c` - there is no c
#[mcp::tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
