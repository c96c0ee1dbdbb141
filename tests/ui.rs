//! Compile-fail tests: every mistake `#[mcp::tool]` and `tools![]` catch, with the message and
//! the tokens it points at. Regenerate with `TRYBUILD=overwrite cargo test --test ui` and review
//! the diff.

/// The compiler the `.stderr` files were made with: other versions word errors differently.
const PINNED_RUSTC: &str = "1.95.0";

#[test]
fn ui() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !version.starts_with(&format!("rustc {PINNED_RUSTC} ")) {
        eprintln!("skipped: the expected compiler messages were made with rustc {PINNED_RUSTC}, this is {version}");
        return;
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
