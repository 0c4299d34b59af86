//! JWK import filter, JWKS parsing, and the key-set cache's computed refresh policy
//! (smart.md §3.5, §3.6) driven through the validator.

use serde_json::json;
use smart_auth::jose::Algorithm;
use smart_auth::jwk::{Jwk, JwkError};
use smart_auth::jwks::{JwkSet, JwksError, KeyCache, KeyCachePolicy, RefreshReason};
use smart_auth::testing::{TestIssuer, TestKey};
use smart_auth::{IssuerConfig, TokenError, UnixTime, Validator};

const ISS: &str = "https://as.example.org";
const AUD: &str = "https://fhir.example.org/r4";
const T0: UnixTime = UnixTime::from_secs(1_760_000_000);

fn jwks(keys: &[&TestKey]) -> Vec<u8> {
    json!({"keys": keys.iter().map(|k| k.public_jwk_json()).collect::<Vec<_>>()})
        .to_string()
        .into_bytes()
}

#[test]
fn jwks_parse_skips_unusable_keys() {
    let good = TestKey::new(Algorithm::ES256);
    let mut enc = TestKey::alternate(Algorithm::ES256).public_jwk_json();
    enc["use"] = "enc".into();
    let mut private = TestKey::new(Algorithm::RS256).public_jwk_json();
    private["d"] = "AAAA".into();
    let doc = json!({"keys": [good.public_jwk_json(), enc, private, {"kty": "oct", "k": "AAAA", "kid": "h"}, {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}]});
    let set = JwkSet::parse(doc.to_string().as_bytes()).unwrap();
    assert_eq!(set.keys().count(), 1);
    let reasons: Vec<JwkError> = set.rejected().iter().map(|(_, e)| *e).collect();
    assert_eq!(
        reasons,
        vec![
            JwkError::WrongUse,
            JwkError::PrivateKeyMaterial,
            JwkError::SymmetricKey,
            JwkError::UnsupportedCurve
        ]
    );
}

