//! What the authorization decision lets the handlers do, in the store's terms.
//!
//! The facade decides before a handler runs; handlers then put [`Access::narrowing`] into every
//! query and check every resource they return, overwrite or write with [`Access::may_read`].
//! Writes are checked after the new version is stored, inside the transaction: a write whose
//! result the caller could not read is rolled back (no moving a resource out of one's reach).

use serde_json::Value;

use crate::store::audit::AUDIT_EVENT;
use crate::store::query::{Clause, Query};
use crate::store::Tx;

/// The caller's rights for one request, as the handlers use them.
pub trait Access: Sync {
    /// The clauses that restrict a search (or history) on `rtype` to what the caller may see,
    /// or `None` if the caller may not see `rtype` at all. `Some(vec![])` is unrestricted.
    fn narrowing(&self, rtype: &str) -> Option<Vec<Clause>>;

    /// Whether the caller may see the resource `rtype/id` whose stored JSON text is `body`
    /// (its current version is what the store has indexed). Checked on everything returned or
    /// overwritten. The stored text, not a parsed tree: a check that types the resource parses
    /// (and caches) these exact bytes instead of serializing a tree again.
    fn may_read(&self, tx: &Tx<'_>, rtype: &str, id: &str, body: &str) -> bool {
        let _ = body;
        narrowing_admits(tx, rtype, id, self.narrowing(rtype))
    }

    /// Whether the caller could read the deleted resource `rtype` whose last content was `body`
    /// (then it learns `410 Gone`, and sees the deletion in history; otherwise `404`). The
    /// store no longer indexes a deleted resource, so only the content can decide; the default
    /// decides for unrestricted callers only. `tx` serves what the content points at (a
    /// Binary's security context).
    fn may_read_deleted(&self, tx: &Tx<'_>, rtype: &str, body: &str) -> bool {
        let _ = (tx, body);
        self.narrowing(rtype).is_some_and(|c| c.is_empty())
    }

    /// Whether the caller's write may touch the resource `rtype/id` with content `body`: the
    /// stored version before an update, patch or delete, and the new version after a create,
    /// update or patch (inside its transaction). A token that may write but not read (`c`,
    /// `u`, `d` alone) passes here and not in [`Access::may_read`].
    fn may_write(&self, tx: &Tx<'_>, rtype: &str, id: &str, body: &Value) -> bool {
        self.may_read(tx, rtype, id, &crate::fhir::json::to_string(body))
    }

    /// The clauses that restrict the match search of a conditional write on `rtype` (create
    /// with `If-None-Exist`, conditional update, patch, delete) to what the write may touch, or
    /// `None` if it may touch nothing of `rtype`.
    fn write_match_narrowing(&self, rtype: &str) -> Option<Vec<Clause>> {
        self.narrowing(rtype)
    }

    /// Whether the caller may be shown the resource `rtype` whose stored JSON text is `body`,
    /// found by a conditional create's match: its body is returned only then, so a token that
    /// may create but not read it (create-only, or a read constrained to other content) learns
    /// nothing more than "it exists" (CVE-2026-113876).
    fn may_disclose(&self, rtype: &str, body: &str) -> bool {
        let _ = (rtype, body);
        true
    }

    /// Whether the caller, who may read `Patient/{patient}`, may also read that patient's
    /// accounting of disclosures (`$disclosures`). It names who received the patient's data
    /// and why (law enforcement, public health, ...): the patient's own (their app, or a
    /// user who is that Patient) and auditors' (a grant on AuditEvent), not every reader of
    /// the chart. `base` is the server's FHIR base, for an absolute `fhirUser`.
    fn may_read_accounting(&self, patient: &str, base: &str) -> bool;

    /// Whether a primary search match (already found by a query carrying the narrowing) may be
    /// returned: the checks of [`Access::may_read`] that the query did not already make.
    fn may_return_match(&self, tx: &Tx<'_>, rtype: &str, id: &str, body: &str) -> bool {
        self.may_read(tx, rtype, id, body)
    }
}

/// Whether the current version of `rtype/id` satisfies `narrowing` (`None`: nothing of the
/// type is visible; no clauses: everything is), evaluated by the store on its index.
pub fn narrowing_admits(
    tx: &Tx<'_>,
    rtype: &str,
    id: &str,
    narrowing: Option<Vec<Clause>>,
) -> bool {
    match narrowing {
        None => false,
        Some(clauses) if clauses.is_empty() => true,
        Some(clauses) if rtype != AUDIT_EVENT => match by_compartment(tx, rtype, id, &clauses) {
            Some(admitted) => admitted,
            None => by_query(tx, rtype, id, clauses),
        },
        Some(clauses) => by_query(tx, rtype, id, clauses),
    }
}

