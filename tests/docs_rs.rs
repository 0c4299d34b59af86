//! The published documentation shows every feature's API: docs.rs builds with default
//! features only unless a manifest says otherwise, and the crate docs' examples use
//! `smart_auth::testing` and the `tower` layer.

use std::path::Path;

/// The library manifests of the workspace that declare features.
const MANIFESTS: [&str; 2] = ["Cargo.toml", "smart-auth/Cargo.toml"];

#[test]
fn docs_rs_documents_every_feature() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for manifest in MANIFESTS {
        let text = std::fs::read_to_string(root.join(manifest)).expect("manifest");
        assert!(
            text.contains("\n[features]\n"),
            "{manifest} declares features"
        );
        let docs_rs = text
            .split("\n[package.metadata.docs.rs]\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{manifest} has no [package.metadata.docs.rs]"));
        let section = docs_rs.split("\n[").next().unwrap_or("");
        assert!(
            section.lines().any(|l| l.trim() == "all-features = true"),
            "{manifest}: docs.rs must build with all features"
        );
    }
}
