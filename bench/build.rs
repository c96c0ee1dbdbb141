//! Writes the 1,000-tool servers' sources (`many_ours`, `many_rmcp`) into `OUT_DIR`.

include!("src/generate.rs");

fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    std::fs::write(format!("{out}/many_ours.rs"), ours(1000)).unwrap();
    std::fs::write(format!("{out}/many_rmcp.rs"), rmcp(1000)).unwrap();
    println!("cargo::rerun-if-changed=src/generate.rs");
}
