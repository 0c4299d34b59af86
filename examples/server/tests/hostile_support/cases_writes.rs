//! Write paths (threats.md §3.8–3.9, 3.11, 3.17; §9 AuditEvent): hijacking another patient's
//! resource, moving one's own into another compartment, conditional operations that match
//! out of scope, alternate verbs, server-owned fields, and writes to the audit trail.

use serde_json::{json, Value};

use super::cases_ops::victim_intact;
use super::{case, Case, Class, Expect};

const WP: Class = Class::WritePath;
const RW: &str = "patient/*.cruds";

fn obs(id: Option<&str>, subject: &str) -> Value {
    let mut v = json!({
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": subject}
    });
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    v
}

fn audit_event() -> Value {
    json!({
        "resourceType": "AuditEvent", "id": "forged",
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
        "recorded": "2020-01-01T00:00:00Z", "outcome": "0",
        "agent": [{"requestor": true, "who": {"reference": "Patient/alice"}}],
        "source": {"observer": {"display": "forged"}}
    })
}

const PATCH: &str = "application/json-patch+json";

/// The table.
pub fn cases() -> Vec<Case> {
    vec![
        case("control.write.create-own-observation", WP, Expect::Status(201))
            .req("POST", "/Observation")
            .alice(RW)
            .json(obs(None, "Patient/alice")),
        case("write.update-victim-resource-refused", WP, Expect::Forbidden)
            .req("PUT", "/Observation/zz-b-obs-secret")
            .alice(RW)
            .json(obs(Some("zz-b-obs-secret"), "Patient/alice"))
            .after(victim_intact),
        case("write.update-moving-own-resource-to-victim-refused", WP, Expect::Forbidden)
            .req("PUT", "/Observation/a-obs-2")
            .alice(RW)
            .json(obs(Some("a-obs-2"), "Patient/zz-b-bob")),
        case("write.create-for-victim-refused", WP, Expect::Forbidden)
            .req("POST", "/Observation")
            .alice(RW)
            .json(obs(None, "Patient/zz-b-bob")),
        case("write.create-victim-condition-refused", WP, Expect::Forbidden)
            .req("POST", "/Condition")
            .alice(RW)
            .json(json!({"resourceType": "Condition", "subject": {"reference": "Patient/zz-b-bob"}})),
        case("write.delete-victim-resource-refused", WP, Expect::Forbidden)
            .req("DELETE", "/Observation/zz-b-obs-secret")
            .alice(RW)
            .after(victim_intact),
        case("write.patch-victim-resource-refused", WP, Expect::Forbidden)
            .req("PATCH", "/Observation/zz-b-obs-secret")
            .alice(RW)
            .header("Content-Type", PATCH)
            .body(r#"[{"op":"replace","path":"/status","value":"entered-in-error"}]"#)
            .after(victim_intact),
        case("write.patch-moving-own-resource-to-victim-refused", WP, Expect::Forbidden)
            .req("PATCH", "/Observation/a-obs-2")
            .alice(RW)
            .header("Content-Type", PATCH)
            .body(r#"[{"op":"replace","path":"/subject/reference","value":"Patient/zz-b-bob"}]"#),
        case("write.patch-changing-id-refused", WP, Expect::OneOf(&[400, 403, 422]))
            .req("PATCH", "/Observation/a-obs-2")
            .alice(RW)
            .header("Content-Type", PATCH)
            .body(r#"[{"op":"replace","path":"/id","value":"zz-b-obs-secret"}]"#)
            .after(victim_intact),
        case("write.post-to-instance-with-override-header-not-a-delete", WP, Expect::OneOf(&[400, 404, 405]))
            .req("POST", "/Observation/zz-b-obs-secret")
            .alice(RW)
            .header("X-HTTP-Method-Override", "DELETE")
            .after(victim_intact),
        case("write.update-id-mismatch-refused", WP, Expect::Status(400))
            .req("PUT", "/Observation/a-obs-1")
            .alice(RW)
            .json(obs(Some("zz-b-obs-secret"), "Patient/alice"))
            .after(victim_intact),
        case("write.update-type-mismatch-refused", WP, Expect::Status(400))
            .req("PUT", "/Observation/a-obs-1")
            .alice(RW)
            .json(json!({"resourceType": "Condition", "id": "a-obs-1", "subject": {"reference": "Patient/alice"}})),
        case("write.update-without-body-id-refused", WP, Expect::Status(400))
            .req("PUT", "/Observation/a-obs-1")
            .alice(RW)
            .json(obs(None, "Patient/alice")),
        case("write.conditional-update-cannot-match-victim", WP, Expect::OneOf(&[201, 403, 405, 412]))
            .req("PUT", "/Observation?code=99999-9")
            .alice(RW)
            .json(obs(None, "Patient/alice"))
            .after(victim_intact),
        case("write.conditional-delete-cannot-match-victim", WP, Expect::OneOf(&[200, 204, 403, 404, 405]))
            .req("DELETE", "/Observation?code=99999-9")
            .alice(RW)
            .after(victim_intact),
        case("write.conditional-patch-cannot-match-victim", WP, Expect::OneOf(&[403, 404, 405, 412]))
            .req("PATCH", "/Observation?code=99999-9")
            .alice(RW)
            .header("Content-Type", PATCH)
            .body(r#"[{"op":"replace","path":"/status","value":"entered-in-error"}]"#)
            .after(victim_intact),
        case("write.conditional-create-does-not-return-victim-body", WP, Expect::OneOf(&[201, 403]))
            .req("POST", "/Observation")
            .alice("patient/Observation.c")
            .header("If-None-Exist", "code=99999-9")
            .json(obs(None, "Patient/alice")),
        case("write.server-assigns-id-and-meta", WP, Expect::Status(201))
            .req("POST", "/Observation")
            .alice(RW)
            .json({
                let mut v = obs(Some("zz-client-chosen"), "Patient/alice");
                v["meta"] = json!({"versionId": "999", "lastUpdated": "1990-01-01T00:00:00Z"});
                v
            })
            .after(|_, r| {
                let v = r.json().unwrap_or(Value::Null);
                let location = r.header("location").unwrap_or_default().to_owned();
                if location.contains("zz-client-chosen") || v["id"] == "zz-client-chosen" {
                    return Err("the client chose the id of a created resource".to_owned());
                }
                if v["meta"]["versionId"] == "999" || v["meta"]["lastUpdated"] == "1990-01-01T00:00:00Z" {
                    return Err("the client set server-owned meta".to_owned());
                }
                Ok(())
            }),
        case("write.patient-link-to-victim-does-not-widen-access", WP, Expect::OneOf(&[200, 403]))
            .req("PUT", "/Patient/alice")
            .alice(RW)
            .json(json!({"resourceType": "Patient", "id": "alice", "name": [{"family": "Anders"}],
                "link": [{"other": {"reference": "Patient/zz-b-bob"}, "type": "seealso"}]}))
            // Alice's own write names the victim's id and may be echoed back.
            .markers(&[super::CANARY])
            .after(|s, _| {
                let r = s.get("/Observation/zz-b-obs-1", &s.alice("patient/*.rs"))?;
                if r.status == 404 { Ok(()) } else { Err(format!("the link widened access: {}", r.status)) }
            }),
        // §9 the audit trail is append-only through the API.
        case("write.auditevent-create-refused", WP, Expect::Forbidden)
            .req("POST", "/AuditEvent")
            .alice("patient/*.*")
            .json(audit_event()),
        case("write.auditevent-update-refused", WP, Expect::Forbidden)
            .req("PUT", "/AuditEvent/forged")
            .alice("patient/*.*")
            .json(audit_event()),
        case("write.auditevent-delete-refused", WP, Expect::Forbidden)
            .req("DELETE", "/AuditEvent/forged")
            .alice("patient/*.*"),
        case("write.auditevent-patch-refused", WP, Expect::Forbidden)
            .req("PATCH", "/AuditEvent/forged")
            .alice("patient/*.*")
            .header("Content-Type", PATCH)
            .body(r#"[{"op":"remove","path":"/agent"}]"#),
        case("write.auditevent-conditional-delete-refused", WP, Expect::Forbidden)
            .req("DELETE", "/AuditEvent?patient=alice")
            .alice("patient/*.*"),
        case("write.auditevent-user-scope-still-refused", WP, Expect::Forbidden)
            .req("POST", "/AuditEvent")
            .alice("user/*.*")
            .json(audit_event()),
    ]
}
