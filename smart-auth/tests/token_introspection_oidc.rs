//! RFC 7662 introspection and OIDC ID tokens.

use std::sync::Arc;

use serde_json::json;
use smart_auth::introspection::{request_body, IntrospectionCache, Introspector};
use smart_auth::jose::Algorithm;
use smart_auth::jwks::KeyCache;
use smart_auth::oidc::{half_hash, IdTokenExpectations, IdTokenValidator};
use smart_auth::testing::{TestIssuer, TestKey};
use smart_auth::time::{CacheTtl, MaxAge, NegativeTtl};
use smart_auth::{TokenError, UnixTime};

const ISS: &str = "https://as.example.org";
const AUD: &str = "https://fhir.example.org/r4";
const NOW: UnixTime = UnixTime::from_secs(1_760_000_000);

fn active() -> serde_json::Value {
    json!({"active": true, "scope": "patient/Observation.rs launch/patient", "client_id": "app",
           "exp": NOW.as_secs() + 600, "patient": "123", "encounter": "e1", "sub": "u1", "iss": ISS,
           "fhirUser": "Practitioner/9", "fhirContext": [{"reference": "Encounter/e1"}], "aud": AUD})
}

fn ttl(secs: i64) -> CacheTtl {
    CacheTtl::from_secs(secs).unwrap()
}

fn negative(secs: i64) -> NegativeTtl {
    NegativeTtl::from_secs(secs).unwrap()
}

fn parse(v: &serde_json::Value) -> Result<smart_auth::AccessContext, TokenError> {
    Introspector::new(ISS, AUD).parse_response(v.to_string().as_bytes(), NOW)
}

#[test]
fn request_body_is_form_encoded() {
    assert_eq!(request_body("a+b&c=d", None), "token=a%2Bb%26c%3Dd");
    assert_eq!(
        request_body("t", Some("access_token")),
        "token=t&token_type_hint=access_token"
    );
}

#[test]
fn active_response_maps_like_jwt_claims() {
    let ctx = parse(&active()).unwrap();
    assert_eq!(ctx.issuer(), ISS);
    assert_eq!(ctx.client_id(), Some("app"));
    assert_eq!(ctx.subject(), Some("u1"));
    assert_eq!(ctx.launch().patient, Some("123"));
    assert_eq!(ctx.launch().encounter, Some("e1"));
    assert_eq!(ctx.launch().fhir_context, vec!["Encounter/e1"]);
    assert_eq!(ctx.fhir_user(), Some("Practitioner/9"));
    assert_eq!(ctx.expires_at(), NOW.as_secs() + 600);
    assert_eq!(
        *ctx.scopes(),
        smart_auth::ScopeSet::parse("patient/Observation.rs launch/patient")
    );
}

#[test]
fn only_active_false_is_an_inactive_token() {
    // RFC 7662 §2.2: `"active": false` is the authorization server's verdict on the token.
    assert_eq!(parse(&json!({"active": false})), Err(TokenError::Inactive));
    let inactive = TokenError::Inactive;
    assert_eq!(inactive.status(), http::StatusCode::UNAUTHORIZED);
    assert_eq!(
        inactive.challenge().to_header_value(),
        r#"Bearer error="invalid_token""#
    );
}

/// An answer that is no RFC 7662 response says nothing about the token: it is the
/// authorization server's failure, refused (never active) with its own reason and a 503,
/// without the `invalid_token` challenge that would make the client throw a good token away.
fn assert_failed(answer: Result<smart_auth::AccessContext, TokenError>, what: &str) {
    let err = answer.expect_err(what);
    assert_eq!(err.reason(), "introspection_failed", "{what}: {err:?}");
    assert_eq!(
        err.status(),
        http::StatusCode::SERVICE_UNAVAILABLE,
        "{what}"
    );
    assert_eq!(err.challenge_error(), None, "{what}");
}

