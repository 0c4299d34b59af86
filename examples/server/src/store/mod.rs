//! The embedded SQLite store: every version of every resource (as JSON text), the current
//! version of each, a search index and the patient-compartment membership of current versions.
//!
//! The store knows nothing of authorization: callers pass the narrowing as query clauses and
//! check each returned resource themselves.

pub mod audit;
pub mod audit_index;
pub mod compartment;
mod derivation;
mod history;
pub mod index;
mod migrate;
pub mod number;
pub mod params;
pub mod query;
pub mod time;

use std::cell::RefCell;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::types::Value as Sql;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use audit::AUDIT_EVENT;
pub use history::SeqWindow;
use query::{search_where, Query};

/// A store failure. The message is for the server log only, never for a response.
#[derive(Debug)]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store: {}", self.0)
    }
}

/// Result of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// One stored version of a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// Resource type.
    pub rtype: String,
    /// Logical id.
    pub id: String,
    /// `meta.versionId`, counting from 1.
    pub version: i64,
    /// `meta.lastUpdated` as FHIR instant text.
    pub last_updated: String,
    /// The version is a deletion.
    pub deleted: bool,
    /// The resource JSON (`None` for deletions).
    pub body: Option<String>,
}

impl Version {
    /// The body parsed as JSON (deletions and unparsable rows give `None`).
    pub fn json(&self) -> Option<Value> {
        self.body
            .as_deref()
            .and_then(|b| crate::fhir::json::parse_str(b).ok())
    }
}

/// The SQLite store. One connection behind a mutex: statements are short, and one writer is
/// what SQLite allows anyway. The in-memory index of the AuditEvents shares the lock: it is
/// read with the records it names.
pub struct Store {
    inner: Mutex<Inner>,
    base: String,
}

struct Inner {
    conn: Connection,
    audit: audit_index::AuditIndex,
}

// WAL with `synchronous = NORMAL`: a commit appends to the WAL without `fsync` (the WAL is
// synced at checkpoints), so a power loss can undo the last commits of the FHIR store but never
// corrupt it. The audit trail's durability does not rest on this store: an answered request
// waits for its record in the `fdatasync`ed audit log (see `audit_trail`).
//
// `locking_mode = EXCLUSIVE`, set before WAL is entered: the one connection takes the file
// lock once and keeps it, instead of two `fcntl` calls and a shared-memory lock per statement
// (6% of the secure server's CPU in a profile); the WAL index lives in heap memory. A second
// process opening the same file is refused at start ("database is locked") rather than
// racing this one.
//
// `current.seq` is the seq of the resource's latest version, `created_seq` that of the version
// that created it (see `migrate`, which also makes the index searches are ordered by).
const SCHEMA: &str = "
PRAGMA locking_mode = EXCLUSIVE;
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    rtype TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
    updated TEXT NOT NULL, updated_ms INTEGER NOT NULL,
    deleted INTEGER NOT NULL, body TEXT,
    UNIQUE (rtype, id, version));
CREATE TABLE IF NOT EXISTS current (
    rtype TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
    updated TEXT NOT NULL, updated_ms INTEGER NOT NULL,
    deleted INTEGER NOT NULL, body TEXT, seq INTEGER NOT NULL, created_seq INTEGER NOT NULL,
    PRIMARY KEY (rtype, id));
CREATE TABLE IF NOT EXISTS search_index (
    rtype TEXT NOT NULL, id TEXT NOT NULL, code TEXT NOT NULL,
    system TEXT NOT NULL, value TEXT NOT NULL, lo INTEGER, hi INTEGER);
