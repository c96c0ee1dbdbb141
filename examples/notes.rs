//! A small notes server: a fixed resource, a resource template, a prompt whose argument
//! completes, and a tool that changes a note and tells subscribers.
//!
//! `cargo run --example notes` serves it over stdio; `-- --http 127.0.0.1:3000` serves
//! Streamable HTTP instead (`Server::run`).

use mcp::{Context, PromptMessage, State};
use std::collections::BTreeMap;
use std::sync::RwLock;

/// The notes, by id.
struct Notes {
    notes: RwLock<BTreeMap<u32, String>>,
}

impl Notes {
    fn new() -> Self {
        let notes = BTreeMap::from([
            (1, "# Groceries\n\n- oat milk\n- rye bread\n".to_owned()),
            (
                2,
                "# Ideas\n\nA Rust MCP framework whose sampling works in both eras.\n".to_owned(),
            ),
        ]);
        Self {
            notes: RwLock::new(notes),
        }
    }

    fn get(&self, id: u32) -> Option<String> {
        self.notes.read().expect("not poisoned").get(&id).cloned()
    }
}

/// Every note's id and first line.
#[mcp::resource("notes://index", mime = "text/plain")]
async fn index(notes: State<Notes>) -> String {
    let notes = notes.notes.read().expect("not poisoned");
    notes
        .iter()
        .map(|(id, text)| format!("{id}: {}\n", text.lines().next().unwrap_or("")))
        .collect()
}

/// A note, by id.
#[mcp::resource("notes://{id}", mime = "text/markdown", complete(id = note_ids))]
async fn note(id: u32, notes: State<Notes>) -> Option<String> {
    notes.get(id)
}

/// The ids of the example's notes (no state reaches a completer, so they are listed here).
async fn note_ids(prefix: String) -> Vec<String> {
    ["1", "2"]
        .into_iter()
        .filter(|id| id.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// The review styles.
async fn styles(prefix: String) -> Vec<String> {
    ["concise", "critical", "detailed"]
        .into_iter()
        .filter(|s| s.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// Ask for a review of a note.
///
/// # Arguments
/// * `id` - the note to review
/// * `style` - concise, critical or detailed (default concise)
#[mcp::prompt(complete(style = styles))]
async fn review(id: u32, style: Option<String>, notes: State<Notes>) -> mcp::Result<Vec<PromptMessage>> {
    let text = notes
        .get(id)
        .ok_or_else(|| mcp::Error::msg(format!("there is no note {id}")))?;
    let style = style.unwrap_or_else(|| "concise".into());
    Ok(vec![
        PromptMessage::user(mcp::Content::embedded_text(
            format!("notes://{id}"),
            "text/markdown",
            text,
        )),
        PromptMessage::user(format!("Review the note above. Be {style}.")),
    ])
}

/// Replace a note's text. Clients subscribed to the note hear that it changed.
#[mcp::tool(destructive, idempotent)]
async fn write_note(ctx: Context, notes: State<Notes>, id: u32, text: String) -> String {
    notes.notes.write().expect("not poisoned").insert(id, text);
    ctx.resource_updated(format!("notes://{id}"));
    format!("note {id} saved")
}

#[tokio::main]
async fn main() -> mcp::Result<()> {
    mcp::Server::new("notes", env!("CARGO_PKG_VERSION"))
        .instructions("Markdown notes: read notes://index, then notes://{id}.")
        .state(Notes::new())
        .resources(mcp::resources![index, note])
        .prompts(mcp::prompts![review])
        .tools(mcp::tools![write_note])
        .run() // stdio, or `--http ADDR`
        .await
}