#[test]
fn a_broken_answer_is_the_authorization_servers_failure() {
    for body in [
        json!({"active": "true"}),
        json!({"active": 1}),
        json!({"scope": "x"}),
        json!({"active": null}),
        json!({}),
        json!([true]),
    ] {
        assert_failed(parse(&body), &body.to_string());
    }
    let i = Introspector::new(ISS, AUD);
    for body in [
        &b"not json"[..],
        b"",
        br#"{"active":true,"active":false}"#,
        br#"{"active":false,"active":false}"#,
        &vec![b' '; 70_000],
    ] {
        let what = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
        assert_failed(i.parse_response(body, NOW), &what);
    }
    // An active answer without SMART's required members, or with mistyped ones.
    for name in ["scope", "client_id", "exp"] {
        let mut b = active();
        b.as_object_mut().unwrap().remove(name);
        assert_failed(parse(&b), name);
    }
    for (name, value) in [
        ("exp", json!("soon")),
        ("exp", json!(-5)),
        ("iss", json!(["https://as.example.org"])),
        ("aud", json!(7)),
        ("patient", json!(["123"])),
        ("patient", json!("../123")),
        ("scope", json!(["a"])),
        ("client_id", json!(1)),
        ("fhirContext", json!("Encounter/e1")),
        ("fhirUser", json!("Observation/1")),
    ] {
        let mut b = active();
        b[name] = value;
        assert_failed(parse(&b), name);
    }
    // Never cached: the next request asks again.
    let cache = IntrospectionCache::new(100, ttl(60), negative(5));
    let answer = i.parse_response(b"<html>502 Bad Gateway</html>", NOW);
    cache.record("tok", &answer.map(Arc::new), NOW);
    assert!(cache.get("tok", NOW).is_none());
}

#[test]
fn an_active_answer_is_checked_like_a_token() {
    // What the answer says about the token refuses it as a token: 401 `invalid_token`.
    let cases = [
        ("exp", json!(NOW.as_secs() - 31), TokenError::Expired),
        (
            "iss",
            json!("https://other.example"),
            TokenError::WrongIssuer,
        ),
        (
            "aud",
            json!("https://other.example/fhir"),
            TokenError::WrongAudience,
        ),
        (
            "cnf",
            json!({"x5t": "abc"}),
            TokenError::UnsupportedConfirmation,
        ),
    ];
    for (name, value, want) in cases {
        let mut b = active();
        b[name] = value;
        assert_eq!(parse(&b), Err(want), "{name}");
    }
}

#[test]
fn an_answer_without_aud_is_refused_by_default() {
    // `aud` is optional in an answer (RFC 7662 §2.2), so an authorization server serving several
    // resource servers may omit it: the answer then does not show the token is meant for this
    // one, and a token issued for another would pass (RFC 7662 §4). Refused unless the host
    // says, by name, that its authorization server serves no other resource server.
    let mut b = active();
    b.as_object_mut().unwrap().remove("aud");
    let body = b.to_string();
    for constrained in [false, true] {
        let default = Introspector::new(ISS, AUD);
        let err = if constrained {
            default.parse_constrained_response(body.as_bytes(), NOW)
        } else {
            default.parse_response(body.as_bytes(), NOW)
        }
        .unwrap_err();
        assert_eq!(err, TokenError::MissingClaim("aud"), "{constrained}");
        assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
    }
    let lax = Introspector::new(ISS, AUD).dangerous_accept_missing_audience();
    assert_eq!(
        lax.parse_response(body.as_bytes(), NOW)
            .unwrap()
            .client_id(),
        Some("app")
    );
    // A broken answer stays the authorization server's failure, `aud` or not.
    let mut broken = b.clone();
    broken.as_object_mut().unwrap().remove("scope");
    assert_failed(parse(&broken), "no scope, no aud");
    // The opt-out covers only an absent `aud`: one naming another server is still refused.
    b["aud"] = json!(["https://other.example/fhir"]);
    assert_eq!(
        lax.parse_response(b.to_string().as_bytes(), NOW),
        Err(TokenError::WrongAudience)
    );
}