CREATE INDEX IF NOT EXISTS search_by_value ON search_index (rtype, code, value);
CREATE INDEX IF NOT EXISTS search_rows_of_resource ON search_index (rtype, id, code, system, value);
CREATE INDEX IF NOT EXISTS search_referrers ON search_index (rtype, code, system, value);
CREATE TABLE IF NOT EXISTS compartment (
    rtype TEXT NOT NULL, id TEXT NOT NULL, ctype TEXT NOT NULL, cid TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS compartment_of_member ON compartment (rtype, id, ctype, cid);
CREATE INDEX IF NOT EXISTS compartment_by_owner ON compartment (ctype, cid, rtype);
";

const COLUMNS: &str = "rtype, id, version, updated, deleted, body";

fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Version> {
    Ok(Version {
        rtype: r.get(0)?,
        id: r.get(1)?,
        version: r.get(2)?,
        last_updated: r.get(3)?,
        deleted: r.get::<_, i64>(4)? != 0,
        body: r.get(5)?,
    })
}

impl Store {
    /// Opens (or creates) the store at `path`, or an in-memory one. `base` is the FHIR base URL
    /// absolute references are resolved against. A database whose index rows were derived by
    /// other code or against another base is reindexed first (the `derivation` module).
    pub fn open(path: Option<&Path>, base: &str) -> Result<Store> {
        let mut conn = match path {
            Some(p) => Connection::open(p)?,
            None => Connection::open_in_memory()?,
        };
        conn.execute_batch(SCHEMA)?;
        migrate::ensure(&mut conn)?;
        conn.execute_batch(audit::SCHEMA)?;
        let audit = audit::load_index(&conn, base)?;
        derivation::ensure(&mut conn, base, &audit)?;
        Ok(Store {
            inner: Mutex::new(Inner { conn, audit }),
            base: base.to_owned(),
        })
    }

    /// The FHIR base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves SQLite consistent (statements are atomic), and
        // the index is changed only by `insert_audit`, which does not panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one SQLite transaction: committed if it returns `Ok`, rolled back otherwise.
    pub fn transaction<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let tx = inner.conn.transaction().map_err(StoreError::from)?;
        let out = f(&Tx {
            conn: &tx,
            audit: &inner.audit,
            base: &self.base,
            // Writes change memberships: nothing is remembered.
            patients: None,
        })?;
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Drops the compartment table, so that every later compartment lookup fails (the
    /// audit record's patients cannot be found).
    #[cfg(test)]
    pub(crate) fn break_compartments_for_tests(&self) {
        let inner = self.lock();
        inner.conn.execute_batch("DROP TABLE compartment").unwrap();
    }

    /// Runs read-only work on the connection.
    pub fn read<T>(&self, f: impl FnOnce(&Tx<'_>) -> T) -> T {
        let inner = self.lock();
        f(&Tx {
            conn: &inner.conn,
            audit: &inner.audit,
            base: &self.base,
            patients: Some(RefCell::default()),
        })
    }
}

fn set_meta(body: &mut Value, id: &str, version: i64, updated: &str) {
    if let Value::Object(map) = body {
        map.insert("id".into(), Value::String(id.into()));
        let meta = map.entry("meta").or_insert_with(|| json!({}));
        if !meta.is_object() {
            *meta = json!({});
        }
        if let Value::Object(meta) = meta {
            meta.insert("versionId".into(), Value::String(version.to_string()));
            meta.insert("lastUpdated".into(), Value::String(updated.to_owned()));
        }
    }
}

/// Operations on the store inside one lock (and, for writes, one transaction).
pub struct Tx<'a> {
    conn: &'a Connection,
    audit: &'a audit_index::AuditIndex,
    base: &'a str,
    /// In a read-only access (where no membership changes): the Patient compartments of the
    /// resource [`Tx::in_compartment`] last looked up, `(rtype, id, patients)`, so that the
    /// audit record's lookup ([`Tx::patients_of`]) reuses the read's compartment check.
    patients: Option<RefCell<Option<Memberships>>>,
}

/// The referrers of one resource ([`Tx::referrers`]). `LIMIT +?`: see `limit_offset`.
const REFERRERS: &str = "SELECT DISTINCT id FROM search_index INDEXED BY search_referrers \
    WHERE rtype = ?1 AND code = ?2 AND system = ?3 AND value = ?4 LIMIT +?5";

/// The Patient compartments holding one resource: `(rtype, id, patient ids)`.
type Memberships = (String, String, Vec<String>);

/// Which versions a history request covers.
#[derive(Debug, Clone, Copy)]
pub enum HistoryScope<'a> {
    /// One resource.
    Instance(&'a str, &'a str),
    /// One type.
    Type(&'a str),
    /// Everything.
    System,
}

impl Tx<'_> {
    /// The current version (possibly a deletion) of `rtype/id`.
    pub fn current(&self, rtype: &str, id: &str) -> Result<Option<Version>> {
        if rtype == AUDIT_EVENT {
            return self.audit_event(id);
        }
        let sql = format!("SELECT {COLUMNS} FROM current WHERE rtype = ?1 AND id = ?2");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![rtype, id], version_row)
            .optional()?)
    }

    /// One version of `rtype/id`.
    pub fn version(&self, rtype: &str, id: &str, version: i64) -> Result<Option<Version>> {
        if rtype == AUDIT_EVENT {
            return Ok(self.audit_event(id)?.filter(|_| version == 1));
        }
        let sql =
            format!("SELECT {COLUMNS} FROM history WHERE rtype = ?1 AND id = ?2 AND version = ?3");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![rtype, id, version], version_row)
            .optional()?)
    }

    /// The latest version of `rtype/id` that is not a deletion.
    pub fn last_live(&self, rtype: &str, id: &str) -> Result<Option<Version>> {
        self.live_before(rtype, id, i64::MAX)
    }

    /// The latest version of `rtype/id` before `version` that is not a deletion: what the
    /// deletion at `version` deleted.
    pub fn live_before(&self, rtype: &str, id: &str, version: i64) -> Result<Option<Version>> {
        if rtype == AUDIT_EVENT {
            return self.audit_event(id);
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM history WHERE rtype = ?1 AND id = ?2 AND deleted = 0 \
             AND version < ?3 ORDER BY version DESC LIMIT 1"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![rtype, id, version], version_row)
            .optional()?)
    }

    /// Stores `body` as the next version of `rtype/id` (the first if new), setting `id`,
    /// `meta.versionId` and `meta.lastUpdated`, and reindexing. Returns the new version.
    pub fn put(
        &self,
        rtype: &str,
        id: &str,
        mut body: Value,
        now: DateTime<Utc>,
    ) -> Result<Version> {
        if rtype == AUDIT_EVENT {
            return Err(StoreError(
                "AuditEvents are written by the audit trail only".into(),
            ));
        }
        let previous = self.current(rtype, id)?.map(|v| v.version).unwrap_or(0);
        let version = previous + 1;
        let updated = time::format_instant(now);
        set_meta(&mut body, id, version, &updated);
        let text = crate::fhir::json::to_string(&body);
        let text = crate::fhir::model::canonical(text);
        self.write_version(rtype, id, version, &updated, now, Some(&text))?;
        self.reindex(rtype, id, Some(&body))?;
        Ok(Version {
            rtype: rtype.into(),
            id: id.into(),
            version,
            last_updated: updated,
            deleted: false,
            body: Some(text),
        })
    }

    /// Records the deletion of `rtype/id` as a new version. `None` if it does not exist or is
    /// already deleted.
    pub fn delete(&self, rtype: &str, id: &str, now: DateTime<Utc>) -> Result<Option<Version>> {
        if rtype == AUDIT_EVENT {
            return Err(StoreError(
                "AuditEvents are written by the audit trail only".into(),
            ));
        }
        let Some(cur) = self.current(rtype, id)? else {
            return Ok(None);
        };
        if cur.deleted {
            return Ok(None);
        }
        let version = cur.version + 1;
        let updated = time::format_instant(now);
        self.write_version(rtype, id, version, &updated, now, None)?;
        self.reindex(rtype, id, None)?;
        Ok(Some(Version {
            rtype: rtype.into(),
            id: id.into(),
            version,
            last_updated: updated,
            deleted: true,
            body: None,
        }))
    }

    fn write_version(
        &self,
        rtype: &str,
        id: &str,
        version: i64,
        updated: &str,
        now: DateTime<Utc>,
        body: Option<&str>,
    ) -> Result<()> {
        let ms = now.timestamp_millis();
        let deleted = i64::from(body.is_none());
        self.conn
            .prepare_cached(
                "INSERT INTO history (rtype, id, version, updated, updated_ms, deleted, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![rtype, id, version, updated, ms, deleted, body])?;
        let seq = self.conn.last_insert_rowid();
        // An update or deletion keeps the place of the live resource; a creation (the first
        // version, or one after a deletion) takes its own seq, after every other.
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO current \
                 (rtype, id, version, updated, updated_ms, deleted, body, seq, created_seq) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, COALESCE((SELECT created_seq \
                 FROM current WHERE rtype = ?1 AND id = ?2 AND deleted = 0), ?8))",
            )?
            .execute(params![rtype, id, version, updated, ms, deleted, body, seq])?;
        Ok(())
    }

    fn reindex(&self, rtype: &str, id: &str, body: Option<&Value>) -> Result<()> {
        if let Some(memo) = &self.patients {
            memo.take();
        }
        self.conn
            .prepare_cached("DELETE FROM search_index WHERE rtype = ?1 AND id = ?2")?
            .execute(params![rtype, id])?;
        self.conn
            .prepare_cached("DELETE FROM compartment WHERE rtype = ?1 AND id = ?2")?
            .execute(params![rtype, id])?;
        let Some(body) = body else { return Ok(()) };
        let rows = index::rows(rtype, body, self.base);
        let members = compartment::memberships(rtype, id, body, self.base);
        self.write_index(rtype, id, &rows, &members)
    }

    fn write_index(
        &self,
        rtype: &str,
        id: &str,
        rows: &[index::IndexRow],
        members: &[(String, String)],
    ) -> Result<()> {
        let mut ins = self.conn.prepare_cached(
            "INSERT INTO search_index (rtype, id, code, system, value, lo, hi) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for row in rows {
            let (lo, hi): (Sql, Sql) = match row.number.as_ref().and_then(|n| n.range()) {
                Some((lo, hi)) => (Sql::Real(lo), Sql::Real(hi)),
                None => (row.lo.into(), row.hi.into()),
            };
            ins.execute(params![rtype, id, row.code, row.system, row.value, lo, hi])?;
        }
        let mut ins = self.conn.prepare_cached(
            "INSERT INTO compartment (rtype, id, ctype, cid) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (ctype, cid) in members {
            ins.execute(params![rtype, id, ctype, cid])?;
        }
        Ok(())
    }

    /// Current, non-deleted resources matching `query`: the total and one page, in the order
    /// they were created (an update does not move a resource between the pages a client reads
    /// by offset; a deletion moves those after it one place forward).
    pub fn search(
        &self,
        query: &Query,
        offset: usize,
        count: usize,
    ) -> Result<(usize, Vec<Version>)> {
        if query.resource_type == AUDIT_EVENT {
            return self.audit_search(&query.clauses, offset, count, false);
        }
        let mut args = Vec::new();
        let from = search_from(query, &mut args);
        self.page(&from, "c", "c.created_seq", args, offset, count)
    }

    /// One page of the versions `from` selects (rows of the table aliased `alias`, in
    /// `order`) and their total, binding `args` then the page's limit and offset.
    fn page(
        &self,
        from: &str,
        alias: &str,
        order: &str,
        mut args: Vec<rusqlite::types::Value>,
        offset: usize,
        count: usize,
    ) -> Result<(usize, Vec<Version>)> {
        let n = args.len();
        let mut rows = Vec::new();
        if count > 0 {
            args.push(rusqlite::types::Value::Integer(count as i64));
            args.push(rusqlite::types::Value::Integer(offset as i64));
            let a = alias;
            let sql = format!(
                "SELECT {a}.rtype, {a}.id, {a}.version, {a}.updated, {a}.deleted, {a}.body \
                 {from} ORDER BY {order} {}",
                limit_offset(n + 1, n + 2)
            );
            rows = self
                .conn
                .prepare_cached(&sql)?
                .query_map(rusqlite::params_from_iter(args.iter()), version_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            args.truncate(n);
        }
        let total = match total_from_page(offset, count, rows.len()) {
            Some(total) => total,
            None => self
                .conn
                .prepare_cached(&format!("SELECT COUNT(*) {from}"))?
                .query_row(rusqlite::params_from_iter(args.iter()), |r| {
                    r.get::<_, i64>(0)
                })? as usize,
        };
        Ok((total, rows))
    }

    /// The `(type, id)` targets of `code` references from `rtype/id` (for `_include`).
    pub fn references_from(
        &self,
        rtype: &str,
        id: &str,
        code: &str,
    ) -> Result<Vec<(String, String)>> {
        if rtype == AUDIT_EVENT {
            return self.audit_references(id, code);
        }
        let rows = self
            .conn
            .prepare_cached(
                "SELECT system, value FROM search_index WHERE rtype = ?1 AND id = ?2 AND code = ?3",
            )?
            .query_map(params![rtype, id, code], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// How often [`Tx::referrers`] queried the index on this connection.
    #[cfg(test)]
    pub fn runs_of_referrers(&self) -> usize {
        self.conn
            .prepare_cached(REFERRERS)
            .map_or(0, |s| s.get_status(rusqlite::StatementStatus::Run) as usize)
    }

    /// Ids of current `rtype` resources whose `code` references `target_type/target_id` (for
    /// `_revinclude`), at most `limit`.
    pub fn referrers(
        &self,
        rtype: &str,
        code: &str,
        target_type: &str,
        target_id: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        if rtype == AUDIT_EVENT {
            return self.audit_referrers(code, target_type, target_id, limit);
        }
        let rows = self
            .conn
            .prepare_cached(REFERRERS)?
            .query_map(
                params![rtype, code, target_type, target_id, limit as i64],
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Every current resource in compartment `ctype/cid`, in the order they were created (as
    /// searches), at most `limit`.
    pub fn compartment_members(
        &self,
        ctype: &str,
        cid: &str,
        limit: usize,
    ) -> Result<Vec<Version>> {
        // `LIMIT +?`: see `limit_offset`.
        let mut rows = self
            .conn
            .prepare_cached(
                "SELECT c.rtype, c.id, c.version, c.updated, c.deleted, c.body \
                 FROM compartment m JOIN current c ON c.rtype = m.rtype AND c.id = m.id \
                 WHERE m.ctype = ?1 AND m.cid = ?2 AND c.deleted = 0 ORDER BY c.created_seq LIMIT +?3",
            )?
            .query_map(params![ctype, cid, limit as i64], version_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if ctype == "Patient" && rows.len() < limit {
            rows.extend(self.audit_compartment(cid, limit - rows.len())?);
        }
        Ok(rows)
    }

    /// Whether the current version of `rtype/id` is in the compartment `ctype/cid` (`None` if
    /// the store failed to tell).
    pub fn in_compartment(&self, rtype: &str, id: &str, ctype: &str, cid: &str) -> Option<bool> {
        if ctype == "Patient" {
            let patients = self.compartment_patients(rtype, id).ok()?;
            let found = patients.iter().any(|p| p == cid);
            if let Some(memo) = &self.patients {
                *memo.borrow_mut() = Some((rtype.to_owned(), id.to_owned(), patients));
            }
            return Some(found);
        }
        self.conn
            .prepare_cached(
                "SELECT 1 FROM compartment WHERE rtype = ?1 AND id = ?2 AND ctype = ?3 AND cid = ?4",
            )
            .and_then(|mut s| s.exists(params![rtype, id, ctype, cid]))
            .ok()
    }

    /// The patients whose compartments hold the current version of `rtype/id` (sorted, without
    /// duplicates): what [`Tx::in_compartment`] last looked up, if it was this resource (taken,
    /// not copied: the audit record's lookup comes once, after the checks).
    fn compartment_patients(&self, rtype: &str, id: &str) -> Result<Vec<String>> {
        if let Some(memo) = &self.patients {
            let mut memo = memo.borrow_mut();
            if matches!(&*memo, Some((t, i, _)) if t == rtype && i == id) {
                return Ok(memo.take().map(|(_, _, p)| p).unwrap_or_default());
            }
        }
        let mut patients: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT cid FROM compartment WHERE rtype = ?1 AND id = ?2 AND ctype = 'Patient'",
            )?
            .query_map(params![rtype, id], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?;
        patients.sort();
        patients.dedup();
        Ok(patients)
    }

    /// The patients (logical ids) whose compartments hold each of the given resources, in
    /// their order.
    pub fn patients_of(&self, resources: &[(String, String)]) -> Result<Vec<Vec<String>>> {
        let mut out = Vec::with_capacity(resources.len());
        for (t, id) in resources {
            let patients: Vec<String> = if t == AUDIT_EVENT {
                let mut p: Vec<String> = self
                    .audit_references(id, "patient")?
                    .into_iter()
                    .map(|(_, p)| p)
                    .collect();
                p.sort();
                p.dedup();
                p
            } else if let Some((ct, cid)) = self.binary_context(t, id)? {
                // A Binary's disclosure is its security context's: the patient of the
                // document it holds (in no compartment itself).
                if ct == "Patient" {
                    vec![cid]
                } else {
                    self.compartment_patients(&ct, &cid)?
                }
            } else {
                self.compartment_patients(t, id)?
            };
            out.push(patients);
        }
        Ok(out)
    }

    /// The resource a stored Binary's `securityContext` references on this server, for
    /// `rtype/id` a live Binary that names one (never another Binary).
    fn binary_context(&self, rtype: &str, id: &str) -> Result<Option<(String, String)>> {
        if rtype != "Binary" {
            return Ok(None);
        }
        let Some(body) = self.current(rtype, id)?.and_then(|v| v.body) else {
            return Ok(None);
        };
        let body: Value = serde_json::from_str(&body).map_err(|e| StoreError(e.to_string()))?;
        Ok(body["securityContext"]["reference"]
            .as_str()
            .and_then(|r| index::resolve_reference(r, self.base))
            .filter(|(t, _)| t != "Binary"))
    }

    /// The FHIR base URL references are resolved against.
    pub fn base(&self) -> &str {
        self.base
    }

    /// The number of current resources, for the start-up banner.
    pub fn count_live(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM current WHERE deleted = 0", [], |r| {
                r.get(0)
            })?)
    }
}

/// The `FROM ... WHERE` of a search for `query`, binding its parameters into `args`.
fn search_from(query: &Query, args: &mut Vec<rusqlite::types::Value>) -> String {
    args.push(rusqlite::types::Value::Text(query.resource_type.clone()));
    let (cond, driven) = search_where(&query.clauses, args, 1);
    // `+c.deleted` keeps `current_by_created` (type, deleted, created_seq) from looking like
    // the better index when a clause's set can drive the query: without statistics SQLite
    // would walk the whole type in creation order and test each row against it.
    let deleted = if driven { "+c.deleted" } else { "c.deleted" };
    format!("FROM current c WHERE c.rtype = ?1 AND {deleted} = 0 AND {cond}")
}

/// The number of matches, when the page of `len` rows taken at `offset` (at most `count`)
/// tells it: a page that is not full ends the matches (most searches fit one page, and then
/// need no `COUNT` query). `None`: count them.
fn total_from_page(offset: usize, count: usize, len: usize) -> Option<usize> {
    let ends = count > 0 && len < count && (len > 0 || offset == 0);
    ends.then_some(offset + len)
}

/// `LIMIT` and `OFFSET` bound to the parameters numbered `limit` and `offset`.
///
/// The limit is written `+?n`, not `?n`: SQLite (3.50) plans a bare parameter in `LIMIT` for
/// its value and so prepares the statement again at every execution, which was 15% of a
/// search's CPU; as an expression it is evaluated once per execution of the cached plan.
fn limit_offset(limit: usize, offset: usize) -> String {
    format!("LIMIT +?{limit} OFFSET ?{offset}")
}

/// A new server-assigned logical id: 128 random bits, hex.
pub fn new_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
