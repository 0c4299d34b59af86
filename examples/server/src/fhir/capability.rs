//! `GET /fhir/metadata`: the CapabilityStatement, with the SMART security block, and the
//! server's own conformance resources it names (the `$disclosures` OperationDefinition).

use serde_json::{json, Value};

use crate::store::audit::{self, AUDIT_EVENT};
use crate::store::params;

fn param_type(kind: params::Kind) -> &'static str {
    match kind {
        params::Kind::Token => "token",
        params::Kind::Reference => "reference",
        params::Kind::Date => "date",
        params::Kind::Text => "string",
        params::Kind::Number => "number",
        params::Kind::Quantity => "quantity",
        params::Kind::Uri => "uri",
    }
}

/// The CapabilityStatement for the server at `base`, whose OAuth endpoints are in `smart`.
pub fn statement(base: &str, smart: &Value) -> Value {
    // Every R4 type can be stored and searched (search parameters come from the specification).
    let resources: Vec<Value> = fhir_types::ResourceType::ALL
        .iter()
        .map(|t| t.as_str())
        .map(|t| {
            let read_only = crate::fhir::rest::APPEND_ONLY.contains(&t);
            let interactions: &[&str] = if read_only {
                &["read", "vread", "history-instance", "history-type", "search-type"]
            } else {
                &["read", "vread", "update", "patch", "delete", "history-instance",
                  "history-type", "create", "search-type"]
            };
            // AuditEvents are searched in the audit trail's view, by fewer parameters.
            let searched = params::params(t)
                .iter()
                .filter(|p| t != AUDIT_EVENT || audit::searches_by(p.code));
            let mut search: Vec<Value> = vec![
                json!({"name": "_id", "type": "token"}),
                json!({"name": "_lastUpdated", "type": "date"}),
            ];
            search.extend(searched.clone().map(|p| {
                json!({"name": p.code, "type": param_type(p.kind)})
            }));
            let includes: Vec<String> = searched
                .filter(|p| p.kind == params::Kind::Reference)
                .map(|p| format!("{t}:{}", p.code))
                .collect();
            let mut r = json!({
                "type": t,
                "interaction": interactions.iter().map(|i| json!({"code": i})).collect::<Vec<_>>(),
                "versioning": "versioned",
                "readHistory": true,
                "conditionalRead": "full-support",
                "updateCreate": !read_only,
                "conditionalCreate": !read_only,
                "conditionalUpdate": !read_only,
                "conditionalDelete": if read_only { "not-supported" } else { "single" },
                "searchInclude": includes,
                "searchParam": search,
            });
            if t == "Patient" {
                r["operation"] = json!([
                    {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
                    {"name": "disclosures", "definition": format!("{base}/{OPERATION_DEFINITION}/{DISCLOSURES}")}
                ]);
            }
            r
        })
        .collect();
    let mut oauth = vec![];
    for (name, key) in [
        ("authorize", "authorization_endpoint"),
        ("token", "token_endpoint"),
        ("introspect", "introspection_endpoint"),
        ("revoke", "revocation_endpoint"),
    ] {
        if let Some(u) = smart.get(key).and_then(Value::as_str) {
            oauth.push(json!({"url": name, "valueUri": u}));
        }
    }
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-28",
        "kind": "instance",
        "software": {"name": "secure-fhir-server", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "secure-fhir example server", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [{
            "mode": "server",
            "security": {
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": oauth,
                }],
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR"
                }]}],
                "description": "SMART App Launch 2.x: OAuth 2.0 access tokens, as Bearer or DPoP-bound (RFC 9449); see .well-known/smart-configuration",
            },
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}],
        }],
    })
}

const OPERATION_DEFINITION: &str = "OperationDefinition";

/// The id of the OperationDefinition of `Patient/[id]/$disclosures`, served at
/// `<base>/OperationDefinition/Patient-disclosures` (the CapabilityStatement's `definition`).
pub const DISCLOSURES: &str = "Patient-disclosures";

/// Whether `rtype/id` is one of the server's own conformance resources: public to read like
/// the CapabilityStatement that names it, and no client's to write.
pub fn is_own_definition(rtype: &str, id: &str) -> bool {
    rtype == OPERATION_DEFINITION && id == DISCLOSURES
}

/// The server's own conformance resource `rtype/id` for the server at `base`, if it is one.
pub fn own_definition(base: &str, rtype: &str, id: &str) -> Option<Value> {
    is_own_definition(rtype, id).then(|| disclosures_definition(base))
}

/// `$disclosures`: the HIPAA accounting of disclosures of one patient (see
/// `searching::disclosures`).
fn disclosures_definition(base: &str) -> Value {
    json!({
        "resourceType": OPERATION_DEFINITION,
        "id": DISCLOSURES,
        "url": format!("{base}/{OPERATION_DEFINITION}/{DISCLOSURES}"),
        "name": "Disclosures",
        "title": "Accounting of disclosures",
        "status": "active",
        "kind": "operation",
        "affectsState": false,
        "code": "disclosures",
        "resource": ["Patient"],
        "system": false,
        "type": false,
        "instance": true,
        "description": "The accounting of disclosures of the patient's data (HIPAA, 45 CFR \
            164.528): over the six years before the request, each disclosure recorded in the \
            server's audit trail, and each successful read, search, history read, $everything or \
            batch made for a purpose of use other than treatment, payment or health care \
            operations, as AuditEvents; from and to narrow the period. Readable by the \
            patient (a user who is that Patient, or an app in its context naming no user) and \
            by auditors (a grant on AuditEvent).",
        "parameter": [{
            "name": "from",
            "use": "in",
            "min": 0,
            "max": "1",
            "type": "dateTime",
            "documentation": "Start of the period (a date or dateTime); at most six years back"
        }, {
            "name": "to",
            "use": "in",
            "min": 0,
            "max": "1",
            "type": "dateTime",
            "documentation": "End of the period (a date or dateTime, its whole range included)"
        }, {
            "name": "return",
            "use": "out",
            "min": 1,
            "max": "1",
            "type": "Bundle",
            "documentation": "A collection Bundle of AuditEvents, one per disclosure"
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disclosures_definition_is_a_valid_r4_operation_definition_at_its_own_url() {
        let base = "http://127.0.0.1:8080/fhir";
        let def = own_definition(base, "OperationDefinition", DISCLOSURES).unwrap();
        let bytes = serde_json::to_vec(&def).unwrap();
        let parsed = fhir_types::json::parse_resource(&bytes).expect("valid R4");
        assert_eq!(parsed.resource_type().as_str(), "OperationDefinition");
        let statement = statement(base, &json!({}));
        let patient = statement["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == "Patient")
            .unwrap();
        assert_eq!(patient["operation"][1]["definition"], def["url"]);
        assert!(own_definition(base, "OperationDefinition", "other").is_none());
        assert!(own_definition(base, "StructureDefinition", DISCLOSURES).is_none());
    }
}
