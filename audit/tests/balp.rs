//! BALP conformance of the rendered R4 AuditEvents: required elements per interaction (agent
//! direction included), the BALP base64 query vectors byte for byte, splitting per patient,
//! the documented shapes of failures and non-REST events, and R4 validity via `fhir-types`.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use common::t0;
use fhir_audit::render::{event_references, to_r4_json, EventReferences, RenderConfig};
use fhir_audit::{
    AuditRecord, Client, Disclosure, Event, Interaction, Outcome, RawRequest, Recipient,
    ResourceRef, SecurityAlert, Severity, TokenRef, User,
};
use serde_json::Value;

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const PROFILE: &str = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/";

fn config() -> RenderConfig {
    RenderConfig::new("Device/secure-fhir")
        .observer_display("secure-fhir server")
        .server_address("fhir.example.org")
}

/// Renders, checks every event parses as R4 with the generated types, returns the JSON.
fn render(record: &AuditRecord) -> Vec<Value> {
    let events: Vec<Value> = to_r4_json(record, &config())
        .into_iter()
        .map(|bytes| {
            let parsed = fhir_types::json::parse_resource(&bytes).unwrap_or_else(|e| {
                panic!("not valid R4: {e}\n{}", String::from_utf8_lossy(&bytes))
            });
            assert_eq!(parsed.resource_type().as_str(), "AuditEvent");
            // Lossless: writing the parsed event gives the same bytes.
            assert_eq!(fhir_types::json::to_vec(&parsed), bytes);
            serde_json::from_slice(&bytes).unwrap()
        })
        .collect();
    // Every record the tests render: the references told without rendering are the events'.
    let rendered: Vec<EventReferences> = events.iter().map(references).collect();
    assert_eq!(event_references(record, &config()), rendered);
    events
}

/// The literal references of a rendered event's agents and entities.
fn references(ev: &Value) -> EventReferences {
    let literal = |list: &str, field: &str| -> Vec<String> {
        ev[list]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x[field]["reference"].as_str().map(str::to_owned))
            .collect()
    };
    let mut r = EventReferences::default();
    r.agents = literal("agent", "who");
    r.entities = literal("entity", "what");
    r
}

fn codes(v: &Value) -> Vec<(String, String)> {
    let list = match v {
        Value::Array(a) => a.clone(),
        Value::Object(o) if o.contains_key("coding") => {
            o["coding"].as_array().cloned().unwrap_or_default()
        }
        Value::Object(_) => vec![v.clone()],
        _ => vec![],
    };
    list.iter()
        .map(|c| {
            (
                c["system"].as_str().unwrap_or("").to_owned(),
                c["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn has(v: &Value, system: &str, code: &str) -> bool {
    codes(v).iter().any(|(s, c)| s == system && c == code)
}

/// The agent whose type has `system#code`.
fn agent<'a>(ev: &'a Value, system: &str, code: &str) -> &'a Value {
    ev["agent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| has(&a["type"], system, code))
        .unwrap_or_else(|| panic!("no agent {system}#{code} in {}", ev["agent"]))
}

fn entities_with_role<'a>(ev: &'a Value, code: &str) -> Vec<&'a Value> {
    ev["entity"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["role"]["code"] == code
                && e["role"]["system"] == "http://terminology.hl7.org/CodeSystem/object-role"
        })
        .collect()
}

fn rest_record(i: Interaction, patient: Option<&str>) -> AuditRecord {
    let mut r = AuditRecord::rest(t0(), i, Some("Observation"))
        .user(
            User::new("u-1")
                .issuer("https://idp.example.org")
                .fhir_user("Practitioner/7")
                .role("doctor"),
        )
        .client(Client::new("chart-app").name("Chart").address("10.0.0.9"))
        .purpose("TREAT")
        .token(TokenRef::jti("jti-42"))
        .correlation_id("req-77");
    if i.is_search() {
        r = r.query(RawRequest::from_bytes(
            b"GET /Observation?patient=p1 HTTP/1.1\nAccept: application/fhir+json\n",
        ));
    } else {
        r = r.resource(ResourceRef::new("Observation", "o1"));
    }
    if let Some(p) = patient {
        r = r.patient(p);
    }
    r
}

