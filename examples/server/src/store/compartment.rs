//! Patient-compartment membership of a stored resource (R4 CompartmentDefinition `patient`, for
//! every resource type): the store records it on every write so that `patient/` narrowing is a
//! join, not a scan.
//!
//! Only the Patient compartment is indexed: it is the one the decision narrows to for `patient/`
//! scopes and launch contexts. smart-auth narrows to another compartment (Practitioner,
//! RelatedPerson, Encounter, Device) only when a host configures `UserAccess::Compartment` for
//! `user/` scopes, which this server does not; such a narrowing would match nothing here (fail
//! closed), never more.

use serde_json::Value;

use super::index;

/// The `(compartment type, id)` pairs whose compartment holds `rtype/id`.
pub fn memberships(rtype: &str, id: &str, body: &Value, base: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if rtype == "Patient" {
        out.push(("Patient".to_owned(), id.to_owned()));
    }
    let params = patient_params(rtype);
    for row in index::rows(rtype, body, base) {
        if row.system == "Patient" && params.contains(&row.code) {
            out.push(("Patient".to_owned(), row.value));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The search parameters by which R4's PatientCD puts `rtype` in a patient's compartment, from
/// `fhir_types::compartment` (generated from the specification) for every resource type. Each
/// is a reference parameter of the derived search table ([`super::params`]); one the table could
/// not hold would leave the resource outside every compartment (invisible to `patient/`
/// tokens: fail closed), and `params::tests` checks that none is missing.
fn patient_params(rtype: &str) -> &'static [&'static str] {
    match rtype.parse::<fhir_types::ResourceType>() {
        Ok(t) => {
            fhir_types::compartment::params(fhir_types::compartment::CompartmentType::Patient, t)
        }
        Err(_) => &[],
    }
}
