//! `batch` and `transaction` Bundles posted to the base.
//!
//! Every entry is authorized as the equivalent standalone request. A batch runs each entry on
//! its own; a transaction authorizes every entry first (one whose URL or criteria name another
//! entry's fullUrl as rewritten, before any create runs), then runs them all in one SQLite
//! transaction, so a refused or failed entry commits nothing.

use std::collections::{BTreeSet, HashMap, HashSet};

use http::{Method, StatusCode};
use secure_fhir::response::IssueCode;
use serde_json::{json, Value};

use super::access::Access;
use super::outcome::{Done, Fail, Outcome, Payload, Return};
use super::rest::{self, Env, Op};
use super::route::{self, Route};
use crate::store::{self, Store};

/// Most entries in one batch or transaction.
pub const MAX_ENTRIES: usize = 1_000;

/// Most bytes (about) the responses of one batch or transaction carry in all. Each entry's
/// response is bounded on its own, but the entries may repeat one read a thousand times (a
/// thousand `$everything`s of a patient); once the earlier entries' responses hold this much,
/// each further entry fails instead of the response growing to gigabytes.
pub const MAX_RESPONSE_BYTES: usize = 32 << 20;

/// How large a Bundle [`run`] takes, and how large its response may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Most entries.
    pub entries: usize,
    /// Most bytes (about) of the entries' responses in all.
    pub response_bytes: usize,
}

impl Bounds {
    /// A client's request: [`MAX_ENTRIES`] and [`MAX_RESPONSE_BYTES`].
    pub const REQUEST: Bounds = Bounds {
        entries: MAX_ENTRIES,
        response_bytes: MAX_RESPONSE_BYTES,
    };
}

/// An entry refused because the earlier entries' responses already hold
/// [`Bounds::response_bytes`].
const RESPONSE_FULL: Fail = Fail::new(
    StatusCode::BAD_REQUEST,
    IssueCode::TooLong,
    "The responses of this Bundle's earlier entries are already as large as one response may be",
);

/// About how many bytes of the response a payload takes.
fn payload_len(payload: &Payload) -> usize {
    match payload {
        Payload::Empty | Payload::Informational(_) => 0,
        Payload::Stored(text) => text.len(),
        Payload::Json(v) => super::json::to_vec(v).len(),
        Payload::Bundle(b) => b.approx_len(),
    }
}

/// One entry's request, parsed.
pub struct Entry {
    /// The method.
    pub method: Method,
    /// The path.
    pub route: Route,
    /// The entry's `request.url` (relative), for authorization.
    pub url: String,
    /// Query parameters of the URL.
    pub query: Vec<(String, String)>,
    /// The resource, if any.
    pub resource: Option<Value>,
    /// `request.ifMatch`.
    pub if_match: Option<String>,
    /// `request.ifNoneExist`.
    pub if_none_exist: Option<String>,
    /// `request.ifNoneMatch` (conditional read).
    pub if_none_match: Option<String>,
    /// `request.ifModifiedSince` (conditional read), when it is a valid instant.
    pub if_modified_since: Option<chrono::DateTime<chrono::Utc>>,
    /// `fullUrl`.
    pub full_url: Option<String>,
}

/// Authorizes one entry as the equivalent standalone request.
pub type Authorize<'a> = dyn Fn(&Entry) -> Result<Box<dyn Access + Send>, Fail> + 'a;

/// A transaction entry's rights: `None` until an entry whose request names a fullUrl is
/// authorized as rewritten.
type EntryAccess = Option<Box<dyn Access + Send>>;

/// Told of each authorized entry that then failed (a read answered 404, a refused write), to
/// audit it as a standalone request would be.
pub type Failed<'a> = dyn Fn(&Entry, &Fail) + 'a;

