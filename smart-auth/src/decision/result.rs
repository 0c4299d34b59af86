//! After the query: what may leave the server (smart.md §12.2, §12.5, §12.6, §12.9, §12.12).

use fhir_types::compartment::CompartmentType;
use fhir_types::resources::{Bundle, BundleEntry};
use fhir_types::{Resource, ResourceType};
use serde_json::Value;
use std::collections::BTreeSet;

use super::binary::names_security_context;
use super::membership::{in_another_compartment, in_compartment, linked_to, links};
use super::{level_index, Denial, DenialReason, Permit, Reach};
use crate::request::CompartmentRef;
use crate::scope::{constraint, Permissions};

/// What [`Permit::filter_bundle`] (or [`Permit::filter_bundle_into`]) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FilterReport {
    /// Entries kept.
    pub kept: usize,
    /// Entries removed because the token may not see them.
    pub removed: usize,
}

/// What the scopes grant on one resource type: per level (patient, user, system) the letters
/// of its unconstrained scopes, and the letters of its scopes with granular constraints (those
/// are checked one by one). A check is then a lookup, not a walk over the scopes.
#[derive(Debug, Clone, Copy)]
pub(super) struct TypeGrants {
    ty: ResourceType,
    open: [Permissions; 3],
    constrained: Permissions,
}

impl Permit {
    pub(super) fn base(&self) -> Option<&str> {
        self.policy.base_url.as_deref()
    }

    fn holds(&self, reach: &Reach, resource: &Resource, write: bool) -> bool {
        match reach {
            Reach::Nothing => false,
            Reach::All => true,
            Reach::Compartment(ty, id) => {
                if in_compartment(*ty, id, resource, self.base()) {
                    // A write confined to one patient may not also put the resource in another
                    // patient's compartment (an Observation's `performer`, an allergy's
                    // `asserter`), nor change one that is there: that patient would find it
                    // in their record.
                    return !write
                        || *ty != ResourceType::Patient
                        || !in_another_compartment(*ty, id, resource, self.base());
                }
                if !write
                    && *ty == ResourceType::Patient
                    && linked_to(resource, id, &self.policy.follow_patient_links, self.base())
                {
                    return true;
                }
                !write && self.is_shared(*ty, resource.resource_type())
            }
        }
    }

    /// Whether `ty` is a shared (non-compartment) type that a grant confined to the compartment
    /// type `compartment` reads whole: the host lists it in
    /// [`DecisionPolicy::shared_types`](super::DecisionPolicy::shared_types), only for `patient/`
    /// grants, and never for writes (the caller checks that).
    pub(super) fn is_shared(&self, compartment: ResourceType, ty: ResourceType) -> bool {
        compartment == ResourceType::Patient
            && self.policy.shared_types.contains(&ty)
            && !fhir_types::compartment::members(CompartmentType::Patient).contains(&ty)
    }

    /// Whether `resource` is visible under a scope granting one of `needed` on its type: the
    /// scope's level reaches it and every granular constraint of that scope holds.
    pub fn allows(&self, resource: &Resource, needed: Permissions) -> bool {
        self.allows_inner(resource, needed, false)
    }

    pub(super) fn allows_inner(
        &self,
        resource: &Resource,
        needed: Permissions,
        write: bool,
    ) -> bool {
        let grants = self.type_grants(resource.resource_type());
        self.allows_granted(&grants, resource, needed, write)
    }

    /// What the scopes grant on `ty`, summed up per level (see [`TypeGrants`]).
    pub(super) fn type_grants(&self, ty: ResourceType) -> TypeGrants {
        let mut grants = TypeGrants {
            ty,
            open: [Permissions::NONE; 3],
            constrained: Permissions::NONE,
        };
        for s in self.scopes.resource_scopes() {
            if !s.resource().covers(ty) {
                continue;
            }
            if s.constraints().is_empty() {
                let open = &mut grants.open[level_index(s.level())];
                *open = *open | s.permissions();
            } else {
                grants.constrained = grants.constrained | s.permissions();
            }
        }
        grants
    }

