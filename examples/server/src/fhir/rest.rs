//! The FHIR REST interactions on the store: read, vread, create, update, patch, delete,
//! history and search (the latter in [`super::searching`]).
//!
//! Every interaction checks what it returns or overwrites with the request's [`Access`]: the
//! decision made up front says the interaction may run, these checks bind it to the data.

use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use secure_fhir::response::IssueCode;
use serde_json::Value;

use super::access::Access;
use super::outcome::{Done, Fail, Outcome, Payload, Return};
use super::route::Route;
use super::{capability, conditional, cursor, not_modified, patch, searching};
use crate::store::query::Clause;
use crate::store::{self, HistoryScope, SeqWindow, Tx, Version};

/// Resource types no client may create, change or delete: the audit trail is append-only.
pub const APPEND_ONLY: &[&str] = &["AuditEvent"];

/// A write to one of the server's own conformance resources (served from the code, not the
/// store).
const OWN: Fail = Fail::method_not_allowed(
    "This conformance resource is the server's own and cannot be changed",
    READ_ONLY,
);

/// The methods of what is only read.
const READ_ONLY: &str = "GET, HEAD";

/// One interaction to run, from an HTTP request or a Bundle entry.
pub struct Op<'a> {
    /// The method.
    pub method: &'a Method,
    /// The path.
    pub route: &'a Route,
    /// Query (or form) parameters.
    pub query: &'a [(String, String)],
    /// `If-Match`.
    pub if_match: Option<&'a str>,
    /// `If-None-Exist` (conditional create), as a query string.
    pub if_none_exist: Option<&'a str>,
    /// `If-None-Match` (conditional read).
    pub if_none_match: Option<&'a str>,
    /// `If-Modified-Since` (conditional read), when it is a valid date.
    pub if_modified_since: Option<DateTime<Utc>>,
    /// `Prefer: return=`.
    pub ret: Return,
    /// The parsed body, when there is one.
    pub body: Option<&'a Value>,
    /// The id a create must use (transaction entries with a `urn:uuid` fullUrl).
    pub assigned_id: Option<&'a str>,
}

/// What every interaction needs besides its input.
pub struct Env<'a> {
    /// The caller's rights.
    pub access: &'a dyn Access,
    /// The FHIR base URL.
    pub base: &'a str,
    /// The time of the request.
    pub now: DateTime<Utc>,
}

/// Whether `op` only reads (runs under the read lock, outside a transaction).
pub fn is_read(op: &Op<'_>) -> bool {
    *op.method == Method::GET
        || *op.method == Method::HEAD
        || matches!(op.route, Route::TypeSearch(_))
}

/// Runs `op`.
pub fn run(tx: &Tx<'_>, env: &Env<'_>, op: &Op<'_>) -> Outcome {
    let m = op.method;
    let get = *m == Method::GET || *m == Method::HEAD;
    match op.route {
        Route::Instance(t, _) | Route::Type(t) if !get && APPEND_ONLY.contains(&t.as_str()) => {
            Err(Fail::method_not_allowed(
                "AuditEvents are append-only: the server records them itself",
                READ_ONLY,
            ))
        }
        Route::Instance(t, id) if !get && capability::is_own_definition(t, id) => Err(OWN),
        Route::Instance(t, id) if get => read(tx, env, op, t, id),
        Route::Version(t, id, v) if get => vread(tx, env, op, t, id, *v),
        Route::Instance(t, id) if *m == Method::PUT => update(tx, env, op, t, id),
        Route::Instance(t, id) if *m == Method::PATCH => patch(tx, env, op, t, id),
        Route::Instance(t, id) if *m == Method::DELETE => delete(tx, env, op, t, id),
        Route::Type(t) if *m == Method::POST => create(tx, env, op, t),
        Route::Type(t) if *m == Method::PUT => conditional::update(tx, env, op, t),
        Route::Type(t) if *m == Method::PATCH => conditional::patch(tx, env, op, t),
        Route::Type(t) if *m == Method::DELETE => conditional::delete(tx, env, op, t),
        Route::Type(t) if get => searching::search(tx, env, t, op.query, None),
        Route::TypeSearch(t) if *m == Method::POST => searching::search(tx, env, t, op.query, None),
        Route::Compartment { ctype, id, rtype } if get => {
            searching::compartment_search(tx, env, ctype, id, rtype, op.query)
        }
        Route::InstanceHistory(t, id) if get => history_instance(tx, env, t, id, op.query),
        Route::TypeHistory(t) if get => history(tx, env, HistoryScope::Type(t), op.query),
        Route::SystemHistory if get => history(tx, env, HistoryScope::System, op.query),
        Route::InstanceOperation(t, id, name) if get && t == "Patient" && name == "everything" => {
            searching::everything(tx, env, id, op.query)
        }
        Route::InstanceOperation(t, id, name) if get && t == "Patient" && name == "disclosures" => {
            searching::disclosures(tx, env, id, op.query)
        }
        _ => Err(Fail::method_not_allowed(
            "This interaction is not supported here",
            allowed(op.route),
        )),
    }
}

