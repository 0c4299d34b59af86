//! What derived the stored search-index and compartment rows, and rebuilding them at open when
//! it was something else.
//!
//! A resource's index rows are written with it, so rows derived by older code, or against
//! another base URL (which decides what an absolute reference names locally), stay as they
//! were until the resource is written again. Searches would still find resources through them
//! that smart-auth's own check of each result then drops, and counts (`total`,
//! `_summary=count`) would include those. So the database records the derivation
//! ([`INDEX_VERSION`] and the base), and [`ensure`] rebuilds every row when it differs.

use rusqlite::{params, Connection, OptionalExtension};

use super::audit_index::AuditIndex;
use super::{Result, Tx};

/// The version of the derivation of index rows from a stored resource: bump it whenever
/// [`super::index::rows`] or [`super::compartment::memberships`] derive something else from the
/// same resource. No record (databases written before it existed): 0.
///
/// 1: patient-compartment rows as smart-auth decides membership (none via `Patient.link`,
/// none by a reference whose declared `type` names another type: 2f971c4); string rows not
/// trimmed (a scope constraint matches the text as written).
pub const INDEX_VERSION: i64 = 1;

/// Resources reindexed in one transaction.
const BATCH: usize = 500;
/// Progress is reported after every this many resources.
const REPORT_EVERY: usize = 10_000;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS index_derivation (
    only INTEGER PRIMARY KEY CHECK (only = 1),
    version INTEGER NOT NULL, base TEXT NOT NULL);";

/// The derivation the database records, if any.
fn recorded(conn: &Connection) -> Result<Option<(i64, String)>> {
    Ok(conn
        .query_row("SELECT version, base FROM index_derivation", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// Makes the index rows of every current resource those this code derives against `base`:
/// rebuilt, in transactions of [`BATCH`] resources with progress on stderr, unless the
/// database records exactly this derivation. The record is written last, so an interrupted
/// rebuild is done again at the next open.
pub(super) fn ensure(conn: &mut Connection, base: &str, audit: &AuditIndex) -> Result<()> {
    conn.execute_batch(SCHEMA)?;
    let was = recorded(conn)?;
    if was
        .as_ref()
        .is_some_and(|(v, b)| *v == INDEX_VERSION && b == base)
    {
        return Ok(());
    }
    let total: i64 = conn.query_row("SELECT COUNT(*) FROM current", [], |r| r.get(0))?;
    if total > 0 {
        let (version, old_base) = was.unwrap_or((0, "unrecorded".to_owned()));
        eprintln!(
            "secure-fhir-server: rebuilding the search index of {total} resources \
             (derived by index version {version} against {old_base}; now {INDEX_VERSION} \
             against {base})"
        );
    }
    let mut after = (String::new(), String::new());
    let mut done = 0usize;
    loop {
        let tx = conn.transaction()?;
        let batch: Vec<(String, String, Option<String>)> = tx
            .prepare(
                "SELECT rtype, id, body FROM current WHERE (rtype, id) > (?1, ?2) \
                 ORDER BY rtype, id LIMIT ?3",
            )?
            .query_map(params![after.0, after.1, BATCH as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let Some((last_type, last_id, _)) = batch.last() else {
            break;
        };
        after = (last_type.clone(), last_id.clone());
        let store = Tx {
            conn: &tx,
            audit,
            base,
            patients: None,
        };
        for (rtype, id, body) in &batch {
            // A body this server cannot read any more is in no index (found by nothing).
            let json = body
                .as_deref()
                .and_then(|b| crate::fhir::json::parse_str(b).ok());
            store.reindex(rtype, id, json.as_ref())?;
        }
        tx.commit()?;
        let before = done;
        done += batch.len();
        if done / REPORT_EVERY > before / REPORT_EVERY {
            eprintln!("secure-fhir-server: reindexed {done} of {total} resources");
        }
    }
    if total > 0 {
        eprintln!("secure-fhir-server: search index rebuilt ({done} resources)");
    }
    conn.execute(
        "INSERT OR REPLACE INTO index_derivation (only, version, base) VALUES (1, ?1, ?2)",
        params![INDEX_VERSION, base],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use serde_json::json;

    const BASE: &str = "http://localhost/fhir";

    fn stale_rows(path: &std::path::Path) -> i64 {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row(
            "SELECT COUNT(*) FROM compartment WHERE id = 'p2' AND cid = 'p1'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn a_database_is_reindexed_only_when_derived_otherwise() {
        let dir = std::env::temp_dir().join(format!("derivation-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db");
        let _ = std::fs::remove_file(&path);
        let store = Store::open(Some(&path), BASE).unwrap();
        store
            .transaction(|tx| {
                let linked = json!({"resourceType": "Patient",
                    "link": [{"other": {"reference": "Patient/p1"}, "type": "seealso"}]});
                tx.put("Patient", "p2", linked, chrono::Utc::now())
            })
            .unwrap();
        drop(store);
        let plant = |sql: &str| {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(sql).unwrap();
        };
        let stale = "INSERT INTO compartment VALUES ('Patient', 'p2', 'Patient', 'p1');";
        plant(stale);
        assert_eq!(stale_rows(&path), 1);
        // Recorded as this derivation: opened as it is (no work at every start).
        drop(Store::open(Some(&path), BASE).unwrap());
        assert_eq!(stale_rows(&path), 1);
        // Another base, then no record (older code): rebuilt each time.
        drop(Store::open(Some(&path), "http://elsewhere/fhir").unwrap());
        assert_eq!(stale_rows(&path), 0);
        plant(&format!("{stale} DELETE FROM index_derivation;"));
        drop(Store::open(Some(&path), "http://elsewhere/fhir").unwrap());
        assert_eq!(stale_rows(&path), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
