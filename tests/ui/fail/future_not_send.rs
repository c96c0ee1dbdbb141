use std::rc::Rc;

/// Count.
#[mcp::tool]
async fn count(n: u32) -> u32 {
    let shared = Rc::new(n);
    tokio::task::yield_now().await;
    *shared
}

fn main() {}
