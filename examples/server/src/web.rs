//! The HTTP face of the FHIR server: axum routing, bodies, CORS and response headers around the
//! interactions in [`crate::fhir`].

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use secure_fhir::rejection::Rejection;
use secure_fhir::response::{self as fhir_response, IssueCode, FHIR_JSON};
use serde_json::Value;

use crate::audit_trail::Pending;
use crate::fhir::outcome::{Done, Fail, Payload, Return};
use crate::fhir::rest::{self, Env, Op};
use crate::fhir::route::{self, Route, RouteError};
use crate::fhir::{bundle, capability, not_modified, search};
use crate::security::{Gate, Head, Hidden, PatientsOf, Verdict};
use crate::store::{Store, Tx};

/// The FHIR server's shared state.
pub struct App {
    /// The store.
    pub store: Arc<Store>,
    /// The FHIR base URL (`http://127.0.0.1:8080/fhir`).
    pub base: String,
    /// Authorization and audit.
    pub gate: Gate,
    /// Browser origins allowed to call the FHIR API (CORS).
    pub cors_origins: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    /// `GET /fhir/metadata`.
    pub capability: Value,
    /// `GET /fhir/.well-known/smart-configuration`.
    pub smart_configuration: Value,
}

/// The router for `/fhir` and everything below it.
pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new()
        .route("/fhir", axum::routing::any(handle))
        .route("/fhir/", axum::routing::any(handle))
        .route("/fhir/{*rest}", axum::routing::any(handle))
        .with_state(app)
}

fn into_axum(r: http::Response<Vec<u8>>) -> Response {
    r.map(Body::from)
}

async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let _in_flight = app.gate.enter();
    let (parts, body) = req.into_parts();
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    let path = parts.uri.path().strip_prefix("/fhir").unwrap_or("");
    let path = path.strip_prefix('/').unwrap_or(path).to_owned();
    let public = is_public(&parts.method, &path);
    // The limits come first, for preflights too (an over-long URI is a 414 whatever the method).
    if let Err(rejection) = app.gate.limits().check_head(&parts) {
        let mut r = app.gate.reject(&parts, rejection);
        cors(&app, origin.as_deref(), public, r.headers_mut());
        return into_axum(r);
    }
    if parts.method == Method::OPTIONS {
        return into_axum(preflight(&app, origin.as_deref(), public));
    }
    // The credential before the body: no one without a valid token makes the server buffer
    // one. Public routes need none.
    let head = if public {
        None
    } else {
        match app.gate.authenticate(&parts) {
            Ok(head) => Some(head),
            Err(mut r) => {
                cors(&app, origin.as_deref(), public, r.headers_mut());
                return into_axum(r);
            }
        }
    };
    let limit = app.gate.limits().max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await;
    if bytes.is_ok()
        && !public
        && may_read_audit_view(&path, parts.uri.query().unwrap_or(""))
        && !app.gate.sync_audit_view().await
    {
        let mut r = fhir_response::error(
            StatusCode::SERVICE_UNAVAILABLE,
            IssueCode::Exception,
            "The audit trail is unavailable",
        );
        cors(&app, origin.as_deref(), public, r.headers_mut());
        return into_axum(r);
    }
    let (mut response, audit) = match bytes {
        Ok(bytes) => app.serve(&parts, &path, &bytes, head),
        Err(_) => {
            let rejection = Rejection::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                IssueCode::TooLong,
                "body_too_large",
                "The request body is too large",
            );
            match &head {
                Some(head) => (app.gate.refuse_body(&parts, head, rejection), None),
                None => (app.gate.reject(&parts, rejection), None),
            }
        }
    };
    // The audit record of what this response discloses or confirms is durable before the
    // response leaves (audit.md §8.6); if it cannot be made so, the response is withheld.
    if let Some(audit) = audit {
        if let Err(e) = audit.durable().await {
            eprintln!("secure-fhir-server: AUDIT FAILURE, response withheld: {e}");
            response = fhir_response::error(
                StatusCode::SERVICE_UNAVAILABLE,
                IssueCode::Exception,
                "The request could not be audited",
            );
        }
    }
    cors(&app, origin.as_deref(), public, response.headers_mut());
    // A HEAD answer keeps its body here: axum sets `Content-Length` from it (what GET would
    // send, RFC 9110 §8.6) and then drops it.
    into_axum(response)
}

