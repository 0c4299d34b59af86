//! Every rule of the JWT access-token validator (smart.md §3), one test each, and the hostile
//! token classes of threats.md §2.

use serde_json::json;
use smart_auth::jose::{b64, Algorithm, AlgorithmSet};
use smart_auth::jwks::JwkSet;
use smart_auth::testing::{TestIssuer, TestKey};
use smart_auth::validator::{IssuerConfig, TypPolicy};
use smart_auth::{TokenError, UnixTime, Validator};

const ISS: &str = "https://as.example.org";
const AUD: &str = "https://fhir.example.org/r4";
const NOW: UnixTime = UnixTime::from_secs(1_760_000_000);

fn issuer() -> TestIssuer {
    TestIssuer::new(ISS, AUD)
}

fn check(v: &Validator, token: &str) -> Result<smart_auth::AccessContext, TokenError> {
    v.validate(token, NOW)
}

#[test]
fn valid_token_yields_context() {
    let i = issuer();
    let t = i
        .token(NOW)
        .scope("patient/Observation.rs launch/patient openid fhirUser")
        .patient("123")
        .encounter("enc-1")
        .fhir_user("https://fhir.example.org/r4/Practitioner/p1")
        .claim("fhirContext", json!([{"reference": "Location/l1"}, {"canonical": "http://x/Questionnaire/q|1"}, {"identifier": {"value": "x"}}]))
        .sign();
    let ctx = check(&i.validator(), &t).unwrap();
    assert_eq!(ctx.issuer(), ISS);
    assert_eq!(ctx.subject(), Some("test-user"));
    assert_eq!(ctx.client_id(), Some("test-client"));
    assert_eq!(ctx.launch().patient, Some("123"));
    assert_eq!(ctx.launch().encounter, Some("enc-1"));
    assert_eq!(
        ctx.launch().fhir_context,
        vec!["Location/l1", "http://x/Questionnaire/q|1"]
    );
    assert_eq!(
        ctx.fhir_user(),
        Some("https://fhir.example.org/r4/Practitioner/p1")
    );
    assert_eq!(ctx.expires_at(), NOW.as_secs() + 300);
    assert!(ctx.token_id().is_some());
    assert_eq!(
        *ctx.scopes(),
        smart_auth::ScopeSet::parse("patient/Observation.rs launch/patient openid fhirUser")
    );
    assert_eq!(ctx.raw_claims()["iss"], ISS);
}

#[test]
fn raw_claims_keep_the_verified_text_and_map_on_demand() {
    let i = issuer();
    let v = i.validator();
    let token = i
        .token(NOW)
        .claim("ext", json!({"purpose_of_use": ["TREAT"], "n": 1.5}))
        .claim("esc", "a\u{e9}\n")
        .sign();
    let ctx = check(&v, &token).unwrap();
    // The text is the payload exactly as signed.
    let payload = smart_auth::jose::b64::decode(token.split('.').nth(1).unwrap()).unwrap();
    assert_eq!(ctx.raw_claims().json().as_bytes(), &payload[..]);
    // The map agrees with a plain parse of that text.
    let plain: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&payload).unwrap();
    assert_eq!(ctx.raw_claims().as_map(), &plain);
    assert_eq!(ctx.raw_claims().len(), plain.len());
    assert_eq!(ctx.raw_claims()["ext"]["purpose_of_use"][0], "TREAT");
    assert_eq!(ctx.raw_claims()["esc"], "a\u{e9}\n");
    assert_eq!(ctx.claim("nope"), None);
    assert_eq!(ctx.raw_claims()["nope"], serde_json::Value::Null);
    assert!(ctx.raw_claims().contains_key("jti"));
    // Equality is by content, whichever way the claims were made.
    let from_map = smart_auth::context::RawClaims::from(plain);
    assert_eq!(&from_map, ctx.raw_claims());
    assert_eq!(
        smart_auth::context::RawClaims::parse(br#"{"a":1,"a":2}"#),
        Err(smart_auth::jose::json::JsonError::DuplicateMember)
    );
}