/// The methods this server takes on `route` (those [`run`] runs, the base's batches and
/// transactions, the documents served before it): the `Allow` of its 405s, empty where it
/// takes none.
fn allowed(route: &Route) -> &'static str {
    match route {
        Route::Instance(t, _) | Route::Type(t) if APPEND_ONLY.contains(&t.as_str()) => READ_ONLY,
        Route::Instance(..) => "GET, HEAD, PUT, PATCH, DELETE",
        Route::Type(_) => "GET, HEAD, POST, PUT, PATCH, DELETE",
        Route::Base | Route::TypeSearch(_) => "POST",
        Route::InstanceOperation(t, _, name)
            if t == "Patient" && matches!(name.as_str(), "everything" | "disclosures") =>
        {
            READ_ONLY
        }
        Route::InstanceOperation(..) | Route::TypeOperation(..) => "",
        Route::Metadata
        | Route::SmartConfiguration
        | Route::SystemHistory
        | Route::TypeHistory(_)
        | Route::InstanceHistory(..)
        | Route::Version(..)
        | Route::Compartment { .. } => READ_ONLY,
    }
}

/// The current, readable version of `t/id`, or the reason it cannot be returned: missing, or
/// deleted or outside the caller's access, which all look the same unless the caller could
/// read the deleted resource (then `410 Gone`).
fn readable_current(tx: &Tx<'_>, env: &Env<'_>, t: &str, id: &str) -> Result<Version, Fail> {
    let cur = tx.current(t, id)?.ok_or(Fail::NOT_FOUND)?;
    if cur.deleted {
        let live = tx.last_live(t, id)?.and_then(|v| v.body);
        return match live {
            Some(body) if env.access.may_read_deleted(tx, t, &body) => Err(Fail::new(
                StatusCode::GONE,
                IssueCode::Deleted,
                "The resource was deleted",
            )),
            Some(_) => Err(Fail::HIDDEN),
            None => Err(Fail::NOT_FOUND),
        };
    }
    match cur.body.as_deref() {
        Some(body) if env.access.may_read(tx, t, id, body) => Ok(cur),
        Some(_) => Err(Fail::HIDDEN),
        None => Err(Fail::NOT_FOUND),
    }
}

fn read(tx: &Tx<'_>, env: &Env<'_>, op: &Op<'_>, t: &str, id: &str) -> Outcome {
    let cur = readable_current(tx, env, t, id)?;
    Ok(shown(op, cur))
}

/// A readable version as a read answers it: in full, or `304 Not Modified` (no body, the
/// ETag and Last-Modified only) when the conditional headers name what the caller holds.
fn shown(op: &Op<'_>, v: Version) -> Done {
    if not_modified::holds(op.if_none_match, op.if_modified_since, &v) {
        return Done::version(StatusCode::NOT_MODIFIED, v, Return::Minimal, false);
    }
    Done::version(StatusCode::OK, v, Return::Representation, false)
}