/// Whether a request needs no credentials and reaches no data: the CapabilityStatement, the
/// SMART configuration and the conformance resources the statement names, read (or preflighted).
fn is_public(method: &Method, path: &str) -> bool {
    let read = *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS;
    matches!(path, "metadata" | ".well-known/smart-configuration")
        || (read
            && path
                .split_once('/')
                .is_some_and(|(t, id)| capability::is_own_definition(t, id)))
}

/// Whether a request may read the store's view of the audit trail (AuditEvents, the
/// accounting of disclosures): then it first waits for every earlier record to be in it.
/// Conservative: anything but a plain interaction on another resource type counts.
fn may_read_audit_view(path: &str, query: &str) -> bool {
    let first = path.split('/').next().unwrap_or("");
    let other_type = first.starts_with(|c: char| c.is_ascii_uppercase()) && first != "AuditEvent";
    !other_type
        || path.contains("AuditEvent")
        || path.contains('$')
        || path.contains("_search")
        || query.contains("AuditEvent")
        || query.contains("_type")
        || query.contains('*')
}

/// A CORS preflight leaves no audit record: it carries no credentials, reaches no data and
/// makes no access decision, so it is none of the REST interactions or decisions audit.md
/// (§2, §4) asks to record; the request it announces is audited like any other.
fn preflight(app: &App, origin: Option<&str>, public: bool) -> http::Response<Vec<u8>> {
    let mut r = http::Response::new(Vec::new());
    fhir_response::security_headers(r.headers_mut());
    let allowed = origin.is_some_and(|o| public || (app.cors_origins)(o));
    if !allowed {
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    *r.status_mut() = StatusCode::NO_CONTENT;
    cors(app, origin, public, r.headers_mut());
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "Authorization, Content-Type, DPoP, If-Match, If-None-Exist, If-None-Match, \
             If-Modified-Since, Prefer, Accept",
        ),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

/// CORS (SMART: "any origin may read metadata and smart-configuration; only registered origins
/// may call FHIR REST endpoints"). Never `*` on PHI, never credentials.
fn cors(app: &App, origin: Option<&str>, public: bool, h: &mut HeaderMap) {
    let Some(origin) = origin else { return };
    if public {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        return;
    }
    if !(app.cors_origins)(origin) {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(
                "WWW-Authenticate, Location, Content-Location, ETag, Last-Modified",
            ),
        );
        vary_origin(h);
    }
}

/// Adds `Origin` to the response's `Vary`, keeping a single header that names each field once
/// (PHI responses already carry `Vary: Authorization, Origin`).
fn vary_origin(h: &mut HeaderMap) {
    let mut list = String::new();
    let old = h
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok());
    for name in old.flat_map(|v| v.split(',')).chain(["Origin"]) {
        let name = name.trim();
        if name.is_empty() || list.split(", ").any(|n| n.eq_ignore_ascii_case(name)) {
            continue;
        }
        if !list.is_empty() {
            list.push_str(", ");
        }
        list.push_str(name);
    }
    if let Ok(v) = HeaderValue::from_str(&list) {
        h.insert(header::VARY, v);
    }
}

fn fail_response(f: Fail) -> http::Response<Vec<u8>> {
    if f.is_not_found() {
        let mut r = fhir_response::not_found();
        if f.hidden {
            // For the audit record only (extensions are never sent).
            r.extensions_mut().insert(Hidden);
        }
        return r;
    }
    let mut r = fhir_response::error(f.status, f.code, f.text);
    if let Some(allow) = f.allow {
        r.headers_mut()
            .insert(header::ALLOW, http::HeaderValue::from_static(allow));
    }
    r
}

