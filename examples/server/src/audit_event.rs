//! An [`AuditRecord`] as a FHIR R4 AuditEvent in the shape of IHE BALP's RESTful patterns:
//! `type` rest, `subtype` the interaction, the client as source agent and the user as
//! requestor, the token by reference (`agent.policy`, never the token), patients as entities
//! with role patient, resources acted on, and the query for searches.

use fhir_audit::{AuditRecord, Event, Interaction, TokenRef};
use serde_json::{json, Value};

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";

fn action(interaction: Interaction) -> &'static str {
    match interaction {
        Interaction::Create => "C",
        Interaction::Update | Interaction::Patch => "U",
        Interaction::Delete => "D",
        Interaction::Read
        | Interaction::Vread
        | Interaction::HistoryInstance
        | Interaction::HistoryType
        | Interaction::HistorySystem
        | Interaction::Search
        | Interaction::SearchType
        | Interaction::SearchSystem
        | Interaction::Capabilities => "R",
        _ => "E",
    }
}

fn balp_profile(interaction: Interaction, has_patient: bool) -> &'static str {
    let p = |with: &'static str, without: &'static str| if has_patient { with } else { without };
    match action(interaction) {
        "C" => p("PatientCreate", "Create"),
        "U" => p("PatientUpdate", "Update"),
        "D" => p("PatientDelete", "Delete"),
        "R" if interaction.is_search() => p("PatientQuery", "Query"),
        "R" => p("PatientRead", "Read"),
        _ => "Execute",
    }
}

/// Renders `record` as an AuditEvent (JSON).
pub fn render(record: &AuditRecord) -> Value {
    let (subtype, act, profile, kind) = match &record.event {
        Event::Rest { interaction, .. } => (
            json!({"system": "http://hl7.org/fhir/restful-interaction", "code": interaction.code()}),
            action(*interaction),
            Some(balp_profile(*interaction, !record.patients.is_empty())),
            json!({"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"}),
        ),
        Event::Authentication => (
            json!({"system": DCM, "code": "110122", "display": "Login"}),
            "E",
            None,
            json!({"system": DCM, "code": "110114", "display": "User Authentication"}),
        ),
        _ => (
            json!({"system": DCM, "code": "110100", "display": "Application Activity"}),
            "E",
            None,
            json!({"system": DCM, "code": "110100", "display": "Application Activity"}),
        ),
    };
    let mut agents = Vec::new();
    let client = record.client.as_ref();
    let mut source = json!({
        "type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
        "requestor": false,
    });
    if let Some(id) = client.and_then(|c| c.client_id.as_ref()) {
        source["who"] = json!({"identifier": {"value": id}});
    }
    if let Some(addr) = client.and_then(|c| c.address.as_ref()) {
        source["network"] = json!({"address": addr, "type": "2"});
    }
    agents.push(source);
    if let Some(user) = &record.user {
        let who = match user.fhir_user.as_deref() {
            Some(r) => json!({"reference": r}),
            None => json!({"identifier": {"value": user.id}}),
        };
        let mut agent = json!({
            "type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "IRCP", "display": "information recipient"}]},
            "who": who,
            "requestor": true,
        });
        if let Some(t) = &record.token {
            agent["policy"] = json!([token_policy(t)]);
        }
        if !record.purpose_of_use.is_empty() {
            agent["purposeOfUse"] = json!(record
                .purpose_of_use
                .iter()
                .map(|p| json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": p}]}))
                .collect::<Vec<_>>());
        }
        agents.push(agent);
    }
    let mut entities: Vec<Value> = record
        .patients
        .iter()
        .map(|p| {
            json!({
                "what": {"reference": format!("Patient/{p}")},
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"},
                "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"},
            })
        })
        .collect();
    for r in &record.resources {
        entities.push(json!({
            "what": {"reference": r.reference()},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "4"},
        }));
    }
    if let Some(q) = &record.query {
        entities.push(json!({
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "24"},
            "query": q.to_base64(),
        }));
    }
    let mut e = json!({
        "resourceType": "AuditEvent",
        "type": kind,
        "subtype": [subtype],
        "action": act,
        "recorded": record.recorded.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "outcome": record.outcome.code(),
        "agent": agents,
        "source": {"observer": {"display": "secure-fhir-server"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}]},
    });
    if let Some(p) = profile {
        e["meta"] = json!({"profile": [format!("https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.{p}")]});
    }
    if let Some(reason) = record.outcome.reason() {
        e["outcomeDesc"] = json!(reason);
    }
    if !entities.is_empty() {
        e["entity"] = json!(entities);
    }
    if let Some(id) = &record.correlation_id {
        e["extension"] = json!([{"url": "https://profiles.ihe.net/ITI/BALP/StructureDefinition/CorrelationId", "valueString": id}]);
    }
    e
}

fn token_policy(t: &TokenRef) -> String {
    t.policy()
}
