//! Compartment membership checked per result entry: the CompartmentDefinition's element paths
//! (from `fhir_types`' generated facts), local literal references, and `Patient.link` only as the
//! policy says.

use std::sync::OnceLock;

use fhir_types::codes::LinkType;
use fhir_types::compartment::{self, CompartmentType};
use fhir_types::search::search_param;
use fhir_types::{Resource, ResourceType};

/// The element paths that put a resource of one type into compartments of one kind (never
/// `Patient.link`: links are policy, see [`linked_to`]), indexed by
/// `[compartment kind][resource type]`. Built once: the per-entry check then costs one walk of
/// the resource's references and no lookups.
fn membership_paths(kind: CompartmentType, rt: ResourceType) -> &'static [&'static str] {
    static TABLE: OnceLock<Vec<Vec<Vec<&'static str>>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        CompartmentType::ALL
            .iter()
            .map(|&kind| {
                let target = kind.resource_type();
                let mut by_type = vec![Vec::new(); ResourceType::ALL.len()];
                for rt in ResourceType::ALL {
                    by_type[rt as usize] = compartment::params(kind, rt)
                        .iter()
                        .filter(|p| **p != "link")
                        .filter_map(|p| search_param(rt, p))
                        .flat_map(|def| def.paths)
                        .filter(|p| p.resolves_to.is_none_or(|t| t == target))
                        .map(|p| p.path)
                        .collect();
                }
                by_type
            })
            .collect()
    });
    let k = CompartmentType::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_default();
    &table[k][rt as usize]
}

/// Whether `resource` is in the compartment `ty/id`, never through `Patient.link`.
///
/// The same rule as [`fhir_types::compartment::memberships`] (a literal reference, local, of the
/// compartment's type, at one of the CompartmentDefinition's element paths), checked for one
/// compartment without allocating: this runs once per result entry.
pub(super) fn in_compartment(
    ty: ResourceType,
    id: &str,
    resource: &Resource,
    base: Option<&str>,
) -> bool {
    let Some(kind) = CompartmentType::for_resource_type(ty) else {
        return false;
    };
    let rt = resource.resource_type();
    if rt == ty {
        return resource.id() == Some(id);
    }
    let paths = membership_paths(kind, rt);
    if paths.is_empty() {
        return false;
    }
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

/// Whether `resource` is a Patient with a `link` of one of the `follow` types whose `other`
/// points at `Patient/id` (the CompartmentDefinition's `link` parameter; see
/// [`DecisionPolicy::with_patient_links`](super::DecisionPolicy::with_patient_links)).
pub(super) fn linked_to(
    resource: &Resource,
    id: &str,
    follow: &[LinkType],
    base: Option<&str>,
) -> bool {
    let Resource::Patient(patient) = resource else {
        return false;
    };
    !follow.is_empty()
        && patient.link.iter().any(|link| {
            let followed = link
                .type_
                .as_str()
                .and_then(LinkType::from_code)
                .is_some_and(|t| follow.contains(&t));
            let declared = link.other.type_.as_ref().and_then(|t| t.as_str());
            let reference = link.other.reference.as_ref().and_then(|r| r.as_str());
            followed
                && declared.is_none_or(|t| t == "Patient")
                && reference.is_some_and(|r| points_to(r, ResourceType::Patient, id, base))
        })
}

/// The `link` elements of a Patient as (link type, reference, declared type), to compare versions.
pub(super) fn links(
    resource: Option<&Resource>,
) -> Vec<(Option<&str>, Option<&str>, Option<&str>)> {
    match resource {
        Some(Resource::Patient(p)) => p
            .link
            .iter()
            .map(|l| {
                (
                    l.type_.as_str(),
                    l.other.reference.as_ref().and_then(|r| r.as_str()),
                    l.other.type_.as_ref().and_then(|t| t.as_str()),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_paths_are_indexed_by_kind_and_type() {
        // The table agrees with fhir-types' facts for every kind and type (`link` left out).
        for kind in CompartmentType::ALL {
            for rt in ResourceType::ALL {
                let mut want: Vec<&str> = Vec::new();
                for p in compartment::params(kind, rt)
                    .iter()
                    .filter(|p| **p != "link")
                {
                    for path in search_param(rt, p).into_iter().flat_map(|d| d.paths) {
                        if path.resolves_to.is_none_or(|t| t == kind.resource_type()) {
                            want.push(path.path);
                        }
                    }
                }
                assert_eq!(membership_paths(kind, rt), want, "{kind:?} {rt:?}");
            }
        }
        assert_eq!(
            membership_paths(CompartmentType::Patient, ResourceType::Observation),
            ["Observation.subject", "Observation.performer"]
        );
        assert!(
            membership_paths(CompartmentType::Patient, ResourceType::Patient)
                .iter()
                .all(|p| !p.starts_with("Patient.link"))
        );
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
