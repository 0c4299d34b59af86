//! After the query: what may leave the server (smart.md §12.2, §12.5, §12.6, §12.9, §12.12).

use fhir_types::compartment::{self, CompartmentType};
use fhir_types::resources::Bundle;
use fhir_types::search::search_param;
use fhir_types::{Resource, ResourceType};
use serde_json::Value;

use super::{Denial, DenialReason, Permit, Reach};
use crate::request::CompartmentRef;
use crate::scope::{constraint, Permissions};

/// What [`Permit::filter_bundle`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FilterReport {
    /// Entries kept.
    pub kept: usize,
    /// Entries removed because the token may not see them.
    pub removed: usize,
}

/// Whether `resource` is in the compartment `ty/id`, never through `Patient.link`.
///
/// The same rule as [`fhir_types::compartment::memberships`] (a literal reference, local, of the
/// compartment's type, at one of the CompartmentDefinition's element paths), checked for one
/// compartment without allocating: this runs once per result entry.
fn in_compartment(ty: ResourceType, id: &str, resource: &Resource, base: Option<&str>) -> bool {
    let Some(kind) = CompartmentType::for_resource_type(ty) else {
        return false;
    };
    let rt = resource.resource_type();
    if rt == ty {
        return resource.id() == Some(id);
    }
    let params = compartment::params(kind, rt);
    if params.is_empty() {
        return false;
    }
    // The element paths that confer membership, looked up once per resource (never `link`).
    let mut paths: [&str; 16] = [""; 16];
    let mut n = 0;
    for def in params
        .iter()
        .filter(|p| **p != "link")
        .filter_map(|p| search_param(rt, p))
    {
        for p in def
            .paths
            .iter()
            .filter(|p| p.resolves_to.is_none_or(|t| t == ty))
        {
            if n == paths.len() {
                // More paths than the R4 definitions ever give: refuse rather than guess.
                return false;
            }
            paths[n] = p.path;
            n += 1;
        }
    }
    let paths = &paths[..n];
    let mut found = false;
    resource.visit_references(&mut |path, r| {
        if found || !paths.contains(&path) {
            return;
        }
        let declared = r.type_.as_ref().and_then(|t| t.value.as_deref());
        if declared.is_some_and(|t| t != ty.as_str()) {
            return;
        }
        let reference = r.reference.as_ref().and_then(|v| v.value.as_deref());
        found = reference.is_some_and(|reference| points_to(reference, ty, id, base));
    });
    found
}

/// Whether a literal reference names `ty/id` on this server: relative (`Patient/1`, also
/// versioned), or absolute on exactly `base`. Contained, `urn:`, foreign and malformed
/// references never do.
fn points_to(reference: &str, ty: ResourceType, id: &str, base: Option<&str>) -> bool {
    let relative = if reference.contains("://") {
        match base
            .and_then(|b| reference.strip_prefix(b))
            .and_then(|r| r.strip_prefix('/'))
        {
            Some(r) => r,
            None => return false,
        }
    } else {
        reference
    };
    let mut parts = relative.split('/');
    let (Some(t), Some(i)) = (parts.next(), parts.next()) else {
        return false;
    };
    let rest_ok = match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => true,
        (Some("_history"), Some(v), None) => !v.is_empty(),
        _ => false,
    };
    rest_ok && t == ty.as_str() && i == id
}

impl Permit {
    fn base(&self) -> Option<&str> {
        self.policy.base_url.as_deref()
    }

    fn holds(&self, reach: &Reach, resource: &Resource, write: bool) -> bool {
        match reach {
            Reach::Nothing => false,
            Reach::All => true,
            Reach::Compartment(ty, id) => {
                if in_compartment(*ty, id, resource, self.base()) {
                    return true;
                }
                // Shared (non-compartment) types are readable under `patient/` scopes when the
                // host lists them; never writable.
                let rt = resource.resource_type();
                !write
                    && *ty == ResourceType::Patient
                    && self.policy.shared_types.contains(&rt)
                    && !fhir_types::compartment::members(CompartmentType::Patient).contains(&rt)
            }
        }
    }

    /// Whether `resource` is visible under a scope granting one of `needed` on its type: the
    /// scope's level reaches it and every granular constraint of that scope holds.
    pub fn allows(&self, resource: &Resource, needed: Permissions) -> bool {
        self.allows_inner(resource, needed, false)
    }