    /// [`allows_inner`](Self::allows_inner) with the resource type's grants already summed up:
    /// some unconstrained scope granting one of `needed` whose level reaches the resource, or
    /// some constrained one that also matches.
    ///
    /// A Binary naming a `securityContext` is never allowed here: its access is its context's,
    /// which only the `*_with_context` checks see (see [`super::binary`]).
    fn allows_granted(
        &self,
        grants: &TypeGrants,
        resource: &Resource,
        needed: Permissions,
        write: bool,
    ) -> bool {
        !names_security_context(resource)
            && self.allows_reaching(grants, resource, resource, needed, write)
    }

    /// Whether a scope of `grants` gives one of `needed` on `resource` with its level (and the
    /// request's compartment) reaching `anchor`: the resource itself, or a Binary's security
    /// context.
    pub(super) fn allows_reaching(
        &self,
        grants: &TypeGrants,
        resource: &Resource,
        anchor: &Resource,
        needed: Permissions,
        write: bool,
    ) -> bool {
        if let Some(CompartmentRef { resource_type, id }) = &self.confine {
            if !in_compartment(*resource_type, id, anchor, self.base()) {
                return false;
            }
        }
        let open =
            grants.open.iter().zip(&self.reach).any(|(granted, reach)| {
                granted.intersects(needed) && self.holds(reach, anchor, write)
            });
        open || (grants.constrained.intersects(needed)
            && self.allows_constrained(resource, anchor, needed, write))
    }

    /// Whether a scope with granular constraints grants one of `needed` on the resource's type,
    /// reaches `anchor`, and all its constraints match (checked on the resource's JSON form).
    fn allows_constrained(
        &self,
        resource: &Resource,
        anchor: &Resource,
        needed: Permissions,
        write: bool,
    ) -> bool {
        let ty = resource.resource_type();
        let mut json: Option<Option<Value>> = None;
        for (scope, reach) in self.granting(ty, needed) {
            if scope.constraints().is_empty() || !self.holds(reach, anchor, write) {
                continue;
            }
            let json = json.get_or_insert_with(|| {
                serde_json::from_slice(&fhir_types::json::to_vec(resource)).ok()
            });
            if let Some(json) = json {
                if scope
                    .constraints()
                    .iter()
                    .all(|c| constraint::matches(ty, c, json, self.base()))
                {
                    return true;
                }
            }
        }
        false
    }

    /// Checks a fetched resource before it is returned (read, vread, each version of an
    /// instance history, `$meta`): `Err` is the "respond exactly as not found" denial.
    ///
    /// For instance history and vread, also check the **current** version first: a resource
    /// that has moved out of the compartment is not found, whatever its old versions say.
    ///
    /// A Binary naming a `securityContext` is always denied here: check it with
    /// [`check_resource_with_context`](Self::check_resource_with_context).
    pub fn check_resource(&self, resource: &Resource) -> Result<(), Denial> {
        self.check_resource_with_context(resource, None)
    }

    /// [`check_resource`](Self::check_resource) for a resource whose access is decided by
    /// another: a Binary naming a `securityContext` (R4), with `context` the current version of
    /// the resource it references ([`security_context`](super::security_context) gives the
    /// reference to fetch). The Binary is returned only if a scope granting `r` on Binary
    /// reaches `context` (for `patient/` scopes: `context` is in the patient's compartment)
    /// and the token may read `context` itself (smart.md §12.13). Without `context`, or with
    /// one the reference does not name, it is not found. Other resources ignore `context`.
    pub fn check_resource_with_context(
        &self,
        resource: &Resource,
        context: Option<&Resource>,
    ) -> Result<(), Denial> {
        let needed = if self.needed.is_empty() {
            Permissions::READ
        } else {
            self.needed
        };
        if let (Some(ty), Some(id)) = (self.resource_type, self.id.as_deref()) {
            if resource.resource_type() != ty || resource.id() != Some(id) {
                return Err(Denial::not_found());
            }
        }
        if self.allows_with_context(resource, context, needed) {
            Ok(())
        } else {
            Err(Denial::not_found())
        }
    }

    /// Whether a resource reached beyond the request's primary results may be returned: an
    /// include needs its type granted `r` or `s` (smart.md §12.6), a member of `$everything`
    /// `s` (§12.10), and the granting scope's compartment and constraints must hold. `context`
    /// is a Binary's security context, as for
    /// [`allows_with_context`](Self::allows_with_context).
    pub fn may_return(&self, resource: &Resource, context: Option<&Resource>) -> bool {
        let needed = if self.is_member(resource) {
            self.members
        } else {
            self.reached()
        };
        self.allows_with_context(resource, context, needed)
    }

