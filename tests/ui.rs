//! Compile-fail tests: every mistake `#[mcp::tool]` and `tools![]` catch, with the message and
//! the tokens it points at. Regenerate with `TRYBUILD=overwrite cargo test --test ui` and review
//! the diff.
//!
//! The `.stderr` files were made with the pinned compiler, rustc 1.95.0: other versions word
//! errors differently, so on any other compiler the test is ignored (and reported as such, with
//! the reason), never passed without running. To move the pin, install the new compiler,
//! regenerate, review the diff, and change the version in the attribute below.

#[rustversion::attr(
    not(stable(1.95.0)),
    ignore = "the .stderr files were made with rustc 1.95.0; other compilers word errors differently"
)]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
