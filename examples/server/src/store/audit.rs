//! The store's view of the audit trail: each audit record's canonical log bytes (also the
//! per-patient index behind the accounting of disclosures), one narrow row per AuditEvent, and
//! that event's searched references; the BALP AuditEvent itself (`fhir_audit::render`) is
//! rendered from the record when it is read.
//!
//! Storing every AuditEvent as an ordinary resource (its JSON twice, a dozen search rows with
//! three indexes each, compartment rows) was most of the server's CPU under load, for events
//! that are written on every request and read rarely. An event is now one row and a few
//! references in one clustered index. Served: read, vread (version 1), history, search by
//! `_id`, `_lastUpdated`, `date`, `patient`, `agent`, `entity` (and the Patient compartment,
//! which is `patient`), `_revinclude` and `_include` through those references. An event's id is
//! its row number, and `meta.lastUpdated` its `recorded` time.

use chrono::{SecondsFormat, TimeZone, Utc};
use fhir_audit::render::{event_references, to_audit_events, EventReferences, RenderConfig};
use fhir_audit::AuditRecord;
use fhir_types::Resource;
use rusqlite::types::Value as Sql;
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use super::index::resolve_reference;
use super::params::Kind;
use super::query::{any, bind, date_sql, Clause, Match};
use super::{time, Result, Tx, Version};

/// The resource type served from this view.
pub const AUDIT_EVENT: &str = "AuditEvent";

/// The reference parameters the view indexes (with `date`, `_id` and `_lastUpdated`).
const REFERENCE_PARAMS: [&str; 3] = ["patient", "agent", "entity"];

