/// Runs long.
#[mcp::tool(task = "always")]
async fn crunch(n: u64) -> u64 {
    n
}

/// A prompt never runs as a task.
#[mcp::prompt(task = "optional")]
fn hint() -> &'static str {
    "hint"
}

fn main() {}