fn vread(tx: &Tx<'_>, env: &Env<'_>, op: &Op<'_>, t: &str, id: &str, v: i64) -> Outcome {
    // The current version decides whether the caller may know the resource at all.
    match readable_current(tx, env, t, id) {
        Ok(_) => {}
        Err(f) if f.status == StatusCode::GONE => {}
        Err(f) => return Err(f),
    }
    let version = tx.version(t, id, v)?.ok_or(Fail::NOT_FOUND)?;
    let readable = match version.body.as_deref() {
        Some(body) => may_read_version(tx, env, t, id, body)?.then_some(()),
        None => None,
    };
    match readable {
        Some(_) => Ok(shown(op, version)),
        None if version.deleted => {
            // Gone to whoever could read what it deleted; to anyone else not there at all.
            let deleted = tx.live_before(t, id, v)?.and_then(|l| l.body);
            match deleted {
                Some(b) if may_read_version(tx, env, t, id, &b)? => Err(Fail::new(
                    StatusCode::GONE,
                    IssueCode::Deleted,
                    "This version is a deletion",
                )),
                Some(_) => Err(Fail::HIDDEN),
                None => Err(Fail::NOT_FOUND),
            }
        }
        None if version.body.is_some() => Err(Fail::HIDDEN),
        None => Err(Fail::NOT_FOUND),
    }
}

/// Whether the caller may see `body`, one version of `t/id`: through the index while the
/// resource is live, by its content alone once it is deleted (the index forgets it).
fn may_read_version(
    tx: &Tx<'_>,
    env: &Env<'_>,
    t: &str,
    id: &str,
    body: &str,
) -> Result<bool, Fail> {
    let deleted = tx.current(t, id)?.is_some_and(|c| c.deleted);
    Ok(if deleted {
        env.access.may_read_deleted(tx, t, body)
    } else {
        env.access.may_read(tx, t, id, body)
    })
}

/// Checks a body for `t`: a JSON object of that type that the FHIR model accepts.
pub fn validate(t: &str, body: &Value) -> Result<(), Fail> {
    let obj = body.as_object().ok_or(Fail::new(
        StatusCode::BAD_REQUEST,
        IssueCode::Structure,
        "The body is not a FHIR resource",
    ))?;
    if obj.get("resourceType").and_then(Value::as_str) != Some(t) {
        return Err(Fail::bad_request(
            "The body's resourceType does not match the URL",
        ));
    }
    super::model::check(body)
}

/// Whether an `If-Match` value holds for the live version (`None`: missing or deleted), as
/// RFC 9110 §13.1.1 has it: `*` holds for any current representation, a list of entity-tags
/// when one of them names the live version. A malformed value holds for nothing. (`If-None-Match`
/// names a version by the same rule: [`not_modified`], [`check_if_none_match`].)
pub(super) fn if_match_holds(if_match: &str, live: Option<&Version>) -> bool {
    names_live(if_match, live) == Some(true)
}

/// Whether a `*` or entity-tag list names the live version (`None`: missing or deleted), or
/// `None` if the value is malformed. Tags are compared weakly (RFC 9110 §8.8.3.2: opaque-tags
/// equal, `W/` or not), as FHIR's `W/"n"` version ETags need.
fn names_live(value: &str, live: Option<&Version>) -> Option<bool> {
    let value = value.trim();
    if value == "*" {
        return Some(live.is_some());
    }
    let current = live.map(|l| l.version.to_string());
    let mut matched = false;
    // #entity-tag: empty list elements are allowed (RFC 9110 §5.6.1).
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(matched);
        }
        let tag = rest.strip_prefix("W/").unwrap_or(rest);
        let (opaque, after) = tag.strip_prefix('"').and_then(|t| t.split_once('"'))?;
        matched |= current.as_deref() == Some(opaque);
        rest = after.trim_start_matches([' ', '\t']);
        if !rest.is_empty() && !rest.starts_with(',') {
            return None;
        }
    }
}