/// Whether the client takes the JSON this server answers in. A `_format` or an `Accept` that
/// names only other formats (XML, Turtle) gets 406 (FHIR R4 http.html §2.21.0.6) rather than
/// a 200 in a format the client did not ask for; no `Accept`, `*/*` and `application/*` are
/// JSON.
fn accepts_json(parts: &http::request::Parts) -> bool {
    fn json(media: &str) -> bool {
        // An unencoded `+` in the query string arrives as a space.
        let media = media.trim().replace(' ', "+").to_ascii_lowercase();
        matches!(
            media.as_str(),
            "json" | "application/json" | "application/fhir+json" | "application/json+fhir"
        )
    }
    let query = search::pairs(parts.uri.query().unwrap_or(""));
    let format = query
        .iter()
        .filter(|(k, _)| k == "_format")
        .all(|(_, v)| json(v.split(';').next().unwrap_or("")));
    let accept = header_str(&parts.headers, header::ACCEPT).is_none_or(|a| {
        a.split(',').any(|range| {
            let media = range.split(';').next().unwrap_or("").trim();
            media.is_empty()
                || media == "*/*"
                || media.eq_ignore_ascii_case("application/*")
                || json(media)
        })
    });
    format && accept
}

/// The answer to a client that takes no JSON.
fn not_acceptable() -> http::Response<Vec<u8>> {
    fhir_response::error(
        StatusCode::NOT_ACCEPTABLE,
        IssueCode::NotSupported,
        "This server answers in JSON only (application/fhir+json)",
    )
}

/// A list header (RFC 9110 §5.3: several lines are one comma-separated list), every line
/// read. A line that is no visible ASCII makes the whole value `"`, which no list parser
/// accepts: a precondition the server cannot read holds for nothing, rather than going unread.
fn list_header(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    let mut lines = h.get_all(name).iter().peekable();
    lines.peek()?;
    let mut joined = String::new();
    for line in lines {
        let Ok(text) = line.to_str() else {
            return Some("\"".to_owned());
        };
        if !joined.is_empty() {
            joined.push_str(", ");
        }
        joined.push_str(text);
    }
    Some(joined)
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn json_response(
    status: StatusCode,
    content_type: &'static str,
    v: &Value,
) -> http::Response<Vec<u8>> {
    let mut r = http::Response::new(crate::fhir::json::to_vec(v));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    fhir_response::security_headers(r.headers_mut());
    r
}

/// The body of a request as the interaction needs it.
enum Parsed {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
}

fn parse_body(parts: &http::request::Parts, route: &Route, bytes: &[u8]) -> Result<Parsed, Fail> {
    let m = &parts.method;
    let takes_body = *m == Method::POST || *m == Method::PUT || *m == Method::PATCH;
    if !takes_body {
        return Ok(Parsed::None);
    }
    let ct = header_str(&parts.headers, header::CONTENT_TYPE).unwrap_or("");
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let unsupported = Fail::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        IssueCode::NotSupported,
        "Send the body as application/fhir+json (a JSON Patch as application/json-patch+json)",
    );
    let json = || -> Result<Value, Fail> { crate::fhir::model::parse_json(bytes) };
    match (m, route, media.as_str()) {
        (&Method::POST, Route::TypeSearch(_), "application/x-www-form-urlencoded") => {
            let text =
                std::str::from_utf8(bytes).map_err(|_| Fail::bad_request("Malformed form body"))?;
            Ok(Parsed::Form(search::pairs(text)))
        }
        (&Method::PATCH, _, "application/json-patch+json") => Ok(Parsed::Json(json()?)),
        (&Method::PATCH, _, _) => Err(unsupported),
        (_, _, "application/fhir+json" | "application/json") => Ok(Parsed::Json(json()?)),
        _ => Err(unsupported),
    }
}