#[test]
fn every_accepted_algorithm_validates() {
    for alg in AlgorithmSet::ASYMMETRIC.iter() {
        let i = TestIssuer::with_key(ISS, AUD, TestKey::new(alg));
        let t = i.token(NOW).sign();
        check(&i.validator(), &t).unwrap_or_else(|e| panic!("{alg}: {e:?}"));
    }
}

#[test]
fn algorithm_allow_list_is_per_issuer() {
    let i = TestIssuer::with_key(ISS, AUD, TestKey::new(Algorithm::PS256));
    let v = Validator::new([i.config().algorithms(AlgorithmSet::ACCESS_TOKEN_DEFAULT)]).unwrap();
    assert_eq!(
        check(&v, &i.token(NOW).sign()),
        Err(TokenError::AlgorithmNotAllowed)
    );
}

#[test]
fn alg_none_in_every_spelling() {
    let i = issuer();
    let payload = b64::encode(&serde_json::to_vec(i.token(NOW).claims()).unwrap());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64::encode(format!(r#"{{"alg":"{alg}","typ":"at+jwt"}}"#).as_bytes());
        for sig in ["", "AAAA"] {
            let t = format!("{header}.{payload}.{sig}");
            let e = check(&i.validator(), &t).unwrap_err();
            assert!(
                matches!(e, TokenError::AlgNone | TokenError::NotCompactJws),
                "{alg} {sig}: {e:?}"
            );
        }
    }
    // A valid token with its signature stripped.
    let t = i.token(NOW).sign();
    let stripped = &t[..t.rfind('.').unwrap() + 1];
    assert_eq!(
        check(&i.validator(), stripped),
        Err(TokenError::NotCompactJws)
    );
}

#[test]
fn hmac_with_public_key_bytes_is_refused() {
    // Algorithm confusion: HS256 "keyed" with the RSA public JWK's bytes.
    let i = issuer();
    let jwk_bytes = i.key().public_jwk_json().to_string();
    let header = br#"{"alg":"HS256","typ":"at+jwt","kid":"test-rs256-1"}"#;
    let payload = serde_json::to_vec(i.token(NOW).claims()).unwrap();
    let input = format!("{}.{}", b64::encode(header), b64::encode(&payload));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, jwk_bytes.as_bytes());
    let t = format!(
        "{input}.{}",
        b64::encode(ring::hmac::sign(&key, input.as_bytes()).as_ref())
    );
    assert_eq!(
        check(&i.validator(), &t),
        Err(TokenError::AlgorithmNotAllowed)
    );
}