/// `If-Match` (when sent) must hold for the live version, else `412` and nothing is changed
/// (RFC 9110 §13.1.1, for every method that changes state).
fn check_if_match(if_match: Option<&str>, live: Option<&Version>) -> Result<(), Fail> {
    match if_match {
        Some(value) if !if_match_holds(value, live) => Err(Fail::new(
            StatusCode::PRECONDITION_FAILED,
            IssueCode::Conflict,
            "If-Match does not match the current version",
        )),
        _ => Ok(()),
    }
}

/// `If-None-Match` (when sent) on a write must name nothing current, else `412` and nothing is
/// changed (RFC 9110 §13.1.2: `*` fails when there is a current representation, a list when
/// one of its tags names it). A malformed value is refused, not ignored: a client asking for
/// create-only semantics never gets an overwrite. Asked only once the caller may write the
/// target, so it tells nothing of resources the caller may not see.
fn check_if_none_match(if_none_match: Option<&str>, live: Option<&Version>) -> Result<(), Fail> {
    match if_none_match.map(|value| names_live(value, live)) {
        Some(Some(true) | None) => Err(Fail::new(
            StatusCode::PRECONDITION_FAILED,
            IssueCode::Conflict,
            "If-None-Match names the current version",
        )),
        _ => Ok(()),
    }
}

/// Both preconditions of a write on the live version (`None`: missing or deleted).
pub(super) fn check_preconditions(op: &Op<'_>, live: Option<&Version>) -> Result<(), Fail> {
    check_if_match(op.if_match, live)?;
    check_if_none_match(op.if_none_match, live)
}

/// `POST [type]` (conditional with `If-None-Exist`).
pub(super) fn create(tx: &Tx<'_>, env: &Env<'_>, op: &Op<'_>, t: &str) -> Outcome {
    let body = op.body.ok_or(Fail::bad_request("A body is required"))?;
    validate(t, body)?;
    if let Some(cond) = op.if_none_exist {
        let pairs = super::search::pairs(cond.trim_start_matches('?'));
        let found = searching::matches(tx, env, t, &pairs, 2)?;
        match found.as_slice() {
            [] => {}
            [one]
                if one
                    .body
                    .as_deref()
                    .is_some_and(|b| env.access.may_disclose(t, b)) =>
            {
                return Ok(Done::version(StatusCode::OK, one.clone(), op.ret, false))
            }
            [one] => {
                // A token that may not read the match learns that it exists, nothing more.
                let mut done = Done::empty(StatusCode::OK);
                done.touched = vec![format!("{t}/{}", one.id)];
                return Ok(done);
            }
            _ => {
                return Err(Fail::new(
                    StatusCode::PRECONDITION_FAILED,
                    IssueCode::Conflict,
                    "If-None-Exist matched more than one resource",
                ))
            }
        }
    }
    let mut body = body.clone();
    if let Some(o) = body.as_object_mut() {
        // The server assigns ids and versions (FHIR http, create).
        o.remove("id");
        if let Some(Value::Object(meta)) = o.get_mut("meta") {
            meta.remove("versionId");
            meta.remove("lastUpdated");
        }
    }
    let id = op.assigned_id.map_or_else(store::new_id, str::to_owned);
    let v = tx.put(t, &id, body, env.now)?;
    check_written(tx, env, &v)?;
    Ok(Done::version(StatusCode::CREATED, v, op.ret, true))
}

fn update(tx: &Tx<'_>, env: &Env<'_>, op: &Op<'_>, t: &str, id: &str) -> Outcome {
    let body = op.body.ok_or(Fail::bad_request("A body is required"))?;
    validate(t, body)?;
    if body.get("id").and_then(Value::as_str) != Some(id) {
        return Err(Fail::bad_request("The body's id does not match the URL"));
    }
    write_version(tx, env, op, t, id, body.clone())
}

