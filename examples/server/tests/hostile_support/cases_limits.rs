//! Resource exhaustion (threats.md §4): every limit at the limit (accepted) and at limit + 1
//! (refused before the expensive work, with its status).

use serde_json::{json, Value};

use super::server::{now, ALICE};
use super::{case, Case, Class, Expect};

const RE: Class = Class::ResourceExhaustion;
const ALL: &str = "patient/*.rs";
const RW: &str = "patient/*.cruds";

/// The facade's defaults (`secure_fhir::Limits::default()`, documented in its rustdoc).
const MAX_BODY: usize = 4 * 1024 * 1024;
const MAX_DEPTH: usize = 64;
const MAX_QUERY: usize = 4096;
const MAX_PARAMS: usize = 64;
const MAX_PATH: usize = 1024;
/// smart-auth's access-token cap (smart.md §3.4) and scope count cap.
const MAX_TOKEN: usize = 8 * 1024;
const MAX_SCOPES: usize = 256;
/// The example server's Bundle entry, `_count`, comma-value and JSON Patch caps.
const MAX_ENTRIES: usize = 1000;
const MAX_COUNT: usize = 200;
const MAX_VALUES: usize = 100;
const MAX_PATCH_OPS: usize = 1000;

/// An Observation of Alice's whose JSON is exactly `len` bytes (padding split into notes of
/// under 1 MB, FHIR's string cap).
fn body_of_len(len: usize) -> Vec<u8> {
    let mut v = json!({"resourceType": "Observation", "status": "final",
        "code": {"text": "padding"}, "subject": {"reference": "Patient/alice"}, "note": []});
    let base = serde_json::to_vec(&v).map(|b| b.len()).unwrap_or(0);
    let mut left = len.saturating_sub(base);
    let mut notes = Vec::new();
    while left > 0 {
        // `{"text":""}` plus a comma between notes.
        let overhead = 11 + usize::from(!notes.is_empty());
        let n = left.saturating_sub(overhead).min(900_000);
        notes.push(json!({"text": "a".repeat(n)}));
        left = left.saturating_sub(n + overhead);
    }
    v["note"] = Value::Array(notes);
    let mut bytes = serde_json::to_vec(&v).unwrap_or_default();
    while bytes.len() < len {
        bytes.push(b' ');
    }
    bytes
}

/// An Observation whose JSON nesting depth (objects and arrays) is exactly `depth` (even, ≥ 4).
fn body_of_depth(depth: usize) -> Vec<u8> {
    // root {=1; each extension level adds [ and {; the innermost value object adds one more.
    let levels = (depth - 2) / 2;
    let mut ext = json!({"url": "http://example.org/leaf", "valueCodeableConcept": {"text": "x"}});
    if depth % 2 == 1 {
        ext = json!({"url": "http://example.org/leaf", "valueString": "x"});
    }
    let levels = if depth % 2 == 1 {
        (depth - 1) / 2
    } else {
        levels
    };
    for _ in 1..levels {
        ext = json!({"url": "http://example.org/level", "extension": [ext]});
    }
    let v = json!({"resourceType": "Observation", "status": "final", "code": {"text": "deep"},
        "subject": {"reference": "Patient/alice"}, "extension": [ext]});
    serde_json::to_vec(&v).unwrap_or_default()
}

fn query_of_len(len: usize) -> String {
    format!("code={}", "x".repeat(len - 5))
}