#[test]
fn hmac_only_with_explicit_secret() {
    let i = TestIssuer::with_key(ISS, AUD, TestKey::new(Algorithm::HS256));
    let t = i.token(NOW).sign();
    assert!(
        check(&i.validator(), &t).is_ok(),
        "explicit secret configured"
    );
    // An allow-list naming HS256 without a secret is a configuration error.
    let bad = IssuerConfig::new(ISS, AUD).algorithms(AlgorithmSet::EMPTY.with(Algorithm::HS256));
    assert!(Validator::new([bad]).is_err());
    // A JWKS `oct` key is never imported.
    let set = JwkSet::parse(
        json!({"keys": [i.key().public_jwk_json()]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert!(set.is_empty());
    // A too-short secret is refused.
    assert!(Validator::new([
        IssuerConfig::new(ISS, AUD).dangerous_shared_secret(b"short", Algorithm::HS256)
    ])
    .is_err());
}

#[test]
fn key_binding_alg_and_curve() {
    // A JWK whose `alg` differs from the header's is not a candidate.
    let key = TestKey::new(Algorithm::RS256);
    let mut jwk = key.public_jwk_json();
    jwk["alg"] = "RS384".into();
    let set = JwkSet::parse(json!({"keys": [jwk]}).to_string().as_bytes()).unwrap();
    let i = TestIssuer::with_key(ISS, AUD, key);
    let v = Validator::new([IssuerConfig::new(ISS, AUD).jwks(set)]).unwrap();
    assert_eq!(check(&v, &i.token(NOW).sign()), Err(TokenError::UnknownKey));
    // An ES384 header against a P-256 key.
    let p256 = TestKey::new(Algorithm::ES256);
    let i = TestIssuer::with_key(ISS, AUD, p256);
    let t = i.token(NOW).header("alg", "ES384").sign();
    assert_eq!(check(&i.validator(), &t), Err(TokenError::UnknownKey));
}

#[test]
fn header_keys_never_trusted() {
    let i = issuer();
    let attacker = TestKey::alternate(Algorithm::RS256);
    let a = TestIssuer::with_key(ISS, AUD, attacker);
    // Token signed by the attacker, embedding the attacker's key: refused outright.
    let t = a
        .token(NOW)
        .header("jwk", a.key().public_jwk_json())
        .header("kid", "test-rs256-1")
        .sign();
    assert_eq!(check(&i.validator(), &t), Err(TokenError::HeaderKey));
    for (name, value) in [
        ("jku", json!("https://attacker.example/jwks")),
        ("x5u", json!("https://attacker.example/c")),
        ("x5c", json!(["MIIB"])),
    ] {
        let t = a.token(NOW).header(name, value.clone()).sign();
        assert_eq!(
            check(&i.validator(), &t),
            Err(TokenError::HeaderKey),
            "{name}"
        );
    }
    // With key headers ignored, the embedded key is still never used: the signature fails.
    let v = Validator::new([i.config().ignore_key_headers(true)]).unwrap();
    let t = a
        .token(NOW)
        .header("jwk", a.key().public_jwk_json())
        .header("kid", "test-rs256-1")
        .sign();
    assert_eq!(check(&v, &t), Err(TokenError::BadSignature));
}

#[test]
fn kid_rules() {
    let i = issuer();
    for kid in ["../../etc/passwd", "' OR 1=1 --", "test-rs256-1\u{0}"] {
        let t = i.token(NOW).header("kid", kid).sign();
        let e = check(&i.validator(), &t).unwrap_err();
        assert!(
            matches!(e, TokenError::UnknownKey | TokenError::MalformedKeyId),
            "{kid}: {e:?}"
        );
    }
    let t = i.token(NOW).header("kid", "k".repeat(300)).sign();
    assert_eq!(check(&i.validator(), &t), Err(TokenError::MalformedKeyId));
    // Without kid: accepted when the set has exactly one candidate.
    let t = i.token(NOW).without_header("kid").sign();
    assert!(check(&i.validator(), &t).is_ok());
    // Duplicate kid (two keys, same kid): ambiguous.
    let k1 = TestKey::new(Algorithm::RS256);
    let k2 = TestKey::alternate(Algorithm::RS256).with_kid(Some("test-rs256-1"));
    let set = JwkSet::from_keys([k1.public_jwk(), k2.public_jwk()]);
    let v = Validator::new([IssuerConfig::new(ISS, AUD).jwks(set.clone())]).unwrap();
    assert_eq!(
        check(&v, &i.token(NOW).sign()),
        Err(TokenError::AmbiguousKey)
    );
    // No kid and two candidates: ambiguous.
    let v = Validator::new([IssuerConfig::new(ISS, AUD).jwks(set)]).unwrap();
    assert_eq!(
        check(&v, &i.token(NOW).without_header("kid").sign()),
        Err(TokenError::AmbiguousKey)
    );
}

#[test]
fn crit_and_content_headers_refused() {
    let i = issuer();
    let cases = [
        ("crit", json!(["exp"]), TokenError::CriticalHeader),
        ("crit", json!(["b64"]), TokenError::CriticalHeader),
        ("cty", json!("JWT"), TokenError::UnsupportedContent),
        ("zip", json!("DEF"), TokenError::UnsupportedContent),
        ("enc", json!("A128GCM"), TokenError::UnsupportedContent),
        ("b64", json!(false), TokenError::UnsupportedContent),
    ];
    for (name, value, want) in cases {
        let t = i.token(NOW).header(name, value).sign();
        assert_eq!(check(&i.validator(), &t), Err(want), "{name}");
    }
}

#[test]
fn typ_rules() {
    let i = issuer();
    let v = i.validator();
    assert!(check(&v, &i.token(NOW).header("typ", "application/at+jwt").sign()).is_ok());
    for typ in ["JWT", "dpop+jwt", "logout+jwt", "at+jwt;x=y"] {
        assert_eq!(
            check(&v, &i.token(NOW).header("typ", typ).sign()),
            Err(TokenError::WrongType),
            "{typ}"
        );
    }
    assert_eq!(
        check(&v, &i.token(NOW).without_header("typ").sign()),
        Err(TokenError::WrongType)
    );
    assert_eq!(
        check(&v, &i.token(NOW).header("typ", 1).sign()),
        Err(TokenError::MalformedHeader)
    );
    let legacy = Validator::new([i.config().typ(TypPolicy::AccessTokenOrLegacy)]).unwrap();
    assert!(check(&legacy, &i.token(NOW).header("typ", "JWT").sign()).is_ok());
    assert!(check(&legacy, &i.token(NOW).without_header("typ").sign()).is_ok());
    assert_eq!(
        check(&legacy, &i.token(NOW).header("typ", "dpop+jwt").sign()),
        Err(TokenError::WrongType)
    );
    let custom = Validator::new([i
        .config()
        .typ(TypPolicy::OneOf(vec!["vnd.example+jwt".into()]))])
    .unwrap();
    assert!(check(
        &custom,
        &i.token(NOW).header("typ", "vnd.example+jwt").sign()
    )
    .is_ok());
}

#[test]
fn issuer_exact_match() {
    let i = issuer();
    let v = i.validator();
    for iss in [
        json!("https://as.example.org/"),
        json!("HTTPS://AS.EXAMPLE.ORG"),
        json!("https://as.example.org.evil"),
        json!("https://as.example"),
    ] {
        assert_eq!(
            check(&v, &i.token(NOW).claim("iss", iss.clone()).sign()),
            Err(TokenError::WrongIssuer),
            "{iss}"
        );
    }
    assert_eq!(
        check(&v, &i.token(NOW).claim("iss", json!([ISS])).sign()),
        Err(TokenError::InvalidClaim("iss"))
    );
    assert_eq!(
        check(&v, &i.token(NOW).without("iss").sign()),
        Err(TokenError::MissingClaim("iss"))
    );
}

#[test]
fn issuer_bound_to_its_keys() {
    // Two issuers; issuer B's key signs a token claiming to be from A.
    let a = TestIssuer::with_key("https://a.example", AUD, TestKey::new(Algorithm::ES256));
    let b = TestIssuer::with_key(
        "https://b.example",
        AUD,
        TestKey::alternate(Algorithm::ES256),
    );
    let v = Validator::new([a.config(), b.config()]).unwrap();
    assert!(check(&v, &a.token(NOW).sign()).is_ok());
    assert!(check(&v, &b.token(NOW).sign()).is_ok());
    let forged = b.token(NOW).claim("iss", "https://a.example").sign();
    assert_eq!(check(&v, &forged), Err(TokenError::WrongIssuer));
}

#[test]
fn issuers_sharing_one_key_set_each_validate_their_own_tokens() {
    // One key set published for two issuers (same keys, same kids), e.g. two tenants of one
    // authorization server; B also trusts a key of its own.
    let shared = || TestKey::new(Algorithm::ES256);
    let only_b = TestKey::alternate(Algorithm::ES256);
    let a = TestIssuer::with_key("https://a.example", AUD, shared());
    let b = TestIssuer::with_key("https://b.example", AUD, shared());
    let b_keys = || JwkSet::from_keys([shared().public_jwk(), only_b.public_jwk()]);
    let b_own = TestIssuer::with_key(b.issuer(), AUD, TestKey::alternate(Algorithm::ES256));
    // Both orders: whichever issuer is configured first must not capture the shared keys.
    for v in [
        Validator::new([a.config(), b.config().jwks(b_keys())]).unwrap(),
        Validator::new([b.config().jwks(b_keys()), a.config()]).unwrap(),
    ] {
        let issuer_of = |t: &str| check(&v, t).map(|c| c.issuer().to_owned());
        assert_eq!(issuer_of(&a.token(NOW).sign()).as_deref(), Ok(a.issuer()));
        assert_eq!(issuer_of(&b.token(NOW).sign()).as_deref(), Ok(b.issuer()));
        // Signed with the key only B trusts: as B it passes, claiming A it does not.
        assert_eq!(
            issuer_of(&b_own.token(NOW).sign()).as_deref(),
            Ok(b.issuer())
        );
        let forged = b_own.token(NOW).claim("iss", a.issuer()).sign();
        assert_eq!(check(&v, &forged), Err(TokenError::WrongIssuer));
        // An issuer neither is, under the shared key: refused as well.
        let stranger = a.token(NOW).claim("iss", "https://c.example").sign();
        assert_eq!(check(&v, &stranger), Err(TokenError::WrongIssuer));
    }
}

#[test]
fn forged_with_other_key() {
    let i = issuer();
    let attacker = TestIssuer::with_key(
        ISS,
        AUD,
        TestKey::alternate(Algorithm::RS256).with_kid(Some("test-rs256-1")),
    );
    assert_eq!(
        check(&i.validator(), &attacker.token(NOW).sign()),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn error_precedence_signature_before_claims() {
    // Expired AND forged: reported as a signature failure, never as "expired".
    let i = issuer();
    let attacker = TestIssuer::with_key(
        ISS,
        AUD,
        TestKey::alternate(Algorithm::RS256).with_kid(Some("test-rs256-1")),
    );
    let t = attacker.token(UnixTime::from_secs(1000)).sign();
    assert_eq!(check(&i.validator(), &t), Err(TokenError::BadSignature));
    // Every token failure gets the same challenge.
    for e in [
        TokenError::BadSignature,
        TokenError::Expired,
        TokenError::WrongAudience,
        TokenError::UnknownKey,
    ] {
        assert_eq!(
            e.challenge().realm("r").to_header_value(),
            r#"Bearer realm="r", error="invalid_token""#
        );
    }
}

#[test]
fn cross_jwt_confusion() {
    let i = issuer();
    let v = i.validator();
    // An ID token (typ JWT, aud = client id) from the same AS.
    let id_token = i
        .token(NOW)
        .header("typ", "JWT")
        .claim("aud", "test-client")
        .claim("nonce", "n")
        .sign();
    assert_eq!(check(&v, &id_token), Err(TokenError::WrongType));
    let legacy = Validator::new([i.config().typ(TypPolicy::AccessTokenOrLegacy)]).unwrap();
    assert_eq!(check(&legacy, &id_token), Err(TokenError::WrongAudience));
    // A DPoP proof or client assertion shape.
    let proof = i.token(NOW).header("typ", "dpop+jwt").sign();
    assert_eq!(check(&v, &proof), Err(TokenError::WrongType));
}

#[test]
fn sender_constrained_tokens_need_their_proof() {
    let i = issuer();
    let v = i.validator();
    let jkt = b64::encode(&[1; 32]);
    let t = i.token(NOW).claim("cnf", json!({"jkt": jkt})).sign();
    assert_eq!(check(&v, &t), Err(TokenError::DpopRequired));
    assert!(v.validate_constrained(&t, NOW).is_ok());
    let t = i.token(NOW).claim("cnf", json!({"x5t#S256": jkt})).sign();
    assert_eq!(check(&v, &t), Err(TokenError::CertificateMismatch));
    for cnf in [
        json!({"jwk": {}}),
        json!({}),
        json!("x"),
        json!({"jkt": "short"}),
    ] {
        let t = i.token(NOW).claim("cnf", cnf.clone()).sign();
        assert_eq!(
            check(&v, &t),
            Err(TokenError::UnsupportedConfirmation),
            "{cnf}"
        );
    }
}

#[test]
fn cache_hits_and_never_past_exp() {
    let i = issuer();
    let v = i
        .validator()
        .with_cache(1000, smart_auth::time::CacheTtl::MAX);
    let t = i.token(NOW).sign();
    let a = v.validate_cached(&t, NOW).unwrap();
    let b = v.validate_cached(&t, NOW).unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&a, &b),
        "second call served from the cache"
    );
    assert_eq!(
        v.validate_cached(&t, NOW.plus(300 + 30)),
        Err(TokenError::Expired)
    );
    // A different token with the same prefix is not confused with it.
    let mut other = t.clone();
    other.push('A');
    assert!(v.validate_cached(&other, NOW).is_err());
    // Failures are not cached.
    let bad = i.token(NOW).claim("aud", "x").sign();
    assert!(v.validate_cached(&bad, NOW).is_err());
    assert!(v.validate_cached(&bad, NOW).is_err());
}

#[test]
fn concurrent_validation() {
    let i = issuer();
    let v = std::sync::Arc::new(
        i.validator()
            .with_cache(64, smart_auth::time::CacheTtl::MAX),
    );
    let tokens: Vec<String> = (0..8).map(|_| i.token(NOW).sign()).collect();
    std::thread::scope(|s| {
        for t in &tokens {
            let v = v.clone();
            s.spawn(move || {
                for _ in 0..50 {
                    assert!(v.validate_cached(t, NOW).is_ok());
                }
            });
        }
    });
}

#[test]
fn configurable_launch_claim_names() {
    use smart_auth::validator::claims::ClaimNames;
    let i = issuer();
    let names = ClaimNames {
        patient: "patient_id",
        ..ClaimNames::SMART
    };
    let v = Validator::new([i.config().claim_names(names)]).unwrap();
    let ctx = check(&v, &i.token(NOW).claim("patient_id", "p9").sign()).unwrap();
    assert_eq!(ctx.launch().patient, Some("p9"));
    // The renamed claim keeps the same strict shape rules.
    assert_eq!(
        check(&v, &i.token(NOW).claim("patient_id", json!(["p9"])).sign()),
        Err(TokenError::InvalidClaim("patient_id"))
    );
    // The SMART name is then just another claim, never read as the patient.
    let ctx = check(&v, &i.token(NOW).patient("other").sign()).unwrap();
    assert_eq!(ctx.launch().patient, None);
}

#[test]
fn header_rules_are_per_issuer() {
    // A legacy issuer (typ JWT) next to a strict one: each token is judged by its own issuer.
    let strict = TestIssuer::with_key(
        "https://strict.example",
        AUD,
        TestKey::new(Algorithm::ES256),
    );
    let legacy = TestIssuer::with_key(
        "https://legacy.example",
        AUD,
        TestKey::alternate(Algorithm::ES256),
    );
    let v = Validator::new([
        strict.config(),
        legacy.config().typ(TypPolicy::AccessTokenOrLegacy),
    ])
    .unwrap();
    assert!(check(&v, &legacy.token(NOW).header("typ", "JWT").sign()).is_ok());
    assert!(check(&v, &strict.token(NOW).sign()).is_ok());
    assert_eq!(
        check(&v, &strict.token(NOW).header("typ", "JWT").sign()),
        Err(TokenError::WrongType)
    );
    // The strict issuer's key cannot be used to pass a legacy-typed token.
    let forged = strict
        .token(NOW)
        .header("typ", "JWT")
        .claim("iss", "https://legacy.example")
        .sign();
    assert!(check(&v, &forged).is_err());
}

/// CVE-2022-21449 ("psychic signatures"): ECDSA signatures with r or s zero or equal to the
/// group order must never verify.
#[test]
fn psychic_ecdsa_signatures_refused() {
    const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    const P384_N: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    for (alg, n) in [
        (Algorithm::ES256, hex(P256_N)),
        (Algorithm::ES384, hex(P384_N)),
    ] {
        let i = TestIssuer::with_key(ISS, AUD, TestKey::new(alg));
        let v = Validator::new([i.config().algorithms(AlgorithmSet::ASYMMETRIC)]).unwrap();
        let token = i.token(NOW).sign();
        assert!(check(&v, &token).is_ok());
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = b64::decode(sig).unwrap();
        let half = sig.len() / 2;
        let zero = vec![0u8; half];
        let forged = [
            [zero.clone(), zero.clone()].concat(),
            [n.clone(), n.clone()].concat(),
            [zero.clone(), sig[half..].to_vec()].concat(),
            [sig[..half].to_vec(), zero.clone()].concat(),
            [n.clone(), sig[half..].to_vec()].concat(),
        ];
        for f in forged {
            let t = format!("{input}.{}", b64::encode(&f));
            assert_eq!(check(&v, &t), Err(TokenError::BadSignature), "{alg:?}");
        }
    }
}
