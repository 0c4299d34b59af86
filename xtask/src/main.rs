//! `cargo xtask codegen [--check]`: regenerates `fhir-types/src/generated` from `../shared/fhir-r4`.
mod facts;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("codegen") => {}
        _ => {
            eprintln!("usage: cargo xtask codegen [--check]");
            std::process::exit(2);
        }
    }
    let check = args.iter().any(|a| a == "--check");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if let Err(e) = facts::generate(&root, check) {
        eprintln!("facts: {e}");
        std::process::exit(1);
    }
}