fn parse_entry(e: &Value) -> Result<Entry, Fail> {
    let bad = Fail::bad_request("Malformed Bundle entry");
    let req = e.get("request").ok_or(bad)?;
    let method = match req.get("method").and_then(Value::as_str) {
        Some("GET") => Method::GET,
        Some("HEAD") => Method::HEAD,
        Some("POST") => Method::POST,
        Some("PUT") => Method::PUT,
        Some("PATCH") => Method::PATCH,
        Some("DELETE") => Method::DELETE,
        _ => return Err(bad),
    };
    let url = req.get("url").and_then(Value::as_str).ok_or(bad)?;
    if url.contains("://") || url.starts_with('/') {
        return Err(Fail::bad_request("Bundle entry URLs must be relative"));
    }
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let route = route::parse(path).map_err(|_| Fail::NOT_FOUND)?;
    if matches!(route, Route::Base) {
        return Err(Fail::bad_request("Nested batches are not supported"));
    }
    let text = |k: &str| req.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut resource = e.get("resource").cloned();
    if method == Method::PATCH {
        // FHIR carries a JSON Patch in a Binary resource inside Bundles.
        resource = resource.as_ref().and_then(binary_json_patch);
    }
    Ok(Entry {
        method,
        route,
        url: url.to_owned(),
        query: super::search::pairs(query),
        resource,
        if_match: text("ifMatch"),
        if_none_exist: text("ifNoneExist"),
        if_none_match: text("ifNoneMatch"),
        if_modified_since: text("ifModifiedSince")
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
        full_url: e.get("fullUrl").and_then(Value::as_str).map(str::to_owned),
    })
}

fn binary_json_patch(resource: &Value) -> Option<Value> {
    use base64::Engine;
    if resource.get("resourceType")? != "Binary"
        || resource.get("contentType")? != "application/json-patch+json"
    {
        return None;
    }
    let data = resource.get("data")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    super::json::parse(&bytes).ok()
}

fn entry_response(base: &str, outcome: Outcome) -> Value {
    match outcome {
        Ok(done) => {
            let mut response = json!({"status": done.status.as_u16().to_string()});
            if let Some(v) = &done.version {
                response["etag"] = json!(format!("W/\"{}\"", v.version));
                response["lastModified"] = json!(v.last_updated);
                if done.location {
                    response["location"] = json!(format!(
                        "{base}/{}/{}/_history/{}",
                        v.rtype, v.id, v.version
                    ));
                }
            }
            let mut e = json!({"response": response});
            match done.payload {
                Payload::Stored(text) => {
                    e["resource"] = super::json::parse_str(&text).unwrap_or(Value::Null);
                }
                Payload::Json(v) => e["resource"] = v,
                Payload::Bundle(b) => e["resource"] = b.to_value(),
                Payload::Empty | Payload::Informational(_) => {}
            }
            if let (Some(v), Some(_)) = (&done.version, e.get("resource")) {
                e["fullUrl"] = json!(format!("{base}/{}/{}", v.rtype, v.id));
            }
            e
        }
        Err(fail) => json!({"response": {
            "status": fail.status.as_u16().to_string(),
            "outcome": serde_json::from_slice::<Value>(
                &secure_fhir::response::operation_outcome(fail.code, fail.text)
            ).unwrap_or(Value::Null),
        }}),
    }
}

fn run_entry(tx: &store::Tx<'_>, env: &Env<'_>, e: &Entry, assigned: Option<&str>) -> Outcome {
    let op = Op {
        method: &e.method,
        route: &e.route,
        query: &e.query,
        if_match: e.if_match.as_deref(),
        if_none_exist: e.if_none_exist.as_deref(),
        if_none_match: e.if_none_match.as_deref(),
        if_modified_since: e.if_modified_since,
        ret: Return::Representation,
        body: e.resource.as_ref(),
        assigned_id: assigned,
    };
    rest::run(tx, env, &op)
}

/// Runs a `batch` or `transaction` Bundle within `bounds` (requests: [`Bounds::REQUEST`]; the
/// operator's `--data` files may hold more). Returns the response Bundle and the resources
/// touched (for the audit record).
pub fn run(
    store: &Store,
    base: &str,
    bundle: &Value,
    (authorize, failed): (&Authorize<'_>, &Failed<'_>),
    now: chrono::DateTime<chrono::Utc>,
    bounds: Bounds,
) -> Outcome {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(Fail::bad_request("Only a Bundle may be posted to the base"));
    }
    let kind = bundle.get("type").and_then(Value::as_str);
    let raw = match bundle.get("entry") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(Fail::bad_request("Malformed Bundle")),
    };
    if raw.len() > bounds.entries {
        return Err(Fail::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            IssueCode::TooLong,
            "Too many Bundle entries",
        ));
    }
    match kind {
        Some("batch") => Ok(batch(store, base, &raw, (authorize, failed), now, bounds)),
        Some("transaction") => transaction(store, base, &raw, (authorize, failed), now, bounds),
        _ => Err(Fail::bad_request(
            "Bundle.type must be batch or transaction",
        )),
    }
}

