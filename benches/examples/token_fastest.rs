//! A cross-check of `benches/token.rs` for a machine shared with other work: each pair (ring's
//! bare verification, full validation of the same token) is timed interleaved, one call at a
//! time, and the fastest of many runs of each is kept, which filters out preemption by other
//! processes. Criterion (`cargo bench -p secure-fhir-benches --bench token`) stays the bench;
//! this only answers "how fast when nothing else runs" on a loaded machine.
//!
//! `cargo run --release -p secure-fhir-benches --example token_fastest [runs]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use smart_auth::jose::{b64, Algorithm, AlgorithmSet};
use smart_auth::testing::{TestIssuer, TestKey};
use smart_auth::{UnixTime, Validator};

const NOW: UnixTime = UnixTime::from_secs(1_760_000_000);

fn time_once(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    println!("| | `ring` verify | full validation | ratio | pipeline overhead | cache hit |");
    println!("|---|---|---|---|---|---|");
    for (alg, name) in [
        (Algorithm::RS256, "RS256"),
        (Algorithm::ES256, "ES256"),
        (Algorithm::EdDSA, "EdDSA"),
        (Algorithm::HS256, "HS256"),
    ] {
        let issuer = TestIssuer::with_key(
            "https://as.example.org",
            "https://fhir.example.org/r4",
            TestKey::new(alg),
        );
        let scope = if alg == Algorithm::HS256 {
            "launch/patient patient/Observation.rs"
        } else {
            "launch/patient patient/Observation.rs patient/Patient.r openid fhirUser"
        };
        let mut builder = issuer.token(NOW).scope(scope).patient("123");
        if alg != Algorithm::HS256 {
            builder = builder.fhir_user("https://fhir.example.org/r4/Patient/123");
        }
        let token = builder.sign();
        let validator = if alg == Algorithm::HS256 {
            issuer.validator()
        } else {
            Validator::new([issuer.config().algorithms(AlgorithmSet::ASYMMETRIC)]).unwrap()
        };
        validator.validate(&token, NOW).expect("valid");
        let jwk = issuer.key().public_jwk_json();
        let field = |n: &str| b64::decode(jwk[n].as_str().unwrap()).unwrap();
        let dot = token.rfind('.').unwrap();
        let (input, sig) = (
            &token.as_bytes()[..dot],
            b64::decode(&token[dot + 1..]).unwrap(),
        );
        let (n, e, x, k) = match alg {
            Algorithm::RS256 => (field("n"), field("e"), vec![], vec![]),
            Algorithm::ES256 => {
                let mut p = vec![4];
                p.extend(field("x"));
                p.extend(field("y"));
                (vec![], vec![], p, vec![])
            }
            Algorithm::EdDSA => (vec![], vec![], field("x"), vec![]),
            _ => (vec![], vec![], vec![], field("k")),
        };
        let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k);
        let ring_verify = || match alg {
            Algorithm::RS256 => RsaPublicKeyComponents {
                n: &n[..],
                e: &e[..],
            }
            .verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                black_box(input),
                black_box(&sig),
            )
            .is_ok(),
            Algorithm::ES256 => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &x)
                .verify(black_box(input), black_box(&sig))
                .is_ok(),
            Algorithm::EdDSA => UnparsedPublicKey::new(&signature::ED25519, &x)
                .verify(black_box(input), black_box(&sig))
                .is_ok(),
            _ => ring::hmac::verify(&hmac, black_box(input), black_box(&sig)).is_ok(),
        };
        assert!(ring_verify());
        let cached = Validator::new([issuer.config().algorithms(if alg == Algorithm::HS256 {
            AlgorithmSet::EMPTY.with(alg)
        } else {
            AlgorithmSet::ASYMMETRIC
        })])
        .unwrap()
        .with_cache(10_000, smart_auth::time::CacheTtl::MAX);
        cached.validate_cached(&token, NOW).unwrap();
        let (mut best_ring, mut best_full, mut best_hit) =
            (Duration::MAX, Duration::MAX, Duration::MAX);
        for _ in 0..runs {
            best_ring = best_ring.min(time_once(|| assert!(ring_verify())));
            best_full = best_full.min(time_once(|| {
                black_box(validator.validate(black_box(&token), NOW).unwrap());
            }));
            best_hit = best_hit.min(time_once(|| {
                black_box(cached.validate_cached(black_box(&token), NOW).unwrap());
            }));
        }
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "| {name} | {:.2} µs | {:.2} µs | **{:.3}** | {:.2} µs | {:.2} µs |",
            us(best_ring),
            us(best_full),
            us(best_full) / us(best_ring),
            us(best_full) - us(best_ring),
            us(best_hit)
        );
    }
}