#[test]
fn every_rest_profile_has_its_required_elements_and_direction() {
    use Interaction::*;
    // (interaction, profile, action, client type, server type, user type)
    let dcm = |c| (DCM, c);
    let table = [
        (Create, "Create", "C", dcm("110153"), dcm("110152"), "AUT"),
        (Read, "Read", "R", dcm("110152"), dcm("110153"), "IRCP"),
        (Vread, "Read", "R", dcm("110152"), dcm("110153"), "IRCP"),
        (Update, "Update", "U", dcm("110153"), dcm("110152"), "AUT"),
        (Patch, "Update", "U", dcm("110153"), dcm("110152"), "AUT"),
        (
            Delete,
            "Delete",
            "D",
            dcm("110150"),
            (
                "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                "custodian",
            ),
            "AUT",
        ),
        (Search, "Query", "E", dcm("110153"), dcm("110152"), "IRCP"),
        (
            SearchType,
            "Query",
            "E",
            dcm("110153"),
            dcm("110152"),
            "IRCP",
        ),
        (
            SearchSystem,
            "Query",
            "E",
            dcm("110153"),
            dcm("110152"),
            "IRCP",
        ),
    ];
    for (i, profile, action, client, server, user) in table {
        for patient in [None, Some("p1")] {
            let evs = render(&rest_record(i, patient));
            assert_eq!(evs.len(), 1);
            let ev = &evs[0];
            let name = match patient {
                Some(_) => format!("IHE.BasicAudit.Patient{profile}"),
                None => format!("IHE.BasicAudit.{profile}"),
            };
            let ctx = format!("{i:?} patient={patient:?}");
            assert_eq!(
                ev["meta"]["profile"][0],
                format!("{PROFILE}{name}"),
                "{ctx}"
            );
            assert!(
                has(
                    &ev["type"],
                    "http://terminology.hl7.org/CodeSystem/audit-event-type",
                    "rest"
                ),
                "{ctx}"
            );
            assert!(
                has(
                    &ev["subtype"],
                    "http://hl7.org/fhir/restful-interaction",
                    i.code()
                ),
                "{ctx}"
            );
            assert_eq!(ev["action"], action, "{ctx}");
            assert_eq!(ev["outcome"], "0", "{ctx}");
            assert_eq!(ev["recorded"], "2026-11-28T12:00:00Z", "{ctx}");
            assert_eq!(ev["source"]["observer"]["reference"], "Device/secure-fhir");

            let c = agent(ev, client.0, client.1);
            assert_eq!(c["who"]["identifier"]["value"], "chart-app", "{ctx}");
            assert_eq!(c["network"]["address"], "10.0.0.9", "{ctx}");
            assert_eq!(c["network"]["type"], "2", "{ctx}");
            assert_eq!(c["requestor"], false, "{ctx}");
            assert!(c.get("media").is_none());
            let s = agent(ev, server.0, server.1);
            assert_eq!(s["who"]["reference"], "Device/secure-fhir", "{ctx}");
            assert_eq!(s["network"]["address"], "fhir.example.org", "{ctx}");
            let u = agent(
                ev,
                "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                user,
            );
            assert_eq!(u["requestor"], true, "{ctx}");
            assert_eq!(u["who"]["reference"], "Practitioner/7", "{ctx}");
            assert_eq!(
                u["who"]["identifier"]["system"], "https://idp.example.org",
                "{ctx}"
            );
            assert_eq!(u["who"]["identifier"]["value"], "u-1", "{ctx}");
            assert_eq!(u["policy"][0], "urn:ietf:params:oauth:jti:jti-42", "{ctx}");
            assert!(u.get("network").is_none(), "{ctx}");
            assert!(has(
                &u["purposeOfUse"][0],
                "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                "TREAT"
            ));
            // Exactly one client and one server agent.
            assert_eq!(ev["agent"].as_array().unwrap().len(), 3, "{ctx}");

            let tx: Vec<_> = ev["entity"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["type"]["code"] == "XrequestId")
                .collect();
            assert_eq!(tx.len(), 1, "{ctx}");
            assert_eq!(tx[0]["what"]["identifier"]["value"], "req-77");
            if profile == "Query" {
                let q = entities_with_role(ev, "24");
                assert_eq!(q.len(), 1, "{ctx}");
                assert_eq!(q[0]["type"]["code"], "2");
                assert!(q[0]["query"].is_string(), "{ctx}");
                for absent in ["what", "name", "lifecycle", "detail"] {
                    assert!(
                        q[0].get(absent).is_none(),
                        "{ctx}: query entity has {absent}"
                    );
                }
                assert!(entities_with_role(ev, "4").is_empty());
            } else {
                let d = entities_with_role(ev, "4");
                assert_eq!(d.len(), 1, "{ctx}");
                assert_eq!(d[0]["type"]["code"], "2");
                assert_eq!(d[0]["what"]["reference"], "Observation/o1");
            }
            let p = entities_with_role(ev, "1");
            match patient {
                Some(id) => {
                    assert_eq!(p.len(), 1, "{ctx}");
                    assert_eq!(p[0]["type"]["code"], "1");
                    assert_eq!(p[0]["what"]["reference"], format!("Patient/{id}"));
                }
                None => assert!(p.is_empty(), "{ctx}"),
            }
        }
    }
}