/// The narrowing evaluated as a query on the store's index, restricted to `rtype/id`.
fn by_query(tx: &Tx<'_>, rtype: &str, id: &str, mut clauses: Vec<Clause>) -> bool {
    clauses.push(Clause::Id(vec![id.to_owned()]));
    let q = Query {
        resource_type: rtype.to_owned(),
        clauses,
    };
    matches!(tx.search(&q, 0, 0), Ok((1, _)))
}

/// The narrowing of `patient/` scopes (compartment memberships, ANDed and ORed) evaluated by
/// direct lookups in the compartment index, the same rows the query would join; `None` if
/// it holds anything else (then the query decides). A resource that is deleted or missing has
/// no memberships.
fn by_compartment(tx: &Tx<'_>, rtype: &str, id: &str, clauses: &[Clause]) -> Option<bool> {
    fn holds(tx: &Tx<'_>, rtype: &str, id: &str, clause: &Clause) -> Option<bool> {
        match clause {
            Clause::InCompartment { ctype, id: cid } => tx.in_compartment(rtype, id, ctype, cid),
            Clause::AnyOf(groups) => {
                for group in groups {
                    // An empty group holds for any live resource: only the query knows that
                    // this one is (every lookup that holds shows it).
                    if group.is_empty() {
                        return None;
                    }
                    if all(tx, rtype, id, group)? {
                        return Some(true);
                    }
                }
                Some(false)
            }
            _ => None,
        }
    }
    fn all(tx: &Tx<'_>, rtype: &str, id: &str, clauses: &[Clause]) -> Option<bool> {
        for c in clauses {
            if !holds(tx, rtype, id, c)? {
                return Some(false);
            }
        }
        Some(true)
    }
    all(tx, rtype, id, clauses)
}

/// Full access: for the server's own work (loading data at start) and for the benchmark-only
/// mode that switches security off.
pub struct Unrestricted;

impl Access for Unrestricted {
    fn narrowing(&self, _rtype: &str) -> Option<Vec<Clause>> {
        Some(Vec::new())
    }

    fn may_read_accounting(&self, _patient: &str, _base: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use serde_json::json;

    #[test]
    fn compartment_lookups_agree_with_the_query() {
        let store = Store::open(None, "http://localhost/fhir").unwrap();
        let now = chrono::Utc::now();
        store
            .transaction(|tx| -> crate::store::Result<()> {
                tx.put("Patient", "p1", json!({"resourceType": "Patient"}), now)?;
                tx.put("Patient", "p2", json!({"resourceType": "Patient"}), now)?;
                for (id, p) in [("o1", "p1"), ("o2", "p2"), ("gone", "p1")] {
                    let obs = json!({"resourceType": "Observation", "status": "final",
                        "code": {"text": "x"}, "subject": {"reference": format!("Patient/{p}")}});
                    tx.put("Observation", id, obs, now)?;
                }
                tx.delete("Observation", "gone", now)?;
                Ok(())
            })
            .unwrap();
        let c = |p: &str| Clause::InCompartment {
            ctype: "Patient".into(),
            id: p.into(),
        };
        let narrowings = [
            vec![c("p1")],
            vec![
                Clause::AnyOf(vec![vec![c("p1")]]),
                Clause::AnyOf(vec![vec![c("p1")]]),
            ],
            vec![Clause::AnyOf(vec![vec![c("p2")], vec![c("p1")]])],
            vec![Clause::AnyOf(vec![vec![c("p1"), c("p2")]])],
            vec![Clause::AnyOf(vec![])],
            vec![Clause::AnyOf(vec![vec![]])],
        ];
        store.read(|tx| {
            for n in &narrowings {
                for (t, id) in [
                    ("Patient", "p1"),
                    ("Patient", "p2"),
                    ("Observation", "o1"),
                    ("Observation", "o2"),
                    ("Observation", "gone"),
                    ("Observation", "missing"),
                ] {
                    let direct = by_compartment(tx, t, id, n);
                    let query = by_query(tx, t, id, n.clone());
                    assert!(direct.is_none_or(|d| d == query), "{t}/{id} {n:?}");
                    assert_eq!(narrowing_admits(tx, t, id, Some(n.clone())), query);
                }
            }
            assert_eq!(
                by_compartment(tx, "Observation", "o1", &narrowings[0]),
                Some(true)
            );
            assert_eq!(
                by_compartment(tx, "Observation", "o2", &narrowings[0]),
                Some(false)
            );
        });
    }
}
