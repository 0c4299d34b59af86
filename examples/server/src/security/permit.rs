//! The handlers' view of an authorized request ([`PermitAccess`]): its narrowing as store
//! clauses, and the result and write checks the handlers ask for, through the facade's
//! [`Authorized`] value.

use std::str::FromStr;
use std::sync::Arc;

use fhir_types::reference::ReferenceTarget;
use fhir_types::ResourceType;
use secure_fhir::Authorized;
use smart_auth::decision::Narrowing;
use smart_auth::scope::Permissions;

use super::binary::BinaryCheck;
use crate::fhir::access::{narrowing_admits, Access};
use crate::fhir::search;
use crate::parse_cache::ParseCache;
use crate::store::query::Clause;
use crate::store::Tx;
/// The handlers' view of an [`Authorized`] request: its narrowing as store clauses.
pub(super) struct PermitAccess {
    pub(super) authorized: Arc<Authorized>,
    pub(super) parsed: Arc<ParseCache>,
}

fn narrowing_clauses(rtype: &str, n: &Narrowing) -> Vec<Clause> {
    let groups = n
        .alternatives()
        .iter()
        .map(|alt| {
            let mut group = Vec::new();
            if let Some(c) = alt.compartment() {
                group.push(Clause::InCompartment {
                    ctype: c.resource_type.as_str().to_owned(),
                    id: c.id.clone(),
                });
            }
            for constraint in alt.constraints() {
                // Read as smart-auth's result check reads it, not as search syntax (a comma
                // there is an OR): the store may never admit what the check then drops, or
                // counts include it. One the store cannot express grants nothing (fail closed).
                group.push(
                    search::constraint_clause(rtype, constraint.param(), constraint.value())
                        .unwrap_or(Clause::AnyOf(Vec::new())),
                );
            }
            group
        })
        .collect();
    factor_shared_compartment(groups)
}

/// `AnyOf(groups)`, with a compartment clause that every group holds ANDed once outside the OR
/// (the usual shape: one launch patient, scopes differing in their constraints), so that the
/// store finds the rows through the compartment's index instead of walking the type. An
/// alternative with nothing left besides the compartment admits every member, so then the
/// compartment alone is the narrowing (and a read checks it with one index lookup).
fn factor_shared_compartment(mut groups: Vec<Vec<Clause>>) -> Vec<Clause> {
    let shared = groups.first().and_then(|first| {
        first
            .iter()
            .find(|c| {
                matches!(c, Clause::InCompartment { .. }) && groups.iter().all(|g| g.contains(c))
            })
            .cloned()
    });
    match shared {
        Some(shared) => {
            for g in &mut groups {
                g.retain(|c| *c != shared);
            }
            if groups.iter().any(Vec::is_empty) {
                return vec![shared];
            }
            vec![shared, Clause::AnyOf(groups)]
        }
        None => vec![Clause::AnyOf(groups)],
    }
}

impl PermitAccess {
    /// Whether every AuditEvent in `patient`'s compartment is readable to the caller: a grant
    /// on AuditEvent without a narrowing, or one confined to that compartment alone.
    fn reads_every_audit_event_of(&self, patient: &str) -> bool {
        let ty = ResourceType::AuditEvent;
        if !self.authorized.may_read_type(ty) {
            return false;
        }
        match self.authorized.narrowing_for(ty) {
            None => true,
            Some(n) => n.alternatives().iter().any(|a| {
                a.constraints().is_empty()
                    && a.compartment().is_some_and(|c| {
                        c.resource_type == ResourceType::Patient && c.id == patient
                    })
            }),
        }
    }

    /// smart-auth's own check of the typed resource: a read-like check for the requested type,
    /// "may this be returned at all" for types reached through includes and operations.
    ///
    /// A Binary naming a `securityContext` is checked with that context, fetched through `tx`.
    fn typed_check(&self, tx: &Tx<'_>, rtype: &str, body: &str) -> bool {
        let Some(resource) = self.parsed.parse(body.as_bytes()) else {
            return false;
        };
        let context = match self.binary_context(tx, &resource) {
            BinaryCheck::Context(context) => context,
            BinaryCheck::Ordinary => None,
        };
        let context = context.as_deref();
        let requested = self
            .authorized
            .request()
            .resource_type()
            .map(|t| t.as_str())
            == Some(rtype);
        if requested {
            self.authorized
                .check_resource_with_context(&resource, context)
                .is_ok()
        } else {
            self.authorized.may_return_with_context(&resource, context)
        }
    }
}

impl Access for PermitAccess {
    /// The patient's own: a user who is that Patient (`fhirUser`), or, for a token naming no
    /// user, an app in that patient's context. Or an auditor of that patient: one who may read
    /// every AuditEvent about them (an unrestricted AuditEvent grant, or one confined to that
    /// patient's compartment without constraints), since the accounting lists those events.
    fn may_read_accounting(&self, patient: &str, base: &str) -> bool {
        let context = self.authorized.context();
        let own = match context.fhir_user() {
            Some(user) => ReferenceTarget::parse(user).is_some_and(|u| {
                u.resource_type == ResourceType::Patient
                    && u.id == patient
                    && u.is_local(Some(base))
            }),
            None => context.launch().patient == Some(patient),
        };
        own || self.reads_every_audit_event_of(patient)
    }

