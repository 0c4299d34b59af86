//! Token forgery and confusion (threats.md §2): every row sends a forged, confused or
//! malformed credential to a resource the genuine token may read, and must get the uniform
//! 401 `invalid_token` (or the RFC 6750 400 / bare 401 where the request itself is malformed).

use serde_json::{json, Map, Value};
use smart_auth::jose::{b64, Algorithm};
use smart_auth::testing::{TestIssuer, TestKey};

use super::server::{now, ALICE, AUDIENCE, ISSUER};
use super::{case, Case, Class, Expect};

const TARGET: &str = "/Patient/alice";
const SCOPE: &str = "patient/*.rs";

/// Alice's genuine claims.
fn claims(iss: &TestIssuer) -> Map<String, Value> {
    iss.token(now())
        .scope(SCOPE)
        .patient(ALICE)
        .fhir_user("Patient/alice")
        .claims()
        .clone()
}

fn header(iss: &TestIssuer) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert("alg".into(), "RS256".into());
    h.insert("typ".into(), "at+jwt".into());
    if let Some(k) = iss.key().kid() {
        h.insert("kid".into(), k.into());
    }
    h
}

fn sign(iss: &TestIssuer, h: &Map<String, Value>, c: &Map<String, Value>) -> String {
    iss.key().sign_raw(
        &serde_json::to_vec(h).unwrap_or_default(),
        &serde_json::to_vec(c).unwrap_or_default(),
    )
}

fn with_claim(iss: &TestIssuer, name: &str, v: Value) -> String {
    let mut c = claims(iss);
    c.insert(name.into(), v);
    sign(iss, &header(iss), &c)
}

fn without_claim(iss: &TestIssuer, name: &str) -> String {
    let mut c = claims(iss);
    c.remove(name);
    sign(iss, &header(iss), &c)
}

fn with_header(iss: &TestIssuer, name: &str, v: Value) -> String {
    let mut h = header(iss);
    h.insert(name.into(), v);
    sign(iss, &h, &claims(iss))
}

fn seg(v: &impl serde::Serialize) -> String {
    b64::encode(&serde_json::to_vec(v).unwrap_or_default())
}

fn unsigned(iss: &TestIssuer, alg: &str, trailing_dot: bool) -> String {
    let h = json!({"alg": alg, "typ": "at+jwt"});
    let dot = if trailing_dot { "." } else { "" };
    format!("{}.{}{dot}", seg(&h), seg(&claims(iss)))
}

fn genuine(iss: &TestIssuer) -> String {
    sign(iss, &header(iss), &claims(iss))
}

fn hmac_with(secret_key: TestKey, iss: &TestIssuer) -> String {
    let h = json!({"alg": secret_key.alg().name(), "typ": "at+jwt", "kid": iss.key().kid()});
    secret_key.sign_raw(
        h.to_string().as_bytes(),
        &serde_json::to_vec(&claims(iss)).unwrap_or_default(),
    )
}

/// Signs Alice's claims with a key the server does not trust, naming the trusted kid.
fn foreign_key(iss: &TestIssuer) -> String {
    let other = TestKey::alternate(Algorithm::RS256).with_kid(iss.key().kid());
    let h = json!({"alg": "RS256", "typ": "at+jwt", "kid": iss.key().kid()});
    other.sign_raw(
        h.to_string().as_bytes(),
        &serde_json::to_vec(&claims(iss)).unwrap_or_default(),
    )
}

fn rewrite_segment(token: &str, i: usize, f: impl Fn(&str) -> String) -> String {
    token
        .split('.')
        .enumerate()
        .map(|(n, s)| if n == i { f(s) } else { s.to_owned() })
        .collect::<Vec<_>>()
        .join(".")
}

fn raw_claims(iss: &TestIssuer, json_text: &str) -> String {
    iss.key().sign_raw(
        &serde_json::to_vec(&header(iss)).unwrap_or_default(),
        json_text.as_bytes(),
    )
}

fn c(name: &'static str, build: fn(&TestIssuer) -> String) -> Case {
    case(name, Class::TokenForgery, Expect::InvalidToken)
        .get(TARGET)
        .token(build)
}

