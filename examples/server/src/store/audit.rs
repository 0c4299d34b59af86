//! The store's view of the audit trail: each audit record's canonical log bytes in one
//! SQLite row (`audit_record`), and an in-memory index of its AuditEvents
//! ([`super::audit_index`]); the BALP AuditEvent itself (`fhir_audit::render`) is rendered
//! from the record when it is read.
//!
//! Storing every AuditEvent as an ordinary resource (its JSON twice, a dozen search rows with
//! three indexes each, compartment rows) was most of the server's CPU under load, for events
//! that are written on every request and read rarely; so later were the seven rows a record
//! took in narrow tables. Served: read, vread (version 1), history, search by `_id`,
//! `_lastUpdated`, `date`, `patient`, `agent`, `entity` (and the Patient compartment, which is
//! `patient`), `_revinclude` and `_include` through those references. An event's id is its
//! number in the index, and `meta.lastUpdated` its `recorded` time.

use chrono::{TimeZone, Utc};
use fhir_audit::render::{event_references, to_audit_events, RenderConfig};
use fhir_audit::AuditRecord;
use fhir_types::Resource;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::audit_index::{event_number, references, AuditIndex, Entry, Found, REFERENCE_PARAMS};
use super::query::Clause;
use super::{time, Result, SeqWindow, Store, StoreError, Tx, Version};

/// The resource type served from this view.
pub const AUDIT_EVENT: &str = "AuditEvent";

// Rows are never deleted (the trail is append-only), so a plain INTEGER PRIMARY KEY only grows:
// AUTOINCREMENT would add a `sqlite_sequence` write per record for nothing. (Files made by
// older binaries keep their AUTOINCREMENT table; both number the same way.) The tables of the
// former layout (a row per event, its references and patients) are dropped: the index is
// rebuilt from the records, with the same event numbers.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_record (
    seq INTEGER PRIMARY KEY, recorded_ms INTEGER NOT NULL, bytes BLOB NOT NULL);
DROP TABLE IF EXISTS audit_patient;
DROP TABLE IF EXISTS audit_event;
DROP TABLE IF EXISTS audit_event_ref;
";

/// An audit record ready for the store, prepared outside its lock.
pub struct PreparedRecord {
    bytes: Vec<u8>,
    entry: Entry,
}

impl PreparedRecord {
    /// Prepares `record`, whose log form is `bytes` (kept, not copied).
    pub fn new(record: &AuditRecord, bytes: Vec<u8>, config: &RenderConfig, base: &str) -> Self {
        PreparedRecord {
            bytes,
            entry: Entry::new(record, config, base),
        }
    }
}

/// The index of the records stored in `conn`, in row order (as they were first indexed).
/// A record that no longer parses fails the opening: skipping it would renumber every later
/// AuditEvent.
pub(super) fn load_index(conn: &Connection, base: &str) -> Result<AuditIndex> {
    let config = crate::audit_trail::render_config(base);
    let mut index = AuditIndex::default();
    let mut stmt = conn.prepare("SELECT seq, bytes FROM audit_record ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let bytes = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
        let record = AuditRecord::from_log_bytes(bytes)
            .map_err(|e| StoreError(format!("audit record {seq} does not parse: {e}")))?;
        index
            .add(seq, &Entry::new(&record, &config, base))
            .map_err(StoreError)?;
    }
    Ok(index)
}

