//! Mints the key set and an access token for the load benchmark (`benches/load/run.sh`):
//! writes `jwks.json` and `token.txt` (a `patient/*.rs` token for `Patient/example`, valid for
//! five minutes) into the directory given as the only argument.

use smart_auth::testing::TestIssuer;
use smart_auth::UnixTime;

/// The issuer the benchmark server trusts (`--issuer`).
const ISSUER: &str = "https://issuer.load.test";
/// The audience (`--audience`).
const AUDIENCE: &str = "https://fhir.load.test/fhir";

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: mint_token DIR");
        std::process::exit(2);
    };
    let dir = std::path::Path::new(&dir);
    let issuer = TestIssuer::new(ISSUER, AUDIENCE);
    let now = UnixTime::from_secs(chrono::Utc::now().timestamp());
    let token = issuer
        .token(now)
        .scope("launch/patient patient/*.rs")
        .patient("example")
        .fhir_user("Patient/example")
        .sign();
    let write = |name: &str, text: &str| {
        if let Err(e) = std::fs::write(dir.join(name), text) {
            eprintln!("mint_token: {name}: {e}");
            std::process::exit(1);
        }
    };
    write("jwks.json", &issuer.jwks_json());
    write("token.txt", &token);
    println!("{ISSUER} {AUDIENCE}");
}
