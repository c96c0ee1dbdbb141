#[mcp::tool]
struct NotAFunction;

fn main() {}
