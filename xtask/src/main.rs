//! `cargo xtask codegen [--check]`: regenerates `fhir-types/src/generated` from `../shared/fhir-r4`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("codegen") => {}
        _ => {
            eprintln!("usage: cargo xtask codegen [--check]");
            std::process::exit(2);
        }
    }
}