    fn allows_inner(&self, resource: &Resource, needed: Permissions, write: bool) -> bool {
        if let Some(CompartmentRef { resource_type, id }) = &self.confine {
            if !in_compartment(*resource_type, id, resource, self.base()) {
                return false;
            }
        }
        let ty = resource.resource_type();
        let mut json: Option<Option<Value>> = None;
        for (scope, reach) in self.granting(ty, needed) {
            if !self.holds(reach, resource, write) {
                continue;
            }
            if scope.constraints().is_empty() {
                return true;
            }
            let json = json.get_or_insert_with(|| {
                serde_json::from_slice(&fhir_types::json::to_vec(resource)).ok()
            });
            if let Some(json) = json {
                if scope
                    .constraints()
                    .iter()
                    .all(|c| constraint::matches(ty, c, json))
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
    pub fn check_resource(&self, resource: &Resource) -> Result<(), Denial> {
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
        if self.allows(resource, needed) {
            Ok(())
        } else {
            Err(Denial::not_found())
        }
    }

    /// Checks a write against the new content and the stored version (smart.md §12.12).
    ///
    /// - `new`: the body to store (for patch: the patched result). Its type must be the URL's
    ///   and, for update, its `id` the URL's (else 400); it must be inside the scope (else 403).
    /// - `stored`: the current version (update, patch, delete, conditional matches). It must be
    ///   inside the scope too (else 403), so nothing is moved into or out of a compartment.
    pub fn check_write(
        &self,
        new: Option<&Resource>,
        stored: Option<&Resource>,
    ) -> Result<(), Denial> {
        let needed = self.needed;
        if needed.is_empty()
            || !needed.intersects(Permissions::CREATE | Permissions::UPDATE | Permissions::DELETE)
        {
            return Err(Denial::forbidden(DenialReason::WriteOutOfScope));
        }
        for (resource, is_new) in [(new, true), (stored, false)] {
            let Some(resource) = resource else { continue };
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
            if !self.allows_inner(resource, needed, true) {
                return Err(Denial::forbidden(DenialReason::WriteOutOfScope));
            }
        }
        Ok(())
    }

    /// Filters a result Bundle in place (search, history, `$everything`): every entry whose
    /// resource the token may not see is removed, `total` is dropped when anything was removed
    /// (the host's narrowed count stays honest; a post-filtered one would not).
    ///
    /// Matches need the searched permission; `include` entries need `r` or `s` on their own type;
    /// history entries without a resource (deletions) are kept only under an unrestricted grant
    /// of their type, so they never reveal ids outside the caller's access.
    pub fn filter_bundle(&self, bundle: &mut Bundle) -> FilterReport {
        let primary = if self.needed.is_empty() {
            Permissions::READ | Permissions::SEARCH
        } else {
            self.needed
        };
        let before = bundle.entry.len();
        bundle.entry.retain(|entry| {
            let mode = entry
                .search
                .as_ref()
                .and_then(|s| s.mode.as_ref())
                .and_then(|m| m.as_str());
            match (&entry.resource, mode) {
                (Some(Resource::OperationOutcome(_)), Some("outcome")) => true,
                (Some(r), Some("include")) => {
                    self.allows(r, Permissions::READ | Permissions::SEARCH)
                }
                (Some(r), _) => self.is_instance(r) && self.allows(r, primary),
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
        });
        let removed = before - bundle.entry.len();
        if removed > 0 {
            bundle.total = None;
        }
        FilterReport {
            kept: bundle.entry.len(),
            removed,
        }
    }

    /// Checks any result: a Bundle is filtered, another resource checked like a read.
    pub fn filter_result(&self, resource: &mut Resource) -> Result<FilterReport, Denial> {
        match resource {
            Resource::Bundle(b) if self.resource_type != Some(ResourceType::Bundle) => {
                Ok(self.filter_bundle(b))
            }
            r => self.check_resource(r).map(|()| FilterReport {
                kept: 1,
                removed: 0,
            }),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_paths_fit_the_fixed_buffer() {
        for kind in CompartmentType::ALL {
            for rt in ResourceType::ALL {
                let n: usize = compartment::params(kind, rt)
                    .iter()
                    .filter_map(|p| search_param(rt, p))
                    .map(|d| d.paths.len())
                    .sum();
                assert!(n <= 16, "{kind:?} {rt:?}: {n} paths");
            }
        }
    }

    #[test]
    fn reference_forms() {
        let base = Some("https://ehr.example/fhir");
        let p = ResourceType::Patient;
        assert!(points_to("Patient/1", p, "1", base));
        assert!(points_to("Patient/1/_history/3", p, "1", base));
        assert!(points_to(
            "https://ehr.example/fhir/Patient/1",
            p,
            "1",
            base
        ));
        assert!(!points_to(
            "https://ehr.example/fhirx/Patient/1",
            p,
            "1",
            base
        ));
        assert!(!points_to(
            "https://ehr.example/fhir/Patient/1",
            p,
            "1",
            None
        ));
        assert!(!points_to(
            "https://evil.example/fhir/Patient/1",
            p,
            "1",
            base
        ));
        assert!(!points_to("Patient/11", p, "1", base));
        assert!(!points_to("patient/1", p, "1", base));
        assert!(!points_to("#1", p, "1", base));
        assert!(!points_to("urn:uuid:1", p, "1", base));
        assert!(!points_to("Patient/1/extra", p, "1", base));
        assert!(!points_to("Patient/1?x=y", p, "1", base));
        assert!(!points_to("Group/1", p, "1", base));
    }
}
