//! Access tokens, key sets, scopes and credential extraction (smart-auth).

use std::sync::LazyLock;

use serde_json::Value;
use smart_auth::bearer::{extract_from_parts, Credential};
use smart_auth::jose::Algorithm;
use smart_auth::jwks::JwkSet;
use smart_auth::testing::{TestIssuer, TestKey};
use smart_auth::{ScopeSet, UnixTime, Validator};

use super::assert_uniform_challenge;

/// The fixed clock of every token harness (2026-01-01T00:00:00Z), so inputs replay exactly.
pub const NOW: i64 = 1_767_225_600;
/// The audience every fixture issuer uses.
pub const AUDIENCE: &str = "https://fhir.example/r4";

/// The trusted issuers: one per key family, so key selection sees every kind of key.
pub struct Fixture {
    /// Signs with Ed25519 (deterministic signatures: replayable tokens).
    pub eddsa: TestIssuer,
    /// Signs with RS256.
    pub rsa: TestIssuer,
    /// Signs with ES256.
    pub ec: TestIssuer,
    /// Trusts all three.
    pub validator: Validator,
    /// A valid claims set for `eddsa` at [`NOW`].
    pub valid_claims: Vec<u8>,
    /// A valid header for `eddsa`.
    pub valid_header: Vec<u8>,
}

/// The shared fixture, built once per process.
pub static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let eddsa = TestIssuer::with_key(
        "https://as.example",
        AUDIENCE,
        TestKey::new(Algorithm::EdDSA),
    );
    let rsa = TestIssuer::new("https://as-rsa.example", AUDIENCE);
    let ec = TestIssuer::with_key(
        "https://as-ec.example",
        AUDIENCE,
        TestKey::new(Algorithm::ES256),
    );
    let validator = Validator::new([eddsa.config(), rsa.config(), ec.config()])
        .expect("fixture issuers are valid");
    let builder = eddsa
        .token(UnixTime::from_secs(NOW))
        .scope("patient/Observation.rs launch/patient")
        .patient("123");
    let valid_claims = serde_json::to_vec(builder.claims()).expect("claims serialize");
    let valid_header = serde_json::to_vec(&serde_json::json!({
        "alg": "EdDSA", "typ": "at+jwt", "kid": eddsa.key().kid(),
    }))
    .expect("header serializes");
    Fixture {
        eddsa,
        rsa,
        ec,
        validator,
        valid_claims,
        valid_header,
    }
});

/// Checks an accepted token's context against what the validator promised.
fn check_accepted(ctx: &smart_auth::AccessContext) {
    let f = &*FIXTURE;
    let issuers = [f.eddsa.issuer(), f.rsa.issuer(), f.ec.issuer()];
    assert!(
        issuers.contains(&ctx.issuer()),
        "accepted an unknown issuer"
    );
    assert_eq!(
        ctx.raw_claims().get("iss").and_then(Value::as_str),
        Some(ctx.issuer()),
        "context issuer differs from the iss claim"
    );
    assert!(
        names_audience(ctx.raw_claims().get("aud")),
        "accepted a token whose aud does not name this server"
    );
    // The maximum leeway is 300 s (smart.md §3.3).
    assert!(ctx.expires_at() + 300 > NOW, "accepted an expired token");
}

/// Whether an `aud` claim (a string or an array) names [`AUDIENCE`].
pub(crate) fn names_audience(aud: Option<&Value>) -> bool {
    match aud {
        Some(Value::String(a)) => a == AUDIENCE,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(AUDIENCE)),
        _ => false,
    }
}

/// Checks a refusal renders to a uniform challenge that echoes nothing.
pub(crate) fn check_refused(err: &smart_auth::TokenError) {
    assert_uniform_challenge(&err.challenge().realm("fhir").to_header_value());
    assert!(
        !err.reason().is_empty(),
        "every refusal has a stable reason"
    );
    assert!(err.status().is_client_error(), "a token refusal is a 4xx");
}

