//! Running a case table and checking each answer: the case's exact expectation plus the
//! universal properties every answer to a hostile request must have.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::server::ssrf_sink;
use super::server::{exchange, read_audit_log, Response, Server};
use super::{Case, Tok};

/// The exact safe answer to a case.
#[derive(Debug, Clone)]
pub enum Expect {
    /// 401 with a `Bearer` challenge carrying no `error` (no credentials at all).
    NoCredentials,
    /// 401 with `error="invalid_token"`: the uniform answer to every bad token.
    InvalidToken,
    /// 400 with `error="invalid_request"` (two credentials, malformed header).
    InvalidRequest,
    /// 403 `insufficient_scope` (`forbidden`).
    Forbidden,
    /// 404 byte-identical (status, body, stable headers) to the same request for `twin`, a
    /// path that names nothing: a refusal that does not reveal existence.
    Hidden(&'static str),
    /// This exact status; an error body must be an OperationOutcome.
    Status(u16),
    /// 200; each listed `Type/id` appears in the body (so narrowing is not just "empty").
    Ok(&'static [&'static str]),
    /// 200 batch-response whose entries have these statuses, in order.
    Batch(&'static [u16]),
    /// 200 searchset whose entry resources are exactly these `Type/id`s (any order).
    Entries(&'static [&'static str]),
    /// [`Expect::Entries`], or one of these refusals where the rules allow refusing up front
    /// (chains, `_has`, includes, type history: 403; unsupported features: 400).
    EntriesOr(&'static [&'static str], &'static [u16]),
    /// 200 with `Bundle.total` equal to this.
    Total(u64),
    /// One of these statuses, where the specification allows either (each listed in
    /// docs/threat-model.md with its reason).
    OneOf(&'static [u16]),
}

/// `Type/id` of each entry resource of a Bundle.
pub fn entry_ids(v: &Value) -> Vec<String> {
    v["entry"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    format!(
                        "{}/{}",
                        e["resource"]["resourceType"].as_str().unwrap_or(""),
                        e["resource"]["id"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn same_set(got: &[String], want: &[&str]) -> bool {
    let mut g: Vec<&str> = got.iter().map(String::as_str).collect();
    let mut w: Vec<&str> = want.to_vec();
    g.sort_unstable();
    w.sort_unstable();
    g == w
}

/// Markers of internal detail that must never reach a client (threats.md §8).
const LEAK_MARKERS: &[&str] = &[
    "panicked",
    "stack backtrace",
    "RUST_BACKTRACE",
    "rusqlite",
    "sqlite",
    "SQLITE",
    "SELECT ",
    "INSERT ",
    "src/",
    ".rs:",
    "thread '",
    "Error {",
    "serde_json",
    "called `",
    "/home/",
    "/work/",
    "/tmp/",
];

fn fail(case: &Case, why: impl std::fmt::Display, r: Option<&Response>) -> String {
    let got = r.map_or(String::new(), |r| {
        let text = r.text();
        let cut: String = text.chars().take(300).collect();
        format!("\n      got {} {cut}", r.status)
    });
    format!(
        "  {} [{:?}] {} {}: {why}{got}",
        case.name, case.class, case.method, case.path
    )
}

/// Replaces `{SSRF}` with the URL of the loopback sink that nothing may connect to.
pub fn ssrf(s: &str) -> String {
    s.replace("{SSRF}", &ssrf_sink().url)
}

fn send(server: &Server, case: &Case, path: &str, request_id: &str) -> Result<Response, String> {
    let mut headers: Vec<(String, String)> = case
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), ssrf(v)))
        .collect();
    let body = case
        .body
        .as_ref()
        .map(|b| ssrf(&String::from_utf8_lossy(b)).into_bytes());
    let path = ssrf(path);
    let auth = match &case.token {
        Tok::None => None,
        Tok::Alice(scope) => Some(format!("Bearer {}", server.alice(scope))),
        Tok::Build(f) => Some(format!("Bearer {}", f(&server.issuer))),
        Tok::Header(v) => Some(v.clone()),
        Tok::HeaderWith(f) => Some(f(&server.issuer)),
    };
    if let Some(a) = auth {
        headers.push(("Authorization".to_owned(), a));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("x-request-id"))
    {
        headers.push(("X-Request-Id".to_owned(), request_id.to_owned()));
    }
    let body = match (&case.body, body) {
        // Non-UTF-8 bodies go as they are.
        (Some(raw), Some(_)) if std::str::from_utf8(raw).is_err() => Some(raw.clone()),
        (_, b) => b,
    };
    exchange(
        &server.addr,
        case.method,
        &format!("/fhir{path}"),
        &headers,
        body.as_deref(),
    )
}

fn challenge(r: &Response) -> String {
    r.header("www-authenticate").unwrap_or_default().to_owned()
}

fn check_expect(server: &Server, case: &Case, r: &Response, id: &str) -> Result<(), String> {
    match &case.expect {
        Expect::NoCredentials => {
            let c = challenge(r);
            if r.status != 401 || !c.starts_with("Bearer") || c.contains("error=") {
                return Err(format!(
                    "want 401 with a bare Bearer challenge, challenge {c:?}"
                ));
            }
        }
        Expect::InvalidToken => {
            let c = challenge(r);
            if r.status != 401 || !c.contains("error=\"invalid_token\"") {
                return Err(format!("want 401 invalid_token, challenge {c:?}"));
            }
        }
        Expect::InvalidRequest => {
            let c = challenge(r);
            if r.status != 400 || !c.contains("error=\"invalid_request\"") {
                return Err(format!("want 400 invalid_request, challenge {c:?}"));
            }
        }
        Expect::Forbidden => {
            if r.status != 403 {
                return Err("want 403".to_owned());
            }
            let c = challenge(r);
            if !c.is_empty() && !c.contains("insufficient_scope") {
                return Err(format!(
                    "a 403 challenge must say insufficient_scope: {c:?}"
                ));
            }
        }
        Expect::Hidden(twin) => {
            if r.status != 404 {
                return Err("want 404 (indistinguishable from a missing resource)".to_owned());
            }
            let t = send(server, case, twin, &format!("{id}-twin"))?;
            if t.status != 404 || t.body != r.body || t.stable_headers() != r.stable_headers() {
                return Err(format!(
                    "404 differs from the 404 for a missing {twin}:\n      {:?}\n      {:?}\n      {}\n      {}",
                    r.stable_headers(),
                    t.stable_headers(),
                    r.text(),
                    t.text()
                ));
            }
        }
        Expect::Status(s) => {
            if r.status != *s {
                return Err(format!("want {s}"));
            }
        }
        Expect::Ok(must) => {
            if r.status != 200 {
                return Err("want 200".to_owned());
            }
            let text = r.text();
            for m in *must {
                let (t, i) = m.split_once('/').unwrap_or((m, ""));
                let found = text.contains(&format!("\"id\":\"{i}\""))
                    && text.contains(&format!("\"resourceType\":\"{t}\""));
                if !found {
                    return Err(format!(
                        "{m} is missing: narrowing must keep the caller's own data"
                    ));
                }
            }
        }
        Expect::Batch(statuses) => {
            if r.status != 200 {
                return Err("want 200 batch-response".to_owned());
            }
            let v = r.json().unwrap_or(Value::Null);
            let got: Vec<String> = v["entry"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| e["response"]["status"].as_str().unwrap_or("").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            let ok = got.len() == statuses.len()
                && got
                    .iter()
                    .zip(statuses.iter())
                    .all(|(g, s)| g.starts_with(&s.to_string()));
            if !ok {
                return Err(format!("entry statuses {got:?}, want {statuses:?}"));
            }
        }
        Expect::Entries(want) => {
            let got = entry_ids(&r.json().unwrap_or(Value::Null));
            if r.status != 200 || !same_set(&got, want) {
                return Err(format!("want 200 with exactly {want:?}, entries {got:?}"));
            }
        }
        Expect::EntriesOr(want, refusals) => {
            let got = entry_ids(&r.json().unwrap_or(Value::Null));
            if !refusals.contains(&r.status) && (r.status != 200 || !same_set(&got, want)) {
                return Err(format!(
                    "want one of {refusals:?}, or 200 with exactly {want:?}; entries {got:?}"
                ));
            }
        }
        Expect::Total(n) => {
            let total = r.json().and_then(|v| v["total"].as_u64());
            if r.status != 200 || total != Some(*n) {
                return Err(format!("want 200 with total {n}, total {total:?}"));
            }
        }
        Expect::OneOf(statuses) => {
            if !statuses.contains(&r.status) {
                return Err(format!("want one of {statuses:?}"));
            }
        }
    }
    Ok(())
}

fn strip_links(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.get("resourceType").and_then(Value::as_str) == Some("Bundle") {
                o.remove("link");
            }
            o.values_mut().for_each(strip_links);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_links),
        _ => {}
    }
}

/// What every answer to a hostile request must satisfy, whatever its status.
fn check_universal(case: &Case, r: &Response) -> Result<(), String> {
    // Bundle links echo the caller's own query (ids it already named): not a disclosure.
    let mut everything = match r.json() {
        Some(mut v) => {
            strip_links(&mut v);
            v.to_string()
        }
        None => r.text(),
    };
    for (k, v) in &r.headers {
        everything.push_str(&format!("\n{k}: {v}"));
    }
    if let Some(m) = case.markers.iter().find(|m| everything.contains(*m)) {
        return Err(format!("the victim's data appears in the answer ({m:?})"));
    }
    // 431 comes from the HTTP stack's header parser, before the application sees a request.
    if r.status != 431 && r.header("x-content-type-options") != Some("nosniff") {
        return Err("no X-Content-Type-Options: nosniff".to_owned());
    }
    if let Some(v) = r.json() {
        // `total` counts only what the caller may see: on a single page it equals the matches.
        if let (Some(total), Some(entries)) = (v["total"].as_u64(), v["entry"].as_array()) {
            let single_page = !v["link"]
                .as_array()
                .is_some_and(|l| l.iter().any(|l| l["relation"] == "next"));
            let matches = entries
                .iter()
                .filter(|e| e["search"]["mode"].as_str().unwrap_or("match") == "match")
                .count() as u64;
            if single_page && total != matches {
                return Err(format!(
                    "Bundle.total {total} but {matches} matches returned"
                ));
            }
        }
    }
    // HEAD answers carry no body; a refused CORS preflight is the HTTP layer's bare 403.
    let bodyless = case.method == "HEAD" || case.method == "OPTIONS" || r.status == 431;
    if r.status >= 400 && !bodyless {
        let v = r.json().unwrap_or(Value::Null);
        if v["resourceType"] != "OperationOutcome" {
            return Err("an error body must be an OperationOutcome".to_owned());
        }
        let text = r.text();
        if let Some(m) = LEAK_MARKERS.iter().find(|m| text.contains(*m)) {
            return Err(format!("error body leaks internal detail ({m:?})"));
        }
        if let Some(q) = case.path.split_once('?').map(|(_, q)| q) {
            if q.len() >= 12 && text.contains(q) {
                return Err("error body echoes the query string".to_owned());
            }
        }
        if let Some(b) = &case.body {
            let b = String::from_utf8_lossy(b);
            if b.len() >= 40 && text.contains(b.as_ref()) {
                return Err("error body echoes the request body".to_owned());
            }
        }
        if let Tok::Header(h) = &case.token {
            if h.len() >= 20 && text.contains(h.as_str()) {
                return Err("error body echoes the credential".to_owned());
            }
        }
        // No token (or any JWT-shaped text) in an error body (threats.md §2.22).
        if text.contains("eyJ") {
            return Err("error body carries a JWT".to_owned());
        }
    }
    Ok(())
}

/// Waits until the request's audit record is in the log and checks its outcome agrees with
/// the status. The record is the new one carrying the request's `X-Request-Id`; a refusal the
/// server made before the facade may carry none, so then any new record counts (cases run one
/// at a time, so new records are this request's).
fn check_audit(
    server: &Server,
    case: &Case,
    r: &Response,
    id: &str,
    before: usize,
) -> Result<(), String> {
    if case.unaudited.is_some() {
        return Ok(());
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(5);
    loop {
        let records = read_audit_log(&server.audit_log());
        let new = records.get(before..).unwrap_or_default();
        let tagged: Vec<_> = new
            .iter()
            .filter(|rec| rec.correlation_id.as_deref() == Some(id))
            .collect();
        // Untagged records count only once the tagged one had time to arrive (a late record
        // of an earlier follow-up request must not stand in for this one).
        let mine: Vec<_> = if !tagged.is_empty() {
            tagged
        } else if start.elapsed() > Duration::from_millis(1500) {
            new.iter()
                .filter(|rec| rec.correlation_id.is_none())
                .collect()
        } else {
            Vec::new()
        };
        if !mine.is_empty() {
            if r.status >= 400 && mine.iter().any(|rec| rec.outcome.is_success()) {
                return Err(format!("audited as a success, answered {}", r.status));
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("no audit record for this request".to_owned());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Which rows of a table to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Every row not marked with a known bug: the regression gate.
    Gate,
    /// Only the rows marked with a known bug (they fail until it is fixed).
    KnownBugs,
}

/// Runs the selected `cases` in order against `server`; returns one message per failure.
pub fn run_table(server: &Server, cases: &[Case], rows: Rows) -> Vec<String> {
    let mut failures = Vec::new();
    let mut ssrf_hits = ssrf_sink().hits();
    for (n, case) in cases.iter().enumerate() {
        if case.bug.is_some() != (rows == Rows::KnownBugs) {
            continue;
        }
        let id = case
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-request-id"))
            .map_or_else(|| format!("hostile-{n}-{}", case.name), |(_, v)| v.clone());
        let before = read_audit_log(&server.audit_log()).len();
        let r = match send(server, case, &case.path, &id) {
            Ok(r) => r,
            Err(e) => {
                failures.push(fail(case, format!("no HTTP answer: {e}"), None));
                continue;
            }
        };
        // The audit check comes first: the 404 twin below makes records of its own.
        if let Err(e) = check_audit(server, case, &r, &id, before) {
            failures.push(fail(case, e, Some(&r)));
        }
        if let Err(e) = check_expect(server, case, &r, &id) {
            failures.push(fail(case, e, Some(&r)));
        }
        if let Err(e) = check_universal(case, &r) {
            failures.push(fail(case, e, Some(&r)));
        }
        if let Some(after) = case.after {
            if let Err(e) = after(server, &r) {
                failures.push(fail(case, e, Some(&r)));
            }
        }
        let hits = ssrf_sink().hits();
        if hits > ssrf_hits {
            failures.push(fail(
                case,
                "the server connected to a client-supplied URL (SSRF)",
                Some(&r),
            ));
            ssrf_hits = hits;
        }
        if let (Some(bug), Rows::KnownBugs) = (case.bug, rows) {
            if let Some(last) = failures.last_mut() {
                if last.contains(case.name) {
                    last.push_str(&format!("\n      known bug: {bug}"));
                }
            }
        }
    }
    failures
}