/// BALP IG examples `ex-auditBasicQueryGetNoPatient`, `…GetServer`/`…GetClient`, `…Post`.
const VECTORS: [(&str, Interaction, Option<&str>, usize); 3] = [
    ("R0VUIHRlc3QuZmhpci5vcmcvcjQvTWVhc3VyZVJlcG9ydD9fbGFzdFVwZGF0ZWQ9Z3QyMDIwLTExLTA2VDIxOjUyOjMwLjMwMFomX3NvcnQ9X2xhc3RVcGRhdGVkJl9jb3VudD0xMApBY2NlcHQ6IGFwcGxpY2F0aW9uL2ZoaXIranNvbjsgZmhpclZlcnNpb249NC4wClgtUmVxdWVzdC1JZDogNGE4ZGNhM2MtMjIwNS00ZGM3LTkwZTEtZGI4Nzc3ODFkN2Nj", Interaction::Search, None, 201),
    ("R0VUIHRlc3QuZmhpci5vcmcvcjQvT2JzZXJ2YXRpb24/cGF0aWVudD1leC1wYXRpZW50Jl9sYXN0VXBkYXRlZD1ndDIwMjAtMTEtMDZUMjE6NTI6MzAuMzAwWiZfc29ydD1fbGFzdFVwZGF0ZWQmX2NvdW50PTEwCkFjY2VwdDogYXBwbGljYXRpb24vZmhpcitqc29uOyBmaGlyVmVyc2lvbj00LjAKWC1SZXF1ZXN0LUlkOiBjYzZkMTY4ZS01ODcxLTExZWMtYmY2My0wMjQyYWMxMzAwMDI=", Interaction::Search, Some("ex-patient"), 218),
    ("UE9TVCAvcjQvT2JzZXJ2YXRpb24vX3NlYXJjaCBIVFRQLzEuMQpIb3N0OiB0ZXN0LmZoaXIub3JnCkNvbnRlbnQtVHlwZTogYXBwbGljYXRpb24veC13d3ctZm9ybS11cmxlbmNvZGVkCkFjY2VwdDogYXBwbGljYXRpb24vZmhpcitqc29uOyBmaGlyVmVyc2lvbj00LjAKQ29udGVudC1MZW5ndGg6IDg3CgpwYXRpZW50PWV4LXBhdGllbnQmX2xhc3RVcGRhdGVkPWd0MjAyMC0xMS0wNlQyMTo1MjozMC4zMDBaJl9zb3J0PV9sYXN0VXBkYXRlZCZfY291bnQ9MTAKCgoK", Interaction::SearchType, Some("ex-patient"), 264),
];