fn params(n: usize) -> String {
    (0..n)
        .map(|i| format!("code=c{i}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn values(n: usize) -> String {
    format!(
        "code={}",
        (0..n)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(",")
    )
}

fn get_batch(n: usize) -> Value {
    let entries: Vec<Value> = (0..n)
        .map(|_| json!({"request": {"method": "GET", "url": "Patient/alice"}}))
        .collect();
    json!({"resourceType": "Bundle", "type": "batch", "entry": entries})
}

fn patch_ops(n: usize) -> Vec<u8> {
    let ops: Vec<Value> = (0..n)
        .map(|_| json!({"op": "test", "path": "/status", "value": "final"}))
        .collect();
    serde_json::to_vec(&ops).unwrap_or_default()
}

/// The shortest valid token for Alice of at least `len` bytes. A token's length is the
/// header's, the claims' and the signature's base64url lengths plus two dots; base64url
/// lengths skip 4k+1, so with this key some lengths do not exist: `exact` says whether `len`
/// itself must be hit.
fn token_of_len(i: &smart_auth::testing::TestIssuer, len: usize, exact: bool) -> String {
    let build = |pad: usize| {
        i.token(now())
            .scope(ALL)
            .patient(ALICE)
            .fhir_user("Patient/alice")
            .claim("pad", "p".repeat(pad))
    };
    let sample = build(0).sign();
    let fixed = sample.split('.').next().map_or(0, str::len)
        + sample.rsplit('.').next().map_or(0, str::len)
        + 2;
    for pad in 0..len {
        let b = build(pad);
        let claims = serde_json::to_vec(b.claims()).map_or(0, |c| c.len());
        if fixed + (claims * 4).div_ceil(3) >= len {
            let t = b.sign();
            assert!(
                !exact || t.len() == len,
                "no token of exactly {len} bytes ({})",
                t.len()
            );
            assert!(t.len() <= len + 3, "overshot {len}: {}", t.len());
            return t;
        }
    }
    panic!("no token of {len} bytes")
}

fn scopes(n: usize) -> String {
    vec![ALL; n].join(" ")
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(64 * 1024) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// The table.
pub fn cases() -> Vec<Case> {
    let gzip = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile_gzip_bomb.gz"),
    )
    .expect("gzip bomb fixture");
    let path_at = format!(
        "/Observation/{}",
        "a".repeat(MAX_PATH - "/fhir/Observation/".len())
    );
    let path_over = format!("{path_at}a");
    vec![
        case("limit.body-at-limit-accepted", RE, Expect::Status(201))
            .req("POST", "/Observation")
            .alice(RW)
            .header("Content-Type", "application/fhir+json")
            .body(body_of_len(MAX_BODY)),
        case("limit.body-over-limit-413", RE, Expect::Status(413))
            .req("POST", "/Observation")
            .alice(RW)
            .header("Content-Type", "application/fhir+json")
            .body(body_of_len(MAX_BODY + 1)),
        case(
            "limit.declared-length-over-limit-413-before-reading",
            RE,
            Expect::Status(413),
        )
        .req("POST", "/Observation")
        .alice(RW)
        .header("Content-Type", "application/fhir+json")
        .header("Content-Length", (MAX_BODY + 1).to_string()),
        case("limit.chunked-body-over-limit-413", RE, Expect::Status(413))
            .req("POST", "/Observation")
            .alice(RW)
            .header("Content-Type", "application/fhir+json")
            .header("Transfer-Encoding", "chunked")
            .body(chunked(&body_of_len(MAX_BODY + 1))),
        case(
            "limit.gzip-bomb-not-inflated-unbounded",
            RE,
            Expect::OneOf(&[400, 413, 415]),
        )
        .req("POST", "/Patient")
        .alice(RW)
        .header("Content-Type", "application/fhir+json")
        .header("Content-Encoding", "gzip")
        .body(gzip),
        case(
            "limit.json-depth-at-limit-accepted",
            RE,
            Expect::Status(201),
        )
        .req("POST", "/Observation")
        .alice(RW)
        .header("Content-Type", "application/fhir+json")
        .body(body_of_depth(MAX_DEPTH)),
        case("limit.json-depth-over-limit-400", RE, Expect::Status(400))
            .req("POST", "/Observation")
            .alice(RW)
            .header("Content-Type", "application/fhir+json")
            .body(body_of_depth(MAX_DEPTH + 1)),
        case(
            "limit.json-depth-100k-brackets-400",
            RE,
            Expect::Status(400),
        )
        .req("POST", "/Observation")
        .alice(RW)
        .header("Content-Type", "application/fhir+json")
        .body("[".repeat(100_000)),
        case("limit.query-at-limit-accepted", RE, Expect::Entries(&[]))
            .get(format!("/Observation?{}", query_of_len(MAX_QUERY)))
            .alice(ALL),
        case("limit.query-over-limit-414", RE, Expect::Status(414))
            .get(format!("/Observation?{}", query_of_len(MAX_QUERY + 1)))
            .alice(ALL),
        case(
            "limit.parameters-at-limit-accepted",
            RE,
            Expect::Entries(&[]),
        )
        .get(format!("/Observation?{}", params(MAX_PARAMS)))
        .alice(ALL),
        case("limit.parameters-over-limit-400", RE, Expect::Status(400))
            .get(format!("/Observation?{}", params(MAX_PARAMS + 1)))
            .alice(ALL),
        case(
            "limit.comma-values-at-limit-accepted",
            RE,
            Expect::Entries(&[]),
        )
        .get(format!("/Observation?{}", values(MAX_VALUES)))
        .alice(ALL),
        case("limit.comma-values-over-limit-400", RE, Expect::Status(400))
            .get(format!("/Observation?{}", values(MAX_VALUES + 1)))
            .alice(ALL),
        case(
            "limit.path-at-limit-not-414",
            RE,
            Expect::OneOf(&[400, 404]),
        )
        .get(path_at)
        .alice(ALL),
        case("limit.path-over-limit-414", RE, Expect::Status(414))
            .get(path_over)
            .alice(ALL),
        case(
            "limit.count-at-limit-accepted",
            RE,
            Expect::Ok(&[
                "Observation/a-obs-1",
                "Observation/a-obs-2",
                "Observation/a-obs-lab",
            ]),
        )
        .get(format!("/Observation?_count={MAX_COUNT}"))
        .alice(ALL),
        case(
            "limit.count-over-limit-clamped",
            RE,
            Expect::Ok(&[
                "Observation/a-obs-1",
                "Observation/a-obs-2",
                "Observation/a-obs-lab",
            ]),
        )
        .get(format!("/Observation?_count={}", MAX_COUNT + 1))
        .alice(ALL),
        case(
            "limit.count-huge-clamped-or-refused",
            RE,
            Expect::OneOf(&[200, 400]),
        )
        .get("/Observation?_count=99999999999999999999999")
        .alice(ALL),
        case("limit.count-negative-400", RE, Expect::Status(400))
            .get("/Observation?_count=-1")
            .alice(ALL),
        case("limit.count-not-a-number-400", RE, Expect::Status(400))
            .get("/Observation?_count=ten")
            .alice(ALL),
        case("limit.offset-at-limit-accepted", RE, Expect::Entries(&[]))
            .get("/Observation?_offset=100000")
            .alice(ALL),
        case("limit.offset-over-limit-400", RE, Expect::Status(400))
            .get("/Observation?_offset=100001")
            .alice(ALL),
        case(
            "limit.bundle-entries-at-limit-accepted",
            RE,
            Expect::Status(200),
        )
        .req("POST", "")
        .alice(ALL)
        .json(get_batch(MAX_ENTRIES)),
        case(
            "limit.bundle-entries-over-limit-refused",
            RE,
            Expect::OneOf(&[400, 413]),
        )
        .req("POST", "")
        .alice(ALL)
        .json(get_batch(MAX_ENTRIES + 1)),
        case(
            "limit.patch-operations-at-limit-accepted",
            RE,
            Expect::Status(200),
        )
        .req("PATCH", "/Observation/a-obs-lab")
        .alice(RW)
        .header("Content-Type", "application/json-patch+json")
        .body(patch_ops(MAX_PATCH_OPS)),
        case(
            "limit.patch-operations-over-limit-refused",
            RE,
            Expect::OneOf(&[400, 422]),
        )
        .req("PATCH", "/Observation/a-obs-lab")
        .alice(RW)
        .header("Content-Type", "application/json-patch+json")
        .body(patch_ops(MAX_PATCH_OPS + 1)),
        case(
            "limit.token-at-limit-accepted",
            RE,
            Expect::Ok(&["Patient/alice"]),
        )
        .get("/Patient/alice")
        .token(|i| token_of_len(i, MAX_TOKEN, true)),
        case("limit.token-over-limit-401", RE, Expect::InvalidToken)
            .get("/Patient/alice")
            .token(|i| token_of_len(i, MAX_TOKEN + 1, false)),
        case(
            "limit.scopes-at-limit-accepted",
            RE,
            Expect::Ok(&["Patient/alice"]),
        )
        .get("/Patient/alice")
        .token(|i| {
            i.token(now())
                .scope(&scopes(MAX_SCOPES))
                .patient(ALICE)
                .fhir_user("Patient/alice")
                .sign()
        }),
        case("limit.scopes-over-limit-401", RE, Expect::InvalidToken)
            .get("/Patient/alice")
            .token(|i| {
                i.token(now())
                    .scope(&scopes(MAX_SCOPES + 1))
                    .patient(ALICE)
                    .fhir_user("Patient/alice")
                    .sign()
            }),
        case("limit.header-fields-too-large-431", RE, Expect::Status(431))
            .get("/Patient/alice")
            .alice(ALL)
            .header("X-Padding", "p".repeat(1024 * 1024))
            .unaudited("refused by the HTTP stack before a request exists (host responsibility)"),
    ]
}
