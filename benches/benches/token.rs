//! smart-auth token validation against ring's bare signature verification of the same bytes.
//!
//! For each algorithm: `ring_verify` is the baseline (one `ring` verification of the token's
//! signing input, nothing else); `validate` is the full pipeline (size cap, strict base64url and
//! JSON, header rules, key selection, signature, claims, scopes, launch context). HS256 shows
//! the pipeline's own cost (an HMAC is nearly free). `cache/hit` is a repeated token served by
//! the validated-token cache, next to the SHA-256 of the token it is keyed by.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use smart_auth::jose::{b64, Algorithm, AlgorithmSet};
use smart_auth::testing::{TestIssuer, TestKey};
use smart_auth::{UnixTime, Validator};

const NOW: UnixTime = UnixTime::from_secs(1_760_000_000);

struct Case {
    token: String,
    validator: Validator,
    jwk: serde_json::Value,
}

fn case(alg: Algorithm) -> Case {
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
    let validator = Validator::new([issuer.config().algorithms(AlgorithmSet::ASYMMETRIC)]).unwrap();
    validator
        .validate(&token, NOW)
        .expect("bench token is valid");
    Case {
        token,
        validator,
        jwk: issuer.key().public_jwk_json(),
    }
}

fn field(jwk: &serde_json::Value, name: &str) -> Vec<u8> {
    b64::decode(jwk[name].as_str().unwrap()).unwrap()
}

fn split(token: &str) -> (&[u8], Vec<u8>) {
    let dot = token.rfind('.').unwrap();
    (
        &token.as_bytes()[..dot],
        b64::decode(&token[dot + 1..]).unwrap(),
    )
}

fn bench(c: &mut Criterion) {
    for (alg, name) in [
        (Algorithm::RS256, "RS256"),
        (Algorithm::ES256, "ES256"),
        (Algorithm::EdDSA, "EdDSA"),
    ] {
        let case = case(alg);
        let mut group = c.benchmark_group(format!("token/{name}"));
        let (input, sig) = split(&case.token);
        match alg {
            Algorithm::RS256 => {
                let (n, e) = (field(&case.jwk, "n"), field(&case.jwk, "e"));
                let key = RsaPublicKeyComponents {
                    n: &n[..],
                    e: &e[..],
                };
                key.verify(&signature::RSA_PKCS1_2048_8192_SHA256, input, &sig)
                    .unwrap();
                group.bench_function("ring_verify", |b| {
                    b.iter(|| {
                        key.verify(
                            &signature::RSA_PKCS1_2048_8192_SHA256,
                            black_box(input),
                            black_box(&sig),
                        )
                    })
                });
            }
            Algorithm::ES256 => {
                let mut point = vec![4];
                point.extend(field(&case.jwk, "x"));
                point.extend(field(&case.jwk, "y"));
                let key = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point);
                key.verify(input, &sig).unwrap();
                group.bench_function("ring_verify", |b| {
                    b.iter(|| key.verify(black_box(input), black_box(&sig)))
                });
            }
            _ => {
                let key = UnparsedPublicKey::new(&signature::ED25519, field(&case.jwk, "x"));
                key.verify(input, &sig).unwrap();
                group.bench_function("ring_verify", |b| {
                    b.iter(|| key.verify(black_box(input), black_box(&sig)))
                });
            }
        }
        group.bench_function("validate", |b| {
            b.iter(|| case.validator.validate(black_box(&case.token), NOW))
        });
        group.finish();
    }

    // The pipeline's own cost, made visible: with HMAC the signature is nearly free.
    let issuer = TestIssuer::with_key(
        "https://as.example.org",
        "https://fhir.example.org/r4",
        TestKey::new(Algorithm::HS256),
    );
    let token = issuer
        .token(NOW)
        .scope("launch/patient patient/Observation.rs")
        .patient("123")
        .sign();
    let validator = issuer.validator();
    let (input, sig) = split(&token);
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        &TestKey::new(Algorithm::HS256).public_jwk_json()["k"]
            .as_str()
            .and_then(b64::decode)
            .unwrap(),
    );
    ring::hmac::verify(&key, input, &sig).unwrap();
    let mut group = c.benchmark_group("token/HS256");
    group.bench_function("ring_verify", |b| {
        b.iter(|| ring::hmac::verify(&key, black_box(input), black_box(&sig)))
    });
    group.bench_function("validate", |b| {
        b.iter(|| validator.validate(black_box(&token), NOW))
    });
    group.finish();

    let case = case(Algorithm::ES256);
    let cached = case
        .validator
        .with_cache(10_000, smart_auth::time::CacheTtl::MAX);
    cached.validate_cached(&case.token, NOW).unwrap();
    let mut group = c.benchmark_group("token/cache");
    // Baseline: the SHA-256 of the token that any hash-keyed cache must compute.
    group.bench_function("sha256_of_token", |b| {
        b.iter(|| smart_auth::cache::token_hash(black_box(&case.token)))
    });
    group.bench_function("hit", |b| {
        b.iter(|| cached.validate_cached(black_box(&case.token), NOW))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