#[test]
fn balp_base64_query_examples_are_reproduced_exactly() {
    for (b64, interaction, patient, len) in VECTORS {
        let raw = B64.decode(b64).unwrap();
        assert_eq!(raw.len(), len);
        let mut r = AuditRecord::rest(t0(), interaction, Some("Observation"))
            .client(Client::from_address("192.0.2.1"))
            .query(RawRequest::from_bytes(&raw));
        if let Some(p) = patient {
            r = r.patient(p);
        }
        let evs = render(&r);
        let q = entities_with_role(&evs[0], "24");
        assert_eq!(q[0]["query"], b64);
        let want = if patient.is_some() {
            "IHE.BasicAudit.PatientQuery"
        } else {
            "IHE.BasicAudit.Query"
        };
        assert_eq!(evs[0]["meta"]["profile"][0], format!("{PROFILE}{want}"));
        assert!(has(
            &evs[0]["subtype"],
            "http://hl7.org/fhir/restful-interaction",
            interaction.code()
        ));
        // And through the log: the record's canonical bytes keep the request exactly.
        let back = AuditRecord::from_log_bytes(&r.to_log_bytes().unwrap()).unwrap();
        assert_eq!(back.query.unwrap().as_bytes(), &raw[..]);
    }
}

#[test]
fn a_search_touching_several_patients_gives_one_event_each() {
    let mut r = rest_record(Interaction::SearchType, None);
    for p in ["a", "b", "c"] {
        r = r.patient(p);
    }
    let evs = render(&r);
    assert_eq!(evs.len(), 3);
    let ids: std::collections::BTreeSet<_> = evs
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(
        render(&r)
            .iter()
            .map(|e| e["id"].clone())
            .collect::<Vec<_>>(),
        evs.iter().map(|e| e["id"].clone()).collect::<Vec<_>>()
    );
    for (ev, p) in evs.iter().zip(["a", "b", "c"]) {
        let pe = entities_with_role(ev, "1");
        assert_eq!(pe.len(), 1);
        assert_eq!(pe[0]["what"]["reference"], format!("Patient/{p}"));
        assert_eq!(
            entities_with_role(ev, "24")[0]["query"],
            entities_with_role(&evs[0], "24")[0]["query"]
        );
        assert_eq!(
            ev["meta"]["profile"][0],
            format!("{PROFILE}IHE.BasicAudit.PatientQuery")
        );
    }
    let one = to_r4_json(&r, &config().no_patient_split());
    assert_eq!(one.len(), 1);

    // The ITI-20 FHIR feed: a batch that POSTs each event, valid R4.
    let feed = fhir_audit::render::feed_bundle(fhir_audit::render::to_audit_events(&r, &config()));
    let bytes = fhir_types::json::to_vec(&fhir_types::Resource::Bundle(Box::new(feed)));
    fhir_types::json::parse_resource(&bytes).unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["type"], "batch");
    assert_eq!(v["entry"].as_array().unwrap().len(), 3);
    assert_eq!(v["entry"][2]["request"]["method"], "POST");
    assert_eq!(v["entry"][2]["request"]["url"], "AuditEvent");
}

