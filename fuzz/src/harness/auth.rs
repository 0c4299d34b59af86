//! The other hostile inputs of authentication (smart-auth): RFC 7662 introspection answers,
//! DPoP proofs (RFC 9449) and Backend Services client assertions (RFC 7523).

use std::sync::LazyLock;

use serde_json::{json, Value};
use smart_auth::client_assertion::{ClientAssertionValidator, RegisteredClient};
use smart_auth::dpop::{DpopRequest, DpopValidator};
use smart_auth::introspection::Introspector;
use smart_auth::jose::Algorithm;
use smart_auth::jwks::JwkSet;
use smart_auth::replay::InMemoryReplayStore;
use smart_auth::testing::TestKey;
use smart_auth::{TokenError, UnixTime};

use super::token::{check_refused, names_audience, AUDIENCE, NOW};

/// The authorization server whose introspection answers are parsed.
pub const INTROSPECTION_ISSUER: &str = "https://as.example";
/// The request every DPoP proof is checked against.
pub const DPOP_URI: &str = "https://fhir.example/r4/Patient/123";
/// The access token every DPoP proof must be bound to (`ath`).
pub const DPOP_TOKEN: &str = "opaque-access-token";
/// The token endpoint every client assertion must name (`aud`).
pub const TOKEN_ENDPOINT: &str = "https://as.example/token";
/// The one registered Backend Services client.
pub const CLIENT_ID: &str = "app-1";

/// The signing keys and the valid header and claims each signed harness starts from.
pub struct AuthFixture {
    /// Signs DPoP proofs and client assertions (Ed25519: deterministic, so inputs replay).
    pub key: TestKey,
    /// A valid DPoP proof header (with the public key embedded).
    pub dpop_header: Vec<u8>,
    /// Valid DPoP proof claims for `GET` [`DPOP_URI`], bound to [`DPOP_TOKEN`].
    pub dpop_claims: Vec<u8>,
    /// A valid client-assertion header.
    pub assertion_header: Vec<u8>,
    /// Valid client-assertion claims.
    pub assertion_claims: Vec<u8>,
    /// Registers [`CLIENT_ID`] with `key`.
    pub assertions: ClientAssertionValidator,
}

/// The shared fixture, built once per process.
pub static AUTH: LazyLock<AuthFixture> = LazyLock::new(|| {
    let key = TestKey::new(Algorithm::EdDSA);
    let ath = {
        let proof = key.dpop_proof(
            "GET",
            DPOP_URI,
            Some(DPOP_TOKEN),
            None,
            UnixTime::from_secs(NOW),
            "j",
        );
        let claims = proof.split('.').nth(1).expect("three segments").to_owned();
        let bytes = smart_auth::jose::b64::decode(&claims).expect("base64url");
        serde_json::from_slice::<Value>(&bytes).expect("claims")["ath"].clone()
    };
    let dpop_header = serde_json::to_vec(&json!({
        "typ": "dpop+jwt", "alg": "EdDSA", "jwk": key.public_jwk_json(),
    }))
    .expect("header serializes");
    let dpop_claims = serde_json::to_vec(&json!({
        "jti": "proof-1", "htm": "GET", "htu": DPOP_URI, "iat": NOW, "ath": ath,
    }))
    .expect("claims serialize");
    let assertion_header = serde_json::to_vec(&json!({
        "alg": "EdDSA", "typ": "JWT", "kid": key.kid().expect("test keys have a kid"),
    }))
    .expect("header serializes");
    let assertion_claims = serde_json::to_vec(&json!({
        "iss": CLIENT_ID, "sub": CLIENT_ID, "aud": TOKEN_ENDPOINT, "exp": NOW + 240,
        "jti": "assertion-1",
    }))
    .expect("claims serialize");
    let assertions = ClientAssertionValidator::new(TOKEN_ENDPOINT)
        .register(RegisteredClient::new(CLIENT_ID).jwks(JwkSet::from_keys([key.public_jwk()])));
    AuthFixture {
        key,
        dpop_header,
        dpop_claims,
        assertion_header,
        assertion_claims,
        assertions,
    }
});

/// The compact JWS the signed harnesses check, chosen by the first input byte as in
/// `token_claims`: the claims fuzzed under a valid header, the header fuzzed over valid claims,
/// both (split at the first newline), or (`3`) the input itself as the compact string.
fn signed_input(data: &[u8], header: &[u8], claims: &[u8]) -> Option<String> {
    let (&mode, rest) = data.split_first()?;
    let (h, c): (&[u8], &[u8]) = match mode % 4 {
        0 => (header, rest),
        1 => (rest, claims),
        2 => match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, claims),
        },
        _ => return std::str::from_utf8(rest).ok().map(str::to_owned),
    };
    Some(AUTH.key.sign_raw(h, c))
}

