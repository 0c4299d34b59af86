//! Side doors (threats.md §3.3–3.7, 3.12, 3.16) and batch/transaction smuggling (§3.5): every
//! path by which a resource can leave the server passes the same per-resource check.

use serde_json::{json, Value};

use super::{case, Case, Class, Expect};

const SD: Class = Class::SideDoor;
const BS: Class = Class::BatchSmuggling;
const ALL: &str = "patient/*.rs";
const RW: &str = "patient/*.cruds";
/// A feature refused up front: 400 when the server does not support it (`_has`, chains,
/// some includes), 403 when the token may not use it. Both are safe (smart.md §12.6–12.7).
const UNSUPPORTED_OR_REFUSED: &[u16] = &[400, 403];

fn side(name: &'static str, path: &'static str, expect: Expect) -> Case {
    case(name, SD, expect).get(path).alice(ALL)
}

fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": kind, "entry": entries})
}

fn get(url: &str) -> Value {
    json!({"request": {"method": "GET", "url": url}})
}

fn obs(id: Option<&str>, subject: &str, code: &str) -> Value {
    let mut v = json!({
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": subject}
    });
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    v
}

fn batch(
    name: &'static str,
    scope: &'static str,
    entries: Vec<Value>,
    want: &'static [u16],
) -> Case {
    case(name, BS, Expect::Batch(want))
        .req("POST", "")
        .alice(scope)
        .json(bundle("batch", entries))
}

/// The victim's secret Observation must still be there, unchanged.
pub fn victim_intact(s: &super::Server, _: &super::server::Response) -> Result<(), String> {
    let r = s.get("/Observation/zz-b-obs-secret", &s.victim("patient/*.rs"))?;
    let v = r.json().unwrap_or(Value::Null);
    if r.status != 200
        || v["subject"]["reference"] != "Patient/zz-b-bob"
        || v["meta"]["versionId"] != "1"
    {
        return Err(format!(
            "the victim's Observation was changed: {} {}",
            r.status,
            r.text()
        ));
    }
    Ok(())
}