#[test]
fn a_profile_is_claimed_only_when_its_required_agents_and_entities_are_there() {
    let profile = |record: &AuditRecord, config: &RenderConfig| -> Value {
        let bytes = &to_r4_json(record, config)[0];
        serde_json::from_slice::<Value>(bytes).unwrap()["meta"]["profile"][0].clone()
    };
    let read = rest_record(Interaction::Read, Some("p1"));
    let want = Value::from(format!("{PROFILE}IHE.BasicAudit.PatientRead"));
    assert_eq!(profile(&read, &config()), want);
    // agent[server].network is 1..1: a server whose address the host did not configure.
    let no_server_address = RenderConfig::new("Device/secure-fhir");
    assert_eq!(profile(&read, &no_server_address), Value::Null);
    // agent[client].network is 1..1: a client whose address is unknown.
    let mut anonymous = read.clone();
    anonymous.client = Some(Client::new("chart-app"));
    assert_eq!(profile(&anonymous, &config()), Value::Null);
    // entity[data] is 1..1.
    let two = read.clone().resource(ResourceRef::new("Observation", "o2"));
    assert_eq!(profile(&two, &config()), Value::Null);

    // PrivacyDisclosure.Source: agent[recipient].network is 1..1 too.
    let disclosure = |recipient: Recipient| {
        AuditRecord::new(
            t0(),
            Event::Disclosure(Disclosure::new(recipient, "immunizations")),
        )
        .patient("p1")
    };
    let dept = Recipient::new("State Health Dept").reference("Organization/sh");
    assert_eq!(profile(&disclosure(dept.clone()), &config()), Value::Null);
    let sent = disclosure(dept.network("https://registry.health.example.org/fhir"));
    let ev = &render(&sent)[0];
    assert_eq!(
        ev["meta"]["profile"][0],
        format!("{PROFILE}IHE.BasicAudit.PrivacyDisclosure.Source")
    );
    assert_eq!(
        agent(ev, DCM, "110152")["network"]["address"],
        "https://registry.health.example.org/fhir"
    );
    assert_eq!(profile(&sent, &no_server_address), Value::Null);
}

#[test]
fn denials_and_failures_keep_the_shape_but_claim_no_profile() {
    let denied = rest_record(Interaction::Read, Some("p1")).outcome(Outcome::Denied {
        reason: "not_in_compartment".into(),
    });
    let ev = &render(&denied)[0];
    assert_eq!(ev["outcome"], "4");
    assert_eq!(ev["outcomeDesc"], "not_in_compartment");
    assert!(ev.get("meta").is_none());
    assert_eq!(ev["action"], "R");
    agent(ev, DCM, "110152"); // read direction kept
    let failed = rest_record(Interaction::Create, None).outcome(Outcome::Failed {
        severity: Severity::Serious,
        reason: "rolled_back".into(),
        http_status: Some(500),
    });
    assert_eq!(render(&failed)[0]["outcome"], "8");
    // A 401 before any identity is known: no user agent, the client's address still recorded.
    let anon = AuditRecord::new(t0(), Event::Authentication)
        .client(Client::from_address("203.0.113.5"))
        .outcome(Outcome::Unauthenticated {
            reason: "invalid_token".into(),
        });
    let ev = &render(&anon)[0];
    assert!(has(&ev["type"], DCM, "110114"));
    assert_eq!(ev["outcome"], "4");
    assert_eq!(ev["agent"].as_array().unwrap().len(), 2);
    assert_eq!(
        agent(ev, DCM, "110150")["network"]["address"],
        "203.0.113.5"
    );
    assert_eq!(agent(ev, DCM, "110150")["requestor"], true);
}

