//! Search, compartment search and `Patient/$everything`, with the authorization narrowing in
//! every query and every returned resource (matches and includes) checked again.

use std::collections::BTreeSet;

use http::StatusCode;
use secure_fhir::response::IssueCode;
use serde_json::json;

use super::outcome::{Done, Fail, Outcome};
use super::rest::Env;
use super::search::{self, Include, SearchSpec};
use super::spliced::{Entry, Spliced};
use crate::store::audit::{self, AUDIT_EVENT};
use crate::store::query::{Clause, Query};
use crate::store::{Tx, Version};

/// Most resources `_include`/`_revinclude` add to one page.
const MAX_INCLUDED: usize = 1_000;
/// Most resources `$everything` returns.
const MAX_EVERYTHING: usize = 5_000;
/// Most compartment members `$everything` reads to find the resources it returns.
const MAX_EVERYTHING_SCANNED: usize = 2 * MAX_EVERYTHING;

/// The `outcome` entry of an `$everything` answer holding only part of the record (at most
/// [`MAX_EVERYTHING`] resources, from the first [`MAX_EVERYTHING_SCANNED`] members), so that it
/// is not taken for the whole record.
fn partial_warning() -> Entry {
    let outcome = json!({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "warning",
            "code": "incomplete",
            "diagnostics": "This answer is partial: $everything returns at most 5,000 resources, found among the first 10,000 of the record"
        }]
    });
    Entry::new(
        json!({"search": {"mode": "outcome"}}),
        Some(outcome.to_string()),
    )
}

fn bad(e: search::SearchError) -> Fail {
    Fail::new(StatusCode::BAD_REQUEST, IssueCode::NotSupported, e.0)
}

/// `_count` and `_offset` of a history or operation request (other parameters refused).
pub fn paging(query: &[(String, String)]) -> Result<(usize, usize), Fail> {
    let mut count = search::DEFAULT_COUNT;
    let mut offset = 0;
    for (k, v) in query {
        let n: usize = v
            .parse()
            .map_err(|_| Fail::bad_request("Invalid paging parameter"))?;
        match k.as_str() {
            "_count" => count = n.min(search::MAX_COUNT),
            "_offset" if n <= search::MAX_OFFSET => offset = n,
            _ => return Err(Fail::bad_request("Unsupported parameter")),
        }
    }
    Ok((count, offset))
}

/// Type-level search on `t` (`extra` restricts it further, e.g. to a compartment).
pub fn search(
    tx: &Tx<'_>,
    env: &Env<'_>,
    t: &str,
    query: &[(String, String)],
    extra: Option<(Clause, String)>,
) -> Outcome {
    let spec = search::parse(t, query).map_err(bad)?;
    if t == AUDIT_EVENT && !audit::supports_search(&spec.clauses, &spec.includes) {
        return Err(Fail::new(
            StatusCode::BAD_REQUEST,
            IssueCode::NotSupported,
            "AuditEvents are searched by _id, _lastUpdated, date, patient, agent and entity",
        ));
    }
    let narrowing = env.access.narrowing(t).ok_or(Fail::FORBIDDEN)?;
    let mut clauses = spec.clauses.clone();
    let path = match extra {
        Some((clause, path)) => {
            clauses.push(clause);
            path
        }
        None => t.to_owned(),
    };
    clauses.extend(narrowing);
    let q = Query {
        resource_type: t.to_owned(),
        clauses,
    };
    let count = if spec.summary_count { 0 } else { spec.count };
    let (total, page) = tx.search(&q, spec.offset, count)?;
    let mut entries = Vec::new();
    let mut touched = Vec::new();
    let mut seen = BTreeSet::new();
    let mut matches = Vec::new();
    for mut v in page {
        let body = v.body.take();
        if let Some(body) = body.filter(|b| env.access.may_return_match(tx, t, &v.id, b)) {
            seen.insert((v.rtype.clone(), v.id.clone()));
            touched.push(format!("{}/{}", v.rtype, v.id));
            entries.push(entry(env.base, &v.rtype, &v.id, body, "match"));
            matches.push(v);
        }
    }
    let included = includes(tx, env, &spec, &matches, &mut seen)?;
    for (v, body) in included {
        touched.push(format!("{}/{}", v.rtype, v.id));
        entries.push(entry(env.base, &v.rtype, &v.id, body, "include"));
    }
    let mut done = Done::bundle(bundle(
        "searchset",
        env.base,
        &path,
        &spec.link_params,
        Total::shown(total),
        // A count-only answer has no pages to link to.
        Page::at(count, spec.offset),
        entries,
    ));
    done.touched = touched;
    Ok(done)
}

