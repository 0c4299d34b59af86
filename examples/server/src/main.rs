//! `secure-fhir-server`: an example secure FHIR R4 server.

fn main() {
    eprintln!("secure-fhir-server: not built yet");
    std::process::exit(2);
}
