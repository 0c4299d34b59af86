//! The claim rules of the JWT access-token validator (smart.md §3.3-§3.4: audience, time,
//! lifetime, claim types, scope claims, strict JSON and size caps), one test each.

use serde_json::json;
use smart_auth::testing::TestIssuer;
use smart_auth::time::{Leeway, MaxLifetime};
use smart_auth::validator::{ClaimProfile, ConfigError, ScopeClaim};
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
fn audience_rules() {
    let i = issuer();
    let v = i.validator();
    assert!(check(&v, &i.token(NOW).claim("aud", json!(["other", AUD])).sign()).is_ok());
    for aud in [
        json!("https://fhir.example.org/r4/"),
        json!("https://FHIR.example.org/r4"),
        json!(["other"]),
        json!("https://fhir.example.org"),
    ] {
        assert_eq!(
            check(&v, &i.token(NOW).claim("aud", aud.clone()).sign()),
            Err(TokenError::WrongAudience),
            "{aud}"
        );
    }
    for aud in [json!([]), json!(1), json!([AUD, 1]), json!({"a": AUD})] {
        assert_eq!(
            check(&v, &i.token(NOW).claim("aud", aud.clone()).sign()),
            Err(TokenError::InvalidClaim("aud")),
            "{aud}"
        );
    }
    assert_eq!(
        check(&v, &i.token(NOW).without("aud").sign()),
        Err(TokenError::MissingClaim("aud"))
    );
    // An empty configured audience (an unset variable, say) would accept `"aud": ""`.
    assert_eq!(
        Validator::new([i.config().audience("")]).err(),
        Some(ConfigError::NoAudience(ISS.to_owned()))
    );
}

#[test]
fn time_rules_with_leeway() {
    let i = issuer();
    let v = i.validator(); // leeway 30 s
    let at = |t: i64| i.token(UnixTime::from_secs(t));
    // exp required.
    assert_eq!(
        check(&v, &at(NOW.as_secs()).without("exp").sign()),
        Err(TokenError::MissingClaim("exp"))
    );
    // exp = now - 29 passes with 30 s leeway, now - 30 does not.
    let n = NOW.as_secs();
    assert!(check(&v, &at(n - 329).sign()).is_ok());
    assert_eq!(check(&v, &at(n - 330).sign()), Err(TokenError::Expired));
    // nbf.
    assert!(check(&v, &at(n).claim("nbf", n + 30).sign()).is_ok());
    assert_eq!(
        check(&v, &at(n).claim("nbf", n + 31).sign()),
        Err(TokenError::NotYetValid)
    );
    // iat in the future.
    assert!(check(&v, &at(n + 30).sign()).is_ok());
    assert_eq!(check(&v, &at(n + 31).sign()), Err(TokenError::BadIssueTime));
    // iat required under RFC 9068, optional when relaxed.
    assert_eq!(
        check(&v, &at(n).without("iat").sign()),
        Err(TokenError::MissingClaim("iat"))
    );
    let relaxed = Validator::new([i.config().profile(ClaimProfile::Relaxed)]).unwrap();
    assert!(check(
        &relaxed,
        &at(n)
            .without("iat")
            .without("jti")
            .without("sub")
            .without("client_id")
            .sign()
    )
    .is_ok());
    // Zero leeway.
    let strict = Validator::new([i.config().leeway(Leeway::ZERO)]).unwrap();
    assert_eq!(
        check(&strict, &at(n - 300).sign()),
        Err(TokenError::Expired)
    );
}

#[test]
fn maximum_lifetime() {
    let i = issuer();
    let v = Validator::new([i
        .config()
        .max_lifetime(Some(MaxLifetime::from_secs(3600).unwrap()))])
    .unwrap();
    assert!(check(&v, &i.token(NOW).expires_in(3600).sign()).is_ok());
    assert_eq!(
        check(&v, &i.token(NOW).expires_in(7200).sign()),
        Err(TokenError::LifetimeTooLong)
    );
    let relaxed = Validator::new([i
        .config()
        .max_lifetime(Some(MaxLifetime::from_secs(3600).unwrap()))
        .profile(ClaimProfile::Relaxed)])
    .unwrap();
    let no_iat = i
        .token(NOW)
        .without("iat")
        .claim("exp", NOW.as_secs() + 7200)
        .sign();
    assert_eq!(check(&relaxed, &no_iat), Err(TokenError::LifetimeTooLong));
}