/// The resources `_include` and `_revinclude` add, each checked as a read of its own.
fn includes(
    tx: &Tx<'_>,
    env: &Env<'_>,
    spec: &SearchSpec,
    matches: &[Version],
    seen: &mut BTreeSet<(String, String)>,
) -> Result<Vec<(Version, String)>, Fail> {
    let mut out = Vec::new();
    let mut add = |tx: &Tx<'_>,
                   rtype: &str,
                   id: &str,
                   out: &mut Vec<(Version, String)>|
     -> Result<(), Fail> {
        // Each candidate is looked up and checked once, kept or not: the same resources named
        // again (a repeated `_include`, two parameters on one reference, many matches sharing
        // a referrer) cost a set lookup, not another read and check of their body each time.
        if out.len() >= MAX_INCLUDED || !seen.insert((rtype.to_owned(), id.to_owned())) {
            return Ok(());
        }
        // Included resources need search (or read) rights on their own type.
        if env.access.narrowing(rtype).is_none() {
            return Ok(());
        }
        let Some(mut v) = tx.current(rtype, id)?.filter(|v| !v.deleted) else {
            return Ok(());
        };
        let body = v.body.take();
        if let Some(body) = body.filter(|b| env.access.may_read(tx, rtype, id, b)) {
            out.push((v, body));
        }
        Ok(())
    };
    // Once the result is full nothing more can be added: the index is not asked again.
    'matches: for m in matches {
        for Include { code, target, .. } in &spec.includes {
            if out.len() >= MAX_INCLUDED {
                break 'matches;
            }
            for (rtype, id) in tx.references_from(&m.rtype, &m.id, code)? {
                if target.as_ref().is_none_or(|t| *t == rtype) {
                    add(tx, &rtype, &id, &mut out)?;
                }
            }
        }
        for Include {
            source_type,
            code,
            target,
        } in &spec.revincludes
        {
            if out.len() >= MAX_INCLUDED {
                break 'matches;
            }
            if target.as_ref().is_some_and(|t| *t != m.rtype) {
                continue;
            }
            for id in tx.referrers(source_type, code, &m.rtype, &m.id, MAX_INCLUDED)? {
                add(tx, source_type, &id, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// `GET [ctype]/[id]/[rtype]`: a search restricted to that compartment. The compartment's own
/// resource must be readable, else the search refers to something the caller may not know.
pub fn compartment_search(
    tx: &Tx<'_>,
    env: &Env<'_>,
    ctype: &str,
    id: &str,
    rtype: &str,
    query: &[(String, String)],
) -> Outcome {
    if ctype != "Patient" {
        return Err(Fail::new(
            StatusCode::BAD_REQUEST,
            IssueCode::NotSupported,
            "Only the Patient compartment is supported",
        ));
    }
    let clause = Clause::InCompartment {
        ctype: ctype.to_owned(),
        id: id.to_owned(),
    };
    search(
        tx,
        env,
        rtype,
        query,
        Some((clause, format!("{ctype}/{id}/{rtype}"))),
    )
}

/// `GET Patient/[id]/$everything`: the patient's compartment, limited to the types the caller
/// may search and to the resources it may read.
pub fn everything(tx: &Tx<'_>, env: &Env<'_>, id: &str, query: &[(String, String)]) -> Outcome {
    let (count, offset) = paging(query)?;
    let patient = tx.current("Patient", id)?.filter(|v| !v.deleted);
    match patient.and_then(|p| p.body) {
        Some(b) if env.access.may_read(tx, "Patient", id, &b) => {}
        Some(_) => return Err(Fail::HIDDEN),
        None => return Err(Fail::NOT_FOUND),
    }
    let members = tx.compartment_members("Patient", id, MAX_EVERYTHING_SCANNED)?;
    // The scan stopped before the compartment's end: members after it are not looked at.
    let scan_cut = members.len() >= MAX_EVERYTHING_SCANNED;
    let mut entries = Vec::new();
    let mut touched = Vec::new();
    for mut v in members {
        if entries.len() > MAX_EVERYTHING {
            break;
        }
        if env.access.narrowing(&v.rtype).is_none() {
            continue;
        }
        let body = v.body.take();
        if let Some(body) = body.filter(|b| env.access.may_read(tx, &v.rtype, &v.id, b)) {
            touched.push(format!("{}/{}", v.rtype, v.id));
            entries.push(entry(env.base, &v.rtype, &v.id, body, "match"));
        }
    }
    // Partial when more than the cap is readable, or when the scan stopped early: then what
    // it did not reach is missing, and saying so beats a complete-looking answer missing a
    // record. The latter tells a caller only that the patient's compartment holds more than
    // MAX_EVERYTHING_SCANNED resources, of types it may search, with or without ones it may
    // not: nothing about any one of them.
    let partial = entries.len() > MAX_EVERYTHING || scan_cut;
    entries.truncate(MAX_EVERYTHING);
    touched.truncate(MAX_EVERYTHING);
    let total = Total {
        listed: entries.len(),
        shown: !partial,
    };
    let mut page: Vec<Entry> = entries.into_iter().skip(offset).take(count).collect();
    if partial {
        page.push(partial_warning());
    }
    let mut done = Done::bundle(bundle(
        "searchset",
        env.base,
        &format!("Patient/{id}/$everything"),
        &[],
        total,
        Page::at(count, offset),
        page,
    ));
    done.touched = touched;
    Ok(done)
}

/// The current resources matching the criteria of a conditional write (`If-None-Exist`,
/// conditional update, patch, delete), at most `limit`: the match runs narrowed to what the
/// write may touch (in the query and again on each match), so nothing outside it is counted.
pub fn matches(
    tx: &Tx<'_>,
    env: &Env<'_>,
    t: &str,
    pairs: &[(String, String)],
    limit: usize,
) -> Result<Vec<Version>, Fail> {
    let spec = search::parse(t, pairs).map_err(bad)?;
    if !spec.includes.is_empty() || !spec.revincludes.is_empty() || spec.clauses.is_empty() {
        return Err(Fail::bad_request("Invalid conditional criteria"));
    }
    let mut clauses = spec.clauses;
    clauses.extend(env.access.write_match_narrowing(t).ok_or(Fail::FORBIDDEN)?);
    let q = Query {
        resource_type: t.to_owned(),
        clauses,
    };
    let (_, page) = tx.search(&q, 0, limit)?;
    Ok(page
        .into_iter()
        .filter(|v| {
            v.json()
                .is_some_and(|b| env.access.may_write(tx, t, &v.id, &b))
        })
        .collect())
}

fn entry(base: &str, rtype: &str, id: &str, resource: String, mode: &str) -> Entry {
    Entry::new(
        json!({
            "fullUrl": format!("{base}/{rtype}/{id}"),
            "search": {"mode": mode}
        }),
        Some(resource),
    )
}

/// A `history` Bundle entry for one version.
pub fn history_entry(base: &str, v: Version) -> Entry {
    let url = format!("{}/{}", v.rtype, v.id);
    let (method, status) = match (v.deleted, v.version) {
        (true, _) => ("DELETE", "204"),
        (false, 1) => ("POST", "201"),
        (false, _) => ("PUT", "200"),
    };
    let fields = json!({
        "fullUrl": format!("{base}/{url}"),
        "request": {"method": method, "url": if method == "POST" { v.rtype.clone() } else { url }},
        "response": {
            "status": status,
            "etag": format!("W/\"{}\"", v.version),
            "lastModified": v.last_updated,
        }
    });
    Entry::new(fields, v.body)
}

/// How many results a Bundle's pages run over, and whether `Bundle.total` says so.
#[derive(Debug, Clone, Copy)]
pub struct Total {
    /// The results the pages run over: the next link is there while some lie past this page.
    pub listed: usize,
    /// Whether `Bundle.total` is `listed` (not when a page hid some of them: then it is left
    /// out rather than count what the caller may not see).
    pub shown: bool,
}

impl Total {
    /// `listed` results, counted in `Bundle.total`.
    pub fn shown(listed: usize) -> Total {
        Total {
            listed,
            shown: true,
        }
    }
}

/// Where a Bundle's `next` link leads.
#[derive(Debug, Clone, Copy)]
pub enum Next<'a> {
    /// `_offset` past the page, while the total lies beyond it.
    Offset,
    /// These parameters (besides `_count`, without `_offset`): where the next page starts.
    At(&'a [(String, String)]),
    /// Nowhere: the page is the last.
    End,
}

/// One page of a Bundle: its size and position, and where the next one starts.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// `_count`.
    pub count: usize,
    /// `_offset`.
    pub offset: usize,
    /// The `next` link.
    pub next: Next<'a>,
}

impl Page<'_> {
    /// The page of `count` at `offset`, the next one past it.
    pub fn at(count: usize, offset: usize) -> Page<'static> {
        Page {
            count,
            offset,
            next: Next::Offset,
        }
    }
}

/// A Bundle of `kind` with `self`/`next`/`previous` links built from the configured base (never
/// from request headers).
pub fn bundle(
    kind: &str,
    base: &str,
    path: &str,
    params: &[(String, String)],
    total: Total,
    page: Page<'_>,
    entries: Vec<Entry>,
) -> Spliced {
    let Page {
        count,
        offset,
        next,
    } = page;
    let link = |params: &[(String, String)], offset: Option<usize>| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            q.append_pair(k, v);
        }
        q.append_pair("_count", &count.to_string());
        if let Some(offset) = offset {
            q.append_pair("_offset", &offset.to_string());
        }
        format!("{base}/{path}?{}", q.finish())
    };
    let mut links = vec![json!({"relation": "self", "url": link(params, Some(offset))})];
    let next = match next {
        Next::Offset if count > 0 && offset + count < total.listed => {
            Some(link(params, Some(offset + count)))
        }
        Next::At(at) if count > 0 => Some(link(at, None)),
        _ => None,
    };
    if let Some(url) = next {
        links.push(json!({"relation": "next", "url": url}));
    }
    if offset > 0 && count > 0 {
        let previous = link(params, Some(offset.saturating_sub(count)));
        links.push(json!({"relation": "previous", "url": previous}));
    }
    let mut b = json!({
        "resourceType": "Bundle",
        "type": kind,
        "link": links,
    });
    if total.shown {
        b["total"] = json!(total.listed);
    }
    Spliced::new(b, entries)
}