#[test]
fn sender_constrained_response_needs_its_proof() {
    // A DPoP- or certificate-bound token presented as `Bearer` is a downgrade (RFC 9449 §7.2,
    // RFC 8705 §3): refused as the JWT validator refuses it.
    let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    let mut dpop = active();
    dpop["cnf"] = json!({ "jkt": jkt });
    assert_eq!(parse(&dpop), Err(TokenError::DpopRequired));
    let mut mtls = active();
    mtls["cnf"] = json!({ "x5t#S256": jkt });
    assert_eq!(parse(&mtls), Err(TokenError::CertificateMismatch));
    // The caller that checks the proof gets the confirmation to check it against.
    let ctx = Introspector::new(ISS, AUD)
        .parse_constrained_response(dpop.to_string().as_bytes(), NOW)
        .unwrap();
    assert_eq!(ctx.dpop_jkt(), Some(jkt));
    assert_eq!(
        Introspector::new(ISS, AUD)
            .parse_constrained_response(active().to_string().as_bytes(), NOW),
        parse(&active())
    );
}

#[test]
fn only_an_access_token_is_accepted() {
    // RFC 7662 §2.2 `token_type` is an access token's type (RFC 6749 §5.1, case-insensitive).
    // Authorization servers answer `active` for their refresh tokens too, naming them so: one
    // presented as an access token is refused, not read for its scopes.
    for accepted in ["Bearer", "bearer", "access_token"] {
        let mut a = active();
        a["token_type"] = json!(accepted);
        assert!(parse(&a).is_ok(), "{accepted}");
    }
    for other in [
        "refresh_token",
        "id_token",
        "N_A",
        "mac",
        "urn:ietf:params:oauth:token-type:refresh_token",
    ] {
        let mut a = active();
        a["token_type"] = json!(other);
        assert_eq!(parse(&a), Err(TokenError::WrongType), "{other}");
    }
    let mut mistyped = active();
    mistyped["token_type"] = json!(["Bearer"]);
    assert_failed(parse(&mistyped), "a token_type that is no string");
    // A token the server calls DPoP-bound without naming its key cannot have its proof checked
    // (RFC 9449 §6.2): the answer is unusable, neither a bearer token nor a checkable one.
    let mut dpop = active();
    dpop["token_type"] = json!("DPoP");
    let constrained =
        Introspector::new(ISS, AUD).parse_constrained_response(dpop.to_string().as_bytes(), NOW);
    assert_failed(constrained, "token_type DPoP without cnf");
    assert_failed(parse(&dpop), "token_type DPoP without cnf, as Bearer");
    dpop["cnf"] = json!({ "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" });
    assert!(Introspector::new(ISS, AUD)
        .parse_constrained_response(dpop.to_string().as_bytes(), NOW)
        .is_ok());
    assert_eq!(parse(&dpop), Err(TokenError::DpopRequired));
}

#[test]
fn cache_bounds() {
    let cache = IntrospectionCache::new(100, ttl(60), negative(5));
    let ctx = Arc::new(parse(&active()).unwrap());
    cache.record("tok", &Ok(ctx.clone()), NOW);
    assert!(matches!(cache.get("tok", NOW.plus(59)), Some(Ok(_))));
    assert!(cache.get("tok", NOW.plus(60)).is_none(), "configured max");
    let mut short = active();
    short["exp"] = json!(NOW.as_secs() + 10);
    let short = Arc::new(parse(&short).unwrap());
    cache.record("short", &Ok(short), NOW);
    assert!(cache.get("short", NOW.plus(10)).is_none(), "never past exp");
    cache.record("dead", &Err(TokenError::Inactive), NOW);
    assert_eq!(
        cache.get("dead", NOW.plus(4)).map(|r| r.err()),
        Some(Some(TokenError::Inactive))
    );
    assert!(
        cache.get("dead", NOW.plus(5)).is_none(),
        "negative answers are short-lived"
    );
    let uncached = IntrospectionCache::new(100, ttl(60), NegativeTtl::ZERO);
    uncached.record("dead", &Err(TokenError::Inactive), NOW);
    assert!(uncached.get("dead", NOW).is_none(), "no negative caching");

    // Bounded in memory: a small cache never answers for more tokens than its capacity (a
    // multiple of its 16 shards).
    let small = IntrospectionCache::new(32, ttl(60), negative(5));
    let tokens: Vec<String> = (0..400).map(|i| format!("tok-{i}")).collect();
    for t in &tokens {
        small.record(t, &Ok(ctx.clone()), NOW);
        small.record(&format!("neg-{t}"), &Err(TokenError::Inactive), NOW);
    }
    let hits = tokens
        .iter()
        .filter(|t| matches!(small.get(t, NOW), Some(Ok(_))))
        .count();
    let negative_hits = tokens
        .iter()
        .filter(|t| small.get(&format!("neg-{t}"), NOW).is_some())
        .count();
    assert!((1..=32).contains(&hits), "{hits} positive answers kept");
    assert!(
        (1..=32).contains(&negative_hits),
        "{negative_hits} negative answers kept"
    );
}

