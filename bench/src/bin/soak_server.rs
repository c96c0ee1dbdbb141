//! The soak test's server, written as a user would: `echo`, `ask` (one sampling round trip),
//! and `touch(id)`, which changes the resource `soak://{id}` so that its subscribers hear of it;
//! and `trim`, which asks glibc to hand free memory back (see `soak`).
//! Serves Streamable HTTP on the address given with `--http`.

use mcp::Context;

/// Return the text unchanged.
#[mcp::tool(read_only, idempotent)]
async fn echo(text: String) -> String {
    text
}

/// Ask the client's model about the text and return its answer.
#[mcp::tool(read_only)]
async fn ask(ctx: Context, text: String) -> mcp::Result<String> {
    Ok(ctx.sample(text).max_tokens(64).await?.text())
}

/// Change item `id`: its subscribers hear `notifications/resources/updated`.
#[mcp::tool(idempotent)]
async fn touch(ctx: Context, id: u32) -> String {
    ctx.resource_updated(format!("soak://{id}"));
    format!("touched {id}")
}

/// Return the memory the allocator holds free to the operating system (glibc's `malloc_trim`),
/// so that the soak test reads the memory the server still uses, not what glibc keeps for
/// reuse. Not something a server needs; the soak test calls it at its two measuring points.
/// Returns the bytes the server's heap has in use (glibc's `mallinfo2`), which unlike RSS does
/// not depend on how fragmented the free memory is.
#[mcp::tool]
fn trim() -> u64 {
    // SAFETY: malloc_trim only walks the allocator's own free lists; mallinfo2 only reads its
    // statistics.
    unsafe {
        libc::malloc_trim(0);
        let info = libc::mallinfo2();
        (info.uordblks + info.hblkhd) as u64
    }
}

/// Item `id`.
#[mcp::resource("soak://{id}", mime = "text/plain")]
async fn item(id: u32) -> String {
    format!("item {id}")
}

#[tokio::main]
async fn main() -> mcp::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .iter()
        .position(|a| a == "--http")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let addr = addr.unwrap_or_else(|| "127.0.0.1:3300".to_owned());
    mcp::Server::new("soak", "0.0.0")
        .tools(mcp::tools![echo, ask, touch, trim])
        .resources(mcp::resources![item])
        .serve_http(addr.as_str())
        .await
}
