//! Parser hazards and content types (threats.md §5, §7), SSRF vectors (§6), error-body
//! leakage (§8) and audit evasion (§9).

use serde_json::{json, Value};

use super::server::{now, read_audit_log, ssrf_sink, ALICE};
use super::{case, Case, Class, Expect};

const PH: Class = Class::ParserHazard;
const SS: Class = Class::Ssrf;
const EL: Class = Class::ErrorLeakage;
const AE: Class = Class::AuditEvasion;
const ALL: &str = "patient/*.rs";
const RW: &str = "patient/*.cruds";
const OBS: &str = r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/alice"}"#;

/// `POST /Observation` of raw bytes as FHIR JSON, expecting 400.
fn bad(name: &'static str, body: impl Into<Vec<u8>>) -> Case {
    case(name, PH, Expect::Status(400))
        .req("POST", "/Observation")
        .alice(RW)
        .header("Content-Type", "application/fhir+json")
        .body(body)
}

/// Alice's Observation text with `tail` (more members and the closing brace).
fn obs(tail: &str) -> String {
    format!("{OBS}{tail}")
}

fn narrative(div: &str) -> String {
    let div = Value::String(format!(
        r#"<div xmlns="http://www.w3.org/1999/xhtml">{div}</div>"#
    ));
    obs(&format!(
        r#","text":{{"status":"generated","div":{div}}}}}"#
    ))
}

fn with_ssrf_header(i: &smart_auth::testing::TestIssuer, name: &str) -> String {
    let h = json!({"alg": "RS256", "typ": "at+jwt", "kid": i.key().kid(), name: format!("{}/keys", ssrf_sink().url)});
    let c = i
        .token(now())
        .scope(ALL)
        .patient(ALICE)
        .fhir_user("Patient/alice")
        .claims()
        .clone();
    i.key().sign_raw(
        h.to_string().as_bytes(),
        &serde_json::to_vec(&c).unwrap_or_default(),
    )
}

/// The audit trail holds no credential: no JWT in any record, including raw requests.
fn no_token_in_audit(s: &super::Server, _: &super::server::Response) -> Result<(), String> {
    let raw = std::fs::read(s.audit_log()).unwrap_or_default();
    if raw.windows(3).any(|w| w == b"eyJ") {
        return Err("a JWT is in the audit log file".to_owned());
    }
    for r in read_audit_log(&s.audit_log()) {
        if let Some(q) = &r.query {
            if q.as_bytes().windows(3).any(|w| w == b"eyJ") {
                return Err("a JWT is in an audit record's raw request".to_owned());
            }
        }
    }
    Ok(())
}

/// The latest records include a refusal.
fn denial_audited(s: &super::Server, _: &super::server::Response) -> Result<(), String> {
    let records = read_audit_log(&s.audit_log());
    let recent = &records[records.len().saturating_sub(5)..];
    if recent.iter().any(|r| !r.outcome.is_success()) {
        Ok(())
    } else {
        Err("the refused batch entry left no failed audit record".to_owned())
    }
}

fn security_headers(_: &super::Server, r: &super::server::Response) -> Result<(), String> {
    let csp = r.header("content-security-policy").unwrap_or_default();
    if !csp.contains("default-src 'none'") {
        return Err(format!("CSP is {csp:?}"));
    }
    if r.header("referrer-policy") != Some("no-referrer") {
        return Err("no Referrer-Policy: no-referrer".to_owned());
    }
    if r.header("x-powered-by").is_some()
        || r.header("server")
            .is_some_and(|s| s.chars().any(|c| c.is_ascii_digit()))
    {
        return Err("the answer names the server software and version".to_owned());
    }
    Ok(())
}

fn phi_not_cached(s: &super::Server, r: &super::server::Response) -> Result<(), String> {
    security_headers(s, r)?;
    if !r
        .header("cache-control")
        .unwrap_or_default()
        .contains("no-store")
    {
        return Err("PHI answer without Cache-Control: no-store".to_owned());
    }
    Ok(())
}

fn origin_not_reflected(_: &super::Server, r: &super::server::Response) -> Result<(), String> {
    match r.header("access-control-allow-origin") {
        Some(o) if o.contains("evil") || o == "*" => Err(format!("CORS allows {o:?}")),
        _ => Ok(()),
    }
}