/// The table.
pub fn cases() -> Vec<Case> {
    vec![
        // §3.3 includes
        side("control.side.include-own-subject", "/Observation?_include=Observation:subject", Expect::Ok(&["Patient/alice", "Observation/a-obs-1"])),
        side("side.revinclude.observations-of-own-patient-only", "/Patient?_revinclude=Observation:subject",
            Expect::Entries(&["Patient/alice", "Observation/a-obs-1", "Observation/a-obs-2", "Observation/a-obs-lab"])),
        side("side.revinclude.focus-reference-not-followed", "/Patient?_revinclude=Observation:focus", Expect::EntriesOr(&["Patient/alice"], UNSUPPORTED_OR_REFUSED)),
        side("side.include.iterate-cannot-leave-compartment", "/DiagnosticReport?_include=DiagnosticReport:result&_include:iterate=Observation:subject", Expect::EntriesOr(&[], UNSUPPORTED_OR_REFUSED)),
        side("side.include.wildcard-authorized-per-resource", "/Observation?_include=*", Expect::OneOf(&[200, 400, 403])),
        side("side.revinclude.shared-practitioner-does-not-pull-victim", "/Practitioner?_revinclude=Patient:general-practitioner", Expect::OneOf(&[200, 403])),
        side("side.include.shared-practitioner-of-own-patient", "/Patient?_include=Patient:general-practitioner", Expect::Ok(&["Patient/alice"])),
        side("side.include.on-later-page-still-authorized", "/Observation?_count=1&_include=Observation:subject", Expect::Ok(&["Patient/alice"])),
        side("side.revinclude.diagnostic-report-of-victim-observation", "/Observation?_revinclude=DiagnosticReport:result", Expect::EntriesOr(&["Observation/a-obs-1", "Observation/a-obs-2", "Observation/a-obs-lab"], UNSUPPORTED_OR_REFUSED)),
        // §3.4 chains and _has: no predicate on data the caller may not see
        side("side.chain.on-victim-attribute-finds-nothing", "/Observation?subject:Patient.gender=male", Expect::EntriesOr(&[], UNSUPPORTED_OR_REFUSED)),
        side("side.chain.on-victim-birthdate-finds-nothing", "/Observation?subject:Patient.birthdate=1970-07-07", Expect::EntriesOr(&[], UNSUPPORTED_OR_REFUSED)),
        side("side.chain.through-ungranted-type-refused", "/Observation?encounter.status=finished", Expect::EntriesOr(&[], UNSUPPORTED_OR_REFUSED)),
        side("side.has.victim-only-code-is-no-oracle", "/Patient?_has:Observation:subject:code=99999-9", Expect::EntriesOr(&[], UNSUPPORTED_OR_REFUSED)),
        side("side.has.shared-code-returns-only-own-patient", "/Patient?_has:Observation:subject:code=8867-4", Expect::EntriesOr(&["Patient/alice"], UNSUPPORTED_OR_REFUSED)),
        side("side.has.through-victim-report-is-no-oracle", "/Observation?_has:DiagnosticReport:result:status=final", Expect::EntriesOr(&[], UNSUPPORTED_OR_REFUSED)),
        side("side.filter-parameter-refused", "/Observation?_filter=subject%20eq%20Patient/zz-b-bob", Expect::Status(400)),
        side("side.query-parameter-refused", "/Observation?_query=everything", Expect::Status(400)),
        side("side.contained-search-refused", "/Observation?_contained=true", Expect::Status(400)),
        side("side.unknown-parameter-refused", "/Observation?no-such-param=1", Expect::Status(400)),
        // §3.6 history
        side("side.history.type-level-filtered", "/Observation/_history", Expect::EntriesOr(&["Observation/a-obs-1", "Observation/a-obs-2", "Observation/a-obs-lab"], &[403])),
        side("side.history.system-level-filtered", "/_history", Expect::OneOf(&[200, 403])),
        // §3.7 operations
        side("side.everything.victim-404", "/Patient/zz-b-bob/$everything", Expect::Hidden("/Patient/no-such-id/$everything")),
        side("side.everything.own-stays-in-compartment", "/Patient/alice/$everything", Expect::Ok(&["Patient/alice", "Observation/a-obs-1", "Condition/a-cond-1"])),
        side("side.operation.graphql-denied", "/$graphql?query=%7BObservationList%7Bid%7D%7D", Expect::OneOf(&[403, 404, 405])),
        side("side.operation.export-denied-to-patient-scopes", "/$export", Expect::OneOf(&[403, 404])),
        side("side.operation.patient-export-denied", "/Patient/$export", Expect::OneOf(&[403, 404])),
        side("side.operation.group-export-denied", "/Group/g1/$export", Expect::OneOf(&[403, 404])),
        side("side.operation.unknown-instance-operation-denied", "/Observation/zz-b-obs-1/$custom-op", Expect::OneOf(&[403, 404, 405])),
        side("side.operation.meta-of-victim-hidden", "/Observation/zz-b-obs-1/$meta", Expect::OneOf(&[403, 404, 405])),
        side("side.operation.disclosures-of-victim-refused", "/Patient/zz-b-bob/$disclosures", Expect::OneOf(&[403, 404])),
        // §3.12 type-less requests go through the same rules
        side("side.system-search-narrowed", "/?_type=Observation", Expect::EntriesOr(&["Observation/a-obs-1", "Observation/a-obs-2", "Observation/a-obs-lab"], &[403, 405])),
        side("side.system-search-naming-victim-refused", "/?_type=Observation&patient=zz-b-bob", Expect::OneOf(&[400, 403, 405])),
        // §3.5 batch and transaction: each entry authorized as the standalone request
        batch("control.batch.own-read", ALL, vec![get("Patient/alice")], &[200]),
        batch("batch.victim-read-entry-404", ALL, vec![get("Observation/a-obs-1"), get("Observation/zz-b-obs-1")], &[200, 404]),
        batch("batch.victim-search-entry-refused", ALL, vec![get("Observation?patient=zz-b-bob")], &[403]),
        batch("batch.victim-compartment-entry-refused", ALL, vec![get("Patient/zz-b-bob/Observation")], &[403]),
        batch("batch.victim-everything-entry-404", ALL, vec![get("Patient/zz-b-bob/$everything")], &[404]),
        batch("batch.victim-history-entry-404", ALL, vec![get("Observation/zz-b-obs-1/_history")], &[404]),
        batch("batch.victim-update-entry-refused", RW, vec![json!({
            "resource": obs(Some("zz-b-obs-secret"), "Patient/alice", "8867-4"),
            "request": {"method": "PUT", "url": "Observation/zz-b-obs-secret"}
        })], &[403])
        .after(victim_intact),
        batch("batch.victim-delete-entry-refused", RW, vec![json!({"request": {"method": "DELETE", "url": "Observation/zz-b-obs-secret"}})], &[403])
        .after(victim_intact),
        case("batch.conditional-delete-entry-cannot-match-victim", BS, Expect::Status(200))
            .req("POST", "")
            .alice(RW)
            .json(bundle("batch", vec![json!({"request": {"method": "DELETE", "url": "Observation?code=99999-9"}})]))
            .after(victim_intact),
        batch("batch.auditevent-create-entry-refused", "patient/*.*", vec![json!({
            "resource": {"resourceType": "AuditEvent", "type": {"code": "rest"}, "recorded": "2026-01-01T00:00:00Z",
                "agent": [{"requestor": true}], "source": {"observer": {"display": "x"}}},
            "request": {"method": "POST", "url": "AuditEvent"}
        })], &[403]),
        batch("batch.nested-bundle-entry-refused", RW, vec![json!({
            "resource": bundle("batch", vec![json!({"request": {"method": "DELETE", "url": "Observation/zz-b-obs-secret"}})]),
            "request": {"method": "POST", "url": "Bundle"}
        })], &[403])
        .after(victim_intact),
        case("transaction.one-refused-entry-fails-all-atomically", BS, Expect::Forbidden)
            .req("POST", "")
            .alice(RW)
            .json(bundle("transaction", vec![
                json!({"resource": obs(None, "Patient/alice", "77777-7"), "request": {"method": "POST", "url": "Observation"}}),
                json!({"resource": obs(Some("zz-b-obs-secret"), "Patient/alice", "8867-4"), "request": {"method": "PUT", "url": "Observation/zz-b-obs-secret"}}),
            ]))
            .after(|s, r| {
                victim_intact(s, r)?;
                let own = s.get("/Observation?code=77777-7", &s.alice(ALL))?;
                let n = own.json().map(|v| super::check::entry_ids(&v).len()).unwrap_or(99);
                if n == 0 { Ok(()) } else { Err("the transaction was partly applied".to_owned()) }
            }),
        case("transaction.entry-moving-own-resource-to-victim-refused", BS, Expect::Forbidden)
            .req("POST", "")
            .alice(RW)
            .json(bundle("transaction", vec![json!({
                "resource": obs(Some("a-obs-2"), "Patient/zz-b-bob", "29463-7"),
                "request": {"method": "PUT", "url": "Observation/a-obs-2"}
            })])),
        case("batch.collection-posted-to-base-refused", BS, Expect::Status(400))
            .req("POST", "")
            .alice(ALL)
            .json(bundle("collection", vec![get("Patient/alice")])),
        case("batch.searchset-posted-to-base-refused", BS, Expect::Status(400))
            .req("POST", "")
            .alice(ALL)
            .json(bundle("searchset", vec![])),
        case("batch.entry-with-foreign-absolute-url-not-fetched", Class::Ssrf, Expect::Batch(&[400]))
            .req("POST", "")
            .alice(ALL)
            .json(bundle("batch", vec![get("{SSRF}/fhir/Patient/alice")])),
    ]
}