impl Store {
    /// Stores audit records (one transaction) and indexes their AuditEvents.
    pub fn insert_audit(&self, records: &[PreparedRecord]) -> Result<()> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let tx = inner.conn.transaction()?;
        let mut seqs = Vec::with_capacity(records.len());
        {
            let mut ins =
                tx.prepare_cached("INSERT INTO audit_record (recorded_ms, bytes) VALUES (?1, ?2)")?;
            for r in records {
                ins.execute(params![r.entry.recorded_ms, r.bytes])?;
                seqs.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        // Indexed once committed, under the same lock: readers never see an event whose
        // record is not stored.
        for (r, seq) in records.iter().zip(seqs) {
            inner.audit.add(seq, &r.entry).map_err(StoreError)?;
        }
        Ok(())
    }
}

/// Whether the view can run a search with `clauses` and `_include`s: a search naming any
/// other parameter is refused rather than answered wrongly.
pub fn supports_search(clauses: &[Clause], includes: &[crate::fhir::search::Include]) -> bool {
    clauses.iter().all(supports) && includes.iter().all(|i| REFERENCE_PARAMS.contains(&i.code))
}

/// Whether AuditEvents are searched by parameter `code` (besides `_id` and `_lastUpdated`,
/// which every type has): what the CapabilityStatement lists for them.
pub fn searches_by(code: &str) -> bool {
    code == "date" || REFERENCE_PARAMS.contains(&code)
}

/// Whether the view can evaluate `clause`.
fn supports(clause: &Clause) -> bool {
    match clause {
        Clause::Id(_) | Clause::LastUpdated(_) => true,
        Clause::Param { code, .. } => searches_by(code),
        Clause::InCompartment { ctype, .. } => ctype == "Patient",
        Clause::AnyOf(groups) => groups.iter().flatten().all(supports),
    }
}

/// The AuditEvent `number` renders to: event `part` of the record `bytes`.
fn render(base: &str, number: u32, part: u32, lo: i64, bytes: &[u8]) -> Option<Version> {
    let record = AuditRecord::from_log_bytes(bytes).ok()?;
    let event = to_audit_events(&record, &crate::audit_trail::render_config(base))
        .into_iter()
        .nth(part as usize)?;
    let json = fhir_types::json::to_vec(&Resource::AuditEvent(Box::new(event)));
    let mut body: Value = serde_json::from_slice(&json).ok()?;
    let id = number.to_string();
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

impl Tx<'_> {
    /// The log bytes of the record in row `seq`.
    fn audit_bytes(&self, seq: i64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT bytes FROM audit_record WHERE seq = ?1")?
            .query_row(params![seq], |r| r.get(0))
            .optional()?)
    }

    /// The AuditEvents `found` names, rendered (those that cannot be are left out, and said).
    fn rendered(&self, found: Vec<Found>) -> Result<Vec<Version>> {
        let mut out = Vec::with_capacity(found.len());
        for f in found {
            let v = self
                .audit_bytes(f.seq)?
                .and_then(|bytes| render(self.base, f.number, f.part, f.lo, &bytes));
            match v {
                Some(v) => out.push(v),
                None => eprintln!(
                    "secure-fhir-server: AuditEvent {} could not be rendered",
                    f.number
                ),
            }
        }
        Ok(out)
    }

    /// The AuditEvent `id`.
    pub(super) fn audit_event(&self, id: &str) -> Result<Option<Version>> {
        let found = event_number(id).and_then(|n| self.audit.event(n));
        Ok(self.rendered(found.into_iter().collect())?.pop())
    }

    /// AuditEvents matching `clauses`: the total and one page, oldest (or newest) first.
    pub(super) fn audit_search(
        &self,
        clauses: &[Clause],
        offset: usize,
        count: usize,
        newest_first: bool,
    ) -> Result<(usize, Vec<Version>)> {
        let (total, page) = self.audit.search(clauses, offset, count, newest_first);
        Ok((total, self.rendered(page)?))
    }

    /// The AuditEvents' history (newest first): those matching `clauses` in `window`, whose
    /// `seq`s are event numbers.
    pub(super) fn audit_history(
        &self,
        clauses: &[Clause],
        window: SeqWindow,
        offset: usize,
        count: usize,
    ) -> Result<(usize, Vec<Version>)> {
        let older = window.older_than.map_or(i64::MAX, |n| n.saturating_sub(1));
        let last = u32::try_from(window.newest.min(older).max(0)).unwrap_or(u32::MAX);
        let (total, page) = self.audit.search_up_to(clauses, last, offset, count, true);
        Ok((total, self.rendered(page)?))
    }