    /// Checks a write against the new content and the stored version (smart.md §12.12).
    ///
    /// - `new`: the body to store (for patch: the patched result). Its type must be the URL's
    ///   and, for update, its `id` the URL's (else 400); it must be inside the scope (else 403).
    /// - `stored`: the current version (update, patch, delete, conditional matches). It must be
    ///   inside the scope too (else 403), so nothing is moved into or out of a compartment.
    ///
    /// A grant confined to a patient's compartment writes only resources in that compartment
    /// and in no other patient's (a second reference such as `Observation.performer` naming
    /// another patient is a 403), new and stored versions alike. A create is stored under an id
    /// the server assigns, so the body's `id` never makes it the compartment's own resource: a
    /// grant confined to `Patient/123` creates no Patient.
    ///
    /// A Binary naming a `securityContext` is always refused here: check it with
    /// [`check_write_with_context`](Self::check_write_with_context).
    pub fn check_write(
        &self,
        new: Option<&Resource>,
        stored: Option<&Resource>,
    ) -> Result<(), Denial> {
        self.check_write_with_context(new.map(|r| (r, None)), stored.map(|r| (r, None)))
    }

    /// [`check_write`](Self::check_write) with each version paired with the current version of
    /// the resource its `securityContext` references, for a Binary that names one (R4; `None`
    /// for other resources). A Binary may be written only if a scope granting the write on
    /// Binary reaches that context and the token may read the context itself: a write may not
    /// point `securityContext` at a resource the caller cannot access, nor change a Binary
    /// whose context it cannot access (smart.md §12.13).
    pub fn check_write_with_context(
        &self,
        new: Option<(&Resource, Option<&Resource>)>,
        stored: Option<(&Resource, Option<&Resource>)>,
    ) -> Result<(), Denial> {
        let needed = self.needed;
        if needed.is_empty()
            || !needed.intersects(Permissions::CREATE | Permissions::UPDATE | Permissions::DELETE)
        {
            return Err(Denial::forbidden(DenialReason::WriteOutOfScope));
        }
        for (version, is_new) in [(new, true), (stored, false)] {
            let Some((resource, context)) = version else {
                continue;
            };
            if let Some(ty) = self.resource_type {
                if resource.resource_type() != ty {
                    return Err(Denial::bad_request(DenialReason::IdMismatch));
                }
            }
            if let Some(id) = self.id.as_deref() {
                if resource.id() != Some(id) && (is_new || resource.id().is_some()) {
                    return Err(Denial::bad_request(DenialReason::IdMismatch));
                }
            }
            if resource.resource_type() == ResourceType::AuditEvent {
                return Err(Denial::forbidden(DenialReason::AuditEventReadOnly));
            }
            // A create is stored under an id the server assigns: the body's never makes it the
            // compartment's own resource (a new `Patient` is never `Patient/123`).
            let created = (is_new && needed == Permissions::CREATE)
                .then(|| without_own_id(resource))
                .flatten();
            let resource = created.as_ref().unwrap_or(resource);
            if !self.allows_context_inner(resource, context, needed, true) {
                return Err(Denial::forbidden(DenialReason::WriteOutOfScope));
            }
        }
        let (new, stored) = (new.map(|(r, _)| r), stored.map(|(r, _)| r));
        // Security labels say who may see a resource: a grant confined to a compartment or to
        // constraints may not set them (a create carrying any), nor change or remove them (an
        // update must keep the stored ones), or it could relabel, even declassify, what it
        // writes (smart.md §12.12). Only a grant unrestricted on the type may.
        if let Some(written) = new {
            if security_labels(new) != security_labels(stored)
                && !self.unrestricted(written.resource_type(), needed)
            {
                return Err(Denial::forbidden(DenialReason::SecurityLabels));
            }
        }
        // While links are followed, a link edit would widen another token's compartment: only
        // an unrestricted grant may create or change `Patient.link`.
        if !self.policy.follow_patient_links.is_empty()
            && links(new) != links(stored)
            && new.is_some()
            && !self.unrestricted(ResourceType::Patient, needed)
        {
            return Err(Denial::forbidden(DenialReason::WriteOutOfScope));
        }
        Ok(())
    }