#[test]
fn claim_type_confusion() {
    let i = issuer();
    let v = i.validator();
    for (name, value) in [
        ("exp", json!("9999999999")),
        ("exp", json!(true)),
        ("exp", json!(null)),
        ("exp", json!(-1)),
        ("exp", json!(1e300)),
        ("nbf", json!("0")),
        ("iat", json!([1])),
        ("patient", json!(["123"])),
        ("patient", json!({"id": "123"})),
        ("patient", json!("Patient/123")),
        ("patient", json!("")),
        ("encounter", json!(7)),
        ("fhirUser", json!(["Practitioner/1"])),
        ("fhirUser", json!("Observation/1")),
        ("fhirContext", json!({"reference": "Patient/1"})),
        ("fhirContext", json!([{"type": "Patient"}])),
        (
            "fhirContext",
            json!([{"reference": "Patient/1", "role": ""}]),
        ),
        (
            "fhirContext",
            json!([{"reference": "https://evil/Patient/1"}]),
        ),
        ("scope", json!(["patient/*.rs"])),
        ("scp", json!(["patient/*.rs"])),
        ("sub", json!(1)),
        ("client_id", json!(null)),
        ("jti", json!({})),
    ] {
        let e = check(&v, &i.token(NOW).claim(name, value.clone()).sign()).unwrap_err();
        assert!(
            matches!(e, TokenError::InvalidClaim(_)),
            "{name}={value}: {e:?}"
        );
    }
    for name in ["sub", "client_id", "jti"] {
        assert_eq!(
            check(&v, &i.token(NOW).without(name).sign()),
            Err(TokenError::MissingClaim(name))
        );
    }
}

#[test]
fn scp_array_only_when_configured() {
    let i = issuer();
    let v = Validator::new([i.config().scope_claim(ScopeClaim::ScopeOrScp)]).unwrap();
    let ctx = check(
        &v,
        &i.token(NOW)
            .claim("scp", json!(["patient/*.rs", "openid"]))
            .sign(),
    )
    .unwrap();
    assert_eq!(
        *ctx.scopes(),
        smart_auth::ScopeSet::parse("patient/*.rs openid")
    );
    let both = i
        .token(NOW)
        .scope("openid")
        .claim("scp", json!(["patient/*.rs"]))
        .sign();
    assert_eq!(check(&v, &both), Err(TokenError::InvalidClaim("scope")));
    let bad = i.token(NOW).claim("scp", json!(["a b"])).sign();
    assert_eq!(check(&v, &bad), Err(TokenError::InvalidClaim("scope")));
}

#[test]
fn host_scope_policy_is_applied() {
    use smart_auth::scope::{LevelMixing, ScopePolicy, ScopeRejection, VersionMixing};
    let i = issuer();
    let mixed = i
        .token(NOW)
        .scope("patient/Observation.read patient/Patient.rs")
        .patient("123")
        .sign();
    // The default policy maps v1 to v2 and takes the union.
    let ctx = check(&i.validator(), &mixed).unwrap();
    assert_eq!(ctx.scopes().rejection(), None);
    assert_eq!(ctx.scopes().iter().count(), 2);

    // A host that refuses v1 + v2 in one grant gets the rejection on the context.
    let mut strict = ScopePolicy::default();
    strict.version_mixing = VersionMixing::Reject;
    let v = Validator::new([i.config().scope_policy(strict)]).unwrap();
    let ctx = check(&v, &mixed).unwrap();
    assert_eq!(
        ctx.scopes().rejection(),
        Some(ScopeRejection::MixedVersions)
    );
    assert_eq!(
        ctx.scopes().iter().count(),
        0,
        "a rejected grant grants nothing"
    );

    // Level mixing: refused by default, allowed when the host says so.
    let levels = i
        .token(NOW)
        .scope("system/Observation.rs patient/Patient.rs")
        .patient("123")
        .sign();
    let ctx = check(&i.validator(), &levels).unwrap();
    assert_eq!(ctx.scopes().rejection(), Some(ScopeRejection::MixedLevels));
    let mut allow = ScopePolicy::default();
    allow.level_mixing = LevelMixing::Allow;
    let v = Validator::new([i.config().scope_policy(allow)]).unwrap();
    let ctx = check(&v, &levels).unwrap();
    assert_eq!(ctx.scopes().rejection(), None);
    assert_eq!(ctx.scopes().iter().count(), 2);

    // Comma separators only when configured.
    let commas = i
        .token(NOW)
        .scope("patient/Observation.rs,patient/Patient.rs")
        .patient("123")
        .sign();
    assert_eq!(
        check(&i.validator(), &commas)
            .unwrap()
            .scopes()
            .iter()
            .count(),
        0
    );
    let mut comma = ScopePolicy::default();
    comma.comma_separators = true;
    let v = Validator::new([i.config().scope_policy(comma.clone())]).unwrap();
    assert_eq!(check(&v, &commas).unwrap().scopes().iter().count(), 2);

    // The same option on the introspection side.
    let body = br#"{"active":true,"scope":"patient/Observation.rs,patient/Patient.rs","client_id":"app","exp":1760000300,"aud":"https://fhir.example.org/r4"}"#;
    let plain = smart_auth::introspection::Introspector::new(ISS, AUD);
    assert_eq!(
        plain
            .parse_response(body, NOW)
            .unwrap()
            .scopes()
            .iter()
            .count(),
        0
    );
    let configured = plain.scope_policy(comma);
    assert_eq!(
        configured
            .parse_response(body, NOW)
            .unwrap()
            .scopes()
            .iter()
            .count(),
        2
    );
}