/// `introspection_response`: an RFC 7662 answer body from the authorization server, as the
/// host received it. An accepted answer is active, of this issuer, for this audience, not
/// expired; a refusal is the server's failure (503) or a uniform 401.
pub fn introspection_response(data: &[u8]) {
    let now = UnixTime::from_secs(NOW);
    let strict = Introspector::new(INTROSPECTION_ISSUER, AUDIENCE);
    let lax = strict.clone().dangerous_accept_missing_audience();
    match strict.parse_constrained_response(data, now) {
        Ok(ctx) => {
            let claims = ctx.raw_claims();
            assert_eq!(claims.get("active"), Some(&Value::Bool(true)), "inactive");
            assert_eq!(ctx.issuer(), INTROSPECTION_ISSUER, "another issuer");
            assert!(
                names_audience(claims.get("aud")),
                "accepted an answer whose aud does not name this server"
            );
            // The default leeway is 30 s.
            assert!(ctx.expires_at() + 30 > NOW, "accepted an expired token");
            assert!(
                lax.parse_constrained_response(data, now).is_ok(),
                "the lax introspector refused what the strict one accepted"
            );
            // As a bearer token: accepted exactly when nothing constrains it.
            let bearer = strict.parse_response(data, now);
            assert_eq!(
                bearer.is_ok(),
                !ctx.is_sender_constrained(),
                "a sender-constrained token accepted as Bearer, or a plain one refused"
            );
        }
        Err(TokenError::IntrospectionFailed) => {
            assert_eq!(
                TokenError::IntrospectionFailed.status(),
                http::StatusCode::SERVICE_UNAVAILABLE
            );
            assert!(
                strict.parse_response(data, now).is_err(),
                "a failed answer accepted as Bearer"
            );
        }
        Err(e) => {
            check_refused(&e);
            assert!(
                strict.parse_response(data, now).is_err(),
                "a refused answer accepted as Bearer"
            );
        }
    }
    let _ = lax.parse_response(data, now);
}

/// `dpop_proof`: a DPoP proof header value for `GET` [`DPOP_URI`] with [`DPOP_TOKEN`], bound to
/// the fixture key. An accepted proof is of that key, fresh, and accepted once only.
pub fn dpop_proof(data: &[u8]) {
    let f = &*AUTH;
    let Some(proof) = signed_input(data, &f.dpop_header, &f.dpop_claims) else {
        return;
    };
    let jkt = f.key.public_jwk().thumbprint_b64();
    let request = DpopRequest {
        method: "GET",
        uri: DPOP_URI,
        access_token: Some(DPOP_TOKEN),
        expected_jkt: Some(&jkt),
        nonce: None,
    };
    let validator = DpopValidator::new();
    let replay = InMemoryReplayStore::new(16);
    let now = UnixTime::from_secs(NOW);
    match validator.validate_proof(&proof, &request, &replay, now) {
        Ok(accepted) => {
            assert_eq!(accepted.jkt, jkt, "accepted a proof by another key");
            assert!(
                accepted.issued_at <= NOW + 5 && accepted.issued_at >= NOW - 300,
                "accepted a stale or future proof"
            );
            assert!(!accepted.jti.is_empty() && accepted.jti.len() <= 256);
            assert!(
                validator
                    .validate_proof(&proof, &request, &replay, now)
                    .is_err(),
                "a replayed proof was accepted"
            );
            let other = DpopRequest {
                method: "POST",
                ..request
            };
            let fresh = InMemoryReplayStore::new(16);
            assert!(
                validator
                    .validate_proof(&proof, &other, &fresh, now)
                    .is_err(),
                "a proof accepted for another method"
            );
        }
        Err(e) => check_refused(&e),
    }
}

/// `client_assertion`: a `client_assertion` form value at the token endpoint. An accepted
/// assertion authenticates the registered client, by its key, within the lifetime bound, once.
pub fn client_assertion(data: &[u8]) {
    let f = &*AUTH;
    let Some(assertion) = signed_input(data, &f.assertion_header, &f.assertion_claims) else {
        return;
    };
    let replay = InMemoryReplayStore::new(16);
    let now = UnixTime::from_secs(NOW);
    match f.assertions.validate(&assertion, &replay, now) {
        Ok(client) => {
            assert_eq!(client.client_id, CLIENT_ID, "authenticated another client");
            assert_eq!(Some(client.kid.as_str()), f.key.kid(), "by another key");
            // 30 s leeway, `exp` at most 300 s ahead.
            assert!(
                client.expires_at + 30 > NOW && client.expires_at <= NOW + 330,
                "accepted an expired or too long-lived assertion"
            );
            assert!(
                f.assertions.validate(&assertion, &replay, now).is_err(),
                "a replayed assertion was accepted"
            );
        }
        Err(e) => {
            assert_eq!(e.oauth_error(), "invalid_client");
            assert!(!e.reason().is_empty(), "every refusal has a stable reason");
        }
    }
}