fn batch(
    store: &Store,
    base: &str,
    raw: &[Value],
    (authorize, failed): (&Authorize<'_>, &Failed<'_>),
    now: chrono::DateTime<chrono::Utc>,
    bounds: Bounds,
) -> Done {
    let mut out = Vec::new();
    let mut touched = Vec::new();
    let mut returned = 0;
    for e in raw {
        let outcome = parse_entry(e).and_then(|entry| {
            if returned >= bounds.response_bytes {
                failed(&entry, &RESPONSE_FULL);
                return Err(RESPONSE_FULL);
            }
            let access = authorize(&entry)?;
            let env = Env {
                access: &*access,
                base,
                now,
            };
            let outcome = store.transaction(|tx| run_entry(tx, &env, &entry, None));
            if let Err(f) = &outcome {
                failed(&entry, f);
            }
            outcome
        });
        if let Ok(done) = &outcome {
            touched.extend(done.touched.iter().cloned());
            returned += payload_len(&done.payload);
        }
        out.push(entry_response(base, outcome));
    }
    let mut done =
        Done::json(json!({"resourceType": "Bundle", "type": "batch-response", "entry": out}));
    done.touched = touched;
    done
}

/// Processing order for transactions (FHIR http, "Transaction Processing Rules").
fn order(m: &Method) -> u8 {
    match *m {
        Method::DELETE => 0,
        Method::POST => 1,
        Method::PUT | Method::PATCH => 2,
        _ => 3,
    }
}