/// Stores `body` as the next version of `t/id` after the checks shared by update and patch.
pub(super) fn write_version(
    tx: &Tx<'_>,
    env: &Env<'_>,
    op: &Op<'_>,
    t: &str,
    id: &str,
    body: Value,
) -> Outcome {
    if capability::is_own_definition(t, id) {
        return Err(OWN);
    }
    let cur = tx.current(t, id)?;
    // No hijack: the stored version must be the caller's (SMART digest §12.12). For a deleted
    // resource its last content decides: else an update-as-create would take over another
    // patient's id, with their versions and deletion in its history.
    let stored = match &cur {
        Some(c) if c.deleted => tx.last_live(t, id)?.as_ref().and_then(Version::json),
        Some(c) => c.json(),
        None => None,
    };
    if let Some(stored) = stored {
        if !env.access.may_write(tx, t, id, &stored) {
            return Err(Fail::FORBIDDEN);
        }
    }
    check_preconditions(op, cur.as_ref().filter(|c| !c.deleted))?;
    let created = cur.as_ref().is_none_or(|c| c.deleted);
    let v = tx.put(t, id, body, env.now)?;
    check_written(tx, env, &v)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    // Write does not imply read: a patch's result holds stored content the caller never sent,
    // so only a caller who may read it gets it back (SMART digest §12.12).
    let readable = v
        .body
        .as_deref()
        .is_some_and(|b| env.access.may_read(tx, t, id, b));
    let ret = match op.ret {
        Return::Representation if !readable => Return::Minimal,
        ret => ret,
    };
    Ok(Done::version(status, v, ret, created))
}

/// A write must leave the resource within the caller's reach (no creating or moving data into
/// another patient's compartment). Runs after the write, inside its transaction: an `Err` here
/// rolls the write back.
fn check_written(tx: &Tx<'_>, env: &Env<'_>, v: &Version) -> Result<(), Fail> {
    match v.json() {
        Some(body) if env.access.may_write(tx, &v.rtype, &v.id, &body) => Ok(()),
        _ => Err(Fail::FORBIDDEN),
    }
}

fn patch(tx: &Tx<'_>, env: &Env<'_>, op: &Op<'_>, t: &str, id: &str) -> Outcome {
    let doc = op.body.ok_or(Fail::bad_request("A body is required"))?;
    let cur = tx.current(t, id)?.filter(|c| !c.deleted);
    let Some((cur, stored)) = cur.and_then(|c| c.json().map(|j| (c, j))) else {
        return Err(Fail::NOT_FOUND);
    };
    if !env.access.may_write(tx, t, id, &stored) {
        // A write touching another compartment is refused as such (SMART digest §9).
        return Err(Fail::FORBIDDEN);
    }
    let patched = patched(tx, env, &cur, &stored, doc)?;
    write_version(tx, env, op, t, id, patched)
}

/// `doc` applied to `stored`, the JSON of the current version `cur`, and checked like a body.
/// Whether a patch applies (a `test`, a path that must exist) tells what is stored, so a
/// caller who may not read the resource may not patch it (write does not imply read).
pub(super) fn patched(
    tx: &Tx<'_>,
    env: &Env<'_>,
    cur: &Version,
    stored: &Value,
    doc: &Value,
) -> Result<Value, Fail> {
    let (t, id) = (cur.rtype.as_str(), cur.id.as_str());
    if !cur
        .body
        .as_deref()
        .is_some_and(|b| env.access.may_read(tx, t, id, b))
    {
        return Err(Fail::FORBIDDEN);
    }
    let patched = patch::apply(stored, doc)
        .map_err(|e| Fail::new(StatusCode::UNPROCESSABLE_ENTITY, IssueCode::Processing, e.0))?;
    validate(t, &patched)?;
    if patched.get("id").and_then(Value::as_str) != Some(id) {
        return Err(Fail::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            IssueCode::Processing,
            "A patch may not change the id",
        ));
    }
    Ok(patched)
}

