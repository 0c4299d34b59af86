//! Patient-compartment membership of a stored resource (R4 CompartmentDefinition `patient`, for
//! every resource type): the store records it on every write so that `patient/` narrowing is a
//! join, not a scan.
//!
//! Only the Patient compartment is indexed: it is the one the decision narrows to for `patient/`
//! scopes and launch contexts. smart-auth narrows to another compartment (Practitioner,
//! RelatedPerson, Encounter, Device) only when a host configures `UserAccess::Compartment` for
//! `user/` scopes, which this server does not; such a narrowing would match nothing here (fail
//! closed), never more.
//!
//! Membership is decided by `fhir_types::compartment::memberships`, the rule smart-auth checks
//! each returned resource with: a row the decision would not admit makes a count (`total`,
//! `_summary=count`) include a resource the caller cannot see, and its criteria an oracle on it.
//! So a reference whose declared `type` names another type confers nothing, and neither does
//! `Patient.link` (this server does not follow links).

use fhir_types::compartment::{self, CompartmentType, Via};
use serde_json::Value;

/// The `(compartment type, id)` pairs whose compartment holds `rtype/id` (whose stored JSON,
/// with its id, is `body`). A body the FHIR model does not read is in no compartment.
pub fn memberships(rtype: &str, id: &str, body: &Value, base: &str) -> Vec<(String, String)> {
    let bytes = crate::fhir::json::to_vec(body);
    let resource = match fhir_types::json::parse_resource(&bytes) {
        Ok(r) if r.resource_type().as_str() == rtype && r.id() == Some(id) => r,
        _ => return Vec::new(),
    };
    let mut out: Vec<(String, String)> =
        compartment::memberships(CompartmentType::Patient, &resource, Some(base))
            .into_iter()
            .filter(|m| !matches!(m.via, Via::Param { param: "link", .. }))
            .map(|m| ("Patient".to_owned(), m.id))
            .collect();
    out.dedup();
    out
}
