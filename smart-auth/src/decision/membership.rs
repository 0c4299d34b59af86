//! Compartment membership checked per result entry: the CompartmentDefinition's element paths
//! (read by `fhir_types`' generated compartment visitor), local literal references, and
//! `Patient.link` only as the policy says.

use fhir_types::codes::LinkType;
use fhir_types::compartment::{self, CompartmentType, Via};
use fhir_types::{Resource, ResourceType};

/// Whether `resource` is in the compartment `ty/id`, never through `Patient.link`.
///
/// The same rule as [`fhir_types::compartment::memberships`] (a literal reference, local, of the
/// compartment's type, at one of the CompartmentDefinition's element paths), checked for one
/// compartment without allocating: this runs once per result entry, and reads only the
/// References at those paths ([`compartment::visit_references`]).
pub(super) fn in_compartment(
    ty: ResourceType,
    id: &str,
    resource: &Resource,
    base: Option<&str>,
) -> bool {
    let Some(kind) = CompartmentType::for_resource_type(ty) else {
        return false;
    };
    if resource.resource_type() == ty {
        return resource.id() == Some(id);
    }
    let mut found = false;
    compartment::visit_references(kind, resource, &mut |via, r| {
        if found || matches!(via, Via::Param { param: "link", .. }) {
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

/// Whether `resource` is also in a compartment of type `ty` other than `ty/id`, by the same
/// rule as [`in_compartment`] (never through `Patient.link`).
pub(super) fn in_another_compartment(
    ty: ResourceType,
    id: &str,
    resource: &Resource,
    base: Option<&str>,
) -> bool {
    let Some(kind) = CompartmentType::for_resource_type(ty) else {
        return false;
    };
    compartment::memberships(kind, resource, base)
        .iter()
        .any(|m| m.id != id && !matches!(m.via, Via::Param { param: "link", .. }))
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
/// references never do. Prefix checks only, no splitting or substring search: this runs for
/// every reference at a membership path of every result entry.
pub(super) fn points_to(reference: &str, ty: ResourceType, id: &str, base: Option<&str>) -> bool {
    // Relative first, without searching for "://": no relative match contains it (a ':' can
    // only be in the id, followed by the end or "/_history/", or in the version, at the end),
    // so none is also an absolute reference. An absolute one counts only on exactly `base`.
    names(reference, ty, id)
        || base
            .and_then(|b| reference.strip_prefix(b))
            .and_then(|r| r.strip_prefix('/'))
            .is_some_and(|r| reference.contains("://") && names(r, ty, id))
}

/// Whether a relative reference is `ty/id` (an `id` without '/'), optionally followed by
/// `/_history/version` (a non-empty version without '/').
fn names(relative: &str, ty: ResourceType, id: &str) -> bool {
    let rest = relative
        .strip_prefix(ty.as_str())
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.strip_prefix(id));
    // The id is searched only on a match: most references checked name another resource.
    rest.is_some_and(|rest| {
        let versioned = || {
            rest.strip_prefix("/_history/")
                .is_some_and(|v| !v.is_empty() && !v.contains('/'))
        };
        !id.contains('/') && (rest.is_empty() || versioned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `points_to` as it was, splitting on '/': the prefix checks must decide exactly alike.
    fn points_to_by_split(reference: &str, ty: ResourceType, id: &str, base: Option<&str>) -> bool {
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

    #[test]
    fn points_to_agrees_with_splitting_on_every_short_reference() {
        // Every sequence of up to four of these pieces, against every id and base below.
        let pieces = [
            "Patient/1",
            "Patient",
            "/",
            "1",
            "/_history/",
            "2",
            "://",
            "https:",
            ":",
            "Group",
            "1/x",
            "https://ehr.example/fhir",
        ];
        let ids = ["1", "", "1/x", "x://y", "_history"];
        let bases = [
            None,
            Some("https://ehr.example/fhir"),
            Some(""),
            Some("Patient"),
        ];
        let mut refs = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..4 {
            last = last
                .iter()
                .flat_map(|r| pieces.iter().map(move |p| format!("{r}{p}")))
                .collect();
            refs.extend(last.iter().cloned());
        }
        let mut matches = 0;
        for r in &refs {
            for id in ids {
                for base in bases {
                    let want = points_to_by_split(r, ResourceType::Patient, id, base);
                    assert_eq!(
                        points_to(r, ResourceType::Patient, id, base),
                        want,
                        "{r:?} {id:?} {base:?}"
                    );
                    matches += usize::from(want);
                }
            }
        }
        assert!(matches > 100, "{matches}");
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
