//! Generated seed inputs: valid test tokens and one hostile variant per token-attack class of
//! `shared/specs/threats.md` §2, so the fuzzer starts next to every interesting branch.

use serde_json::{json, Value};
use smart_auth::jose::{b64, Algorithm};
use smart_auth::testing::TestKey;
use smart_auth::UnixTime;

use crate::harness::token::{AUDIENCE, FIXTURE, NOW};

type Seed = (&'static str, String, Vec<u8>);

fn seg(v: &Value) -> String {
    b64::encode(v.to_string().as_bytes())
}

/// Every generated seed: (target, file name, bytes).
pub fn generated() -> Vec<Seed> {
    let mut out = Vec::new();
    tokens(&mut out);
    claims(&mut out);
    jwks(&mut out);
    scopes(&mut out);
    heads(&mut out);
    fhir(&mut out);
    audit(&mut out);
    requests(&mut out);
    authentication(&mut out);
    checkpoints(&mut out);
    out
}

fn tokens(out: &mut Vec<Seed>) {
    let f = &*FIXTURE;
    let now = UnixTime::from_secs(NOW);
    let mut add = |name: &str, token: String| {
        out.push(("token_validate", name.to_owned(), token.into_bytes()));
    };
    let valid = f
        .eddsa
        .token(now)
        .scope("patient/*.rs")
        .patient("123")
        .sign();
    add("valid-eddsa", valid.clone());
    add(
        "valid-rs256",
        f.rsa
            .token(now)
            .scope("user/*.cruds")
            .fhir_user("Practitioner/1")
            .sign(),
    );
    add(
        "valid-es256",
        f.ec.token(now).scope("system/Patient.r").sign(),
    );
    let parts: Vec<&str> = valid.split('.').collect();
    add(
        "alg-none",
        format!(
            "{}.{}.",
            seg(&json!({"alg":"none","typ":"at+jwt"})),
            parts[1]
        ),
    );
    add(
        "alg-NoNe-nosig",
        format!("{}.{}", seg(&json!({"alg":"NoNe"})), parts[1]),
    );
    add("stripped-signature", format!("{}.{}.", parts[0], parts[1]));
    add(
        "five-segments-jwe",
        format!(
            "{}.a.b.c.d",
            seg(&json!({"alg":"RSA-OAEP","enc":"A256GCM"}))
        ),
    );
    add("padded", format!("{}=.{}.{}", parts[0], parts[1], parts[2]));
    add(
        "whitespace",
        format!("{} .{}.{}", parts[0], parts[1], parts[2]),
    );
    add("std-alphabet", valid.replace('-', "+").replace('_', "/"));
    let hs = TestKey::new(Algorithm::HS256);
    let claims = f.eddsa.token(now).patient("123").claims().clone();
    let claims_bytes = serde_json::to_vec(&claims).unwrap_or_default();
    add(
        "hs256-confusion",
        hs.sign_raw(br#"{"alg":"HS256","typ":"at+jwt"}"#, &claims_bytes),
    );
    let key = f.eddsa.key();
    for (name, header) in [
        (
            "jku",
            json!({"alg":"EdDSA","typ":"at+jwt","jku":"http://169.254.169.254/keys"}),
        ),
        (
            "jwk",
            json!({"alg":"EdDSA","typ":"at+jwt","jwk":key.public_jwk_json()}),
        ),
        (
            "x5u",
            json!({"alg":"EdDSA","typ":"at+jwt","x5u":"https://evil.example/c.pem"}),
        ),
        (
            "crit",
            json!({"alg":"EdDSA","typ":"at+jwt","crit":["exp"],"exp":1}),
        ),
        (
            "b64-false",
            json!({"alg":"EdDSA","typ":"at+jwt","b64":false,"crit":["b64"]}),
        ),
        ("cty-jwt", json!({"alg":"EdDSA","typ":"at+jwt","cty":"JWT"})),
        ("zip", json!({"alg":"EdDSA","typ":"at+jwt","zip":"DEF"})),
        ("typ-jwt", json!({"alg":"EdDSA","typ":"JWT"})),
        ("typ-dpop", json!({"alg":"EdDSA","typ":"dpop+jwt"})),
        (
            "kid-path",
            json!({"alg":"EdDSA","typ":"at+jwt","kid":"../../../../etc/passwd"}),
        ),
        (
            "kid-sql",
            json!({"alg":"EdDSA","typ":"at+jwt","kid":"' OR 1=1 --"}),
        ),
        (
            "kid-huge",
            json!({"alg":"EdDSA","typ":"at+jwt","kid":"k".repeat(300)}),
        ),
        ("alg-array", json!({"alg":["EdDSA"],"typ":"at+jwt"})),
    ] {
        add(
            &format!("hdr-{name}"),
            key.sign_raw(header.to_string().as_bytes(), &claims_bytes),
        );
    }
    add(
        "dup-header-alg",
        key.sign_raw(
            br#"{"alg":"EdDSA","alg":"none","typ":"at+jwt"}"#,
            &claims_bytes,
        ),
    );
    add(
        "oversized",
        format!("{}.{}.{}", parts[0], "A".repeat(9000), parts[2]),
    );
    add("many-segments", ".".repeat(64));
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    add(
        "deep-header",
        format!("{}.{}.{}", b64::encode(deep.as_bytes()), parts[1], parts[2]),
    );
}

fn claims(out: &mut Vec<Seed>) {
    let f = &*FIXTURE;
    let base: Value = serde_json::from_slice(&f.valid_claims).unwrap_or(Value::Null);
    let mut add = |name: &str, mode: u8, body: Vec<u8>| {
        let mut bytes = vec![mode];
        bytes.extend(body);
        out.push(("token_claims", name.to_owned(), bytes));
    };
    add("valid", 0, f.valid_claims.clone());
    let variants: &[(&str, &str, Value)] = &[
        ("exp-string", "exp", json!("9999999999")),
        ("exp-bool", "exp", json!(true)),
        ("exp-huge", "exp", json!(1e300)),
        ("exp-negative", "exp", json!(-1)),
        ("exp-past", "exp", json!(NOW - 3600)),
        ("nbf-future", "nbf", json!(NOW + 3600)),
        ("iat-future", "iat", json!(NOW + 3600)),
        ("iss-array", "iss", json!(["https://as.example"])),
        ("iss-slash", "iss", json!("https://as.example/")),
        ("iss-case", "iss", json!("https://AS.example")),
        (
            "aud-array",
            "aud",
            json!([AUDIENCE, "https://other.example"]),
        ),
        ("aud-prefix", "aud", json!("https://fhir.example/r4/../r5")),
        ("aud-object", "aud", json!({"aud": AUDIENCE})),
        ("patient-array", "patient", json!(["123", "456"])),
        ("patient-object", "patient", json!({"id": "456"})),
        ("scope-array", "scope", json!(["patient/*.rs"])),
        (
            "scope-huge",
            "scope",
            json!("patient/Observation.rs ".repeat(400)),
        ),
        ("fhiruser-number", "fhirUser", json!(7)),
        ("cnf-jkt", "cnf", json!({"jkt": "abc"})),
        ("cnf-unknown", "cnf", json!({"x5t#S256": "abc", "other": 1})),
        (
            "fhircontext",
            "fhirContext",
            json!([{"reference": "Encounter/1"}, {"type": "x"}]),
        ),
    ];
    for (name, claim, value) in variants {
        let mut c = base.clone();
        if let Some(obj) = c.as_object_mut() {
            obj.insert((*claim).to_owned(), value.clone());
        }
        add(name, 0, c.to_string().into_bytes());
    }
    let mut dup = f.valid_claims.clone();
    dup.pop();
    dup.extend_from_slice(br#","patient":"456"}"#);
    add("dup-patient", 0, dup);
    add(
        "escaped-dup",
        0,
        br#"{"patient":"1","p\u0061tient":"2"}"#.to_vec(),
    );
    add("lone-surrogate", 0, br#"{"sub":"\ud800"}"#.to_vec());
    add("bom", 0, b"\xef\xbb\xbf{}".to_vec());
    add(
        "deep",
        0,
        format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100)).into_bytes(),
    );
    add("hdr-valid", 1, f.valid_header.clone());
    add(
        "hdr-typ-upper",
        1,
        br#"{"alg":"EdDSA","typ":"AT+JWT"}"#.to_vec(),
    );
    add(
        "hdr-typ-media",
        1,
        br#"{"alg":"EdDSA","typ":"application/at+jwt"}"#.to_vec(),
    );
    add(
        "both",
        2,
        [&f.valid_header[..], b"\n", &f.valid_claims[..]].concat(),
    );
}

fn jwks(out: &mut Vec<Seed>) {
    let f = &*FIXTURE;
    let mut add = |name: &str, v: String| out.push(("jwks_parse", name.to_owned(), v.into_bytes()));
    add("eddsa", f.eddsa.jwks_json());
    add("rsa", f.rsa.jwks_json());
    add("ec", f.ec.jwks_json());
    let rsa = f.rsa.key().public_jwk_json();
    let ec = f.ec.key().public_jwk_json();
    let with = |base: &Value, k: &str, v: Value| {
        let mut b = base.clone();
        if let Some(o) = b.as_object_mut() {
            o.insert(k.to_owned(), v);
        }
        json!({"keys": [b]}).to_string()
    };
    add(
        "oct",
        json!({"keys":[{"kty":"oct","k":"QkJCQkJCQkJCQkJC","alg":"HS256"}]}).to_string(),
    );
    add("use-enc", with(&rsa, "use", json!("enc")));
    add("key-ops-sign", with(&rsa, "key_ops", json!(["sign"])));
    add("private-d", with(&ec, "d", json!("AAAA")));
    add("rsa-short", with(&rsa, "n", json!("AQAB")));
    add("rsa-e-1", with(&rsa, "e", json!("AQ")));
    add(
        "ec-off-curve",
        with(&ec, "y", json!(b64::encode(&[1u8; 32]))),
    );
    add("ec-wrong-crv", with(&ec, "crv", json!("P-384")));
    add("alg-mismatch", with(&ec, "alg", json!("ES384")));
    add(
        "dup-kid",
        json!({"keys": [rsa.clone(), rsa.clone()]}).to_string(),
    );
    add(
        "dup-member",
        r#"{"keys":[],"keys":[{"kty":"oct"}]}"#.to_owned(),
    );
    add("keys-object", r#"{"keys":{"kty":"RSA"}}"#.to_owned());
}

fn scopes(out: &mut Vec<Seed>) {
    for (i, s) in [
        "patient/Observation.rs",
        "patient/*.read user/*.cruds launch/patient openid fhirUser offline_access",
        "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
        "system/*.* user/Patient.write patient/Observation.sr patient/Observation.rrs",
        "patient/observation.rs Patient/Observation.rs patient/Observation.rsx",
        "patient/Observation.rs?_include=Observation:subject patient/Observation.rs?subject.name=x",
        "patient/Observation.rs\tpatient/Condition.rs  patient/Encounter.c,patient/x.r",
        "launch launch/encounter online_access smart/orchestrate_launch patient/$everything",
        "patient/Observation.r?code=1&code=2 patient/Observation.r?code:not=1",
        "patient%2FObservation.rs patient/Observation.cruds?status=final",
    ]
    .iter()
    .enumerate()
    {
        out.push(("scope_parse", format!("s{i}"), s.as_bytes().to_vec()));
    }
}

fn heads(out: &mut Vec<Seed>) {
    let token = {
        let f = &*FIXTURE;
        f.eddsa
            .token(UnixTime::from_secs(NOW))
            .patient("123")
            .sign()
    };
    for (i, s) in [
        format!("/fhir/Patient/123\nauthorization: Bearer {token}"),
        format!("/fhir/Patient/123\nauthorization: bEaReR {token}"),
        format!("/fhir/Patient/123\nauthorization: DPoP {token}\ndpop: a.b.c"),
        format!("/fhir/Patient/123\nauthorization: Bearer {token}\nauthorization: Bearer x"),
        format!("/fhir/Patient?access_token={token}"),
        format!("/fhir/Patient?access_token={token}\nauthorization: Bearer {token}"),
        "/fhir/Patient\nauthorization: Basic dXNlcjpwYXNz".to_owned(),
        "/fhir/Patient\nauthorization: Bearer".to_owned(),
        "/fhir/Patient\nauthorization: Bearer a b".to_owned(),
        "/fhir/Patient\nauthorization: Bearer ===".to_owned(),
    ]
    .into_iter()
    .enumerate()
    {
        out.push(("bearer_extract", format!("h{i}"), s.into_bytes()));
    }
}

fn fhir(out: &mut Vec<Seed>) {
    let obs = r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"}"#;
    for (name, body) in [
        ("dup-subject", format!(r#"{obs},"subject":{{"reference":"Patient/456"}}}}"#)),
        ("dup-escaped", format!(r#"{obs},"s\u0075bject":{{"reference":"Patient/456"}}}}"#)),
        ("unknown-element", format!(r#"{obs},"secretField":1}}"#)),
        ("modifier-ext", format!(r#"{obs},"modifierExtension":[{{"url":"http://x","valueBoolean":true}}]}}"#)),
        ("bom", format!("\u{feff}{obs}}}")),
        ("lone-surrogate", format!(r#"{obs},"issued":"\ud800"}}"#)),
        ("nul", format!(r#"{obs},"language":"e\u0000n"}}"#)),
        ("big-decimal", format!(r#"{obs},"valueQuantity":{{"value":1e400}}}}"#)),
        ("long-digits", format!(r#"{obs},"valueQuantity":{{"value":{}}}}}"#, "9".repeat(5000))),
        ("decimal-precision", format!(r#"{obs},"valueQuantity":{{"value":1.50}}}}"#)),
        ("integer-overflow", format!(r#"{obs},"valueInteger":4294967296}}"#)),
        ("choice-conflict", format!(r#"{obs},"valueString":"a","valueBoolean":true}}"#)),
        ("null", format!(r#"{obs},"issued":null}}"#)),
        ("empty-object", format!(r#"{obs},"note":[{{}}]}}"#)),
        ("trailing-comma", format!(r#"{obs},}}"#)),
        ("comment", format!("{obs} /* x */}}")),
        ("trailing-garbage", format!("{obs}}} {{}}")),
        ("id-bad", r#"{"resourceType":"Patient","id":"../../etc"}"#.to_owned()),
        ("type-mis-cased", r#"{"resourceType":"patient","id":"1"}"#.to_owned()),
        ("type-repeated", r#"{"resourceType":"Patient","resourceType":"Group","id":"1"}"#.to_owned()),
        ("type-number", r#"{"resourceType":7}"#.to_owned()),
        ("given-mismatch", r#"{"resourceType":"Patient","name":[{"given":["a","b"],"_given":[{"id":"x"}]}]}"#.to_owned()),
        ("contained-patient", r##"{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p"}],"subject":{"reference":"#p"}}"##.to_owned()),
        ("contained-nested", r#"{"resourceType":"Patient","contained":[{"resourceType":"Patient","id":"a","contained":[{"resourceType":"Patient","id":"b"}]}]}"#.to_owned()),
        ("narrative-script", r#"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></div>"}}"#.to_owned()),
        ("deep", format!(r#"{{"resourceType":"Patient","extension":{}{}}}"#, "[{\"extension\":".repeat(80), "}]".repeat(80))),
        ("parameters-resource", r#"{"resourceType":"Parameters","parameter":[{"name":"r","resource":{"resourceType":"Patient","id":"p","id":"q"}}]}"#.to_owned()),
    ] {
        out.push(("fhir_resource", name.to_owned(), body.into_bytes()));
    }
    for (name, body) in [
        (
            "transaction-nested",
            r#"{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient","id":"x"},"request":{"method":"PUT","url":"Patient/x"}}]},"request":{"method":"POST","url":"Bundle"}}]}"#,
        ),
        (
            "batch-conditional",
            r#"{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"DELETE","url":"Observation?patient=456"}},{"request":{"method":"GET","url":"Patient/456/$everything"}}]}"#,
        ),
        (
            "entry-wrong-type",
            r#"{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Nope"}}]}"#,
        ),
    ] {
        out.push(("fhir_bundle", name.to_owned(), body.as_bytes().to_vec()));
    }
}

fn audit(out: &mut Vec<Seed>) {
    let log = crate::harness::audit::reference_log();
    out.push((
        "audit_log_verify",
        "reference-log".to_owned(),
        [&[0xff, 0xff][..], &log].concat(),
    ));
    out.push((
        "audit_log_verify",
        "torn".to_owned(),
        [&[0xff, 0xff][..], &log[..log.len() - 7]].concat(),
    ));
    for (name, edits) in [
        ("flip-payload", vec![0u8, 40, 0, 1]),
        ("truncate-half", vec![1u8, 128]),
        ("flip-header", vec![0u8, 2, 0, 0x20]),
    ] {
        out.push(("audit_log_tamper", name.to_owned(), edits));
    }
}

fn requests(out: &mut Vec<Seed>) {
    for (i, s) in [
        "GET /fhir/Observation?patient=123&code=http://loinc.org|8867-4&_include=Observation:subject",
        "GET /fhir/Observation?patient=456",
        "GET /fhir/Patient/456/$everything",
        "GET /fhir/Patient/123/Observation?_count=10&_sort=-date",
        "GET /fhir/Observation?subject:Patient.name=x&_has:Condition:subject:code=1",
        "GET /fhir/Observation/1/_history/2",
        "GET /fhir/_history?_since=2020-01-01",
        "GET /fhir//Observation/%2e%2e/1;x=y",
        "PUT /fhir/Observation?code=1\ncontent-type: application/fhir+json\n\n{\"resourceType\":\"Observation\"}",
        "POST /fhir/Observation\nif-none-exist: code=1\ncontent-type: application/fhir+json\n\n{}",
        "POST /fhir/Observation/_search\ncontent-type: application/x-www-form-urlencoded\n\npatient=456&_id=1",
        "DELETE /fhir/AuditEvent/1",
        "PATCH /fhir/Observation/1\nx-http-method-override: DELETE",
        "GET /fhir/$export?_type=Patient,Observation",
        "POST /fhir\ncontent-type: application/fhir+json\n\n{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"request\":{\"method\":\"GET\",\"url\":\"Patient/456\"}},{\"resource\":{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},\"subject\":{\"reference\":\"Patient/456\"}},\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}}]}",
    ]
    .iter()
    .enumerate()
    {
        out.push(("request_decide", format!("r{i}"), s.replace("\\n", "\n").into_bytes()));
    }
}

fn authentication(out: &mut Vec<Seed>) {
    for (name, body) in [
        (
            "active",
            json!({"active": true, "iss": "https://as.example", "aud": AUDIENCE, "scope": "patient/*.rs",
                   "client_id": "app", "exp": NOW + 300, "patient": "123", "token_type": "Bearer"}),
        ),
        (
            "dpop-bound",
            json!({"active": true, "aud": [AUDIENCE, "other"], "scope": "user/*.rs", "client_id": "app",
                   "exp": NOW + 60, "token_type": "DPoP", "cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
        ),
        ("inactive", json!({"active": false})),
        (
            "active-string",
            json!({"active": "true", "scope": "x", "client_id": "a"}),
        ),
        (
            "refresh-token",
            json!({"active": true, "aud": AUDIENCE, "scope": "patient/*.rs", "client_id": "app",
                   "exp": NOW + 300, "token_type": "refresh_token"}),
        ),
        (
            "no-aud-expired",
            json!({"active": true, "scope": "patient/*.rs", "client_id": "app", "exp": NOW - 31}),
        ),
    ] {
        out.push((
            "introspection_response",
            name.to_owned(),
            body.to_string().into_bytes(),
        ));
    }
    let f = &*crate::harness::auth::AUTH;
    let mut signed = |target: &'static str, header: &[u8], claims: &[u8]| {
        out.push((
            target,
            "valid-claims".to_owned(),
            [&[0][..], claims].concat(),
        ));
        out.push((
            target,
            "valid-header".to_owned(),
            [&[1][..], header].concat(),
        ));
        let both = [&[2][..], header, b"\n", claims].concat();
        out.push((target, "valid-both".to_owned(), both));
        let raw = f.key.sign_raw(header, claims);
        out.push((
            target,
            "compact".to_owned(),
            [&[3][..], raw.as_bytes()].concat(),
        ));
    };
    signed("dpop_proof", &f.dpop_header, &f.dpop_claims);
    signed("client_assertion", &f.assertion_header, &f.assertion_claims);
    let proof = |claims: Value| [&[0][..], claims.to_string().as_bytes()].concat();
    let uri = crate::harness::auth::DPOP_URI;
    out.push((
        "dpop_proof",
        "no-ath".to_owned(),
        proof(json!({"jti": "j", "htm": "GET", "htu": uri, "iat": NOW})),
    ));
    out.push((
        "dpop_proof",
        "htu-normalised".to_owned(),
        proof(json!({"jti": "j", "htm": "GET", "htu": "HTTPS://FHIR.example:443/r4/./Patient/123?x#y", "iat": NOW})),
    ));
    out.push((
        "client_assertion",
        "aud-array-long-exp".to_owned(),
        [
            &[0][..],
            json!({"iss": "app-1", "sub": "app-1", "aud": ["x", "https://as.example/token"],
                         "exp": NOW + 400, "jti": "a"})
            .to_string()
            .as_bytes(),
        ]
        .concat(),
    ));
}

fn checkpoints(out: &mut Vec<Seed>) {
    let note = crate::harness::audit::reference_note();
    out.push((
        "checkpoint_note",
        "reference".to_owned(),
        [&[1][..], note.as_bytes()].concat(),
    ));
    let two_sigs = format!("{note}\u{2014} witness.example AAAAAAAA\n");
    out.push((
        "checkpoint_note",
        "unknown-witness".to_owned(),
        [&[1][..], two_sigs.as_bytes()].concat(),
    ));
    let mut built = b"\x00audit.example.org/fuzz\n".to_vec();
    built.extend_from_slice(&5u64.to_le_bytes());
    built.extend_from_slice(&[0xab; 32]);
    built.extend_from_slice(&1_764_331_200u32.to_le_bytes());
    out.push(("checkpoint_note", "built".to_owned(), built.clone()));
    built.extend_from_slice(&[30, 0, 1, 2, 0, 0x20]);
    out.push(("checkpoint_note", "built-edited".to_owned(), built));
}