#[test]
fn scope_size_bounded() {
    let i = issuer();
    let many = vec!["openid"; 257].join(" ");
    assert_eq!(
        check(&i.validator(), &i.token(NOW).scope(&many).sign()),
        Err(TokenError::InvalidClaim("scope"))
    );
    // At the limits (empty runs between spaces are not scopes): accepted.
    let most = format!("  {}  ", vec!["openid"; 256].join("  "));
    assert!(check(&i.validator(), &i.token(NOW).scope(&most).sign()).is_ok());
    let longest = format!("openid __{} fhirUser", "x".repeat(1022));
    assert!(check(&i.validator(), &i.token(NOW).scope(&longest).sign()).is_ok());
    let too_long = format!("openid __{} fhirUser", "x".repeat(1023));
    assert_eq!(
        check(&i.validator(), &i.token(NOW).scope(&too_long).sign()),
        Err(TokenError::InvalidClaim("scope"))
    );
    let too_long_last = format!("openid __{}", "x".repeat(1023));
    assert_eq!(
        check(&i.validator(), &i.token(NOW).scope(&too_long_last).sign()),
        Err(TokenError::InvalidClaim("scope"))
    );
}

#[test]
fn duplicate_members_refused() {
    let i = issuer();
    let v = i.validator();
    let claims = serde_json::to_string(i.token(NOW).claims()).unwrap();
    let dup_claims =
        format!(r#"{{"patient":"1",{}"#, &claims[1..]).replace('}', r#","patient":"2"}"#);
    let header = br#"{"alg":"RS256","typ":"at+jwt","kid":"test-rs256-1"}"#;
    assert_eq!(
        check(&v, &i.key().sign_raw(header, dup_claims.as_bytes())),
        Err(TokenError::DuplicateMember)
    );
    let escaped = format!(r#"{{"p\u0061tient":"1","patient":"2",{}"#, &claims[1..]);
    assert_eq!(
        check(&v, &i.key().sign_raw(header, escaped.as_bytes())),
        Err(TokenError::DuplicateMember)
    );
    let dup_header = br#"{"alg":"RS256","typ":"at+jwt","kid":"test-rs256-1","alg":"none"}"#;
    assert_eq!(
        check(&v, &i.key().sign_raw(dup_header, claims.as_bytes())),
        Err(TokenError::DuplicateMember)
    );
}

#[test]
fn size_and_depth_caps() {
    let i = issuer();
    let v = i.validator();
    let huge = i.token(NOW).claim("pad", "x".repeat(9000)).sign();
    assert_eq!(check(&v, &huge), Err(TokenError::TooLarge));
    assert_eq!(
        check(&v, &"a.".repeat(1_000_000)),
        Err(TokenError::TooLarge)
    );
    assert_eq!(
        check(&v, &"a.".repeat(1000)),
        Err(TokenError::NotCompactJws)
    );
    let deep = i
        .token(NOW)
        .claim(
            "x",
            serde_json::from_str::<serde_json::Value>(&format!(
                "{}1{}",
                "[".repeat(20),
                "]".repeat(20)
            ))
            .unwrap(),
        )
        .sign();
    assert_eq!(check(&v, &deep), Err(TokenError::TooDeep));
    let big = Validator::new([i.config().max_token_len(16 * 1024)]).unwrap();
    assert!(check(&big, &huge).is_ok());
    assert!(Validator::new([i.config().max_token_len(65 * 1024)]).is_err());
}

#[test]
fn serialization_confusion() {
    let i = issuer();
    let v = i.validator();
    let t = i.token(NOW).sign();
    // JWE-like five segments, JSON serialization, empty segments.
    assert_eq!(
        check(&v, &format!("{t}.a.b")),
        Err(TokenError::NotCompactJws)
    );
    assert_eq!(
        check(&v, r#"{"payload":"e30","signatures":[]}"#),
        Err(TokenError::NotCompactJws)
    );
    assert_eq!(check(&v, ".."), Err(TokenError::NotCompactJws));
    assert_eq!(check(&v, ""), Err(TokenError::NotCompactJws));
}

#[test]
fn non_canonical_encodings() {
    let i = issuer();
    let v = i.validator();
    let t = i.token(NOW).sign();
    let (h, rest) = t.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    for bad in [
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}=.{s}"),
        format!("{h}.{p}.{s}="),
        format!(" {t}"),
        format!("{h}.{p} .{s}"),
        format!("{h}.{}.{s}", p.replace('-', "+").replace('_', "/")),
        format!("{h}.{p}.{}", s.replace('-', "+").replace('_', "/")),
    ] {
        if bad == t {
            continue;
        }
        let e = check(&v, &bad).unwrap_err();
        assert!(
            matches!(
                e,
                TokenError::InvalidBase64 | TokenError::BadSignature | TokenError::NotCompactJws
            ),
            "{bad}: {e:?}"
        );
    }
    // Non-canonical trailing bits in the signature: same bytes, different text.
    let mut sb = s.as_bytes().to_vec();
    let last = sb.len() - 1;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.iter().position(|c| *c == sb[last]).unwrap();
    sb[last] = alphabet[idx ^ 1];
    let bad = format!("{h}.{p}.{}", String::from_utf8(sb).unwrap());
    assert!(check(&v, &bad).is_err());
    // Invalid UTF-8 and lone surrogates in the claims.
    let header = br#"{"alg":"RS256","typ":"at+jwt","kid":"test-rs256-1"}"#;
    assert_eq!(
        check(&v, &i.key().sign_raw(header, b"{\"sub\":\"\xff\"}")),
        Err(TokenError::InvalidJson)
    );
    assert_eq!(
        check(&v, &i.key().sign_raw(header, br#"{"sub":"\udc00"}"#)),
        Err(TokenError::InvalidJson)
    );
}

#[test]
fn identifying_claims_may_not_be_empty_and_ids_may_not_be_dot_segments() {
    let i = issuer();
    let v = i.validator();
    // An empty `sub`, `client_id` or `jti` would make every such token one caller, one client
    // or one token id to a host that keys on them (rate limits, revocation by `jti`).
    for name in ["sub", "client_id", "jti"] {
        assert_eq!(
            check(&v, &i.token(NOW).claim(name, "").sign()).err(),
            Some(TokenError::InvalidClaim(name)),
            "{name}"
        );
    }
    // `.` and `..` match the FHIR id pattern, but as a URL's segment they name no resource: a
    // host building `Patient/{patient}` would walk up its own paths.
    for id in [".", ".."] {
        assert_eq!(
            check(&v, &i.token(NOW).patient(id).sign()).err(),
            Some(TokenError::InvalidClaim("patient")),
            "{id}"
        );
        assert_eq!(
            check(&v, &i.token(NOW).fhir_user(&format!("Patient/{id}")).sign()).err(),
            Some(TokenError::InvalidClaim("fhirUser")),
            "{id}"
        );
    }
    assert!(check(&v, &i.token(NOW).patient("a.b").sign()).is_ok());
}
