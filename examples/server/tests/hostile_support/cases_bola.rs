//! Cross-patient access (threats.md §3.1–3.2, 3.10, 3.13–3.14): Alice, holding a broad
//! `patient/*.rs` grant for her own launch, tries to reach the victim's records by id, by
//! search, by compartment and by path tricks. Reads answer the byte-identical 404 of a missing
//! id; searches naming the victim are refused; other searches are narrowed to Alice.

use super::{case, Case, Class, Expect};

const CP: Class = Class::CrossPatient;
const ALL: &str = "patient/*.rs";
const ALICE_OBS: &[&str] = &[
    "Observation/a-obs-1",
    "Observation/a-obs-2",
    "Observation/a-obs-lab",
];

fn hidden(name: &'static str, path: &'static str, twin: &'static str) -> Case {
    case(name, CP, Expect::Hidden(twin)).get(path).alice(ALL)
}

fn refused(name: &'static str, path: &'static str) -> Case {
    case(name, CP, Expect::Forbidden).get(path).alice(ALL)
}

fn narrowed(name: &'static str, path: &'static str, want: &'static [&'static str]) -> Case {
    case(name, CP, Expect::Entries(want)).get(path).alice(ALL)
}

/// The table.
pub fn cases() -> Vec<Case> {
    vec![
        case(
            "control.bola.own-observation-readable",
            CP,
            Expect::Ok(&["Observation/a-obs-1"]),
        )
        .get("/Observation/a-obs-1")
        .alice(ALL),
        // §3.1 direct read, vread, HEAD, instance history
        hidden(
            "bola.read.victim-patient-404",
            "/Patient/zz-b-bob",
            "/Patient/no-such-id",
        ),
        hidden(
            "bola.read.victim-observation-404",
            "/Observation/zz-b-obs-1",
            "/Observation/no-such-id",
        ),
        hidden(
            "bola.read.victim-lab-observation-404",
            "/Observation/zz-b-obs-lab",
            "/Observation/no-such-id",
        ),
        hidden(
            "bola.read.victim-condition-404",
            "/Condition/zz-b-cond-1",
            "/Condition/no-such-id",
        ),
        hidden(
            "bola.read.victim-encounter-404",
            "/Encounter/zz-b-enc-1",
            "/Encounter/no-such-id",
        ),
        hidden(
            "bola.read.victim-allergy-404",
            "/AllergyIntolerance/zz-b-allergy-1",
            "/AllergyIntolerance/no-such-id",
        ),
        hidden(
            "bola.read.victim-medication-request-404",
            "/MedicationRequest/zz-b-medrx-1",
            "/MedicationRequest/no-such-id",
        ),
        hidden(
            "bola.read.victim-diagnostic-report-404",
            "/DiagnosticReport/zz-b-dr-1",
            "/DiagnosticReport/no-such-id",
        ),
        hidden(
            "bola.read.focus-reference-confers-no-membership",
            "/Observation/zz-b-obs-focus",
            "/Observation/no-such-id",
        ),
        hidden(
            "bola.read.contained-patient-claiming-alice-confers-no-membership",
            "/Observation/zz-b-obs-contained",
            "/Observation/no-such-id",
        ),
        hidden(
            "bola.read.foreign-base-reference-confers-no-membership",
            "/Observation/zz-b-obs-foreign",
            "/Observation/no-such-id",
        ),
        hidden(
            "bola.vread.victim-404",
            "/Observation/zz-b-obs-1/_history/1",
            "/Observation/no-such-id/_history/1",
        ),
        hidden(
            "bola.history.instance-victim-404",
            "/Observation/zz-b-obs-1/_history",
            "/Observation/no-such-id/_history",
        ),
        case(
            "bola.head.victim-404",
            CP,
            Expect::Hidden("/Observation/no-such-id"),
        )
        .req("HEAD", "/Observation/zz-b-obs-1")
        .alice(ALL),
        hidden(
            "bola.read.victim-with-summary-404",
            "/Observation/zz-b-obs-1?_summary=true",
            "/Observation/no-such-id?_summary=true",
        ),
        hidden(
            "bola.read.victim-with-elements-404",
            "/Observation/zz-b-obs-1?_elements=id",
            "/Observation/no-such-id?_elements=id",
        ),
        // §3.2 searches naming the victim: refused for every value, existing or not
        refused(
            "bola.search.patient-param-victim-refused",
            "/Observation?patient=zz-b-bob",
        ),
        refused(
            "bola.search.patient-param-nonexistent-refused-alike",
            "/Observation?patient=nobody-at-all",
        ),
        refused(
            "bola.search.subject-param-victim-refused",
            "/Observation?subject=Patient/zz-b-bob",
        ),
        refused(
            "bola.search.subject-type-modifier-refused",
            "/Observation?subject:Patient=zz-b-bob",
        ),
        refused(
            "bola.search.absolute-reference-refused",
            "/Observation?subject=https://fhir.hostile.test/fhir/Patient/zz-b-bob",
        ),
        refused(
            "bola.search.versioned-reference-refused",
            "/Observation?subject=Patient/zz-b-bob/_history/1",
        ),
        refused(
            "bola.search.or-list-with-victim-refused",
            "/Observation?patient=alice,zz-b-bob",
        ),
        refused(
            "bola.search.repeated-param-with-victim-refused",
            "/Observation?patient=alice&patient=zz-b-bob",
        ),
        refused(
            "bola.search.encounter-patient-victim-refused",
            "/Encounter?patient=zz-b-bob",
        ),
        refused(
            "bola.search.allergy-patient-victim-refused",
            "/AllergyIntolerance?patient=zz-b-bob",
        ),
        refused(
            "bola.compartment.victim-observations-refused",
            "/Patient/zz-b-bob/Observation",
        ),
        refused(
            "bola.compartment.victim-conditions-refused",
            "/Patient/zz-b-bob/Condition",
        ),
        refused(
            "bola.compartment.nonexistent-patient-refused-alike",
            "/Patient/nobody-at-all/Observation",
        ),
        case(
            "bola.search.post-search-naming-victim-refused",
            CP,
            Expect::Forbidden,
        )
        .req("POST", "/Observation/_search")
        .alice(ALL)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("patient=zz-b-bob"),
        // Other searches are narrowed to Alice's compartment.
        narrowed(
            "bola.search.type-search-narrowed",
            "/Observation",
            ALICE_OBS,
        ),
        narrowed(
            "bola.search.own-patient-param",
            "/Observation?patient=alice",
            ALICE_OBS,
        ),
        narrowed(
            "bola.search.shared-code-narrowed",
            "/Observation?code=http://loinc.org|8867-4",
            &["Observation/a-obs-1"],
        ),
        narrowed(
            "bola.search.victim-only-code-empty",
            "/Observation?code=99999-9",
            &[],
        ),
        narrowed(
            "bola.search.id-list-narrowed",
            "/Observation?_id=a-obs-1,zz-b-obs-1",
            &["Observation/a-obs-1"],
        ),
        narrowed(
            "bola.search.victim-id-empty",
            "/Observation?_id=zz-b-obs-1",
            &[],
        ),
        narrowed(
            "bola.search.patient-type-narrowed",
            "/Patient",
            &["Patient/alice"],
        ),
        narrowed(
            "bola.search.patient-by-victim-birthdate-empty",
            "/Patient?birthdate=1970-07-07",
            &[],
        ),
        refused(
            "bola.search.patient-by-victim-id-refused",
            "/Patient?_id=zz-b-bob",
        ),
        refused(
            "bola.search.patient-by-nonexistent-id-refused-alike",
            "/Patient?_id=nobody-at-all",
        ),
        narrowed(
            "bola.search.category-narrowed",
            "/Observation?category=laboratory",
            &["Observation/a-obs-lab"],
        ),
        narrowed(
            "bola.search.date-narrowed",
            "/Observation?date=2026-01-02",
            &["Observation/a-obs-1", "Observation/a-obs-lab"],
        ),
        narrowed(
            "bola.search.condition-type-narrowed",
            "/Condition",
            &["Condition/a-cond-1"],
        ),
        case(
            "bola.search.elements-never-widen",
            CP,
            Expect::EntriesOr(ALICE_OBS, &[400]),
        )
        .get("/Observation?_elements=code")
        .alice(ALL),
        narrowed(
            "bola.compartment.own-observations",
            "/Patient/alice/Observation",
            ALICE_OBS,
        ),
        case(
            "bola.search.post-search-victim-id-empty",
            CP,
            Expect::Entries(&[]),
        )
        .req("POST", "/Observation/_search")
        .alice(ALL)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("_id=zz-b-obs-1"),
        // §3.10 existence oracles: counts cover only what the caller may see.
        case(
            "bola.oracle.summary-count-over-own-data",
            CP,
            Expect::Total(3),
        )
        .get("/Observation?_summary=count")
        .alice(ALL),
        case("bola.oracle.victim-code-count-zero", CP, Expect::Total(0))
            .get("/Observation?code=99999-9&_summary=count")
            .alice(ALL),
        case(
            "bola.oracle.total-accurate-over-own-data",
            CP,
            Expect::Entries(ALICE_OBS),
        )
        .get("/Observation?_total=accurate")
        .alice(ALL),
        // §3.14 path tricks: the exact normalised (type, id) or a refusal.
        case(
            "bola.path.double-slash-refused",
            CP,
            Expect::OneOf(&[400, 404]),
        )
        .get("//Observation/zz-b-obs-1")
        .alice(ALL),
        case(
            "bola.path.encoded-slash-refused",
            CP,
            Expect::OneOf(&[400, 404]),
        )
        .get("/Observation%2Fzz-b-obs-1")
        .alice(ALL),
        case(
            "bola.path.dot-segments-refused",
            CP,
            Expect::OneOf(&[400, 404]),
        )
        .get("/Patient/alice/../zz-b-bob")
        .alice(ALL),
        case(
            "bola.path.matrix-parameter-refused",
            CP,
            Expect::OneOf(&[400, 404]),
        )
        .get("/Observation/zz-b-obs-1;a=b")
        .alice(ALL),
        case("bola.path.mis-cased-type-unknown", CP, Expect::Status(404))
            .get("/observation/zz-b-obs-1")
            .alice(ALL),
        case(
            "bola.path.id-with-percent-encoding-refused",
            CP,
            Expect::OneOf(&[400, 404]),
        )
        .get("/Observation/zz-b%2Dobs-1")
        .alice(ALL),
        case(
            "bola.path.method-override-header-ignored",
            CP,
            Expect::Ok(&["Observation/a-obs-1"]),
        )
        .get("/Observation/a-obs-1")
        .alice(ALL)
        .header("X-HTTP-Method-Override", "DELETE")
        .after(|s, _| {
            let r = s.get("/Observation/a-obs-1", &s.alice(ALL))?;
            if r.status == 200 {
                Ok(())
            } else {
                Err(format!("override deleted it: {}", r.status))
            }
        }),
        // §3.15 tenant identity from headers is ignored.
        case(
            "bola.tenant.forwarded-host-headers-ignored",
            CP,
            Expect::Hidden("/Observation/no-such-id"),
        )
        .get("/Observation/zz-b-obs-1")
        .alice(ALL)
        .header("X-Forwarded-Host", "admin.internal")
        .header("X-Tenant-Id", "zz-b-bob"),
    ]
}
