//! Parses a FHIR JSON resource (e.g. a Bundle) from a file, prints its type, nested resources and
//! references, and checks that writing it back gives the same length of JSON.
//!
//! `cargo run --release -p fhir-types --example parse_bundle -- bundle.json`

use fhir_types::json;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: parse_bundle <resource.json>");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    match json::parse_resource(&bytes) {
        Ok(resource) => {
            let mut refs = 0;
            resource.visit_references(&mut |_, _| refs += 1);
            println!(
                "{} id={:?}: {} nested resources, {refs} references, {} bytes written back",
                resource.resource_type(),
                resource.id(),
                resource.nested_resources().len(),
                json::to_vec(&resource).len()
            );
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    }
}