impl App {
    /// Serves one request (everything but CORS and `HEAD` trimming): the response, and the
    /// audit record it must wait for.
    fn serve(
        &self,
        parts: &http::request::Parts,
        path: &str,
        bytes: &[u8],
        head: Option<Head>,
    ) -> (http::Response<Vec<u8>>, Option<Pending>) {
        let route = route::parse(path);
        match route {
            // Conformance, not data: no token, no record; but the same 406 as every other FHIR
            // answer to a client that takes no JSON.
            Ok(Route::Metadata) if parts.method == Method::GET || parts.method == Method::HEAD => {
                let r = if accepts_json(parts) {
                    json_response(StatusCode::OK, FHIR_JSON, &self.capability)
                } else {
                    not_acceptable()
                };
                return (r, None);
            }
            Ok(Route::Instance(ref t, ref id))
                if parts.method == Method::GET || parts.method == Method::HEAD =>
            {
                if let Some(definition) = capability::own_definition(&self.base, t, id) {
                    let r = if accepts_json(parts) {
                        json_response(StatusCode::OK, FHIR_JSON, &definition)
                    } else {
                        not_acceptable()
                    };
                    return (r, None);
                }
            }
            // JSON whatever the `Accept` (SMART App Launch 2.2 conformance, smart.md §7.1): not
            // a FHIR resource, and OAuth clients ask for it without a FHIR media type.
            Ok(Route::SmartConfiguration)
                if parts.method == Method::GET || parts.method == Method::HEAD =>
            {
                let r = json_response(
                    StatusCode::OK,
                    "application/json",
                    &self.smart_configuration,
                );
                return (r, None);
            }
            _ => {}
        }
        // `handle` authenticated every request that is not public; the public ones were
        // answered above, so a request here without a head is a route `is_public` and this
        // match disagree on: checked now, before the body is decided.
        let head = match head {
            Some(h) => h,
            None => match self.gate.authenticate(parts) {
                Ok(h) => h,
                Err(rejection) => return (rejection, None),
            },
        };
        let verdict = match self.gate.authorize(parts, bytes, head) {
            Ok(v) => v,
            Err(rejection) => return (rejection, None),
        };
        let now = chrono::Utc::now();
        // A path this server does not serve is refused after the facade has seen the request
        // (no credentials: 401), so that its record names who asked, and what.
        let route = match route {
            Ok(r) => r,
            Err(e) => {
                let r = match e {
                    RouteError::BadId => fhir_response::not_found(),
                    _ => fhir_response::error(
                        StatusCode::NOT_FOUND,
                        IssueCode::NotSupported,
                        "No such FHIR endpoint or resource type",
                    ),
                };
                let audit = self.gate.record(&verdict, parts, bytes, &r, now);
                return (r, audit);
            }
        };
        let (rtype, id) = route.target();
        if !verdict.agrees_with(rtype, id) {
            let r = fhir_response::error(
                StatusCode::BAD_REQUEST,
                IssueCode::Invalid,
                "The request is not a valid FHIR request",
            );
            let audit = self.gate.record(&verdict, parts, bytes, &r, now);
            return (r, audit);
        }
        if !accepts_json(parts) {
            let r = not_acceptable();
            let audit = self.gate.record(&verdict, parts, bytes, &r, now);
            return (r, audit);
        }
        let outcome = self.execute(parts, &route, bytes, &verdict, now);
        let response = match outcome {
            Ok((done, patients)) => {
                verdict.note_touched(&done.touched, patients);
                self.render(done)
            }
            Err(f) => fail_response(f),
        };
        let audit = self.gate.record(&verdict, parts, bytes, &response, now);
        (response, audit)
    }