#[test]
fn login_logout_token_issuance_alerts_and_disclosures_have_their_documented_shapes() {
    let login = AuditRecord::new(t0(), Event::Login)
        .user(User::new("u1"))
        .client(Client::new("portal"));
    let ev = &render(&login)[0];
    assert!(has(&ev["type"], DCM, "110114") && has(&ev["subtype"], DCM, "110122"));
    assert_eq!(ev["action"], "E");
    let described =
        AuditRecord::new(t0(), Event::Authentication).query_description("token introspection");
    let ev = &render(&described)[0];
    assert!(ev["entity"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["description"] == "token introspection"));
    let op = AuditRecord::operation(t0(), Some("Patient"), "$everything")
        .resource(ResourceRef::new("Patient", "p1"))
        .patient("p1");
    let ev = &render(&op)[0];
    assert!(has(
        &ev["subtype"],
        "http://hl7.org/fhir/restful-interaction",
        "operation"
    ));
    assert_eq!(ev["subtype"][1]["code"], "$everything");
    assert_eq!(ev["action"], "E");
    assert!(ev.get("meta").is_none(), "BALP has no operation profile");
    let logout = AuditRecord::new(t0(), Event::Logout).user(User::new("u1"));
    assert!(has(&render(&logout)[0]["subtype"], DCM, "110123"));

    let token_req = b"POST /token HTTP/1.1\nContent-Type: application/x-www-form-urlencoded\n\ngrant_type=authorization_code&code=SECRETCODE&code_verifier=SECRETVERIFIER&redirect_uri=x";
    let issued = AuditRecord::new(
        t0(),
        Event::TokenIssued {
            grant_type: Some("authorization_code".into()),
        },
    )
    .client(Client::new("app").address("10.0.0.1"))
    .query(RawRequest::token_request(token_req))
    .token(TokenRef::jti("new-jti"));
    let ev = &render(&issued)[0];
    assert!(has(&ev["subtype"], "urn:ihe:event-type-code", "ITI-71"));
    let q = B64
        .decode(entities_with_role(ev, "24")[0]["query"].as_str().unwrap())
        .unwrap();
    assert!(!String::from_utf8_lossy(&q).contains("SECRET"));
    assert!(serde_json::to_string(ev)
        .unwrap()
        .contains("urn:ietf:params:oauth:jti:new-jti"));

    let alert = AuditRecord::new(
        t0(),
        Event::SecurityAlert {
            alert: SecurityAlert::EmergencyOverrideStarted,
            description: Some("break-glass".into()),
        },
    )
    .user(User::new("u1"));
    let ev = &render(&alert)[0];
    assert!(has(&ev["type"], DCM, "110113") && has(&ev["subtype"], DCM, "110127"));
    assert_eq!(
        entities_with_role(ev, "13")[0]["description"],
        "break-glass"
    );

    let disclosure = AuditRecord::new(
        t0(),
        Event::Disclosure(Disclosure::new(
            Recipient::new("State Health Dept")
                .reference("Organization/sh")
                .network("registry.health.example.org"),
            "immunizations",
        )),
    )
    .patient("p1")
    .purpose("PUBHLTH");
    let ev = &render(&disclosure)[0];
    assert_eq!(
        ev["meta"]["profile"][0],
        format!("{PROFILE}IHE.BasicAudit.PrivacyDisclosure.Source")
    );
    assert!(has(&ev["type"], DCM, "110106"));
    assert!(has(
        &ev["subtype"],
        "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle",
        "disclose"
    ));
    assert_eq!(ev["action"], "R");
    // val-audit-source: the source agent is the observer.
    assert_eq!(agent(ev, DCM, "110153")["who"], ev["source"]["observer"]);
    assert_eq!(
        agent(ev, DCM, "110152")["who"]["reference"],
        "Organization/sh"
    );
    assert_eq!(entities_with_role(ev, "1").len(), 1);
}

#[test]
fn disclosure_report_renders_as_a_bundle_of_this_patients_events() {
    use fhir_audit::disclosure::{account, AccountingPolicy, AccountingRequest};
    let records = vec![AuditRecord::new(
        t0(),
        Event::Disclosure(Disclosure::new(
            Recipient::new("Court").reference("Organization/court"),
            "records",
        )),
    )
    .patient("p1")
    .patient("p2")
    .purpose("HLEGAL")];
    let report = account(
        &records,
        &AccountingRequest::new("p2", t0() + chrono::Duration::days(1)),
        &AccountingPolicy::default(),
    );
    assert_eq!(report.entries.len(), 1);
    let bundle = fhir_types::Resource::Bundle(Box::new(report.to_bundle(&config())));
    let bytes = fhir_types::json::to_vec(&bundle);
    fhir_types::json::parse_resource(&bytes).unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["type"], "collection");
    assert_eq!(v["entry"].as_array().unwrap().len(), 1);
    let text = serde_json::to_string(&v).unwrap();
    assert!(text.contains("Patient/p2") && !text.contains("Patient/p1"));
    // Also when the host renders one event for all patients: p2's accounting never names p1.
    let joint = report.to_bundle(&config().no_patient_split());
    let text = fhir_types::json::to_string(&fhir_types::Resource::Bundle(Box::new(joint)));
    assert!(
        text.contains("Patient/p2") && !text.contains("Patient/p1"),
        "{text}"
    );
}

