fn main() {
    let _ = mcp::tools![missing];
}
