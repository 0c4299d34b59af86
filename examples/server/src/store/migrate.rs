//! Schema changes to a database written by older code, made when the server opens it.
//!
//! Searches and compartment listings are ordered by `current.created_seq`, the `seq` of the
//! history row that created the resource (its first version, or the first after its last
//! deletion): an order an update does not change, so that a client paging by `_offset` is not
//! shown a resource twice, and another not at all, because one was updated meanwhile. Databases
//! written before it ordered by `current.seq` (the latest version's) and have no such column:
//! it is added and filled from their history.

use rusqlite::Connection;

use super::Result;

/// The column's value for every current row, from the resource's history.
const FILL_CREATED_SEQ: &str = "
ALTER TABLE current ADD COLUMN created_seq INTEGER NOT NULL DEFAULT 0;
UPDATE current SET created_seq = COALESCE((
    SELECT MIN(h.seq) FROM history h
    WHERE h.rtype = current.rtype AND h.id = current.id AND h.version > (
        SELECT COALESCE(MAX(d.version), 0) FROM history d
        WHERE d.rtype = current.rtype AND d.id = current.id AND d.deleted = 1
        AND d.version < current.version)), current.seq);
";

/// The index searches are ordered by, replacing the one by the latest version's `seq`.
const ORDER_INDEX: &str = "
CREATE INDEX IF NOT EXISTS current_by_created ON current (rtype, deleted, created_seq);
DROP INDEX IF EXISTS current_by_seq;
";

/// Brings the tables `super::SCHEMA` created or found to this code's schema.
pub(super) fn ensure(conn: &mut Connection) -> Result<()> {
    let has_created_seq: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('current') WHERE name = 'created_seq'",
        [],
        |r| r.get(0),
    )?;
    let tx = conn.transaction()?;
    if has_created_seq == 0 {
        tx.execute_batch(FILL_CREATED_SEQ)?;
    }
    tx.execute_batch(ORDER_INDEX)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::query::Query;
    use super::super::Store;
    use serde_json::json;

    /// The tables as code before `created_seq` made them.
    const OLD_SCHEMA: &str = "
    CREATE TABLE history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        rtype TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
        updated TEXT NOT NULL, updated_ms INTEGER NOT NULL,
        deleted INTEGER NOT NULL, body TEXT,
        UNIQUE (rtype, id, version));
    CREATE TABLE current (
        rtype TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
        updated TEXT NOT NULL, updated_ms INTEGER NOT NULL,
        deleted INTEGER NOT NULL, body TEXT, seq INTEGER NOT NULL,
        PRIMARY KEY (rtype, id));
    CREATE INDEX current_by_seq ON current (rtype, deleted, seq);
    ";

    fn ids(store: &Store) -> Vec<String> {
        let query = Query {
            resource_type: "Goal".into(),
            clauses: Vec::new(),
        };
        let (_, page) = store.read(|tx| tx.search(&query, 0, 10)).unwrap();
        page.into_iter().map(|v| v.id).collect()
    }

    #[test]
    fn an_old_database_is_ordered_by_creation_after_open() {
        let dir = std::env::temp_dir().join(format!("migrate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db");
        let _ = std::fs::remove_file(&path);
        // Written by the old code: a, b and c created in that order; a updated, b deleted and
        // created again (so it comes after c, as any creation), c updated last.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(OLD_SCHEMA).unwrap();
        let goal = r#"{"resourceType":"Goal"}"#;
        for (id, version, deleted) in [
            ("a", 1, 0),
            ("b", 1, 0),
            ("c", 1, 0),
            ("a", 2, 0),
            ("b", 2, 1),
            ("b", 3, 0),
            ("c", 2, 0),
        ] {
            let body = (deleted == 0).then_some(goal);
            conn.execute(
                "INSERT INTO history (rtype, id, version, updated, updated_ms, deleted, body) \
                 VALUES ('Goal', ?1, ?2, '2026-01-01T00:00:00Z', 0, ?3, ?4)",
                rusqlite::params![id, version, deleted, body],
            )
            .unwrap();
            conn.execute(
                "INSERT OR REPLACE INTO current \
                 (rtype, id, version, updated, updated_ms, deleted, body, seq) \
                 VALUES ('Goal', ?1, ?2, '2026-01-01T00:00:00Z', 0, ?3, ?4, ?5)",
                rusqlite::params![id, version, deleted, body, conn.last_insert_rowid()],
            )
            .unwrap();
        }
        drop(conn);

        let store = Store::open(Some(&path), "http://localhost/fhir").unwrap();
        assert_eq!(ids(&store), ["a", "c", "b"]);
        // Updated after the migration: still in place; a new one comes last.
        store
            .transaction(|tx| {
                tx.put(
                    "Goal",
                    "a",
                    json!({"resourceType": "Goal"}),
                    chrono::Utc::now(),
                )?;
                tx.put(
                    "Goal",
                    "d",
                    json!({"resourceType": "Goal"}),
                    chrono::Utc::now(),
                )
            })
            .unwrap();
        assert_eq!(ids(&store), ["a", "c", "b", "d"]);
        drop(store);
        // Opened again: nothing to do, the same order.
        let store = Store::open(Some(&path), "http://localhost/fhir").unwrap();
        assert_eq!(ids(&store), ["a", "c", "b", "d"]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
