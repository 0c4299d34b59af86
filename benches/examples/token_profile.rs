//! Runs full validation of the bench token N times, for instruction counts under callgrind:
//! `valgrind --tool=callgrind target/release/examples/token_profile RS256 200`.

use std::hint::black_box;

use smart_auth::jose::{Algorithm, AlgorithmSet};
use smart_auth::testing::{TestIssuer, TestKey};
use smart_auth::{UnixTime, Validator};

const NOW: UnixTime = UnixTime::from_secs(1_760_000_000);

fn main() {
    let mut args = std::env::args().skip(1);
    let alg = Algorithm::from_name(&args.next().unwrap_or_else(|| "RS256".into())).unwrap();
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let issuer = TestIssuer::with_key(
        "https://as.example.org",
        "https://fhir.example.org/r4",
        TestKey::new(alg),
    );
    let token = issuer
        .token(NOW)
        .scope("launch/patient patient/Observation.rs patient/Patient.r openid fhirUser")
        .patient("123")
        .fhir_user("https://fhir.example.org/r4/Patient/123")
        .sign();
    let validator = if alg.is_symmetric() {
        issuer.validator()
    } else {
        Validator::new([issuer.config().algorithms(AlgorithmSet::ASYMMETRIC)]).unwrap()
    };
    for _ in 0..runs {
        black_box(validator.validate(black_box(&token), NOW).unwrap());
    }
}