    fn execute(
        &self,
        parts: &http::request::Parts,
        route: &Route,
        bytes: &[u8],
        verdict: &Verdict,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Done, Option<PatientsOf>), Fail> {
        let body = parse_body(parts, route, bytes)?;
        let mut query = search::pairs(parts.uri.query().unwrap_or(""));
        let json = match body {
            Parsed::None => None,
            Parsed::Json(v) => Some(v),
            Parsed::Form(form) => {
                query.extend(form);
                None
            }
        };
        if let (Route::Base, &Method::POST) = (route, &parts.method) {
            let bundle = json.ok_or(Fail::bad_request("A Bundle body is required"))?;
            let authorize = |e: &bundle::Entry| self.gate.authorize_entry(verdict, e);
            let failed =
                |e: &bundle::Entry, f: &Fail| self.gate.record_entry_failure(verdict, e, f);
            let bounds = bundle::Bounds::REQUEST;
            let entries = (
                &authorize as &bundle::Authorize<'_>,
                &failed as &bundle::Failed<'_>,
            );
            return bundle::run(&self.store, &self.base, &bundle, entries, now, bounds)
                .map(|done| (done, None));
        }
        let env = Env {
            access: verdict.access(),
            base: &self.base,
            now,
        };
        let if_match = list_header(&parts.headers, header::IF_MATCH);
        let if_none_match = list_header(&parts.headers, header::IF_NONE_MATCH);
        let op = Op {
            method: &parts.method,
            route,
            query: &query,
            if_match: if_match.as_deref(),
            if_none_exist: parts
                .headers
                .get("if-none-exist")
                .and_then(|v| v.to_str().ok()),
            if_none_match: if_none_match.as_deref(),
            if_modified_since: header_str(&parts.headers, header::IF_MODIFIED_SINCE)
                .and_then(not_modified::http_date),
            ret: Return::from_prefer(header_str(
                &parts.headers,
                http::HeaderName::from_static("prefer"),
            )),
            body: json.as_ref(),
            assigned_id: None,
        };
        // The audit record's patients are looked up in the same store access.
        let run = |tx: &Tx<'_>| {
            rest::run(tx, &env, &op).map(|done| {
                let patients = verdict.patients_of(tx, &done.touched);
                (done, patients)
            })
        };
        if rest::is_read(&op) {
            self.store.read(run)
        } else {
            self.store.transaction(run)
        }
    }

    fn render(&self, done: Done) -> http::Response<Vec<u8>> {
        let body = match done.payload {
            Payload::Empty => Vec::new(),
            Payload::Stored(text) => text.into_bytes(),
            Payload::Json(v) => crate::fhir::json::to_vec(&v),
            Payload::Bundle(b) => b.to_vec(),
            Payload::Informational(t) => {
                fhir_response::operation_outcome(IssueCode::Informational, t)
            }
        };
        let has_body = !body.is_empty();
        let mut r = http::Response::new(body);
        *r.status_mut() = done.status;
        let h = r.headers_mut();
        if has_body {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        }
        if let Some(v) = &done.version {
            if let Ok(etag) = HeaderValue::from_str(&format!("W/\"{}\"", v.version)) {
                h.insert(header::ETAG, etag);
            }
            if let Some(lm) = http_date(&v.last_updated) {
                h.insert(header::LAST_MODIFIED, lm);
            }
            if done.location {
                let loc = format!("{}/{}/{}/_history/{}", self.base, v.rtype, v.id, v.version);
                if let Ok(loc) = HeaderValue::from_str(&loc) {
                    h.insert(header::LOCATION, loc);
                }
            }
        }
        fhir_response::security_headers(h);
        fhir_response::no_store(h);
        r
    }
}

/// `instant` (RFC 3339) as an HTTP-date (IMF-fixdate, RFC 9110 §5.6.7), written directly: a
/// strftime pattern was parsed anew for every response (2% of a read's instructions).
fn http_date(instant: &str) -> Option<HeaderValue> {
    use chrono::{Datelike, Timelike};
    const DAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let t = chrono::DateTime::parse_from_rfc3339(instant)
        .ok()?
        .with_timezone(&chrono::Utc);
    // IMF-fixdate has four digits for the year.
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let mut out = *b"Mon, 01 Jan 1970 00:00:00 GMT";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for b in out[at..at + width].iter_mut().rev() {
            *b = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(5, 2, t.day());
    put(12, 4, year);
    put(17, 2, t.hour());
    put(20, 2, t.minute());
    put(23, 2, t.second());
    out[..3].copy_from_slice(DAYS[t.weekday().num_days_from_monday() as usize]);
    out[8..11].copy_from_slice(MONTHS[t.month0() as usize]);
    HeaderValue::from_bytes(&out).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates_are_what_the_strftime_pattern_wrote() {
        for instant in [
            "2026-12-07T02:20:57.749533113Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59.999+14:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T11:59:59-12:00",
        ] {
            let t = chrono::DateTime::parse_from_rfc3339(instant).unwrap();
            let strftime = t
                .with_timezone(&chrono::Utc)
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
            assert_eq!(super::http_date(instant).unwrap(), strftime, "{instant}");
        }
        assert!(super::http_date("not a date").is_none());
    }
}
