//! Property tests: no mutation of a valid token's bytes is accepted unless it is a no-op, and
//! no input whatsoever makes the validator panic.

use proptest::prelude::*;
use smart_auth::jose::{Algorithm, AlgorithmSet};
use smart_auth::testing::{TestIssuer, TestKey};
use smart_auth::{UnixTime, Validator};

const NOW: UnixTime = UnixTime::from_secs(1_760_000_000);

struct Fixture {
    validator: Validator,
    tokens: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let algs = [
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::EdDSA,
            Algorithm::PS384,
        ];
        let issuers: Vec<TestIssuer> = algs
            .iter()
            .map(|a| {
                TestIssuer::with_key(
                    &format!("https://as-{a}.example"),
                    "https://fhir.example/r4",
                    TestKey::new(*a),
                )
            })
            .collect();
        let validator = Validator::new(
            issuers
                .iter()
                .map(|i| i.config().algorithms(AlgorithmSet::ASYMMETRIC)),
        )
        .unwrap();
        let tokens = issuers
            .iter()
            .map(|i| i.token(NOW).scope("patient/*.rs").patient("123").sign())
            .collect::<Vec<_>>();
        for t in &tokens {
            validator
                .validate(t, NOW)
                .expect("fixture tokens are valid");
        }
        Fixture { validator, tokens }
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Replace { at: usize, byte: u8 },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
    Swap { a: usize, b: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Replace { at, byte }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap { a, b }),
    ]
}

fn apply(token: &str, m: &Mutation) -> Vec<u8> {
    let mut b = token.as_bytes().to_vec();
    let n = b.len();
    match *m {
        Mutation::Flip { at, bit } => b[at % n] ^= 1 << bit,
        Mutation::Replace { at, byte } => b[at % n] = byte,
        Mutation::Insert { at, byte } => b.insert(at % (n + 1), byte),
        Mutation::Delete { at } => {
            b.remove(at % n);
        }
        Mutation::Swap { a, b: c } => b.swap(a % n, c % n),
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn mutations_are_rejected_unless_no_op(which in 0usize..4, m in mutation()) {
        let f = fixture();
        let original = &f.tokens[which];
        let mutated = apply(original, &m);
        if mutated != original.as_bytes() {
            // Non-UTF-8 bytes cannot even reach the validator as a &str.
            if let Ok(text) = std::str::from_utf8(&mutated) {
                prop_assert!(f.validator.validate(text, NOW).is_err(), "{:?} accepted", m);
            }
        } else {
            prop_assert!(f.validator.validate(original, NOW).is_ok());
        }
    }

    #[test]
    fn multiple_mutations_are_rejected(which in 0usize..4, ms in proptest::collection::vec(mutation(), 2..6)) {
        let f = fixture();
        let original = &f.tokens[which];
        let mut bytes = original.as_bytes().to_vec();
        for m in &ms {
            bytes = apply(std::str::from_utf8(&bytes).unwrap_or(original), m);
        }
        if bytes != original.as_bytes() {
            if let Ok(text) = std::str::from_utf8(&bytes) {
                prop_assert!(f.validator.validate(text, NOW).is_err());
            }
        }
    }

    #[test]
    fn arbitrary_input_never_panics(s in "\\PC{0,300}") {
        let _ = fixture().validator.validate(&s, NOW);
    }

    #[test]
    fn arbitrary_segments_never_panic(h in "[A-Za-z0-9_-]{0,80}", p in "[A-Za-z0-9_-]{0,200}", sig in "[A-Za-z0-9_-]{0,120}") {
        let _ = fixture().validator.validate(&format!("{h}.{p}.{sig}"), NOW);
        let _ = fixture().validator.validate(&format!("eyJhbGciOiJSUzI1NiJ9.{p}.{sig}"), NOW);
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[A-Za-z0-9_+/=.-]{0,40}".prop_map(Value::String),
        Just(Value::String("AA".into())),
        Just(Value::String("AQAB".into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("kty".to_owned()),
                    Just("crv".to_owned()),
                    Just("n".to_owned()),
                    Just("e".to_owned()),
                    Just("x".to_owned()),
                    Just("y".to_owned()),
                    Just("alg".to_owned()),
                    Just("kid".to_owned()),
                    Just("use".to_owned()),
                    Just("key_ops".to_owned()),
                    "[a-z]{1,5}"
                ],
                inner,
                0..8,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn hostile_jwks_and_proofs_never_panic(v in json_value(), kty in prop_oneof![Just("RSA"), Just("EC"), Just("OKP")]) {
        use smart_auth::jose::b64;
        let mut jwk = v.clone();
        if let Some(o) = jwk.as_object_mut() {
            o.insert("kty".into(), kty.into());
        }
        let doc = serde_json::json!({"keys": [jwk.clone(), v.clone()]}).to_string();
        let _ = smart_auth::jwks::JwkSet::parse(doc.as_bytes());
        if let Some(o) = jwk.as_object() {
            let _ = smart_auth::jwk::Jwk::from_object(o);
        }
        // A DPoP proof carrying the hostile key, and an introspection response built from it.
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}).to_string();
        let proof = format!("{}.{}.{}", b64::encode(header.as_bytes()), b64::encode(v.to_string().as_bytes()), b64::encode(&[1; 64]));
        let req = smart_auth::dpop::DpopRequest { method: "GET", uri: "https://x.example/a", access_token: None, expected_jkt: None, nonce: None };
        let store = smart_auth::replay::InMemoryReplayStore::new(16);
        let _ = smart_auth::dpop::DpopValidator::new().validate_proof(&proof, &req, &store, NOW);
        let mut resp = v.clone();
        if let Some(o) = resp.as_object_mut() {
            o.insert("active".into(), true.into());
        }
        let _ = smart_auth::introspection::Introspector::new("https://as", "https://rs").parse_response(resp.to_string().as_bytes(), NOW);
    }
}
