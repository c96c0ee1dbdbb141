//! Internal crate of [`mcp`](https://docs.rs/mcp), shared by `mcp-macros` and `mcp-runtime` so
//! that both check names and templates by one rule and word their errors the same way: the
//! macros at compile time, spanned on the user's tokens, the runtime when a server is built or
//! a request arrives. Not a stable API: depend on `mcp`.
//!
//! - [`is_valid_tool_name`] and [`TOOL_NAME_RULE`]: the protocol's rule for tool names.
//! - [`uri_template`]: the RFC 6570 subset that resources use, parsed into a model of literal
//!   parts and expressions.
//!
//! It has no dependencies, so it costs the proc-macro build nothing.

#![deny(missing_docs)]

pub mod uri_template;

/// The tool-name rule in words, for error messages: "use {TOOL_NAME_RULE}".
pub const TOOL_NAME_RULE: &str = "1 to 128 characters of A-Z a-z 0-9 _ . -";

/// Whether a tool name follows the protocol's rule ([`TOOL_NAME_RULE`]): 1–128 characters of
/// `[A-Za-z0-9_.-]`.
///
/// ```
/// assert!(mcp_grammar::is_valid_tool_name("notes.add_v2"));
/// assert!(!mcp_grammar::is_valid_tool_name("add numbers"));
/// assert!(!mcp_grammar::is_valid_tool_name(""));
/// ```
pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names() {
        for ok in ["a", "add", "notes.add-v2_x", "A0", &"x".repeat(128)] {
            assert!(is_valid_tool_name(ok), "{ok:?}");
        }
        for bad in ["", "add numbers", "a/b", "é", "a:b", &"x".repeat(129)] {
            assert!(!is_valid_tool_name(bad), "{bad:?}");
        }
    }
}