// Rows are never deleted (the trail is append-only), so a plain INTEGER PRIMARY KEY only grows:
// AUTOINCREMENT would add a `sqlite_sequence` write per record for nothing. (Files made by
// older binaries keep their AUTOINCREMENT table; both number the same way.)
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_record (
    seq INTEGER PRIMARY KEY, recorded_ms INTEGER NOT NULL, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit_patient (
    record INTEGER NOT NULL, patient TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_patient ON audit_patient (patient, record);
CREATE TABLE IF NOT EXISTS audit_event (
    seq INTEGER PRIMARY KEY, record INTEGER NOT NULL, part INTEGER NOT NULL,
    lo INTEGER NOT NULL, hi INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit_event_ref (
    code TEXT NOT NULL, value TEXT NOT NULL, system TEXT NOT NULL, event INTEGER NOT NULL,
    PRIMARY KEY (code, value, system, event)) WITHOUT ROWID;
";

/// One searched reference of an event: parameter code, target type, target id.
type Ref = (&'static str, String, String);

/// An audit record ready for the store, prepared outside its lock.
pub struct PreparedRecord {
    recorded_ms: i64,
    range: (i64, i64),
    bytes: Vec<u8>,
    patients: Vec<String>,
    /// The references of each AuditEvent the record renders to, in rendering order.
    events: Vec<Vec<Ref>>,
}

impl PreparedRecord {
    /// Prepares `record`, whose log form is `bytes`.
    pub fn new(record: &AuditRecord, bytes: &[u8], config: &RenderConfig, base: &str) -> Self {
        let recorded_ms = record.recorded.timestamp_millis();
        // `date` is `recorded`, indexed as the generic index would index its text.
        let text = record.recorded.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        let range = time::instant_range(&text).unwrap_or((recorded_ms, recorded_ms + 1));
        // Told by the renderer without rendering each event (rendering was most of this).
        let events = event_references(record, config)
            .iter()
            .map(|e| references(e, base))
            .collect();
        PreparedRecord {
            recorded_ms,
            range,
            bytes: bytes.to_vec(),
            patients: record.patients.clone(),
            events,
        }
    }
}

/// The `patient`, `agent` and `entity` references of an event (R4: `agent.who`,
/// `entity.what`, and those of them that are Patients), resolved like the generic index
/// resolves them.
fn references(event: &EventReferences, base: &str) -> Vec<Ref> {
    let mut out = Vec::new();
    let mut add = |code: &'static str, r: &str| {
        if let Some((rtype, id)) = resolve_reference(r, base) {
            if rtype == "Patient" {
                out.push(("patient", rtype.clone(), id.clone()));
            }
            out.push((code, rtype, id));
        }
    };
    for a in &event.agents {
        add("agent", a);
    }
    for e in &event.entities {
        add("entity", e);
    }
    out.sort();
    out.dedup();
    out
}

/// The row number an AuditEvent id names (ids are canonical decimals).
fn event_seq(id: &str) -> Option<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && n.to_string() == id)
}

/// Whether the view can run a search with `clauses` and `_include`s: a search naming any
/// other parameter is refused rather than answered wrongly.
pub fn supports_search(clauses: &[Clause], includes: &[crate::fhir::search::Include]) -> bool {
    clauses.iter().all(supports) && includes.iter().all(|i| REFERENCE_PARAMS.contains(&i.code))
}

/// Whether the view can evaluate `clause`.
fn supports(clause: &Clause) -> bool {
    match clause {
        Clause::Id(_) | Clause::LastUpdated(_) => true,
        Clause::Param { code, .. } => *code == "date" || REFERENCE_PARAMS.contains(code),
        Clause::InCompartment { ctype, .. } => ctype == "Patient",
        Clause::AnyOf(groups) => groups.iter().flatten().all(supports),
    }
}

/// `clauses` as a SQL condition over the event row aliased `c`. A clause the view cannot
/// evaluate matches nothing (a narrowing it cannot apply grants nothing).
fn where_sql(clauses: &[Clause], args: &mut Vec<Sql>) -> String {
    if clauses.is_empty() {
        return "1".into();
    }
    let parts: Vec<String> = clauses.iter().map(|c| clause_sql(c, args)).collect();
    format!("({})", parts.join(" AND "))
}

fn clause_sql(clause: &Clause, args: &mut Vec<Sql>) -> String {
    let dates = |values: &[Match], lo: &str, hi: &str, args: &mut Vec<Sql>| {
        let ors = values
            .iter()
            .filter_map(|m| match m {
                Match::Date {
                    prefix,
                    lo: a,
                    hi: b,
                } => Some(date_sql(*prefix, lo, hi, *a, *b, args)),
                _ => None,
            })
            .collect();
        any(ors)
    };
    match clause {
        Clause::Id(ids) => {
            let marks: Vec<String> = ids
                .iter()
                .filter_map(|id| event_seq(id))
                .map(|n| bind(args, Sql::Integer(n)))
                .collect();
            if marks.is_empty() {
                return "0".into();
            }
            format!("c.seq IN ({})", marks.join(","))
        }
        Clause::LastUpdated(values) => dates(values, "c.lo", "c.lo + 1", args),
        Clause::Param {
            code: "date",
            values,
            ..
        } => dates(values, "c.lo", "c.hi", args),
        Clause::Param {
            code,
            kind: Kind::Reference,
            values,
        } if REFERENCE_PARAMS.contains(code) => {
            let ors = values
                .iter()
                .map(|m| match m {
                    Match::Reference { rtype, id } => {
                        reference_sql(code, rtype.as_deref(), id, args)
                    }
                    _ => "0".into(),
                })
                .collect();
            any(ors)
        }
        Clause::InCompartment { ctype, id } if ctype == "Patient" => {
            reference_sql("patient", Some("Patient"), id, args)
        }
        Clause::AnyOf(groups) => any(groups.iter().map(|g| where_sql(g, args)).collect()),
        _ => "0".into(),
    }
}

fn reference_sql(code: &str, rtype: Option<&str>, id: &str, args: &mut Vec<Sql>) -> String {
    let code = bind(args, Sql::Text(code.to_owned()));
    let value = bind(args, Sql::Text(id.to_owned()));
    let system = match rtype {
        Some(t) => format!(" AND s.system = {}", bind(args, Sql::Text(t.to_owned()))),
        None => String::new(),
    };
    // `IN` (not `EXISTS`) lets SQLite drive the search from the reference index.
    format!(
        "c.seq IN (SELECT s.event FROM audit_event_ref s WHERE s.code = {code} \
         AND s.value = {value}{system})"
    )
}

/// The AuditEvent `seq` renders to: event `part` of the record `bytes`.
fn render(seq: i64, part: i64, lo: i64, bytes: &[u8]) -> Option<Version> {
    let record = AuditRecord::from_log_bytes(bytes).ok()?;
    let event = to_audit_events(&record, &crate::audit_trail::render_config())
        .into_iter()
        .nth(usize::try_from(part).ok()?)?;
    let json = fhir_types::json::to_vec(&Resource::AuditEvent(Box::new(event)));
    let mut body: Value = serde_json::from_slice(&json).ok()?;
    let id = seq.to_string();
    let updated = time::format_instant(Utc.timestamp_millis_opt(lo).single()?);
    super::set_meta(&mut body, &id, 1, &updated);
    Some(Version {
        rtype: AUDIT_EVENT.to_owned(),
        id,
        version: 1,
        last_updated: updated,
        deleted: false,
        body: Some(crate::fhir::json::to_string(&body)),
    })
}

fn rendered(rows: Vec<(i64, i64, i64, Vec<u8>)>) -> Vec<Version> {
    rows.into_iter()
        .filter_map(|(seq, part, lo, bytes)| {
            let v = render(seq, part, lo, &bytes);
            if v.is_none() {
                eprintln!("secure-fhir-server: AuditEvent {seq} could not be rendered");
            }
            v
        })
        .collect()
}

const EVENT_ROWS: &str = "SELECT c.seq, c.part, c.lo, r.bytes \
    FROM audit_event c JOIN audit_record r ON r.seq = c.record";

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, i64, i64, Vec<u8>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

impl Tx<'_> {
    /// Stores an audit record: its log bytes, its patients (for the accounting of
    /// disclosures) and its AuditEvents' rows and references.
    pub fn insert_audit(&self, r: &PreparedRecord) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO audit_record (recorded_ms, bytes) VALUES (?1, ?2)")?
            .execute(params![r.recorded_ms, r.bytes])?;
        let record = self.conn.last_insert_rowid();
        let mut ins = self
            .conn
            .prepare_cached("INSERT INTO audit_patient (record, patient) VALUES (?1, ?2)")?;
        for p in &r.patients {
            ins.execute(params![record, p])?;
        }
        let mut event = self.conn.prepare_cached(
            "INSERT INTO audit_event (record, part, lo, hi) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut reference = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO audit_event_ref (code, value, system, event) \
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (part, refs) in r.events.iter().enumerate() {
            event.execute(params![record, part as i64, r.range.0, r.range.1])?;
            let seq = self.conn.last_insert_rowid();
            for (code, system, value) in refs {
                reference.execute(params![code, value, system, seq])?;
            }
        }
        Ok(())
    }

    /// The AuditEvent `id`.
    pub(super) fn audit_event(&self, id: &str) -> Result<Option<Version>> {
        let Some(seq) = event_seq(id) else {
            return Ok(None);
        };
        let row = self
            .conn
            .prepare_cached(&format!("{EVENT_ROWS} WHERE c.seq = ?1"))?
            .query_row(params![seq], event_row)
            .optional()?;
        Ok(row.and_then(|(seq, part, lo, bytes)| render(seq, part, lo, &bytes)))
    }

    /// AuditEvents matching `clauses`: the total and one page, oldest (or newest) first.
    pub(super) fn audit_search(
        &self,
        clauses: &[Clause],
        offset: usize,
        count: usize,
        newest_first: bool,
    ) -> Result<(usize, Vec<Version>)> {
        let mut args = Vec::new();
        let cond = where_sql(clauses, &mut args);
        let total: i64 = self
            .conn
            .prepare_cached(&format!("SELECT COUNT(*) FROM audit_event c WHERE {cond}"))?
            .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
        if count == 0 {
            return Ok((total as usize, Vec::new()));
        }
        args.push(Sql::Integer(count as i64));
        let limit = args.len();
        args.push(Sql::Integer(offset as i64));
        let off = args.len();
        let order = if newest_first { "DESC" } else { "ASC" };
        let sql = format!(
            "{EVENT_ROWS} WHERE {cond} ORDER BY c.seq {order} LIMIT ?{limit} OFFSET ?{off}"
        );
        let rows = self
            .conn
            .prepare_cached(&sql)?
            .query_map(rusqlite::params_from_iter(args.iter()), event_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((total as usize, rendered(rows)))
    }

    /// The `code` references of the AuditEvent `id` (from its record: rarely asked).
    pub(super) fn audit_references(&self, id: &str, code: &str) -> Result<Vec<(String, String)>> {
        let Some(seq) = event_seq(id) else {
            return Ok(Vec::new());
        };
        let row = self
            .conn
            .prepare_cached(&format!("{EVENT_ROWS} WHERE c.seq = ?1"))?
            .query_row(params![seq], event_row)
            .optional()?;
        let told = row.and_then(|(_, part, _, bytes)| {
            let record = AuditRecord::from_log_bytes(&bytes).ok()?;
            let config = crate::audit_trail::render_config();
            event_references(&record, &config)
                .into_iter()
                .nth(usize::try_from(part).ok()?)
        });
        let Some(event) = told else {
            return Ok(Vec::new());
        };
        Ok(references(&event, self.base)
            .into_iter()
            .filter(|(c, _, _)| *c == code)
            .map(|(_, t, i)| (t, i))
            .collect())
    }

    /// Ids of AuditEvents whose `code` references `target_type/target_id`, at most `limit`.
    pub(super) fn audit_referrers(
        &self,
        code: &str,
        target_type: &str,
        target_id: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT event FROM audit_event_ref WHERE code = ?1 AND value = ?2 AND system = ?3 \
                 ORDER BY event LIMIT ?4",
            )?
            .query_map(params![code, target_id, target_type, limit as i64], |r| {
                r.get::<_, i64>(0)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows.into_iter().map(|n| n.to_string()).collect())
    }

    /// The AuditEvents in the compartment of Patient `id`, at most `limit`.
    pub(super) fn audit_compartment(&self, id: &str, limit: usize) -> Result<Vec<Version>> {
        let clauses = [Clause::InCompartment {
            ctype: "Patient".into(),
            id: id.into(),
        }];
        Ok(self.audit_search(&clauses, 0, limit, false)?.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{index, Store};

    const BASE: &str = "http://localhost:8080/fhir";

    fn record(patients: &[&str]) -> AuditRecord {
        let mut r = AuditRecord::new(
            Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap(),
            fhir_audit::Event::Authentication,
        );
        r.patients = patients.iter().map(|p| (*p).to_owned()).collect();
        r
    }

    #[test]
    fn references_are_what_the_generic_index_finds() {
        let config = crate::audit_trail::render_config();
        let record = record(&["p1", "p2"]);
        let told = event_references(&record, &config);
        let events = to_audit_events(&record, &config);
        assert_eq!(told.len(), events.len());
        for (event, told) in events.into_iter().zip(&told) {
            let json = fhir_types::json::to_vec(&Resource::AuditEvent(Box::new(event.clone())));
            let body: Value = serde_json::from_slice(&json).unwrap();
            let mut generic: Vec<Ref> = index::rows(AUDIT_EVENT, &body, BASE)
                .into_iter()
                .filter(|r| REFERENCE_PARAMS.contains(&r.code))
                .map(|r| (r.code, r.system, r.value))
                .collect();
            generic.sort();
            assert!(!generic.is_empty());
            assert_eq!(references(told, BASE), generic);
        }
    }

    #[test]
    fn events_are_stored_searched_and_rendered() {
        let store = Store::open(None, BASE).unwrap();
        let config = crate::audit_trail::render_config();
        store
            .transaction(|tx| -> Result<()> {
                for patients in [&["p1", "p2"][..], &["p2"], &[]] {
                    let record = record(patients);
                    let bytes = record.to_log_bytes().unwrap();
                    let r = PreparedRecord::new(&record, &bytes, &config, BASE);
                    tx.insert_audit(&r)?;
                }
                Ok(())
            })
            .unwrap();
        store.read(|tx| {
            let p = |id: &str| Clause::InCompartment {
                ctype: "Patient".into(),
                id: id.into(),
            };
            assert_eq!(tx.audit_search(&[], 0, 10, false).unwrap().0, 4);
            let (n, page) = tx.audit_search(&[p("p2")], 0, 10, false).unwrap();
            assert_eq!(n, 2);
            assert_eq!(page[0].id, "2");
            assert_eq!(page[1].id, "3");
            let body = page[1].json().unwrap();
            assert_eq!(body["resourceType"], "AuditEvent");
            assert_eq!(body["id"], "3");
            assert_eq!(body["meta"]["versionId"], "1");
            assert!(page[1].body.as_deref().unwrap().contains("Patient/p2"));
            assert_eq!(tx.audit_search(&[p("p1")], 0, 10, false).unwrap().0, 1);
            assert_eq!(tx.audit_search(&[p("p3")], 0, 10, false).unwrap().0, 0);
            let ids = Clause::Id(vec!["4".into(), "04".into(), "x".into()]);
            assert_eq!(tx.audit_search(&[ids], 0, 10, false).unwrap().0, 1);
            // A clause the view cannot evaluate matches nothing.
            let other = Clause::Param {
                code: "outcome",
                kind: Kind::Token,
                values: vec![],
            };
            assert!(!supports(&other));
            assert_eq!(tx.audit_search(&[other], 0, 10, false).unwrap().0, 0);
            assert_eq!(tx.audit_event("1").unwrap().unwrap().id, "1");
            assert!(tx.audit_event("5").unwrap().is_none());
            assert_eq!(
                tx.audit_referrers("patient", "Patient", "p2", 10).unwrap(),
                ["2", "3"]
            );
            assert_eq!(
                tx.audit_references("1", "patient").unwrap(),
                [("Patient".to_owned(), "p1".to_owned())]
            );
        });
    }
}