#[test]
fn an_accounting_bundle_carries_no_raw_request() {
    // A public-health search named two patients; the host recorded it for each (BALP: each
    // event repeats the query). The raw request names the other one: p1's accounting keeps
    // the date, recipient and what was returned, not the bytes asked.
    use fhir_audit::disclosure::{account, AccountingPolicy, AccountingRequest};
    let request = b"GET /fhir/Observation?patient=p1,p2-mrn-4711 HTTP/1.1\nAccept: */*\n";
    let records = vec![
        AuditRecord::rest(t0(), Interaction::SearchType, Some("Observation"))
            .client(Client::new("registry").address("10.0.0.9"))
            .resource(fhir_audit::ResourceRef::new("Observation", "o1"))
            .query(RawRequest::from_bytes(request))
            .patient("p1")
            .purpose("PUBHLTH"),
    ];
    let mut policy = AccountingPolicy::default();
    policy.rest_access_as_disclosure = true;
    let report = account(
        &records,
        &AccountingRequest::new("p1", t0() + chrono::Duration::days(1)),
        &policy,
    );
    assert_eq!(report.entries.len(), 1);
    let bundle = fhir_types::Resource::Bundle(Box::new(report.to_bundle(&config())));
    let bytes = fhir_types::json::to_vec(&bundle);
    fhir_types::json::parse_resource(&bytes).unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    let ev = &v["entry"][0]["resource"];
    assert!(
        ev["entity"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("query").is_none()),
        "{ev}"
    );
    assert!(
        ev.get("meta").is_none(),
        "no BALP Query without its query: {ev}"
    );
    assert!(serde_json::to_string(&v)
        .unwrap()
        .contains("Observation/o1"));
}

#[test]
fn identical_records_at_one_instant_get_distinct_event_ids_from_their_record_ids() {
    let record = rest_record(Interaction::Read, Some("p1"));
    let id = |r: &AuditRecord| render(r)[0]["id"].clone();
    // Two requests alike in every recorded fact, at one instant, are two records: a feed
    // that deduplicates on AuditEvent.id (audit.md §6.2) must not merge them.
    let (a, b) = (
        record.clone().record_id("0f1e2d3c"),
        record.clone().record_id("4b5a6978"),
    );
    assert_ne!(id(&a), id(&b));
    // One record rendered again (a resend) keeps its ids, through the log too.
    let back = AuditRecord::from_log_bytes(&a.to_log_bytes().unwrap()).unwrap();
    assert_eq!(id(&back), id(&a));
    // A record without one keeps the log bytes (and ids) it had before record ids existed.
    assert!(!String::from_utf8(record.to_log_bytes().unwrap())
        .unwrap()
        .contains("record_id"));
}

#[test]
fn a_record_for_auditors_only_is_in_no_patients_compartment() {
    // An AuditEvent's patient search parameter covers entity.what and agent.who: a record
    // for auditors only names no patient and no Patient as its user.
    let with_user = |fhir_user: &str| {
        let mut user = User::new("u-1");
        user.fhir_user = Some(fhir_user.to_owned());
        AuditRecord::new(t0(), Event::Login)
            .user(user)
            .patient("123")
            .patient("456")
    };
    for patient_user in ["Patient/123", "https://fhir.example/r4/Patient/123"] {
        let r = with_user(patient_user).for_auditors_only();
        assert!(r.patients.is_empty());
        let user = r.user.as_ref().unwrap();
        assert_eq!((user.id.as_str(), user.fhir_user.as_deref()), ("u-1", None));
        for ev in render(&r) {
            assert!(!ev.to_string().contains("Patient/123"), "{ev}");
        }
    }
    let r = with_user("Practitioner/9").for_auditors_only();
    assert_eq!(r.user.unwrap().fhir_user.as_deref(), Some("Practitioner/9"));
}