/// Most audit records read for one accounting.
const MAX_ACCOUNTED: usize = 10_000;

/// An accounting with more records than [`MAX_ACCOUNTED`]: refused, since a part of it would
/// read as all of it.
const TOO_MANY_ACCOUNTED: Fail = Fail::new(
    StatusCode::INTERNAL_SERVER_ERROR,
    IssueCode::TooLong,
    "The accounting holds more disclosures than this server answers at once",
);

/// The `from` and `to` of a `$disclosures` request: the start of `from`'s range and the end of
/// `to`'s (`to=2025` ends with 2025).
fn accounting_period(query: &[(String, String)]) -> Result<(Option<Time>, Option<Time>), Fail> {
    const BAD: Fail = Fail::new(
        StatusCode::BAD_REQUEST,
        IssueCode::Invalid,
        "$disclosures takes from and to, each once, as a date or dateTime",
    );
    let mut period = (None, None);
    for (name, value) in query {
        let (lo, hi) = crate::store::time::instant_range(value).ok_or(BAD)?;
        let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).ok_or(BAD);
        let slot = match name.as_str() {
            "from" => (&mut period.0, at(lo)?),
            "to" => (&mut period.1, at(hi - 1)?),
            _ => return Err(BAD),
        };
        if slot.0.replace(slot.1).is_some() {
            return Err(BAD);
        }
    }
    Ok(period)
}

