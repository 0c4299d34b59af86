//! Patient-compartment membership of a stored resource (R4 CompartmentDefinition `patient`):
//! the store records it on every write so that `patient/` narrowing is a join, not a scan.

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

/// The search parameters by which R4's PatientCD puts `rtype` in a patient's compartment
/// (restricted to the parameters this server indexes).
fn patient_params(rtype: &str) -> &'static [&'static str] {
    match rtype {
        "Patient" => &["link"],
        "Observation" => &["subject", "performer"],
        "Condition" => &["patient", "asserter"],
        "Encounter" => &["patient"],
        "MedicationRequest" => &["subject"],
        "AllergyIntolerance" => &["patient", "recorder", "asserter"],
        "Procedure" => &["patient", "performer"],
        "Immunization" => &["patient"],
        "DiagnosticReport" => &["subject"],
        "CarePlan" => &["patient"],
        "DocumentReference" => &["subject", "author"],
        "ServiceRequest" => &["subject", "performer"],
        "AuditEvent" => &["patient"],
        "Provenance" => &["patient"],
        _ => &[],
    }
}