/// The table.
pub fn cases() -> Vec<Case> {
    vec![
        // §9 first, while the log is short: the trail a patient can read shows nothing of others.
        case("audit.victim-read-attempt-is-audited", AE, Expect::Hidden("/Observation/no-such-id"))
            .get("/Observation/zz-b-obs-secret")
            .alice(ALL),
        case("audit.auditevents-readable-by-patient-reveal-no-victim", AE, Expect::OneOf(&[200, 403]))
            .get("/AuditEvent")
            .alice(ALL)
            .markers(&["CANARY-B", "zz-b-bob"]),
        case("audit.disclosure-accounting-of-own-record-reveals-no-victim", AE, Expect::OneOf(&[200, 403]))
            .get("/Patient/alice/$disclosures")
            .alice(ALL)
            .markers(&["CANARY-B", "zz-b-bob"]),
        case("audit.unauthenticated-request-audited", AE, Expect::NoCredentials).get("/Patient/alice"),
        case("audit.server-level-refusal-carries-request-id", AE, Expect::Status(404))
            .get("/NoSuchType/1")
            .alice(ALL)
            .header("X-Request-Id", "probe-server-level-refusal")
            .after(|s, _| {
                let found = read_audit_log(&s.audit_log())
                    .iter()
                    .any(|r| r.correlation_id.as_deref() == Some("probe-server-level-refusal"));
                if found { Ok(()) } else { Err("the refusal's audit record has no request id".to_owned()) }
            })
            ,
        case("audit.forged-token-audited", AE, Expect::InvalidToken)
            .get("/Patient/alice")
            .authorization("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
        case("audit.refused-batch-entry-audited", AE, Expect::Batch(&[404]))
            .req("POST", "")
            .alice(ALL)
            .json(json!({"resourceType": "Bundle", "type": "batch",
                "entry": [{"request": {"method": "GET", "url": "Observation/zz-b-obs-1"}}]}))
            .after(denial_audited),
        case("audit.token-in-query-not-logged", AE, Expect::InvalidRequest)
            .get("/Patient/alice?access_token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
            .after(no_token_in_audit),
        case("audit.oversized-request-id-bounded", AE, Expect::Ok(&["Patient/alice"]))
            .get("/Patient/alice")
            .alice(ALL)
            .header("X-Request-Id", "r".repeat(6000))
            .after(|s, _| {
                let long = read_audit_log(&s.audit_log())
                    .iter()
                    .any(|r| r.correlation_id.as_ref().is_some_and(|c| c.len() > 1024));
                if long { Err("an unbounded request id reached the audit log".to_owned()) } else { Ok(()) }
            }),
        case("audit.control-characters-in-request-id-not-logged-raw", AE, Expect::Ok(&["Patient/alice"]))
            .get("/Patient/alice")
            .alice(ALL)
            .header("X-Request-Id", "a\tb\tc")
            .after(|s, _| {
                // Records are structured: no raw control byte inside any stored record.
                let raw = super::server::read_audit_payloads(&s.audit_log())
                    .iter()
                    .any(|p| p.iter().any(|b| *b < 0x20));
                if raw { Err("a raw control character is inside a stored audit record".to_owned()) } else { Ok(()) }
            }),
        // §5 parser hazards: one strict parse path
        bad("parser.duplicate-key-rejected", obs(r#","status":"preliminary"}"#)),
        bad("parser.escaped-duplicate-key-rejected", obs(r#","st\u0061tus":"preliminary"}"#)),
        case("parser.duplicate-subject-differential-refused", PH, Expect::OneOf(&[400, 403]))
            .req("POST", "/Observation").alice(RW).header("Content-Type", "application/fhir+json")
            .body(obs(r#","subject":{"reference":"Patient/zz-b-bob"}}"#)),
        bad("parser.duplicate-subject-victim-first-rejected",
            r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/zz-b-bob"},"subject":{"reference":"Patient/alice"}}"#),
        bad("parser.duplicate-resource-type-rejected", obs(r#","resourceType":"Patient"}"#)),
        bad("parser.unknown-element-rejected", obs(r#","secretElement":true}"#)),
        bad("parser.choice-conflict-rejected", obs(r#","valueString":"a","valueBoolean":true}"#)),
        bad("parser.missing-resource-type-rejected", r#"{"status":"final","code":{"text":"x"}}"#),
        bad("parser.mis-cased-resource-type-rejected", obs("}").replace("\"Observation\"", "\"observation\"")),
        bad("parser.numeric-resource-type-rejected", r#"{"resourceType":7}"#),
        case("parser.body-type-differs-from-url-rejected", PH, Expect::Status(400))
            .req("POST", "/Observation")
            .alice(RW)
            .json(json!({"resourceType": "Condition", "subject": {"reference": "Patient/alice"}})),
        bad("parser.byte-order-mark-rejected", format!("\u{feff}{}", obs("}"))),
        bad("parser.invalid-utf8-rejected", [obs(r#","issued":""#).as_bytes(), b"\xff\xfe\"}"].concat()),
        bad("parser.lone-surrogate-rejected", obs(r#","note":[{"text":"\ud800"}]}"#)),
        case("parser.nul-stored-safely-or-rejected", PH, Expect::OneOf(&[201, 400]))
            .req("POST", "/Observation")
            .alice(RW)
            .header("Content-Type", "application/fhir+json")
            .body(obs(r#","note":[{"text":"a\u0000b"}]}"#)),
        bad("parser.huge-exponent-rejected", obs(r#","valueQuantity":{"value":1e400}}"#)),
        bad("parser.million-digit-number-rejected", obs(&format!(r#","valueQuantity":{{"value":{}}}}}"#, "9".repeat(1_000_000)))),
        bad("parser.integer-beyond-32-bits-rejected", obs(r#","valueInteger":4294967296}"#)),
        bad("parser.null-rejected", obs(r#","issued":null}"#)),
        bad("parser.empty-object-rejected", obs(r#","note":[{}]}"#)),
        bad("parser.empty-string-rejected", obs(r#","issued":""}"#)),
        bad("parser.empty-array-rejected", obs(r#","note":[]}"#)),
        bad("parser.trailing-comma-rejected", obs(",}")),
        bad("parser.comment-rejected", obs(" /* c */}")),
        bad("parser.trailing-garbage-rejected", obs("} {}")),
        bad("parser.nan-rejected", obs(r#","valueQuantity":{"value":NaN}}"#)),
        bad("parser.single-quotes-rejected", obs(",'issued':'x'}")),
        bad("parser.nested-contained-rejected", obs(r#","contained":[{"resourceType":"Patient","id":"c1","contained":[{"resourceType":"Patient","id":"c2"}]}]}"#)),
        bad("parser.invalid-id-syntax-rejected", obs(r#","id":"../../etc"}"#)),
        case("parser.primitive-array-misaligned-rejected", PH, Expect::Status(400))
            .req("PUT", "/Patient/alice")
            .alice(RW)
            .header("Content-Type", "application/fhir+json")
            .body(r#"{"resourceType":"Patient","id":"alice","name":[{"given":["a","b"],"_given":[{"id":"x"}]}]}"#),
        case("parser.batch-entry-with-duplicate-key-rejected", PH, Expect::Status(400))
            .req("POST", "")
            .alice(RW)
            .header("Content-Type", "application/fhir+json")
            .body(format!(r#"{{"resourceType":"Bundle","type":"batch","entry":[{{"resource":{},"request":{{"method":"POST","url":"Observation"}}}}]}}"#,
                obs(r#","subject":{"reference":"Patient/zz-b-bob"}}"#))),
        case("parser.decimal-precision-preserved", PH, Expect::Status(201))
            .req("POST", "/Observation")
            .alice(RW)
            .header("Content-Type", "application/fhir+json")
            .header("Prefer", "return=representation")
            .body(obs(r#","valueQuantity":{"value":1.50}}"#))
            .after(|_, r| if r.text().contains("1.50") { Ok(()) } else { Err("1.50 came back as another number".to_owned()) }),
        // §5 content types, §7 narrative
        case("parser.text-plain-body-415", PH, Expect::Status(415))
            .req("POST", "/Observation").alice(RW).header("Content-Type", "text/plain").body(obs("}")),
        case("parser.form-body-415", PH, Expect::Status(415))
            .req("POST", "/Observation").alice(RW).header("Content-Type", "application/x-www-form-urlencoded").body("resourceType=Observation"),
        case("parser.xml-body-415", PH, Expect::Status(415))
            .req("POST", "/Observation").alice(RW).header("Content-Type", "application/fhir+xml")
            .body(r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Observation>&e;</Observation>"#),
        case("parser.missing-content-type-415", PH, Expect::Status(415))
            .req("POST", "/Observation").alice(RW).body(obs("}")),
        bad("parser.narrative-script-rejected", narrative("<script>alert(1)</script>")),
        bad("parser.narrative-event-handler-rejected", narrative(r#"<p onclick="alert(1)">x</p>"#)),
        bad("parser.narrative-javascript-href-behind-whitespace-rejected", narrative("<a href=\" \u{1}javascript:alert(1)\">x</a>")),
        bad("parser.narrative-iframe-rejected", narrative(r#"<iframe src="https://evil.example"></iframe>"#)),
        case("parser.json-patch-malformed-refused", PH, Expect::OneOf(&[400, 422]))
            .req("PATCH", "/Observation/a-obs-lab").alice(RW)
            .header("Content-Type", "application/json-patch+json").body(r#"{"op":"remove"}"#),
        // §6 SSRF: nothing may connect to the sink.
        case("ssrf.jku-header-never-fetched", SS, Expect::InvalidToken)
            .get("/Patient/alice")
            .token(|i| with_ssrf_header(i, "jku")),
        case("ssrf.x5u-header-never-fetched", SS, Expect::InvalidToken)
            .get("/Patient/alice")
            .token(|i| with_ssrf_header(i, "x5u")),
        case("ssrf.absolute-fhiruser-never-dereferenced", SS, Expect::OneOf(&[200, 401]))
            .get("/Patient/alice")
            .token(|i| i.token(now()).scope(ALL).patient(ALICE).fhir_user(&format!("{}/fhir/Patient/alice", ssrf_sink().url)).sign()),
        case("ssrf.subscription-endpoint-never-called", SS, Expect::OneOf(&[400, 403, 404]))
            .req("POST", "/Subscription").alice("patient/*.*")
            .json(json!({"resourceType": "Subscription", "status": "requested", "reason": "x",
                "criteria": "Observation?patient=alice",
                "channel": {"type": "rest-hook", "endpoint": "{SSRF}/hook", "payload": "application/fhir+json"}})),
        case("ssrf.foreign-absolute-subject-not-resolved", SS, Expect::Forbidden)
            .req("POST", "/Observation").alice(RW)
            .json(json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                "subject": {"reference": "{SSRF}/fhir/Patient/alice"}})),
        case("ssrf.profile-canonical-not-resolved", SS, Expect::Status(201))
            .req("POST", "/Observation").alice(RW)
            .json(json!({"resourceType": "Observation", "meta": {"profile": ["{SSRF}/StructureDefinition/x"]},
                "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/alice"}})),
        case("ssrf.validate-profile-parameter-not-fetched", SS, Expect::OneOf(&[200, 400, 403, 404, 405]))
            .req("POST", "/Observation/$validate?profile={SSRF}/sd").alice(RW)
            .json(json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/alice"}})),
        case("ssrf.import-operation-refused", SS, Expect::OneOf(&[403, 404]))
            .req("POST", "/$import").alice("patient/*.*")
            .json(json!({"resourceType": "Parameters", "parameter": [{"name": "input", "valueUri": "{SSRF}/data.ndjson"}]})),
        case("ssrf.forwarded-host-not-used-for-links", SS, Expect::Ok(&["Observation/a-obs-1", "Observation/a-obs-2", "Observation/a-obs-lab"]))
            .get("/Observation").alice(ALL)
            .header("X-Forwarded-Host", "evil.example").header("X-Forwarded-Proto", "http").header("Forwarded", "host=evil.example")
            .after(|_, r| {
                let text = r.text();
                match text.find("evil.example") {
                    Some(at) => Err(format!("a forwarded host in the answer: …{}…", &text[at.saturating_sub(120)..(at + 40).min(text.len())])),
                    None if r.headers.iter().any(|(_, v)| v.contains("evil.example")) => Err("a forwarded host in a header".to_owned()),
                    None => Ok(()),
                }
            }),
        // §8 error bodies: generic, no echo, no internals
        case("leak.unknown-type-not-echoed", EL, Expect::Status(404)).get("/NoSuchTypeProbe/1").alice(ALL).markers(&["NoSuchTypeProbe"]),
        case("leak.invalid-id-not-echoed", EL, Expect::OneOf(&[400, 404])).get("/Observation/%3Cscript%3Eprobe").alice(ALL).markers(&["script", "probe"]),
        bad("leak.malformed-json-not-echoed", r#"{"resourceType":"Observation","status":"PROBE-ECHO-1234"#).markers(&["PROBE-ECHO"]),
        bad("leak.unknown-element-name-not-echoed", obs(r#","ProbeElementName":1}"#)).markers(&["ProbeElementName"]),
        case("leak.forged-expired-token-says-nothing-specific", EL, Expect::InvalidToken)
            .get("/Patient/alice")
            .token(|i| {
                let t = i.token(now()).scope(ALL).patient(ALICE).claim("exp", now().as_secs() - 10).sign();
                format!("{}AAAA", t)
            })
            .markers(&["expired", "signature", "Expired"]),
        case("leak.wrong-audience-says-nothing-specific", EL, Expect::InvalidToken)
            .get("/Patient/alice")
            .token(|i| i.token(now()).scope(ALL).patient(ALICE).claim("aud", "https://other.example").sign())
            .markers(&["audience", "other.example"]),
        case("leak.sql-in-search-value-is-data", EL, Expect::Entries(&[])).get("/Observation?code=%27%20OR%201%3D1--").alice(ALL),
        case("leak.sql-in-id-refused", EL, Expect::OneOf(&[400, 404])).get("/Observation/1%27%20OR%20%271%27%3D%271").alice(ALL),
        case("leak.sql-in-sort-refused", EL, Expect::Status(400)).get("/Observation?_sort=code;DROP%20TABLE%20resources").alice(ALL),
        case("leak.nul-in-id-refused", EL, Expect::OneOf(&[400, 404])).get("/Observation/a%00b").alice(ALL),
        case("leak.emoji-search-value-is-data", EL, Expect::Entries(&[])).get("/Observation?code=%F0%9F%92%A9").alice(ALL),
        case("leak.invalid-utf8-query-handled", EL, Expect::OneOf(&[200, 400])).get("/Observation?code=%FF%FE").alice(ALL),
        case("leak.unsupported-method-generic", EL, Expect::OneOf(&[400, 404, 405])).req("TRACE", "/Observation").alice(ALL),
        case("leak.batch-entry-error-not-echoed", EL, Expect::Batch(&[404]))
            .req("POST", "").alice(ALL)
            .json(json!({"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": "Observation/PROBEBATCH!!"}}]}))
            .markers(&["PROBEBATCH"]),
        case("leak.security-headers-on-public-metadata", EL, Expect::Status(200)).get("/metadata").after(security_headers)
            .unaudited("public CapabilityStatement: no token, no PHI (smart.md §10)"),
        case("leak.phi-answer-not-cacheable", EL, Expect::Ok(&["Patient/alice"])).get("/Patient/alice").alice(ALL).after(phi_not_cached),
        case("leak.cors-arbitrary-origin-not-reflected", EL, Expect::Ok(&["Patient/alice"]))
            .get("/Patient/alice").alice(ALL).header("Origin", "https://evil.example").after(origin_not_reflected),
        case("leak.cors-preflight-arbitrary-origin-refused", EL, Expect::OneOf(&[200, 204, 403]))
            .req("OPTIONS", "/Patient/alice")
            .header("Origin", "https://evil.example")
            .header("Access-Control-Request-Method", "GET")
            .after(origin_not_reflected)
            .unaudited("a CORS preflight carries no credentials and reaches no data"),
    ]
}