type Time = chrono::DateTime<chrono::Utc>;

/// `GET Patient/[id]/$disclosures`: the accounting of disclosures of the patient's data
/// (HIPAA §164.528, six years back), built by `fhir_audit::disclosure` from the server's audit
/// records: disclosure events, and successful reads, searches, history reads, `$everything`
/// calls and batches made for a purpose of use that is not only treatment, payment or
/// operations. Answered as a `collection` Bundle of AuditEvents.
///
/// `from` and `to` (a FHIR date or dateTime, each at most once) narrow the period (a start
/// more than six years back is moved up to it); any other parameter is a 400.
pub fn disclosures(tx: &Tx<'_>, env: &Env<'_>, id: &str, query: &[(String, String)]) -> Outcome {
    use fhir_audit::disclosure::{account, AccountingPolicy, AccountingRequest};
    let (from, to) = accounting_period(query)?;
    // The right to an accounting outlives the record: a deleted Patient's is served to whoever
    // could still read its last content (and learns 410 Gone on a read).
    let readable = match tx.current("Patient", id)? {
        Some(v) if v.deleted => tx
            .last_live("Patient", id)?
            .and_then(|v| v.body)
            .map(|b| env.access.may_read_deleted(tx, "Patient", &b)),
        Some(v) => v.body.map(|b| env.access.may_read(tx, "Patient", id, &b)),
        None => None,
    };
    match readable {
        Some(true) => {}
        Some(false) => return Err(Fail::HIDDEN),
        None => return Err(Fail::NOT_FOUND),
    }
    if !env.access.may_read_accounting(id, env.base) {
        return Err(Fail::FORBIDDEN);
    }
    let mut request = AccountingRequest::new(id, env.now);
    (request.from, request.to) = (from, to);
    let (from, to) = request.period();
    let records: Vec<fhir_audit::AuditRecord> = tx
        .audit_records_for(
            id,
            from.timestamp_millis(),
            to.timestamp_millis(),
            MAX_ACCOUNTED,
        )?
        .ok_or(TOO_MANY_ACCOUNTED)?
        .iter()
        .filter_map(|b| fhir_audit::AuditRecord::from_log_bytes(b).ok())
        .collect();
    let mut policy = AccountingPolicy::default();
    policy.rest_access_as_disclosure = true;
    let report = account(records.iter(), &request, &policy);
    let bundle = report.to_bundle(&crate::audit_trail::render_config(env.base));
    let json = fhir_types::json::to_vec(&fhir_types::Resource::Bundle(Box::new(bundle)));
    let value = super::json::parse(&json).map_err(|_| Fail::INTERNAL)?;
    let mut done = Done::json(value);
    done.touched = vec![format!("Patient/{id}")];
    Ok(done)
}

#[cfg(test)]
#[path = "searching_tests.rs"]
mod tests;