    /// Filters a result Bundle in place (search, history, `$everything`): every entry whose
    /// resource the token may not see is removed, `total` is dropped when anything was removed
    /// (the host's narrowed count stays honest; a post-filtered one would not).
    ///
    /// Matches need the searched permission (`$everything`: the patient `r`, the rest of the
    /// record `s` on its type); `include` entries need `r` or `s` on their own type;
    /// history entries without a resource (deletions) are kept only under an unrestricted grant
    /// of their type, so they never reveal ids outside the caller's access. A Binary that names
    /// a `securityContext` is removed: its context is not there to check (see
    /// [`filter_bundle_with_contexts`](Self::filter_bundle_with_contexts)). Only the server's
    /// own OperationOutcomes pass unchecked, as `outcome` entries or an entry's
    /// `response.outcome`, and only while they contain no resource; an entry carrying any
    /// other resource there is removed.
    ///
    /// The removed entries are dropped here; [`filter_bundle_into`](Self::filter_bundle_into)
    /// hands them back instead, so a server can free them after answering.
    pub fn filter_bundle(&self, bundle: &mut Bundle) -> FilterReport {
        self.filter_bundle_into(bundle, &mut Vec::new())
    }

    /// [`filter_bundle`](Self::filter_bundle), with the removed entries appended to `removed`
    /// (in Bundle order) instead of dropped: the same checks, and `bundle` is filtered in place
    /// either way.
    ///
    /// Freeing a typed resource (many allocations) costs more than checking it, and the server
    /// frees the whole Bundle after writing the response anyway: it can drop `removed` then,
    /// off its response path. Whole entries are handed back, not only their resources, so
    /// that nothing at all is freed while filtering (an entry is a few hundred bytes to move;
    /// freeing the rest of each refused entry here was most of the filter's time and spread).
    pub fn filter_bundle_into(
        &self,
        bundle: &mut Bundle,
        removed: &mut Vec<BundleEntry>,
    ) -> FilterReport {
        self.filter(bundle, removed, &[])
    }

    /// [`filter_bundle`](Self::filter_bundle) for a Bundle that may hold Binaries naming a
    /// `securityContext`: `contexts` are the current versions of the resources they reference
    /// (fetched by the host, see [`security_context`](super::security_context)), and each
    /// such Binary is kept only as [`allows_with_context`](Self::allows_with_context) says.
    pub fn filter_bundle_with_contexts(
        &self,
        bundle: &mut Bundle,
        contexts: &[Resource],
    ) -> FilterReport {
        self.filter(bundle, &mut Vec::new(), contexts)
    }

    fn filter(
        &self,
        bundle: &mut Bundle,
        removed: &mut Vec<BundleEntry>,
        contexts: &[Resource],
    ) -> FilterReport {
        let primary = if self.needed.is_empty() {
            Permissions::READ | Permissions::SEARCH
        } else {
            self.needed
        };
        let before = bundle.entry.len();
        let mut grants = Vec::new();
        bundle.entry.retain_mut(|entry| {
            let keep = self.keeps(entry, primary, &mut grants, contexts);
            if !keep {
                // Moved out whole (a default entry holds no allocation): nothing is freed here.
                removed.push(std::mem::take(entry));
            }
            keep
        });
        let count = before - bundle.entry.len();
        if count > 0 {
            bundle.total = None;
        }
        FilterReport {
            kept: bundle.entry.len(),
            removed: count,
        }
    }