    /// Two checks that must both pass: the narrowing on the store's index (what the queries
    /// used), and smart-auth's own check of the typed resource (defence in depth).
    ///
    /// A Binary naming a `securityContext` is in no compartment: the narrowing cannot admit it,
    /// and its context's checks stand in for it (see [`binary`]).
    fn may_read(&self, tx: &Tx<'_>, rtype: &str, id: &str, body: &str) -> bool {
        let by_context = rtype == "Binary" && self.names_context(body);
        (by_context || narrowing_admits(tx, rtype, id, self.narrowing(rtype)))
            && self.typed_check(tx, rtype, body)
    }

    fn may_return_match(&self, tx: &Tx<'_>, rtype: &str, _id: &str, body: &str) -> bool {
        self.typed_check(tx, rtype, body)
    }

    /// smart-auth's write check (the grant's write permission, compartment and constraints) on
    /// the typed resource; the read narrowing does not apply to writes.
    ///
    /// A Binary naming a `securityContext` may be written only if the caller may read that
    /// context (a write may not point a Binary at what the caller cannot access).
    fn may_write(&self, tx: &Tx<'_>, rtype: &str, _id: &str, body: &serde_json::Value) -> bool {
        let bytes = crate::fhir::json::to_vec(body);
        match fhir_types::json::parse_resource(&bytes) {
            Ok(r) => {
                let context = match self.binary_context(tx, &r) {
                    BinaryCheck::Context(context) => context,
                    BinaryCheck::Ordinary => None,
                };
                r.resource_type().as_str() == rtype
                    && self
                        .authorized
                        .check_write_with_context(Some((&r, context.as_deref())), None)
                        .is_ok()
            }
            Err(_) => false,
        }
    }

    /// The decision's own narrowing of this write (made from the scopes granting the write):
    /// the read narrowing does not apply, so a create-only token's `If-None-Exist` still finds
    /// its own compartment's matches (their bodies stay hidden, see `may_disclose`).
    fn write_match_narrowing(&self, rtype: &str) -> Option<Vec<Clause>> {
        let ty = ResourceType::from_str(rtype).ok()?;
        if self.authorized.request().resource_type() != Some(ty) {
            return None;
        }
        Some(match self.authorized.narrowing() {
            Some(n) => narrowing_clauses(rtype, n),
            None => Vec::new(),
        })
    }

    /// smart-auth's read check of the last live content alone: the index holds no rows for a
    /// deleted resource, so the narrowing cannot be evaluated on it. A Binary's security
    /// context is still fetched (and must pass the caller's own read checks), as for a live one.
    fn may_read_deleted(&self, tx: &Tx<'_>, rtype: &str, body: &str) -> bool {
        self.typed_check(tx, rtype, body)
    }

    /// The read grant's own check of this resource (its compartment and constraints), not
    /// only of its type: a read constrained to other content must not see it here either.
    fn may_disclose(&self, rtype: &str, body: &str) -> bool {
        self.parsed.parse(body.as_bytes()).is_some_and(|r| {
            r.resource_type().as_str() == rtype
                && self.authorized.permit().allows(&r, Permissions::READ)
        })
    }

    fn narrowing(&self, rtype: &str) -> Option<Vec<Clause>> {
        let ty = ResourceType::from_str(rtype).ok()?;
        let requested = self.authorized.request().resource_type() == Some(ty);
        if !requested && !self.authorized.may_read_type(ty) {
            return None;
        }
        let mut clauses = Vec::new();
        if let Some(n) = self.authorized.narrowing_for(ty) {
            // No alternative: nothing of the type is visible here (a type `$everything` may
            // not list, granted `r` alone), so it is not scanned at all.
            if !requested && n.alternatives().is_empty() {
                return None;
            }
            clauses.extend(narrowing_clauses(rtype, &n));
        }
        if requested {
            if let Some(n) = self.authorized.narrowing() {
                // The request's own narrowing usually repeats the type's (the same
                // compartment): an identical clause narrows nothing more and would be
                // evaluated twice per row.
                for c in narrowing_clauses(rtype, n) {
                    if !clauses.contains(&c) {
                        clauses.push(c);
                    }
                }
            }
        }
        Some(clauses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(p: &str) -> Clause {
        Clause::InCompartment {
            ctype: "Patient".into(),
            id: p.into(),
        }
    }

    fn id(i: &str) -> Clause {
        Clause::Id(vec![i.into()])
    }

    #[test]
    fn a_compartment_every_alternative_shares_is_factored_out_of_the_or() {
        assert_eq!(
            factor_shared_compartment(vec![vec![member("a"), id("1")], vec![id("2"), member("a")]]),
            vec![
                member("a"),
                Clause::AnyOf(vec![vec![id("1")], vec![id("2")]])
            ]
        );
        // An alternative with nothing else left admits every member: no OR left.
        assert_eq!(
            factor_shared_compartment(vec![vec![member("a")], vec![member("a"), id("2")]]),
            vec![member("a")]
        );
        assert_eq!(
            factor_shared_compartment(vec![vec![member("a")]]),
            vec![member("a")]
        );
        // Not shared by all, or no alternatives at all (nothing granted): unchanged.
        for groups in [
            vec![vec![member("a"), id("1")], vec![member("b")]],
            vec![vec![member("a")], vec![id("2")]],
            vec![],
        ] {
            assert_eq!(
                factor_shared_compartment(groups.clone()),
                vec![Clause::AnyOf(groups)]
            );
        }
    }
}