/// `DELETE [type]/[id]` (with `If-Match`, only while that version is the current one; with
/// `If-None-Match`, only while it names nothing current).
pub(super) fn delete(tx: &Tx<'_>, env: &Env<'_>, op: &Op<'_>, t: &str, id: &str) -> Outcome {
    let cur = tx
        .current(t, id)?
        .filter(|c| !c.deleted)
        .ok_or(Fail::NOT_FOUND)?;
    match cur.json() {
        Some(body) if env.access.may_write(tx, t, id, &body) => {}
        _ => return Err(Fail::FORBIDDEN),
    }
    check_preconditions(op, Some(&cur))?;
    let v = tx.delete(t, id, env.now)?.ok_or(Fail::NOT_FOUND)?;
    let mut done = Done::version(StatusCode::NO_CONTENT, v, Return::Minimal, false);
    done.payload = Payload::Empty;
    Ok(done)
}

fn history_instance(
    tx: &Tx<'_>,
    env: &Env<'_>,
    t: &str,
    id: &str,
    query: &[(String, String)],
) -> Outcome {
    match readable_current(tx, env, t, id) {
        Ok(_) => {}
        Err(f) if f.status == StatusCode::GONE => {}
        Err(f) => return Err(f),
    }
    history(tx, env, HistoryScope::Instance(t, id), query)
}

/// The types a system history may show, each with its narrowing; `None` when the caller sees
/// every resource of every type (then nothing needs narrowing). Unnarrowed, the history's
/// total and page counted every patient's versions, only the entries being filtered.
fn visible_types(access: &dyn Access) -> Option<Vec<(String, Vec<Clause>)>> {
    let mut everything = true;
    let mut types = Vec::new();
    for t in fhir_types::ResourceType::ALL.iter().map(|t| t.as_str()) {
        match access.narrowing(t) {
            Some(clauses) => {
                everything &= clauses.is_empty();
                types.push((t.to_owned(), clauses));
            }
            None => everything = false,
        }
    }
    (!everything).then_some(types)
}

/// Most versions a history checks one by one for a caller who may not see everything.
const MAX_CHECKED_VERSIONS: usize = 1_000;

/// Whether the caller may see the version `v` in a history: its content, or for a deletion
/// what it deleted.
fn version_visible(tx: &Tx<'_>, env: &Env<'_>, v: &Version) -> Result<bool, Fail> {
    if let Some(b) = &v.body {
        return may_read_version(tx, env, &v.rtype, &v.id, b);
    }
    match tx
        .live_before(&v.rtype, &v.id, v.version)?
        .and_then(|l| l.body)
    {
        Some(b) => may_read_version(tx, env, &v.rtype, &v.id, &b),
        None => Ok(false),
    }
}

/// `_count`, `_offset` and `_cursor` (a [`cursor`] this server's own `next` link carries) of a
/// history request.
fn history_paging(query: &[(String, String)]) -> Result<(usize, usize, Option<SeqWindow>), Fail> {
    const BAD: Fail = Fail::bad_request("Invalid paging parameter");
    let (cursors, rest): (Vec<_>, Vec<_>) =
        query.iter().cloned().partition(|(k, _)| k == "_cursor");
    let (count, offset) = searching::paging(&rest)?;
    let window = match cursors.as_slice() {
        [] => None,
        [(_, v)] => Some(cursor::open(v).ok_or(BAD)?),
        _ => return Err(BAD),
    };
    Ok((count, offset, window))
}

/// The versions in `all` the caller may see.
fn visible(tx: &Tx<'_>, env: &Env<'_>, all: Vec<Version>) -> Result<Vec<Version>, Fail> {
    let mut shown = Vec::new();
    for v in all {
        if version_visible(tx, env, &v)? {
            shown.push(v);
        }
    }
    Ok(shown)
}

