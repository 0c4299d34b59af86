//! Histories: the versions of an instance, a type or the system, newest first, paged in a
//! [`SeqWindow`] so that writes during paging neither repeat nor skip a version.

use rusqlite::types::Value as Sql;
use rusqlite::OptionalExtension;

use super::audit::AUDIT_EVENT;
use super::query::{self, search_where, where_sql, Clause};
use super::{audit_index, HistoryScope, Result, Tx, Version};

/// The history rows one page of a history may show, by their `seq` (the order versions were
/// written in): none newer than `newest`, the last when the first page was read, so that later
/// writes do not shift the pages; and only those older than `older_than`, the last row of the
/// page before, so that versions leaving the query do not either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqWindow {
    /// The newest row shown.
    pub newest: i64,
    /// Only rows older than this one.
    pub older_than: Option<i64>,
}

impl SeqWindow {
    /// Every row.
    pub const ALL: SeqWindow = SeqWindow {
        newest: i64::MAX,
        older_than: None,
    };

    /// The condition on `h.seq`, binding its values to `args`.
    fn sql(&self, args: &mut Vec<Sql>) -> String {
        let newest = query::bind(args, Sql::Integer(self.newest));
        let older = query::bind(args, Sql::Integer(self.older_than.unwrap_or(i64::MAX)));
        format!("h.seq <= {newest} AND h.seq < {older}")
    }
}

impl Tx<'_> {
    /// The `seq` of the newest history row in `scope` (0 when there is none); for the
    /// AuditEvents' history, the number of the newest event.
    pub fn newest_seq(&self, scope: HistoryScope<'_>) -> Result<i64> {
        if let HistoryScope::Type(AUDIT_EVENT) | HistoryScope::Instance(AUDIT_EVENT, _) = scope {
            return Ok(self.audit_newest());
        }
        Ok(self
            .conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM history")?
            .query_row([], |r| r.get(0))?)
    }

    /// The `seq` of the history row of `v`; for an AuditEvent, its number.
    pub fn seq_of(&self, v: &Version) -> Result<Option<i64>> {
        if v.rtype == AUDIT_EVENT {
            return Ok(audit_index::event_number(&v.id).map(i64::from));
        }
        Ok(self
            .conn
            .prepare_cached(
                "SELECT seq FROM history WHERE rtype = ?1 AND id = ?2 AND version = ?3",
            )?
            .query_row(rusqlite::params![v.rtype, v.id, v.version], |r| r.get(0))
            .optional()?)
    }

    /// Versions in `scope` and `window`, newest first,
    /// restricted (for type and system history) to resources whose current version satisfies
    /// `clauses`.
    pub fn history(
        &self,
        scope: HistoryScope<'_>,
        clauses: &[Clause],
        window: SeqWindow,
        offset: usize,
        count: usize,
    ) -> Result<(usize, Vec<Version>)> {
        match scope {
            HistoryScope::Instance(AUDIT_EVENT, id) => {
                let v: Vec<Version> = self.audit_event(id)?.into_iter().collect();
                return Ok((v.len(), v.into_iter().skip(offset).take(count).collect()));
            }
            HistoryScope::Type(AUDIT_EVENT) => {
                return self.audit_history(clauses, window, offset, count);
            }
            _ => {}
        }
        let mut args = Vec::new();
        let scope_sql = match scope {
            HistoryScope::Instance(t, i) => {
                args.push(rusqlite::types::Value::Text(t.to_owned()));
                args.push(rusqlite::types::Value::Text(i.to_owned()));
                "h.rtype = ?1 AND h.id = ?2"
            }
            HistoryScope::Type(t) => {
                args.push(rusqlite::types::Value::Text(t.to_owned()));
                "h.rtype = ?1"
            }
            HistoryScope::System => "1",
        };
        let from = format!(
            "FROM history h JOIN current c ON c.rtype = h.rtype AND c.id = h.id \
             WHERE {scope_sql} AND {} AND {}",
            history_where(scope, clauses, &mut args),
            window.sql(&mut args)
        );
        self.page(&from, "h", "h.seq DESC", args, offset, count)
    }

    /// Versions of the listed types, newest first, each type restricted to resources whose
    /// current version satisfies its clauses: the system history of a caller who may not see
    /// every resource, narrowed in the query like a type's history (so that its total and
    /// paging count only what the caller may see), in `window`.
    pub fn history_of_types(
        &self,
        types: &[(String, Vec<Clause>)],
        window: SeqWindow,
        offset: usize,
        count: usize,
    ) -> Result<(usize, Vec<Version>)> {
        let mut args = Vec::new();
        let ors = types
            .iter()
            .map(|(t, clauses)| {
                let mark = query::bind(&mut args, rusqlite::types::Value::Text(t.clone()));
                format!("(c.rtype = {mark} AND {})", where_sql(clauses, &mut args))
            })
            .collect();
        let from = format!(
            "FROM history h JOIN current c ON c.rtype = h.rtype AND c.id = h.id \
             WHERE ({}) AND {}",
            query::any(ors),
            window.sql(&mut args)
        );
        self.page(&from, "h", "h.seq DESC", args, offset, count)
    }
}

/// The condition on the current version `c` of a history query over `scope`. A type's
/// history is driven like a search of the type (SQLite carries the set of ids over the join
/// to the history's own index); an instance's has few rows to test, and system history no
/// single type to select a set for.
pub(super) fn history_where(
    scope: HistoryScope<'_>,
    clauses: &[Clause],
    args: &mut Vec<rusqlite::types::Value>,
) -> String {
    match scope {
        HistoryScope::Type(_) => search_where(clauses, args, 1).0,
        HistoryScope::Instance(..) | HistoryScope::System => where_sql(clauses, args),
    }
}
