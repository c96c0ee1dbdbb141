//! The runtime path can be overridden, for crates that re-export `mcp` under another name.

use mcp as toolkit;

/// Add.
#[toolkit::tool(crate = "toolkit")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {
    let _ = toolkit::tools![add];
}