fn history(
    tx: &Tx<'_>,
    env: &Env<'_>,
    scope: HistoryScope<'_>,
    query: &[(String, String)],
) -> Outcome {
    let (count, offset, cursor) = history_paging(query)?;
    // The pages run over the versions there were at the first page, and each `next` link
    // continues after the last row of its page: writes while a client pages neither shift
    // versions onto a later page again nor past it (FHIR R4 http.html, paging).
    let window = match cursor {
        Some(window) => window,
        None => SeqWindow {
            newest: tx.newest_seq(scope)?,
            older_than: None,
        },
    };
    let every = SeqWindow {
        older_than: None,
        ..window
    };
    let types = match scope {
        HistoryScope::System => visible_types(env.access),
        _ => None,
    };
    let clauses = match scope {
        HistoryScope::Type(t) => env.access.narrowing(t).ok_or(Fail::FORBIDDEN)?,
        _ => Vec::new(),
    };
    let fetch = |window: SeqWindow, offset: usize, count: usize| match (&scope, &types) {
        (HistoryScope::System, Some(types)) => tx.history_of_types(types, window, offset, count),
        _ => tx.history(scope, &clauses, window, offset, count),
    };
    let restricted = match scope {
        HistoryScope::Instance(t, _) | HistoryScope::Type(t) => {
            env.access.narrowing(t).is_none_or(|c| !c.is_empty())
        }
        HistoryScope::System => types.is_some(),
    };
    // The narrowed query admits every version of a resource the caller may see now, also
    // versions it may not (another patient's, before the resource was filed under the
    // caller's). Then every version is checked, not one page, so that the total and the
    // paging links count only what shows; past the cap, pages are checked one by one.
    let checked = match restricted {
        true => Some(fetch(every, 0, MAX_CHECKED_VERSIONS)?),
        false => None,
    };
    let (total, more, page) = match checked {
        Some((total, all)) if total <= MAX_CHECKED_VERSIONS => {
            let shown = visible(tx, env, all)?;
            let total = shown.len();
            let listed = match window.older_than {
                Some(_) => visible(tx, env, fetch(window, 0, MAX_CHECKED_VERSIONS)?.1)?,
                None => shown,
            };
            let more = listed.len() > offset + count;
            (
                total,
                more,
                listed.into_iter().skip(offset).take(count).collect(),
            )
        }
        _ => {
            let (listed, page) = fetch(window, offset, count)?;
            let total = match window.older_than {
                Some(_) => fetch(every, 0, 0)?.0,
                None => listed,
            };
            (total, listed > offset + page.len(), page)
        }
    };
    let last = match page.last() {
        Some(v) if more => tx.seq_of(v)?,
        _ => None,
    };
    let mut entries = Vec::new();
    let mut touched = Vec::new();
    let mut filtered = false;
    for v in page {
        if !version_visible(tx, env, &v)? {
            filtered = true;
            continue;
        }
        touched.push(format!("{}/{}", v.rtype, v.id));
        entries.push(searching::history_entry(env.base, v));
    }
    let path = match scope {
        HistoryScope::Instance(t, id) => format!("{t}/{id}/_history"),
        HistoryScope::Type(t) => format!("{t}/_history"),
        HistoryScope::System => "_history".to_owned(),
    };
    // A page that hid versions does not show the total (it counted them), but the paging
    // still runs over every version the query admitted.
    let total = searching::Total {
        listed: total,
        shown: !filtered,
    };
    let cursor = |older_than: Option<i64>| {
        let at = SeqWindow {
            older_than,
            ..window
        };
        vec![("_cursor".to_owned(), cursor::seal(at))]
    };
    let next_at = last.map(|l| cursor(Some(l)));
    let next = match (&next_at, more) {
        (Some(at), _) => searching::Next::At(at),
        (None, true) => searching::Next::Offset,
        (None, false) => searching::Next::End,
    };
    let page = searching::Page {
        count,
        offset,
        next,
    };
    let bundle = searching::bundle(
        "history",
        env.base,
        &path,
        &cursor(window.older_than),
        total,
        page,
        entries,
    );
    let mut done = Done::bundle(bundle);
    done.touched = touched;
    Ok(done)
}