/// The table.
pub fn cases() -> Vec<Case> {
    let tf = Class::TokenForgery;
    vec![
        // Controls: the genuine token and its legitimate variants are accepted.
        case(
            "control.genuine-token-reads-own-patient",
            tf,
            Expect::Ok(&["Patient/alice"]),
        )
        .get(TARGET)
        .token(genuine),
        case(
            "control.scheme-is-case-insensitive",
            tf,
            Expect::Ok(&["Patient/alice"]),
        )
        .get(TARGET)
        .authorization_with(|i| format!("bEaReR {}", genuine(i))),
        case(
            "control.aud-array-containing-us",
            tf,
            Expect::Ok(&["Patient/alice"]),
        )
        .get(TARGET)
        .token(|i| with_claim(i, "aud", json!(["https://other.example", AUDIENCE]))),
        // §2.1 alg none
        c("token.alg-none-rejected", |i| unsigned(i, "none", true)),
        c("token.alg-none-mixed-case-rejected", |i| {
            unsigned(i, "nOnE", true)
        }),
        c("token.alg-none-without-signature-segment-rejected", |i| {
            unsigned(i, "none", false)
        }),
        c("token.stripped-signature-rejected", |i| {
            rewrite_segment(&genuine(i), 2, |_| String::new())
        }),
        // §2.2 algorithm confusion
        c("token.hs256-keyed-with-public-jwks-rejected", |i| {
            // The classic confusion: HMAC "keyed" with the published public key document.
            let h = json!({"alg": "HS256", "typ": "at+jwt", "kid": i.key().kid()});
            let input = format!("{}.{}", seg(&h), seg(&claims(i)));
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, i.jwks_json().as_bytes());
            let tag = ring::hmac::sign(&key, input.as_bytes());
            format!("{input}.{}", b64::encode(tag.as_ref()))
        }),
        c("token.hs512-shared-secret-rejected", |i| {
            hmac_with(TestKey::new(Algorithm::HS512), i)
        }),
        c("token.es256-header-on-rsa-key-rejected", |i| {
            with_header(i, "alg", json!("ES256"))
        }),
        c("token.ps256-not-allowlisted-rejected", |i| {
            with_header(i, "alg", json!("PS256"))
        }),
        // §2.3 psychic / malformed signatures
        c("token.all-zero-signature-rejected", |i| {
            rewrite_segment(&genuine(i), 2, |s| {
                b64::encode(&vec![0u8; b64::decode(s).map_or(256, |v| v.len())])
            })
        }),
        c("token.signature-of-another-token-rejected", |i| {
            let other = i.token(now()).scope("system/*.*").sign();
            let sig = other.rsplit('.').next().unwrap_or_default().to_owned();
            rewrite_segment(&genuine(i), 2, move |_| sig.clone())
        }),
        // §2.4 header-supplied keys
        c("token.embedded-jwk-of-attacker-rejected", |i| {
            let attacker = TestKey::alternate(Algorithm::RS256);
            let h = json!({"alg":"RS256","typ":"at+jwt","jwk": attacker.public_jwk_json()});
            attacker.sign_raw(
                h.to_string().as_bytes(),
                &serde_json::to_vec(&claims(i)).unwrap_or_default(),
            )
        }),
        c("token.x5c-chain-rejected", |i| {
            with_header(
                i,
                "x5c",
                json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
            )
        }),
        // §2.5 kid injection
        c("token.kid-path-traversal-rejected", |i| {
            with_header(i, "kid", json!("../../../../etc/passwd"))
        }),
        c("token.kid-sql-fragment-rejected", |i| {
            with_header(i, "kid", json!("x' OR '1'='1"))
        }),
        c("token.kid-oversized-rejected", |i| {
            with_header(i, "kid", json!("k".repeat(300)))
        }),
        c("token.kid-unknown-rejected", |i| {
            with_header(i, "kid", json!("no-such-key"))
        }),
        c("token.kid-not-a-string-rejected", |i| {
            with_header(i, "kid", json!(7))
        }),
        // §2.6 / §2.16 wrong or self-minted keys
        c(
            "token.signed-by-untrusted-key-with-trusted-kid-rejected",
            foreign_key,
        ),
        // §2.7 critical headers
        c("token.crit-unknown-extension-rejected", |i| {
            let mut h = header(i);
            h.insert("crit".into(), json!(["urn:x"]));
            h.insert("urn:x".into(), json!(true));
            sign(i, &h, &claims(i))
        }),
        c("token.b64-false-unencoded-payload-rejected", |i| {
            let mut h = header(i);
            h.insert("b64".into(), json!(false));
            h.insert("crit".into(), json!(["b64"]));
            sign(i, &h, &claims(i))
        }),
        // §2.8 cross-JWT confusion
        c("token.typ-jwt-rejected", |i| {
            with_header(i, "typ", json!("JWT"))
        }),
        c("token.typ-dpop-proof-rejected", |i| {
            with_header(i, "typ", json!("dpop+jwt"))
        }),
        c("token.typ-missing-rejected", |i| {
            let mut h = header(i);
            h.remove("typ");
            sign(i, &h, &claims(i))
        }),
        c("token.id-token-as-access-token-rejected", |i| {
            let mut h = header(i);
            h.insert("typ".into(), json!("JWT"));
            let mut c = claims(i);
            c.insert("aud".into(), json!("test-client"));
            c.insert("nonce".into(), json!("n-1"));
            sign(i, &h, &c)
        }),
        // §2.9 issuer and audience confusion
        c("token.unknown-issuer-rejected", |i| {
            with_claim(i, "iss", json!("https://evil.example"))
        }),
        c("token.issuer-trailing-slash-rejected", |i| {
            with_claim(i, "iss", json!(format!("{ISSUER}/")))
        }),
        c("token.issuer-case-changed-rejected", |i| {
            with_claim(i, "iss", json!(ISSUER.to_uppercase()))
        }),
        c("token.issuer-as-array-rejected", |i| {
            with_claim(i, "iss", json!([ISSUER]))
        }),
        c("token.wrong-audience-rejected", |i| {
            with_claim(i, "aud", json!("https://other.example/fhir"))
        }),
        c("token.audience-prefix-rejected", |i| {
            with_claim(i, "aud", json!(format!("{AUDIENCE}/extra")))
        }),
        c("token.audience-array-without-us-rejected", |i| {
            with_claim(i, "aud", json!(["https://a.example", "https://b.example"]))
        }),
        c("token.audience-missing-rejected", |i| {
            without_claim(i, "aud")
        }),
        // §2.10 claim type confusion, times
        c("token.expired-rejected", |i| {
            let mut c = claims(i);
            c.insert("iat".into(), json!(now().as_secs() - 7200));
            c.insert("exp".into(), json!(now().as_secs() - 3600));
            sign(i, &header(i), &c)
        }),
        c("token.not-yet-valid-rejected", |i| {
            with_claim(i, "nbf", json!(now().as_secs() + 3600))
        }),
        c("token.issued-in-the-future-rejected", |i| {
            let mut c = claims(i);
            c.insert("iat".into(), json!(now().as_secs() + 3600));
            c.insert("exp".into(), json!(now().as_secs() + 7200));
            sign(i, &header(i), &c)
        }),
        c("token.exp-as-string-rejected", |i| {
            with_claim(i, "exp", json!("99999999999"))
        }),
        c("token.exp-as-huge-float-rejected", |i| {
            with_claim(i, "exp", json!(1e300))
        }),
        c("token.exp-missing-rejected", |i| without_claim(i, "exp")),
        c("token.patient-as-array-rejected", |i| {
            with_claim(i, "patient", json!([ALICE, "zz-b-bob"]))
        }),
        c("token.patient-as-object-rejected", |i| {
            with_claim(i, "patient", json!({"id": ALICE}))
        }),
        c("token.scope-as-number-rejected", |i| {
            with_claim(i, "scope", json!(7))
        }),
        c("token.sub-missing-rejected", |i| without_claim(i, "sub")),
        c("token.client-id-missing-rejected", |i| {
            without_claim(i, "client_id")
        }),
        // §2.11 duplicates (parser differentials)
        c("token.duplicate-patient-claim-rejected", |i| {
            let mut text = serde_json::to_string(&claims(i)).unwrap_or_default();
            text.pop();
            text.push_str(r#","patient":"zz-b-bob"}"#);
            raw_claims(i, &text)
        }),
        c("token.escaped-duplicate-claim-rejected", |i| {
            let mut text = serde_json::to_string(&claims(i)).unwrap_or_default();
            text.pop();
            text.push_str(r#","p\u0061tient":"zz-b-bob"}"#);
            raw_claims(i, &text)
        }),
        c("token.duplicate-alg-header-rejected", |i| {
            let h = format!(
                r#"{{"alg":"RS256","alg":"none","typ":"at+jwt","kid":{:?}}}"#,
                i.key().kid().unwrap_or("")
            );
            i.key().sign_raw(
                h.as_bytes(),
                &serde_json::to_vec(&claims(i)).unwrap_or_default(),
            )
        }),
        // §2.12–2.14 structure and encodings
        c("token.jwe-five-segments-rejected", |_| {
            format!(
                "{}.AAAA.AAAA.AAAA.AAAA",
                seg(&json!({"alg":"RSA-OAEP","enc":"A256GCM"}))
            )
        }),
        c("token.nested-cty-jwt-rejected", |i| {
            with_header(i, "cty", json!("JWT"))
        }),
        c("token.zip-compressed-rejected", |i| {
            with_header(i, "zip", json!("DEF"))
        }),
        case(
            "token.base64-padding-inside-is-not-token68",
            tf,
            Expect::InvalidRequest,
        )
        .get(TARGET)
        .token(|i| rewrite_segment(&genuine(i), 1, |s| format!("{s}=="))),
        c("token.base64-padding-rejected", |i| {
            format!("{}==", genuine(i))
        }),
        c("token.non-url-safe-alphabet-rejected", |i| {
            rewrite_segment(&genuine(i), 2, |s| {
                s.replace('-', "+").replace('_', "/") + "+/"
            })
        }),
        c("token.lone-surrogate-in-claims-rejected", |i| {
            raw_claims(
                i,
                &serde_json::to_string(&claims(i))
                    .unwrap_or_default()
                    .replacen('{', r#"{"x":"\ud800","#, 1),
            )
        }),
        c("token.bom-before-claims-rejected", |i| {
            raw_claims(
                i,
                &format!(
                    "\u{feff}{}",
                    serde_json::to_string(&claims(i)).unwrap_or_default()
                ),
            )
        }),
        c("token.deeply-nested-claims-rejected", |i| {
            // Raw text: serde_json itself would not build a value this deep.
            let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
            let mut text = serde_json::to_string(&claims(i)).unwrap_or_default();
            text.pop();
            text.push_str(&format!(r#","x":{deep}}}"#));
            raw_claims(i, &text)
        }),
        c("token.oversized-token-rejected", |i| {
            with_claim(i, "pad", json!("A".repeat(9000)))
        }),
        c("token.random-three-segments-rejected", |_| {
            "abc.def.ghi".to_owned()
        }),
        // §2.15 sender-constrained token replayed as a bearer token
        c("token.dpop-bound-token-as-bearer-rejected", |i| {
            with_claim(
                i,
                "cnf",
                json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
            )
        }),
        // §2.20 fail-open on missing context
        c("token.patient-scope-without-patient-claim-rejected", |i| {
            without_claim(i, "patient")
        }),
        // RFC 6750 §2: credential transport
        case(
            "token.no-credentials-bare-challenge",
            tf,
            Expect::NoCredentials,
        )
        .get(TARGET),
        case(
            "token.basic-scheme-is-no-bearer-credential",
            tf,
            Expect::NoCredentials,
        )
        .get(TARGET)
        .authorization("Basic YWxpY2U6c2VjcmV0"),
        case(
            "token.bearer-without-token-invalid-request",
            tf,
            Expect::InvalidRequest,
        )
        .get(TARGET)
        .authorization("Bearer"),
        case(
            "token.bearer-two-tokens-invalid-request",
            tf,
            Expect::InvalidRequest,
        )
        .get(TARGET)
        .authorization("Bearer abc def"),
        case("token.in-query-string-refused", tf, Expect::InvalidRequest)
            .get(format!("{TARGET}?access_token=eyJhbGciOiJub25lIn0.e30.")),
        case(
            "token.two-authorization-headers-invalid-request",
            tf,
            Expect::InvalidRequest,
        )
        .get(TARGET)
        .token(genuine)
        .header("Authorization", "Bearer abc.def.ghi"),
    ]
}