    /// Whether a result entry may stay in the Bundle (`primary`: what a match needs). `grants`
    /// holds the grants of each type met so far in the Bundle, so the scopes are walked once
    /// per type rather than once per entry.
    fn keeps(
        &self,
        entry: &BundleEntry,
        primary: Permissions,
        grants: &mut Vec<TypeGrants>,
        contexts: &[Resource],
    ) -> bool {
        let mut allows = |r: &Resource, needed| {
            if names_security_context(r) {
                let context = contexts.iter().find(|c| self.is_security_context(r, c));
                return self.allows_context_inner(r, context, needed, false);
            }
            let ty = r.resource_type();
            let g = match grants.iter().find(|g| g.ty == ty) {
                Some(g) => *g,
                None => {
                    let g = self.type_grants(ty);
                    grants.push(g);
                    g
                }
            };
            self.allows_granted(&g, r, needed, false)
        };
        let mode = entry
            .search
            .as_ref()
            .and_then(|s| s.mode.as_ref())
            .and_then(|m| m.as_str());
        // An entry carries a resource in its `response.outcome` too: only the server's own
        // message may be there, never a resource of the record.
        let outcome = entry.response.as_ref().and_then(|r| r.outcome.as_ref());
        if !outcome.is_none_or(is_plain_outcome) {
            return false;
        }
        match (&entry.resource, mode) {
            (Some(r), Some("outcome")) if is_plain_outcome(r) => true,
            (Some(r), Some("include")) => allows(r, self.reached()),
            (Some(r), _) if self.is_member(r) => allows(r, self.members),
            (Some(r), _) => self.is_instance(r) && allows(r, primary),
            (None, _) => {
                let url = entry
                    .request
                    .as_ref()
                    .and_then(|r| r.url.as_str())
                    .unwrap_or("");
                let ty = url
                    .split('/')
                    .next()
                    .and_then(|t| t.parse::<ResourceType>().ok());
                ty.is_some_and(|ty| self.confine.is_none() && self.unrestricted(ty, primary))
            }
        }
    }

    /// Checks any result: a Bundle is filtered, another resource checked like a read. Only a
    /// permit for one Bundle instance (its read) checks a Bundle as the resource itself; a
    /// search of type Bundle answers with a searchset that is filtered like any other.
    pub fn filter_result(&self, resource: &mut Resource) -> Result<FilterReport, Denial> {
        let bundle_instance = self.resource_type == Some(ResourceType::Bundle) && self.id.is_some();
        match resource {
            Resource::Bundle(b) if !bundle_instance => Ok(self.filter_bundle(b)),
            r => self.check_resource(r).map(|()| FilterReport {
                kept: 1,
                removed: 0,
            }),
        }
    }

    /// Whether `r` is one of the other resources an instance-level request lists
    /// (`$everything`'s members besides the patient).
    fn is_member(&self, r: &Resource) -> bool {
        !self.members.is_empty()
            && (Some(r.resource_type()) != self.resource_type || r.id() != self.id.as_deref())
    }

    /// For an instance-level permit (history of one resource), whether `r` is that instance.
    fn is_instance(&self, r: &Resource) -> bool {
        match (
            self.confine.is_none(),
            self.resource_type,
            self.id.as_deref(),
        ) {
            (true, Some(ty), Some(id)) => r.resource_type() == ty && r.id() == Some(id),
            _ => true,
        }
    }

    /// Whether some scope grants `needed` on `ty` with no compartment and no constraint.
    fn unrestricted(&self, ty: ResourceType, needed: Permissions) -> bool {
        self.granting(ty, needed)
            .any(|(s, reach)| *reach == Reach::All && s.constraints().is_empty())
    }
}

/// The `meta.security` labels of a version (none for `None`), as (system, code) pairs.
/// An OperationOutcome that carries no resource (nothing `contained`): a message of the
/// server's, kept in a result Bundle without a check.
fn is_plain_outcome(resource: &Resource) -> bool {
    matches!(resource, Resource::OperationOutcome(o) if o.contained.is_empty())
}

fn security_labels(resource: Option<&Resource>) -> BTreeSet<(Option<&str>, Option<&str>)> {
    let labels = resource
        .and_then(Resource::meta)
        .map(|m| m.security.as_slice());
    labels
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let system = c.system.as_ref().and_then(|s| s.value.as_deref());
            (system, c.code.as_ref().and_then(|s| s.value.as_deref()))
        })
        .collect()
}

/// A copy of `resource` without its `id`, when it is of a type that defines a compartment
/// (`Patient`, `Encounter`, `RelatedPerson`, `Practitioner`, `Device`) and has one: the only
/// resources whose own id puts them in a compartment.
fn without_own_id(resource: &Resource) -> Option<Resource> {
    CompartmentType::for_resource_type(resource.resource_type())?;
    resource.id()?;
    let mut copy = resource.clone();
    match &mut copy {
        Resource::Patient(r) => r.id = None,
        Resource::Encounter(r) => r.id = None,
        Resource::RelatedPerson(r) => r.id = None,
        Resource::Practitioner(r) => r.id = None,
        Resource::Device(r) => r.id = None,
        _ => return None,
    }
    Some(copy)
}
