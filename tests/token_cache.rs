//! The facade through the validator's token cache (`Validator::with_cache`): a cached token is
//! never accepted where the uncached validator would refuse it (past `exp`, revoked, under a
//! replaced validator).

use http::{Request, StatusCode};
use secure_fhir::SecureFhir;
use smart_auth::decision::DecisionPolicy;
use smart_auth::jose::Algorithm;
use smart_auth::testing::{TestIssuer, TestKey};
use smart_auth::UnixTime;

const ISSUER: &str = "https://auth.example.org";
const AUDIENCE: &str = "https://fhir.example.org/fhir";
const NOW: i64 = 1_767_225_600;

fn at(secs: i64) -> UnixTime {
    UnixTime::from_secs(secs)
}

fn read(token: &str) -> http::request::Parts {
    Request::get("/fhir/Patient/123")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts()
        .0
}

fn status(facade: &SecureFhir, parts: &http::request::Parts, now: UnixTime) -> StatusCode {
    match facade.authorize(parts, b"", now) {
        Ok(_) => StatusCode::OK,
        Err(r) => r.to_response().status(),
    }
}

#[test]
fn a_cached_token_is_refused_exactly_when_the_uncached_validator_refuses_it() {
    let issuer = TestIssuer::new(ISSUER, AUDIENCE);
    let cached = SecureFhir::new(
        issuer
            .validator()
            .with_cache(64, smart_auth::time::CacheTtl::MAX),
        DecisionPolicy::default(),
        "/fhir",
    );
    let uncached = SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir");
    let token = issuer
        .token(at(NOW))
        .scope("patient/*.rs")
        .patient("123")
        .claim("exp", NOW + 40)
        .sign();
    let parts = read(&token);
    // Seed the cache, then walk past exp (and its leeway) one second at a time.
    assert_eq!(status(&cached, &parts, at(NOW)), StatusCode::OK);
    let mut refused_from = None;
    for t in NOW..NOW + 120 {
        let expected = status(&uncached, &parts, at(t));
        assert_eq!(
            status(&cached, &parts, at(t)),
            expected,
            "at exp{:+}",
            t - NOW - 40
        );
        if expected != StatusCode::OK && refused_from.is_none() {
            refused_from = Some(t);
        }
    }
    let refused_from = refused_from.expect("the token expires");
    assert!(
        refused_from <= NOW + 40 + 30,
        "refused at most the leeway past exp"
    );
    assert_eq!(
        status(&cached, &parts, at(refused_from)),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn revocation_is_asked_on_every_request_cached_or_not() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let issuer = TestIssuer::new(ISSUER, AUDIENCE);
    let revoked = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&revoked);
    let facade = SecureFhir::new(
        issuer
            .validator()
            .with_cache(64, smart_auth::time::CacheTtl::MAX),
        DecisionPolicy::default(),
        "/fhir",
    )
    .with_revocation_check(move |_: &smart_auth::AccessContext| flag.load(Ordering::SeqCst));
    let token = issuer
        .token(at(NOW))
        .scope("patient/*.rs")
        .patient("123")
        .sign();
    let parts = read(&token);
    assert_eq!(status(&facade, &parts, at(NOW)), StatusCode::OK);
    revoked.store(true, Ordering::SeqCst);
    assert_eq!(
        status(&facade, &parts, at(NOW + 1)),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn a_replaced_validator_does_not_inherit_the_cache() {
    let issuer = TestIssuer::new(ISSUER, AUDIENCE);
    let facade = SecureFhir::new(
        issuer
            .validator()
            .with_cache(64, smart_auth::time::CacheTtl::MAX),
        DecisionPolicy::default(),
        "/fhir",
    );
    let token = issuer
        .token(at(NOW))
        .scope("patient/*.rs")
        .patient("123")
        .sign();
    let parts = read(&token);
    assert_eq!(status(&facade, &parts, at(NOW)), StatusCode::OK);
    // The issuer's key is withdrawn: only a new key is trusted from now on.
    let other = TestIssuer::with_key(ISSUER, AUDIENCE, TestKey::alternate(Algorithm::RS256));
    facade.replace_validator(
        other
            .validator()
            .with_cache(64, smart_auth::time::CacheTtl::MAX),
    );
    assert_eq!(
        status(&facade, &parts, at(NOW + 1)),
        StatusCode::UNAUTHORIZED
    );
}