fn oidc() -> (TestIssuer, IdTokenValidator) {
    let i = TestIssuer::with_key(ISS, "app", TestKey::new(Algorithm::RS256));
    let v = IdTokenValidator::new(ISS, "app", KeyCache::fixed(i.jwk_set()));
    (i, v)
}

#[test]
fn id_token_valid() {
    let (i, v) = oidc();
    let access = "access-token-value";
    let t = i
        .token(NOW)
        .header("typ", "JWT")
        .claim("nonce", "n-0S6")
        .claim("auth_time", NOW.as_secs() - 100)
        .claim("at_hash", half_hash(access, Algorithm::RS256))
        .claim("c_hash", half_hash("code-1", Algorithm::RS256))
        .fhir_user("Patient/123")
        .sign();
    let expect = IdTokenExpectations {
        nonce: Some("n-0S6"),
        max_age: Some(MaxAge::from_secs(3600).unwrap()),
        access_token: Some(access),
        code: Some("code-1"),
    };
    let id = v.validate(&t, &expect, NOW).unwrap();
    assert_eq!(id.subject, "test-user");
    assert_eq!(id.fhir_user.as_deref(), Some("Patient/123"));
    assert_eq!(id.auth_time, Some(NOW.as_secs() - 100));
}

#[test]
fn id_token_rules() {
    let (i, v) = oidc();
    let e = IdTokenExpectations {
        nonce: Some("n"),
        ..Default::default()
    };
    let base = || i.token(NOW).header("typ", "JWT").claim("nonce", "n");
    let cases = [
        (
            base().claim("aud", "other").sign(),
            TokenError::WrongAudience,
        ),
        (
            base().claim("aud", json!(["app", "other"])).sign(),
            TokenError::MissingClaim("azp"),
        ),
        (
            base()
                .claim("aud", json!(["app", "other"]))
                .claim("azp", "other")
                .sign(),
            TokenError::InvalidClaim("azp"),
        ),
        (
            base().claim("nonce", "m").sign(),
            TokenError::InvalidClaim("nonce"),
        ),
        (
            base().without("nonce").sign(),
            TokenError::InvalidClaim("nonce"),
        ),
        (
            base().without("iat").sign(),
            TokenError::MissingClaim("iat"),
        ),
        (
            base().claim("iss", "https://as.example.org/").sign(),
            TokenError::WrongIssuer,
        ),
        (base().header("typ", "at+jwt").sign(), TokenError::WrongType),
        (
            base().claim("at_hash", "AAAAAAAAAAAAAAAAAAAAAA").sign(),
            TokenError::InvalidClaim("at_hash"),
        ),
        (
            base().fhir_user("Observation/1").sign(),
            TokenError::InvalidClaim("fhirUser"),
        ),
    ];
    for (t, want) in cases {
        let e2 = IdTokenExpectations {
            access_token: Some("tok"),
            ..e
        };
        assert_eq!(v.validate(&t, &e2, NOW), Err(want.clone()), "{want:?}");
    }
    // OIDC Core §3.1.3.7 (3): an audience besides the client must be one the client trusts;
    // none is by default.
    let shared = base()
        .claim("aud", json!(["app", "other"]))
        .claim("azp", "app")
        .sign();
    assert_eq!(v.validate(&shared, &e, NOW), Err(TokenError::WrongAudience));
    let trusting = IdTokenValidator::new(ISS, "app", KeyCache::fixed(i.jwk_set()))
        .trusted_audiences(["other"]);
    assert!(trusting.validate(&shared, &e, NOW).is_ok());
    let max_age = IdTokenExpectations {
        max_age: Some(MaxAge::from_secs(60).unwrap()),
        ..e
    };
    assert_eq!(
        v.validate(&base().sign(), &max_age, NOW),
        Err(TokenError::MissingClaim("auth_time"))
    );
    let old = base().claim("auth_time", NOW.as_secs() - 1000).sign();
    assert_eq!(
        v.validate(&old, &max_age, NOW),
        Err(TokenError::InvalidClaim("auth_time"))
    );
    // An access token is not an ID token: wrong audience.
    let at = TestIssuer::with_key(ISS, AUD, TestKey::new(Algorithm::RS256))
        .token(NOW)
        .claim("nonce", "n")
        .sign();
    assert_eq!(v.validate(&at, &e, NOW), Err(TokenError::WrongType));
}

