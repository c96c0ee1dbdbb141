//! Every way a parameter can be written that must compile.

use mcp::Context as Ctx;
use mcp::{FromCallParts, State};

/// A user-defined extractor: the caller's client name.
struct ClientName(String);

impl FromCallParts for ClientName {
    fn from_call_parts(ctx: &Ctx) -> Result<Self, String> {
        Ok(Self(ctx.client_info().map(|i| i.name.clone()).unwrap_or_default()))
    }
}

struct Db {
    rows: Vec<String>,
}

/// Context by reference under an alias, an argument named with a keyword, state, a custom extractor.
#[mcp::tool]
async fn everything(c: &Ctx, r#type: String, db: State<Db>, who: ClientName, limit: Option<u32>) -> String {
    format!("{:?} {type} {} {} {limit:?}", c.request_id(), db.rows.len(), who.0)
}

impl Db {
    /// A method, synchronous.
    #[mcp::tool]
    fn count(&self) -> usize {
        self.rows.len()
    }

    /// A method, asynchronous, with the context.
    #[mcp::tool(read_only)]
    async fn first(&self, ctx: Ctx) -> String {
        let _ = ctx;
        self.rows.first().cloned().unwrap_or_default()
    }
}

fn main() {
    let server = mcp::Server::new("pass", "1")
        .state(Db { rows: vec![] })
        .tools(mcp::tools![everything, Db::count, Db::first]);
    let _ = server.build().unwrap();
}