    /// The number of the newest AuditEvent (0 when there is none).
    pub(super) fn audit_newest(&self) -> i64 {
        self.audit.len() as i64
    }

    /// The `code` references of the AuditEvent `id` (from its record: rarely asked).
    pub(super) fn audit_references(&self, id: &str, code: &str) -> Result<Vec<(String, String)>> {
        let Some(found) = event_number(id).and_then(|n| self.audit.event(n)) else {
            return Ok(Vec::new());
        };
        let told = self.audit_bytes(found.seq)?.and_then(|bytes| {
            let record = AuditRecord::from_log_bytes(&bytes).ok()?;
            let config = crate::audit_trail::render_config(self.base);
            event_references(&record, &config)
                .into_iter()
                .nth(found.part as usize)
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
        Ok(self
            .audit
            .referrers(code, target_type, target_id, limit)
            .into_iter()
            .map(|n| n.to_string())
            .collect())
    }

    /// The AuditEvents in the compartment of Patient `id`, at most `limit`.
    pub(super) fn audit_compartment(&self, id: &str, limit: usize) -> Result<Vec<Version>> {
        let clauses = [Clause::InCompartment {
            ctype: "Patient".into(),
            id: id.into(),
        }];
        Ok(self.audit_search(&clauses, 0, limit, false)?.1)
    }

    /// The audit records (log bytes) recorded in `[from_ms, to_ms]` that an accounting of
    /// `patient`'s disclosures may list, oldest first; `None` when there are more than
    /// `limit`.
    pub fn audit_records_for(
        &self,
        patient: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let Some(seqs) = self.audit.records_for(patient, from_ms, to_ms, limit) else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            out.extend(self.audit_bytes(seq)?);
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit_index::Ref;
    use crate::store::params::Kind;
    use crate::store::query::{Match, Prefix};
    use crate::store::{index, Store};

    const BASE: &str = "http://localhost:8080/fhir";

    /// A disclosure of `patients`' data (one an accounting lists).
    fn record(patients: &[&str]) -> AuditRecord {
        let to = fhir_audit::Recipient::new("State registry");
        let mut r = AuditRecord::new(
            Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap(),
            fhir_audit::Event::Disclosure(fhir_audit::Disclosure::new(to, "Immunizations")),
        );
        r.patients = patients.iter().map(|p| (*p).to_owned()).collect();
        r
    }

    fn insert(store: &Store, records: &[AuditRecord]) {
        let config = crate::audit_trail::render_config(BASE);
        let prepared: Vec<PreparedRecord> = records
            .iter()
            .map(|r| PreparedRecord::new(r, r.to_log_bytes().unwrap(), &config, BASE))
            .collect();
        store.insert_audit(&prepared).unwrap();
    }

    fn p(id: &str) -> Clause {
        Clause::InCompartment {
            ctype: "Patient".into(),
            id: id.into(),
        }
    }

    fn reference(code: &'static str, rtype: Option<&str>, id: &str) -> Clause {
        Clause::Param {
            code,
            kind: Kind::Reference,
            values: vec![Match::Reference {
                rtype: rtype.map(str::to_owned),
                id: id.into(),
            }],
        }
    }

    fn ids(tx: &Tx<'_>, clauses: &[Clause], offset: usize, newest: bool) -> (usize, Vec<String>) {
        let (n, page) = tx.audit_search(clauses, offset, 10, newest).unwrap();
        (n, page.into_iter().map(|v| v.id).collect())
    }

    #[test]
    fn references_are_what_the_generic_index_finds() {
        let config = crate::audit_trail::render_config(BASE);
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
        insert(
            &store,
            &[record(&["p1", "p2"]), record(&["p2"]), record(&[])],
        );
        store.read(|tx| {
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
            assert!(tx.audit_event("0").unwrap().is_none());
            assert_eq!(
                tx.audit_referrers("patient", "Patient", "p2", 10).unwrap(),
                ["2", "3"]
            );
            assert_eq!(
                tx.audit_references("1", "patient").unwrap(),
                [("Patient".to_owned(), "p1".to_owned())]
            );
            let accounted = |patient| {
                let records = tx.audit_records_for(patient, 0, i64::MAX, 10).unwrap();
                records.expect("within the limit")
            };
            assert_eq!(accounted("p2").len(), 2);
            assert_eq!(accounted("p1").len(), 1);
            assert!(accounted("p3").is_empty());
            assert_eq!(tx.audit_records_for("p2", 0, 1, 10).unwrap(), Some(vec![]));
        });
    }

    /// The accounting reads only the records it may list, so a patient's own reads (or any
    /// number of other events) do not crowd out a later disclosure; and more of them than the
    /// limit is an answer of its own, not the first `limit` taken for all.
    #[test]
    fn accountings_take_only_what_they_may_list_and_never_a_part() {
        let store = Store::open(None, BASE).unwrap();
        let mut own_read = AuditRecord::rest(
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
            fhir_audit::Interaction::Read,
            Some("Patient"),
        );
        own_read.patients = vec!["p1".into()];
        insert(&store, &vec![own_read; 20]);
        insert(&store, &[record(&["p1"])]);
        store.read(|tx| {
            let accounted = tx.audit_records_for("p1", 0, i64::MAX, 10).unwrap();
            let accounted = accounted.expect("one record to account");
            assert_eq!(accounted.len(), 1);
            let r = AuditRecord::from_log_bytes(&accounted[0]).unwrap();
            assert!(matches!(r.event, fhir_audit::Event::Disclosure(_)));
        });
        insert(&store, &vec![record(&["p1"]); 10]);
        store.read(|tx| {
            assert_eq!(tx.audit_records_for("p1", 0, i64::MAX, 10).unwrap(), None);
            let all = tx.audit_records_for("p1", 0, i64::MAX, 11).unwrap();
            assert_eq!(all.map(|a| a.len()), Some(11));
        });
    }

    #[test]
    fn searches_combine_page_and_order_like_sql_did() {
        let store = Store::open(None, BASE).unwrap();
        let mut later = record(&["p1"]);
        later.recorded = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        // Events 1 (p1), 2 (p1), 3 (p2), 4 (p1, 2026).
        insert(&store, &[record(&["p1"]), record(&["p1", "p2"]), later]);
        let date = |prefix, y| Clause::Param {
            code: "date",
            kind: Kind::Date,
            values: vec![Match::Date {
                prefix,
                lo: Utc
                    .with_ymd_and_hms(y, 1, 1, 0, 0, 0)
                    .unwrap()
                    .timestamp_millis(),
                hi: Utc
                    .with_ymd_and_hms(y + 1, 1, 1, 0, 0, 0)
                    .unwrap()
                    .timestamp_millis(),
            }],
        };
        store.read(|tx| {
            let all = ids(tx, &[], 0, false);
            assert_eq!(
                all,
                (
                    4,
                    vec!["1", "2", "3", "4"]
                        .into_iter()
                        .map(String::from)
                        .collect()
                )
            );
            let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            assert_eq!(ids(tx, &[], 1, true), (4, s(&["3", "2", "1"])));
            assert_eq!(ids(tx, &[], 9, false), (4, s(&[])));
            assert_eq!(ids(tx, &[p("p1")], 0, true), (3, s(&["4", "2", "1"])));
            assert_eq!(ids(tx, &[p("p1")], 1, false), (3, s(&["2", "4"])));
            assert_eq!(ids(tx, &[date(Prefix::Eq, 2026)], 0, false), (1, s(&["4"])));
            assert_eq!(
                ids(tx, &[date(Prefix::Lt, 2026)], 0, true),
                (3, s(&["3", "2", "1"]))
            );
            assert_eq!(
                ids(tx, &[p("p1"), date(Prefix::Eq, 2025)], 0, false),
                (2, s(&["1", "2"]))
            );
            // The narrowing of a patient/ token: any of these groups.
            let any = Clause::AnyOf(vec![vec![p("p2")], vec![p("p1"), date(Prefix::Eq, 2026)]]);
            assert_eq!(ids(tx, &[any], 0, false), (2, s(&["3", "4"])));
            let open = Clause::AnyOf(vec![vec![p("p2")], vec![date(Prefix::Eq, 2026)]]);
            assert_eq!(ids(tx, &[open], 0, false), (2, s(&["3", "4"])));
            assert_eq!(ids(tx, &[Clause::AnyOf(vec![])], 0, false), (0, s(&[])));
            // A reference with or without its type; the server is an agent of every event.
            for rtype in [None, Some("Patient")] {
                let q = [reference("entity", rtype, "p2")];
                assert_eq!(ids(tx, &q, 0, false), (1, s(&["3"])));
            }
            assert_eq!(
                ids(tx, &[reference("entity", Some("Group"), "p2")], 0, false).0,
                0
            );
            let server = reference("agent", Some("Device"), "secure-fhir-server");
            assert_eq!(ids(tx, &[server], 0, false).0, 4);
            let by_id = Clause::Id(vec!["3".into(), "1".into(), "9".into()]);
            assert_eq!(ids(tx, &[by_id, p("p1")], 0, false), (1, s(&["1"])));
            let last_updated = Clause::LastUpdated(vec![Match::Date {
                prefix: Prefix::Ge,
                lo: 0,
                hi: 1,
            }]);
            assert_eq!(ids(tx, &[last_updated], 0, false).0, 4);
        });
    }

    #[test]
    fn date_comparisons_are_the_generic_search_ones() {
        use crate::store::audit_index::date_matches;
        use crate::store::query::date_sql;
        let conn = Connection::open_in_memory().unwrap();
        let prefixes = [
            Prefix::Eq,
            Prefix::Ne,
            Prefix::Gt,
            Prefix::Lt,
            Prefix::Ge,
            Prefix::Le,
            Prefix::Sa,
            Prefix::Eb,
            Prefix::Ap,
        ];
        for prefix in prefixes {
            for (lo, hi) in [(0, 10), (5, 6), (10, 20), (-3, 0), (4, 15)] {
                for (a, b) in [(0, 10), (5, 6), (10, 11), (-5, 0), (0, 5)] {
                    let mut args = Vec::new();
                    let cond = date_sql(prefix, &lo.to_string(), &hi.to_string(), a, b, &mut args);
                    let sql: bool = conn
                        .query_row(
                            // Both bound values used, whichever the comparison names.
                            &format!("SELECT ({cond}) OR (?1 IS NULL AND ?2 IS NULL)"),
                            rusqlite::params_from_iter(args.iter()),
                            |r| r.get(0),
                        )
                        .unwrap();
                    let told = date_matches(prefix, lo, hi, a, b);
                    assert_eq!(told, sql, "{prefix:?} [{lo},{hi}) vs [{a},{b})");
                }
            }
        }
    }

    #[test]
    fn a_reopened_store_numbers_and_finds_events_as_before() {
        let dir = std::env::temp_dir().join(format!("audit-reopen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db");
        let answers = |store: &Store| {
            store.read(|tx| {
                let everything = tx.audit_search(&[], 0, 100, false).unwrap();
                let mine = tx.audit_search(&[p("p2")], 0, 100, true).unwrap();
                let accounted = tx.audit_records_for("p2", 0, i64::MAX, 10).unwrap();
                (everything, mine, accounted)
            })
        };
        let before = {
            let store = Store::open(Some(&path), BASE).unwrap();
            insert(&store, &[record(&["p1", "p2"]), record(&[])]);
            insert(&store, &[record(&["p2"])]);
            answers(&store)
        };
        assert_eq!(before.0 .0, 4);
        let store = Store::open(Some(&path), BASE).unwrap();
        assert_eq!(answers(&store), before);
        // New events continue the numbering.
        insert(&store, &[record(&["p3"])]);
        store.read(|tx| {
            assert_eq!(
                tx.audit_search(&[p("p3")], 0, 10, false).unwrap().1[0].id,
                "5"
            );
        });
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