fn transaction(
    store: &Store,
    base: &str,
    raw: &[Value],
    (authorize, failed): (&Authorize<'_>, &Failed<'_>),
    now: chrono::DateTime<chrono::Utc>,
    bounds: Bounds,
) -> Outcome {
    let mut entries = raw.iter().map(parse_entry).collect::<Result<Vec<_>, _>>()?;
    // A fullUrl names one entry (bdl-7): with two, a reference to it would name either.
    let mut full_urls = HashSet::new();
    if !entries
        .iter()
        .filter_map(|e| e.full_url.as_deref())
        .all(|u| full_urls.insert(u))
    {
        return Err(Fail::bad_request(
            "Two entries of the transaction have one fullUrl",
        ));
    }
    // urn:uuid fullUrls of created resources get their ids now, so references can be rewritten.
    let mut ids: HashMap<String, (String, String)> = HashMap::new();
    let mut assigned = vec![None; entries.len()];
    for (i, e) in entries.iter().enumerate() {
        if let (&Method::POST, Route::Type(t), Some(u)) = (&e.method, &e.route, &e.full_url) {
            if u.starts_with("urn:uuid:") || u.starts_with("urn:oid:") {
                let id = store::new_id();
                ids.insert(u.clone(), (t.clone(), id.clone()));
                assigned[i] = Some(id);
            }
        }
    }
    // Deletes run first, before any fullUrl names a resource: criteria naming one would match
    // nothing, whatever the entry it names becomes.
    let names_full_url = |e: &Entry| rewritten_request(e, &ids, &mut HashSet::new()).is_some();
    if entries
        .iter()
        .any(|e| e.method == Method::DELETE && names_full_url(e))
    {
        return Err(Fail::bad_request(
            "A delete in a transaction runs before any create: its URL cannot name an entry's fullUrl",
        ));
    }
    // Authorize every entry before anything is written (by method and URL: the bodies are
    // checked as each entry runs). Entries whose URL or criteria name a fullUrl are authorized
    // once it is rewritten, before any create runs, and only so: as written, a urn in criteria
    // reads as the bare id of another patient to a patient-scoped decision.
    let mut accesses = entries
        .iter()
        .map(|e| match names_full_url(e) {
            true => Ok(None),
            false => authorize(e).map(Some),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut idx: Vec<usize> = (0..entries.len()).collect();
    idx.sort_by_key(|&i| order(&entries[i].method));
    let results = store.transaction(|tx| -> Result<Vec<(usize, Done)>, Fail> {
        let mut results = Vec::new();
        let mut rewritten = None;
        let mut returned = 0;
        let mut changed = HashSet::new();
        for &i in &idx {
            if returned >= bounds.response_bytes {
                failed(&entries[i], &RESPONSE_FULL);
                return Err(RESPONSE_FULL);
            }
            if rewritten.is_none() && order(&entries[i].method) > 0 {
                // After the deletes, before any create: a conditional create that finds its
                // resource stands for it.
                let mut referenced = HashSet::new();
                let (entries, accesses) = (&mut entries, &mut accesses);
                let found = (tx, &mut ids, &mut referenced);
                resolve_conditional_creates(found, entries, accesses, authorize, (base, now))?;
                for (e, access) in entries.iter_mut().zip(accesses.iter_mut()) {
                    if rewrite_request(e, &ids, &mut referenced) {
                        *access = Some(authorize(e)?);
                    }
                    if let Some(r) = &mut e.resource {
                        rewrite_references(r, &ids, &mut referenced);
                    }
                }
                rewritten = Some(referenced);
            }
            let env = Env {
                access: accesses[i].as_deref().ok_or(Fail::INTERNAL)?,
                base,
                now,
            };
            let done = run_entry(tx, &env, &entries[i], assigned[i].as_deref())
                .and_then(|done| {
                    let urn = entries[i].full_url.as_deref();
                    let referenced = rewritten.as_ref().zip(urn);
                    match referenced.and_then(|(r, u)| r.contains(u).then(|| &ids[u])) {
                        Some(target) => stands_for(done, target),
                        None => Ok(done),
                    }
                })
                .and_then(|done| changes_once(done, &entries[i].method, &mut changed))
                .inspect_err(|f| failed(&entries[i], f))?;
            returned += payload_len(&done.payload);
            results.push((i, done));
        }
        Ok(results)
    })?;
    let mut sorted: Vec<Option<Done>> = vec![None; entries.len()];
    let mut touched = Vec::new();
    for (i, d) in results {
        touched.extend(d.touched.iter().cloned());
        sorted[i] = Some(d);
    }
    let out: Vec<Value> = sorted
        .into_iter()
        .map(|d| entry_response(base, d.ok_or(Fail::INTERNAL)))
        .collect();
    let mut done =
        Done::json(json!({"resourceType": "Bundle", "type": "transaction-response", "entry": out}));
    done.touched = touched;
    Ok(done)
}

/// `done` unless the write it answers changed a resource an earlier entry of the transaction
/// changed (`changed`, `Type/id`): overlapping identities fail the transaction (FHIR R4
/// http.html, transaction processing), since which change is kept would depend on the order.
fn changes_once(done: Done, method: &Method, changed: &mut HashSet<String>) -> Outcome {
    // A conditional create that found its resource changed nothing.
    let found = *method == Method::POST && done.status != StatusCode::CREATED;
    let write = order(method) < order(&Method::GET) && !found;
    if write && !done.touched.iter().all(|r| changed.insert(r.clone())) {
        return Err(Fail::bad_request(
            "Two entries of the transaction change one resource",
        ));
    }
    Ok(done)
}

/// The store, the fullUrls' targets and the fullUrls rewritten so far.
type Found<'a, 't> = (
    &'a store::Tx<'t>,
    &'a mut HashMap<String, (String, String)>,
    &'a mut HashSet<String>,
);

/// Points each `urn:uuid` of a conditional create whose criteria find one resource the caller
/// may see at that resource (FHIR R4 http.html, transaction processing), so that the other
/// entries' references to it name the match and not an id that will never be created. In
/// [`resolution_order`], each create's criteria first have the fullUrls resolved so far
/// rewritten (and are authorized as rewritten).
fn resolve_conditional_creates(
    (tx, ids, referenced): Found<'_, '_>,
    entries: &mut [Entry],
    accesses: &mut [EntryAccess],
    authorize: &Authorize<'_>,
    (base, now): (&str, chrono::DateTime<chrono::Utc>),
) -> Result<(), Fail> {
    let mut first_create: HashMap<(String, String), String> = HashMap::new();
    for i in resolution_order(entries, ids)? {
        let (e, access) = (&mut entries[i], &mut accesses[i]);
        if rewrite_request(e, ids, referenced) {
            *access = Some(authorize(e)?);
        }
        let access = access.as_deref().ok_or(Fail::INTERNAL)?;
        let (Some(cond), Some(u), Route::Type(t)) = (&e.if_none_exist, &e.full_url, &e.route)
        else {
            continue;
        };
        let env = Env { access, base, now };
        let pairs = super::search::pairs(cond.trim_start_matches('?'));
        // Criteria the entry's own run refuses are reported by that run.
        let Ok(found) = super::searching::matches(tx, &env, t, &pairs, 2) else {
            continue;
        };
        match found.as_slice() {
            [one]
                if one
                    .body
                    .as_deref()
                    .is_some_and(|b| access.may_disclose(t, b)) =>
            {
                ids.insert(u.clone(), (t.clone(), one.id.clone()));
            }
            // The same criteria again: the first such create resolved makes the resource the
            // later ones find, so they all stand for it.
            [] => match first_create.get(&(t.clone(), cond.clone())) {
                Some(first) => {
                    let target = ids[first].clone();
                    ids.insert(u.clone(), target);
                }
                None => {
                    first_create.insert((t.clone(), cond.clone()), u.clone());
                }
            },
            _ => {}
        }
    }
    Ok(())
}

/// The conditional creates whose fullUrl is in `ids`, in the order their criteria can be
/// resolved: after the conditional creates whose fullUrls they name (FHIR R4 http.html: a link
/// to a fullUrl names what its entry resolves to, for a conditional create that finds its
/// resource the match), else in Bundle order. Criteria naming each other's fullUrls in a cycle
/// have no such order: a 400. Linear in the entries and the fullUrls their criteria name.
fn resolution_order(
    entries: &[Entry],
    ids: &HashMap<String, (String, String)>,
) -> Result<Vec<usize>, Fail> {
    let creates: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.method == Method::POST && e.if_none_exist.is_some())
        .filter_map(|(i, e)| e.full_url.as_deref().map(|u| (u, i)))
        .filter(|(u, _)| ids.contains_key(*u))
        .collect();
    let pending: HashMap<String, (String, String)> = ids
        .iter()
        .filter(|(u, _)| creates.contains_key(u.as_str()))
        .map(|(u, target)| (u.clone(), target.clone()))
        .collect();
    let mut waits_for = vec![0_usize; entries.len()];
    let mut unblocks: HashMap<usize, Vec<usize>> = HashMap::new();
    for (&own, &i) in &creates {
        let mut named = HashSet::new();
        rewritten_request(&entries[i], &pending, &mut named);
        for urn in named.iter().filter(|u| u.as_str() != own) {
            waits_for[i] += 1;
            unblocks.entry(creates[urn.as_str()]).or_default().push(i);
        }
    }
    let mut ready: BTreeSet<usize> = creates
        .values()
        .copied()
        .filter(|&i| waits_for[i] == 0)
        .collect();
    let mut order = Vec::with_capacity(creates.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in unblocks.get(&i).into_iter().flatten() {
            waits_for[j] -= 1;
            if waits_for[j] == 0 {
                ready.insert(j);
            }
        }
    }
    if order.len() < creates.len() {
        return Err(Fail::bad_request(
            "The ifNoneExist criteria of conditional creates in the transaction name each other's fullUrls in a cycle",
        ));
    }
    Ok(order)
}

/// Rewrites the fullUrls in `ids` where `e`'s URL query and `ifNoneExist` criteria name them
/// (FHIR R4 http.html, transaction processing rules: every matching link in the Bundle),
/// noting each in `referenced`; whether anything changed (then `e` must be authorized again).
fn rewrite_request(
    e: &mut Entry,
    ids: &HashMap<String, (String, String)>,
    referenced: &mut HashSet<String>,
) -> bool {
    let Some((url, if_none_exist)) = rewritten_request(e, ids, referenced) else {
        return false;
    };
    let query = url.split_once('?').map_or("", |(_, q)| q);
    e.query = super::search::pairs(query);
    e.url = url;
    e.if_none_exist = if_none_exist;
    true
}

/// `e`'s URL and `ifNoneExist` with the fullUrls in `ids` rewritten, if they name any.
fn rewritten_request(
    e: &Entry,
    ids: &HashMap<String, (String, String)>,
    referenced: &mut HashSet<String>,
) -> Option<(String, Option<String>)> {
    // Criteria may start with `?` or `Type?`; only the query is rewritten.
    let mut rewrite = |text: &str| match text.split_once('?') {
        Some((path, query)) => rewrite_query(query, ids, referenced).map(|q| format!("{path}?{q}")),
        None => rewrite_query(text, ids, referenced),
    };
    let url = match e.url.split_once('?') {
        Some(_) => rewrite(&e.url),
        None => None,
    };
    let if_none_exist = e.if_none_exist.as_deref().and_then(&mut rewrite);
    if url.is_none() && if_none_exist.is_none() {
        return None;
    }
    Some((
        url.unwrap_or_else(|| e.url.clone()),
        if_none_exist.or_else(|| e.if_none_exist.clone()),
    ))
}

/// `query` (raw, percent-encoded) with each value that is one of the fullUrls in `ids`, alone
/// or as one of a comma-separated list, rewritten to `Type/id` (to `id` for `_id`), noting
/// each in `referenced`; `None` if no value names one. Other parameters keep their bytes.
fn rewrite_query(
    query: &str,
    ids: &HashMap<String, (String, String)>,
    referenced: &mut HashSet<String>,
) -> Option<String> {
    let mut changed = false;
    let mut out = Vec::new();
    for raw in query.split('&') {
        let decoded = url::form_urlencoded::parse(raw.as_bytes()).next();
        let Some((name, value)) = decoded.filter(|_| raw.contains('=')) else {
            out.push(raw.to_owned());
            continue;
        };
        if !value.split(',').any(|v| ids.contains_key(v)) {
            out.push(raw.to_owned());
            continue;
        }
        let bare_id = name.split(':').next() == Some("_id");
        let values: Vec<String> = value
            .split(',')
            .map(|v| match ids.get_key_value(v) {
                Some((urn, (t, id))) => {
                    referenced.insert(urn.clone());
                    if bare_id {
                        id.clone()
                    } else {
                        format!("{t}/{id}")
                    }
                }
                None => url::form_urlencoded::byte_serialize(v.as_bytes()).collect(),
            })
            .collect();
        let key = raw.split_once('=').map_or(raw, |(k, _)| k);
        out.push(format!("{key}={}", values.join(",")));
        changed = true;
    }
    changed.then(|| out.join("&"))
}

/// `done` when the entry it answers is the resource `(type, id)` other entries' references
/// to its fullUrl were rewritten to; else the transaction fails rather than commit references
/// to nothing (or name a match the caller may not see).
fn stands_for(done: Done, (t, id): &(String, String)) -> Outcome {
    match &done.version {
        Some(v) if v.rtype == *t && v.id == *id => Ok(done),
        Some(_) => Err(Fail::new(
            StatusCode::CONFLICT,
            IssueCode::Conflict,
            "A conditional create in the transaction did not resolve to what its references name",
        )),
        None => Err(Fail::FORBIDDEN),
    }
}

/// Rewrites the fullUrls in `ids` wherever the resource names them, noting in `referenced`
/// each one rewritten: FHIR R4 http.html (transaction processing rules) asks for every matching
/// link, in references, in elements of type uri, url, oid and uuid (any string that is exactly
/// the fullUrl), and in the narrative's `<a href="">` and `<img src="">` (any quoted attribute
/// value that is exactly the fullUrl).
fn rewrite_references(
    v: &mut Value,
    ids: &HashMap<String, (String, String)>,
    referenced: &mut HashSet<String>,
) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                match child {
                    Value::String(s) if k == "div" => {
                        if let Some(div) = rewrite_narrative(s, ids, referenced) {
                            *s = div;
                        }
                    }
                    _ => rewrite_references(child, ids, referenced),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| rewrite_references(i, ids, referenced)),
        Value::String(s) => {
            if let Some((urn, (t, id))) = ids.get_key_value(s.as_str()) {
                referenced.insert(urn.clone());
                *s = format!("{t}/{id}");
            }
        }
        _ => {}
    }
}

/// The narrative `div` with each quoted attribute value that is one of the fullUrls in `ids`
/// rewritten, or `None` if it names none. One pass over the text.
fn rewrite_narrative(
    div: &str,
    ids: &HashMap<String, (String, String)>,
    referenced: &mut HashSet<String>,
) -> Option<String> {
    let mut out = String::new();
    let mut copied = 0;
    let mut rest = 0;
    while let Some(at) = div[rest..].find("urn:").map(|i| rest + i) {
        rest = at + 4;
        let quote = match div[..at].chars().next_back() {
            Some(q @ ('"' | '\'')) => q,
            _ => continue,
        };
        let Some(len) = div[at..].find(quote) else {
            break;
        };
        let value = &div[at..at + len];
        if let Some((urn, (t, id))) = ids.get_key_value(value) {
            referenced.insert(urn.clone());
            out.push_str(&div[copied..at]);
            out.push_str(&format!("{t}/{id}"));
            copied = at + len;
            rest = copied;
        }
    }
    (copied > 0).then(|| out + &div[copied..])
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
mod tests;