/// `token_validate`: the whole validation pipeline on an arbitrary string (a bearer token as
/// it arrives in a header), against three trusted issuers.
pub fn token_validate(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let f = &*FIXTURE;
    let now = UnixTime::from_secs(NOW);
    match f.validator.validate(token, now) {
        Ok(ctx) => check_accepted(&ctx),
        Err(e) => check_refused(&e),
    }
    if let Ok(ctx) = f.validator.validate_constrained(token, now) {
        check_accepted(&ctx);
    }
}

/// `token_claims`: header and claims JSON chosen by the fuzzer and *correctly signed* with a
/// trusted key, so the fuzzer reaches the header rules and the typed claims parse behind the
/// signature check. The first byte picks what is fuzzed: the claims (with a valid header), the
/// header (with valid claims), or both (split at the first newline).
pub fn token_claims(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = &*FIXTURE;
    let (header, claims): (&[u8], &[u8]) = match mode % 3 {
        0 => (&f.valid_header, rest),
        1 => (rest, &f.valid_claims),
        _ => match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &f.valid_claims),
        },
    };
    let token = f.eddsa.key().sign_raw(header, claims);
    match f.validator.validate(&token, UnixTime::from_secs(NOW)) {
        Ok(ctx) => check_accepted(&ctx),
        Err(e) => check_refused(&e),
    }
}

/// `jwks_parse`: a JWKS document as fetched from a `jwks_uri`. Every imported key must honour
/// the import filter and must not verify a signature it did not make.
pub fn jwks_parse(data: &[u8]) {
    let Ok(set) = JwkSet::parse(data) else {
        return;
    };
    for key in set.keys() {
        if let Some(kid) = key.kid() {
            assert!(kid.len() <= 256, "imported a key with an oversized kid");
        }
        for alg in Algorithm::ALL {
            if key.permits(alg) {
                // HMAC keys never come out of a JWKS (smart.md §3.5).
                assert!(!alg.is_symmetric(), "JWKS produced an HMAC key");
                let forged = [0u8; 64];
                assert!(
                    key.verify(alg, b"header.claims", &forged).is_err(),
                    "an all-zero signature verified (psychic signature)"
                );
            }
        }
        let _ = key.thumbprint_b64();
    }
}

/// `scope_parse`: a `scope` claim. Parsing never fails and never panics; malformed scopes grant
/// nothing.
pub fn scope_parse(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let set = ScopeSet::parse(s);
    assert_eq!(set, ScopeSet::parse(s), "scope parsing is deterministic");
    // What a set displays is a scope string that parses back to the same display.
    let shown = set.to_string();
    assert_eq!(
        ScopeSet::parse(&shown).to_string(),
        shown,
        "display does not round-trip"
    );
    assert!(
        set.resource_scopes().count() <= s.split(' ').count(),
        "more grants than tokens"
    );
    let _ = set.normalize();
}

/// `bearer_extract`: request credentials. The input is a request head: the first line is the
/// request target (path and query), each further line one `name: value` header.
pub fn bearer_extract(data: &[u8]) {
    let mut lines = data.split(|&b| b == b'\n');
    let target = lines.next().unwrap_or_default();
    let mut builder = http::Request::builder().uri("/fhir/Patient");
    if let Ok(uri) = http::Uri::try_from(target) {
        if uri.path().starts_with('/') {
            builder = builder.uri(uri);
        }
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (mut parts, ()) = request.into_parts();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) {
            parts.headers.append(n, v);
        }
    }
    match extract_from_parts(&parts) {
        Ok(credential) => {
            let token = credential.token();
            assert!(!token.is_empty(), "extracted an empty token");
            assert!(!token.contains(' '), "a token68 has no spaces");
            let from_header = parts
                .headers
                .get_all(http::header::AUTHORIZATION)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.ends_with(token));
            assert!(
                from_header,
                "the token came from somewhere other than Authorization"
            );
            if let Credential::Dpop { proof, .. } = credential {
                assert!(parts.headers.get("dpop").is_some() || proof.is_empty());
            }
        }
        Err(e) => check_refused(&e),
    }
}