#[test]
fn jwks_document_limits() {
    assert_eq!(JwkSet::parse(b"[]").unwrap_err(), JwksError::Malformed);
    assert_eq!(
        JwkSet::parse(br#"{"keys":{}}"#).unwrap_err(),
        JwksError::Malformed
    );
    assert_eq!(
        JwkSet::parse(br#"{"keys":[1]}"#).unwrap_err(),
        JwksError::Malformed
    );
    assert_eq!(
        JwkSet::parse(br#"{"keys":[],"keys":[]}"#).unwrap_err(),
        JwksError::Malformed
    );
    assert_eq!(
        JwkSet::parse(&vec![b' '; 70_000]).unwrap_err(),
        JwksError::TooLarge
    );
    let many = json!({"keys": vec![json!({"kty": "oct"}); 65]});
    assert_eq!(
        JwkSet::parse(many.to_string().as_bytes()).unwrap_err(),
        JwksError::Malformed
    );
}

#[test]
fn weak_rsa_keys_refused() {
    // 1024-bit modulus (RFC 7520 §3.3 key is 2048; build a short one by truncation).
    let k = TestKey::new(Algorithm::RS256).public_jwk_json();
    let n = smart_auth::jose::b64::decode(k["n"].as_str().unwrap()).unwrap();
    let mut short = k.clone();
    short["n"] = smart_auth::jose::b64::encode(&n[..128]).into();
    assert_eq!(
        Jwk::from_object(short.as_object().unwrap()),
        Err(JwkError::WeakRsaKey)
    );
    for e in ["AQ", "AAAB", "Ag", "AQAAAAAB"] {
        let mut bad = k.clone();
        bad["e"] = e.into();
        let r = Jwk::from_object(bad.as_object().unwrap());
        if e == "AAAB" {
            assert!(r.is_err());
        } else {
            assert_eq!(r, Err(JwkError::BadRsaExponent), "{e}");
        }
    }
}

fn rotating_validator(policy: KeyCachePolicy) -> Validator {
    Validator::new([IssuerConfig::new(ISS, AUD)
        .jwks_uri("https://as.example.org/jwks")
        .key_cache_policy(policy)])
    .unwrap()
}

fn load(v: &Validator, keys: &[&TestKey], cc: Option<&str>, now: UnixTime) {
    let mut due = v.refreshes_due(now);
    assert_eq!(due.len(), 1, "a refresh is due");
    let f = due.pop().unwrap();
    assert_eq!(f.jwks_uri, "https://as.example.org/jwks");
    v.key_cache(ISS)
        .unwrap()
        .complete_refresh(f.ticket, &jwks(keys), cc, now)
        .unwrap();
}

#[test]
fn initial_fetch_and_max_age() {
    let k1 = TestKey::new(Algorithm::RS256);
    let i = TestIssuer::with_key(ISS, AUD, TestKey::new(Algorithm::RS256));
    let v = rotating_validator(KeyCachePolicy::default());
    assert_eq!(
        v.validate(&i.token(T0).sign(), T0),
        Err(TokenError::UnknownKey)
    );
    assert_eq!(
        v.key_cache(ISS).unwrap().refresh_due(T0),
        Some(RefreshReason::Initial)
    );
    load(&v, &[&k1], Some("max-age=120"), T0);
    assert!(v.validate(&i.token(T0).sign(), T0).is_ok());
    assert!(v.refreshes_due(T0.plus(119)).is_empty());
    let cache = v.key_cache(ISS).unwrap();
    assert_eq!(
        cache.refresh_due(T0.plus(120)),
        Some(RefreshReason::Expired)
    );
    // max-age is clamped to [60 s, 24 h].
    let v = rotating_validator(KeyCachePolicy::default());
    load(&v, &[&k1], Some("max-age=1"), T0);
    assert!(v.refreshes_due(T0.plus(59)).is_empty());
    assert_eq!(
        v.key_cache(ISS).unwrap().refresh_due(T0.plus(60)),
        Some(RefreshReason::Expired)
    );
    let v = rotating_validator(KeyCachePolicy::default());
    load(&v, &[&k1], None, T0);
    assert!(v.refreshes_due(T0.plus(599)).is_empty(), "default 600 s");
}

#[test]
fn unknown_kid_refresh_is_rate_limited_and_single_flight() {
    let k1 = TestKey::new(Algorithm::RS256);
    let v = rotating_validator(KeyCachePolicy::default());
    load(&v, &[&k1], Some("max-age=3600"), T0);
    let i = TestIssuer::with_key(ISS, AUD, TestKey::new(Algorithm::RS256));
    // Random kids: the first one makes a refresh due, then nothing for 30 s.
    let t = i.token(T0).header("kid", "random-1").sign();
    assert_eq!(v.validate(&t, T0), Err(TokenError::UnknownKey));
    let cache = v.key_cache(ISS).unwrap();
    assert_eq!(cache.refresh_due(T0), Some(RefreshReason::UnknownKey));
    let ticket = cache.begin_refresh(T0).unwrap();
    assert!(cache.begin_refresh(T0).is_none(), "single flight");
    cache
        .complete_refresh(ticket, &jwks(&[&k1]), Some("max-age=3600"), T0)
        .unwrap();
    for s in 1..30 {
        let t = i.token(T0).header("kid", format!("random-{s}")).sign();
        assert_eq!(v.validate(&t, T0.plus(s)), Err(TokenError::UnknownKey));
        assert!(v.refreshes_due(T0.plus(s)).is_empty(), "cooldown at +{s}s");
    }
    assert_eq!(
        cache.refresh_due(T0.plus(30)),
        Some(RefreshReason::UnknownKey)
    );
}

#[test]
fn rotation_keeps_old_keys_for_the_grace_period() {
    let k1 = TestKey::new(Algorithm::RS256);
    let k2 = TestKey::alternate(Algorithm::RS256);
    let old = TestIssuer::with_key(ISS, AUD, TestKey::new(Algorithm::RS256));
    let new = TestIssuer::with_key(ISS, AUD, TestKey::alternate(Algorithm::RS256));
    let v = rotating_validator(KeyCachePolicy::default());
    load(&v, &[&k1], Some("max-age=60"), T0);
    // The AS rotates: the new key appears, the old one is gone.
    let t1 = T0.plus(60);
    load(&v, &[&k2], Some("max-age=60"), t1);
    assert!(v.validate(&new.token(t1).sign(), t1).is_ok());
    assert!(
        v.validate(&old.token(t1).sign(), t1).is_ok(),
        "old key within grace"
    );
    let late = t1.plus(301);
    assert_eq!(
        v.validate(&old.token(late).sign(), late),
        Err(TokenError::UnknownKey)
    );
}

#[test]
fn failed_fetch_backs_off_and_outage_grace_is_bounded() {
    let k1 = TestKey::new(Algorithm::RS256);
    let i = TestIssuer::with_key(ISS, AUD, TestKey::new(Algorithm::RS256));
    let v = rotating_validator(KeyCachePolicy::default());
    load(&v, &[&k1], Some("max-age=60"), T0);
    let cache = v.key_cache(ISS).unwrap();
    let t = T0.plus(60);
    let ticket = cache.begin_refresh(t).unwrap();
    cache.fail_refresh(ticket, t);
    assert!(cache.begin_refresh(t.plus(29)).is_none(), "retry waits");
    // Malformed documents do not replace the set either.
    let ticket = cache.begin_refresh(t.plus(30)).unwrap();
    assert_eq!(
        cache.complete_refresh(ticket, b"<html>", None, t.plus(30)),
        Err(JwksError::Malformed)
    );
    assert!(
        v.validate(&i.token(t.plus(30)).sign(), t.plus(30)).is_ok(),
        "last good set still served"
    );
    let end = T0.plus(60 + 3600);
    assert_eq!(
        v.validate(&i.token(end).sign(), end),
        Err(TokenError::UnknownKey),
        "outage grace over"
    );
}

#[test]
fn stale_and_abandoned_tickets() {
    let cache = KeyCache::new(KeyCachePolicy::default());
    let k1 = TestKey::new(Algorithm::ES256);
    let t1 = cache.begin_refresh(T0).unwrap();
    // Abandoned: after the fetch timeout another caller may try.
    let t2 = cache.begin_refresh(T0.plus(30)).unwrap();
    assert_eq!(
        cache.complete_refresh(t1, &jwks(&[&k1]), None, T0.plus(31)),
        Err(JwksError::StaleTicket)
    );
    assert!(cache
        .complete_refresh(t2, &jwks(&[&k1]), None, T0.plus(31))
        .is_ok());
}

#[test]
fn a_ticket_completes_only_the_cache_that_issued_it() {
    // Two issuers' caches both hand out their first ticket: a host that mixes them up must not
    // install one authorization server's keys as the other's.
    let a = KeyCache::new(KeyCachePolicy::default());
    let b = KeyCache::new(KeyCachePolicy::default());
    let from_a = a.begin_refresh(T0).unwrap();
    let from_b = b.begin_refresh(T0).unwrap();
    let a_keys = jwks(&[&TestKey::new(Algorithm::ES256)]);
    assert_eq!(
        b.complete_refresh(from_a, &a_keys, None, T0),
        Err(JwksError::StaleTicket)
    );
    assert!(b.current(T0).is_none());
    // b's own ticket still completes.
    let b_keys = jwks(&[&TestKey::new(Algorithm::RS256)]);
    assert!(b.complete_refresh(from_b, &b_keys, None, T0).is_ok());
}

#[test]
fn the_validator_hands_each_fetch_back_to_its_issuer() {
    const ISS2: &str = "https://other-as.example.org";
    let v = Validator::new([
        IssuerConfig::new(ISS, AUD).jwks_uri("https://as.example.org/jwks"),
        IssuerConfig::new(ISS2, AUD).jwks_uri("https://other-as.example.org/jwks"),
    ])
    .unwrap();
    let first = TestIssuer::with_key(ISS, AUD, TestKey::new(Algorithm::RS256));
    let second = TestIssuer::with_key(ISS2, AUD, TestKey::new(Algorithm::ES256));
    for fetch in v.refreshes_due(T0) {
        let keys = if fetch.issuer == ISS {
            first.key()
        } else {
            second.key()
        };
        v.complete_refresh(fetch, &jwks(&[keys]), Some("max-age=600"), T0)
            .unwrap();
    }
    assert!(v.validate(&first.token(T0).sign(), T0).is_ok());
    assert!(v.validate(&second.token(T0).sign(), T0).is_ok());

    // A failed fetch leaves the keys in place and waits before the next attempt.
    let later = T0.plus(600);
    let due = v.refreshes_due(later);
    assert_eq!(due.len(), 2);
    for fetch in due {
        v.fail_refresh(fetch, later);
    }
    assert!(v.refreshes_due(later.plus(29)).is_empty());
    assert!(v.validate(&first.token(later).sign(), later).is_ok());
}

#[test]
fn a_key_set_given_with_its_jwks_uri_is_a_seed_that_still_rotates() {
    // A host that fetched the set at start hands it in with the URL: the set is used at once
    // and refreshed from the URL like any other (it was pinned, the URL never fetched).
    let k1 = TestKey::new(Algorithm::ES256);
    let k2 = TestKey::alternate(Algorithm::ES256);
    let seed = JwkSet::parse(&jwks(&[&k1])).unwrap();
    let v = Validator::new([IssuerConfig::new(ISS, AUD)
        .jwks_uri("https://as.example.org/jwks")
        .jwks(seed)])
    .unwrap();
    let old = TestIssuer::with_key(ISS, AUD, TestKey::new(Algorithm::ES256));
    let new = TestIssuer::with_key(ISS, AUD, TestKey::alternate(Algorithm::ES256));
    assert!(v.validate(&old.token(T0).sign(), T0).is_ok(), "seed in use");
    let due = v.refreshes_due(T0);
    assert_eq!(due.len(), 1, "the URL is fetched");
    assert_eq!(due[0].ticket.reason, RefreshReason::Initial);
    for fetch in due {
        v.complete_refresh(fetch, &jwks(&[&k2]), None, T0).unwrap();
    }
    assert!(v.validate(&new.token(T0).sign(), T0).is_ok());
    let t = T0.plus(10);
    assert!(
        v.validate(&old.token(t).sign(), t).is_ok(),
        "rotation grace"
    );
    let t = T0.plus(301);
    assert_eq!(
        v.validate(&old.token(t).sign(), t),
        Err(TokenError::UnknownKey)
    );

    // Without a URL the set stays fixed: nothing to fetch.
    let fixed =
        Validator::new([IssuerConfig::new(ISS, AUD).jwks(JwkSet::parse(&jwks(&[&k1])).unwrap())])
            .unwrap();
    assert!(fixed.refreshes_due(T0).is_empty());
}