#[test]
fn id_token_subject_is_an_identifier() {
    // OIDC Core §2: `sub` is the end-user's identifier; `""` would make every token carrying
    // it the same user to a client keying on it (as the access-token checks already refuse).
    let (i, v) = oidc();
    let t = i.token(NOW).header("typ", "JWT").claim("sub", "").sign();
    let e = IdTokenExpectations::default();
    assert_eq!(
        v.validate(&t, &e, NOW),
        Err(TokenError::InvalidClaim("sub"))
    );
    let t = i.token(NOW).header("typ", "JWT").without("sub").sign();
    assert_eq!(
        v.validate(&t, &e, NOW),
        Err(TokenError::MissingClaim("sub"))
    );
}

#[test]
fn id_token_auth_time_is_not_in_the_future() {
    // An authentication an hour from now would pass every `max_age` (and read as fresh to a
    // host that checks `auth_time` itself): it is no time the user signed in.
    let (i, v) = oidc();
    let at = |secs: i64| {
        i.token(NOW)
            .header("typ", "JWT")
            .claim("auth_time", secs)
            .sign()
    };
    let max_age = IdTokenExpectations {
        max_age: Some(MaxAge::from_secs(60).unwrap()),
        ..Default::default()
    };
    let future = NOW.as_secs() + 3600;
    for e in [max_age, IdTokenExpectations::default()] {
        assert_eq!(
            v.validate(&at(future), &e, NOW),
            Err(TokenError::InvalidClaim("auth_time"))
        );
        // Within the leeway (30 s) a clock a little ahead is still accepted.
        assert!(v.validate(&at(NOW.as_secs() + 30), &e, NOW).is_ok());
    }
}

#[test]
fn a_logout_token_is_not_an_id_token() {
    // OIDC Back-Channel Logout §2.4: a Logout Token has the ID token's iss, aud, iat and sub,
    // is signed with the same keys, and differs by its `events` claim (and no `nonce`, which
    // only helps a client that sent one). Without a nonce expected it passed as an ID token.
    let (i, v) = oidc();
    let events = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
    let t = i
        .token(NOW)
        .header("typ", "JWT")
        .claim("sid", "08a5019c")
        .claim("events", events)
        .sign();
    assert_eq!(
        v.validate(&t, &IdTokenExpectations::default(), NOW),
        Err(TokenError::InvalidClaim("events"))
    );
}

#[test]
fn id_token_max_age_of_iat_is_the_one_given() {
    // Before, max_age_of_iat was untested and took a bare i64 (negative: every token refused).
    let (i, v) = oidc();
    let v = v
        .leeway(smart_auth::time::Leeway::ZERO)
        .max_age_of_iat(Some(MaxAge::from_secs(600).unwrap()));
    let issued = |ago: i64| {
        i.token(NOW.plus(-ago))
            .header("typ", "JWT")
            .expires_in(ago + 60)
            .sign()
    };
    let e = IdTokenExpectations::default();
    assert!(v.validate(&issued(600), &e, NOW).is_ok());
    assert_eq!(
        v.validate(&issued(601), &e, NOW),
        Err(TokenError::BadIssueTime)
    );
}
