//! The search Bundle of `filter_bundle/1000` (also run by `examples/filter_profile.rs`).

use serde_json::{json, Value};

/// A searchset of `n` Observations, even ones of `Patient/123`, odd ones of `Patient/456`.
pub fn bundle_json(n: usize) -> Value {
    let entries: Vec<Value> = (0..n)
        .map(|i| {
            let patient = if i % 2 == 0 { "123" } else { "456" };
            json!({
                "fullUrl": format!("https://ehr.example/fhir/Observation/o{i}"),
                "resource": {
                    "resourceType": "Observation", "id": format!("o{i}"), "status": "final",
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                    "subject": {"reference": format!("Patient/{patient}")},
                    "performer": [{"reference": "Practitioner/dr"}],
                    "effectiveDateTime": "2020-01-01T00:00:00Z",
                    "valueQuantity": {"value": 72, "unit": "beats/minute"}
                },
                "search": {"mode": "match"}
            })
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "total": n, "entry": entries})
}
