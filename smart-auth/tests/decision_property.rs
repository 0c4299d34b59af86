//! Property: over random fixtures of several patients with cross-references (subject, performer,
//! focus, beneficiary/subscriber/payor, DiagnosticReport.result, Provenance.target, Patient.link
//! of every link type, absolute, foreign and versioned references), no sequence of requests under
//! a `patient/` token returns a resource outside that patient's compartment, and nothing inside
//! it is lost. Both link policies run: links not followed (the default), and links of two types
//! followed (a Patient record linking to the launch patient is then in its compartment, one way
//! and for reads only; a record the launch patient's own record links to never is).
//!
//! The host in this test is deliberately naive: it ignores every narrowing and hands the permit
//! all stored resources of the requested types, so only the decision and the result checks stand
//! between the store and the client. Membership is judged by an independent, deliberately simple
//! reference model written from the R4 Patient CompartmentDefinition for these few types.

use fhir_types::codes::LinkType;
use fhir_types::Resource;
use proptest::prelude::*;
use serde_json::{json, Value};
use smart_auth::decision::{Authorizer, DecisionPolicy, Denial};
use smart_auth::testing::policy::{context, request};

const BASE: &str = "https://ehr.example/fhir";
const PATIENTS: [&str; 4] = ["p0", "p1", "p2", "p3"];

#[derive(Debug, Clone)]
enum Ref {
    Patient(usize),
    PatientAbsolute(usize),
    PatientForeign(usize),
    PatientVersioned(usize),
    Practitioner,
    Other(usize),
}

impl Ref {
    fn render(&self) -> String {
        match self {
            Ref::Patient(i) => format!("Patient/{}", PATIENTS[*i]),
            Ref::PatientAbsolute(i) => format!("{BASE}/Patient/{}", PATIENTS[*i]),
            Ref::PatientForeign(i) => {
                format!("https://elsewhere.example/fhir/Patient/{}", PATIENTS[*i])
            }
            Ref::PatientVersioned(i) => format!("Patient/{}/_history/1", PATIENTS[*i]),
            Ref::Practitioner => "Practitioner/dr".to_owned(),
            Ref::Other(i) => format!("Observation/r{i}"),
        }
    }

    /// Reference model: does this reference point at `Patient/p` on this server?
    fn is_patient(&self, p: &str) -> bool {
        match self {
            Ref::Patient(i) | Ref::PatientAbsolute(i) | Ref::PatientVersioned(i) => {
                PATIENTS[*i] == p
            }
            Ref::PatientForeign(_) | Ref::Practitioner | Ref::Other(_) => false,
        }
    }

    fn json(&self) -> Value {
        json!({ "reference": self.render() })
    }
}

/// The link types followed under the second policy.
const FOLLOWED: [LinkType; 2] = [LinkType::Seealso, LinkType::ReplacedBy];

#[derive(Debug, Clone)]
enum Fixture {
    Patient {
        link: Option<(Ref, LinkType)>,
    },
    Observation {
        subject: Option<Ref>,
        performer: Vec<Ref>,
        focus: Vec<Ref>,
    },
    Coverage {
        beneficiary: Ref,
        subscriber: Option<Ref>,
        payor: Ref,
    },
    DiagnosticReport {
        subject: Option<Ref>,
        result: Vec<usize>,
    },
    Provenance {
        target: Vec<Ref>,
    },
    Encounter {
        subject: Option<Ref>,
    },
    Practitioner,
}

impl Fixture {
    fn type_name(&self) -> &'static str {
        match self {
            Fixture::Patient { .. } => "Patient",
            Fixture::Observation { .. } => "Observation",
            Fixture::Coverage { .. } => "Coverage",
            Fixture::DiagnosticReport { .. } => "DiagnosticReport",
            Fixture::Provenance { .. } => "Provenance",
            Fixture::Encounter { .. } => "Encounter",
            Fixture::Practitioner => "Practitioner",
        }
    }

    /// Reference model of Patient-compartment membership (CompartmentDefinition R4; focus,
    /// result and non-patient targets never count). `follow`: the link types followed (a
    /// Patient whose own link of such a type points at `p` is in `p`'s compartment).
    fn in_compartment_with(&self, id: &str, p: &str, follow: &[LinkType]) -> bool {
        match self {
            Fixture::Patient { link } => {
                id == p
                    || link
                        .as_ref()
                        .is_some_and(|(r, t)| follow.contains(t) && r.is_patient(p))
            }
            Fixture::Observation {
                subject, performer, ..
            } => subject.iter().chain(performer).any(|r| r.is_patient(p)),
            Fixture::Coverage {
                beneficiary,
                subscriber,
                payor,
            } => {
                beneficiary.is_patient(p)
                    || payor.is_patient(p)
                    || subscriber.as_ref().is_some_and(|r| r.is_patient(p))
            }
            Fixture::DiagnosticReport { subject, .. } | Fixture::Encounter { subject } => {
                subject.as_ref().is_some_and(|r| r.is_patient(p))
            }
            Fixture::Provenance { target } => target.iter().any(|r| r.is_patient(p)),
            Fixture::Practitioner => false,
        }
    }

    /// Membership without following links: what writes are judged on.
    fn in_compartment(&self, id: &str, p: &str) -> bool {
        self.in_compartment_with(id, p, &[])
    }

    /// What a write confined to `p` may store or change: in `p`'s compartment and in no other
    /// patient's (a second patient reference would put it in their record too).
    fn only_in_compartment(&self, id: &str, p: &str) -> bool {
        self.in_compartment(id, p)
            && PATIENTS
                .iter()
                .all(|q| *q == p || !self.in_compartment(id, q))
    }

    fn to_json(&self, id: &str) -> Value {
        let refs = |v: &[Ref]| Value::Array(v.iter().map(Ref::json).collect());
        let code = json!({"text": "t"});
        let mut j = match self {
            Fixture::Patient { link } => match link {
                Some((l, t)) => {
                    json!({"resourceType": "Patient", "link": [{"other": l.json(), "type": t.as_str()}]})
                }
                None => json!({"resourceType": "Patient"}),
            },
            Fixture::Observation {
                subject,
                performer,
                focus,
            } => {
                let mut o = json!({"resourceType": "Observation", "status": "final", "code": code});
                if let Some(s) = subject {
                    o["subject"] = s.json();
                }
                if !performer.is_empty() {
                    o["performer"] = refs(performer);
                }
                if !focus.is_empty() {
                    o["focus"] = refs(focus);
                }
                o
            }
            Fixture::Coverage {
                beneficiary,
                subscriber,
                payor,
            } => {
                let mut c = json!({"resourceType": "Coverage", "status": "active", "beneficiary": beneficiary.json(), "payor": [payor.json()]});
                if let Some(s) = subscriber {
                    c["subscriber"] = s.json();
                }
                c
            }
            Fixture::DiagnosticReport { subject, result } => {
                let mut d =
                    json!({"resourceType": "DiagnosticReport", "status": "final", "code": code});
                if let Some(s) = subject {
                    d["subject"] = s.json();
                }
                if !result.is_empty() {
                    d["result"] =
                        Value::Array(result.iter().map(|i| Ref::Other(*i).json()).collect());
                }
                d
            }
            Fixture::Provenance { target } => json!({
                "resourceType": "Provenance", "target": refs(target), "recorded": "2020-01-01T00:00:00Z",
                "agent": [{"who": {"reference": "Practitioner/dr"}}]
            }),
            Fixture::Encounter { subject } => {
                let mut e = json!({"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}});
                if let Some(s) = subject {
                    e["subject"] = s.json();
                }
                e
            }
            Fixture::Practitioner => json!({"resourceType": "Practitioner"}),
        };
        j["id"] = json!(id);
        j
    }
}

fn arb_ref() -> impl Strategy<Value = Ref> {
    prop_oneof![
        4 => (0..4usize).prop_map(Ref::Patient),
        1 => (0..4usize).prop_map(Ref::PatientAbsolute),
        1 => (0..4usize).prop_map(Ref::PatientForeign),
        1 => (0..4usize).prop_map(Ref::PatientVersioned),
        1 => Just(Ref::Practitioner),
        1 => (0..12usize).prop_map(Ref::Other),
    ]
}

fn arb_link() -> impl Strategy<Value = (Ref, LinkType)> {
    (arb_ref(), prop::sample::select(LinkType::ALL.to_vec()))
}

fn arb_fixture() -> impl Strategy<Value = Fixture> {
    let refs = || prop::collection::vec(arb_ref(), 0..3);
    prop_oneof![
        3 => (prop::option::of(arb_ref()), refs(), refs()).prop_map(|(subject, performer, focus)| Fixture::Observation { subject, performer, focus }),
        1 => (arb_ref(), prop::option::of(arb_ref()), arb_ref()).prop_map(|(beneficiary, subscriber, payor)| Fixture::Coverage { beneficiary, subscriber, payor }),
        1 => (prop::option::of(arb_ref()), prop::collection::vec(0..12usize, 0..3)).prop_map(|(subject, result)| Fixture::DiagnosticReport { subject, result }),
        1 => prop::collection::vec(arb_ref(), 1..3).prop_map(|target| Fixture::Provenance { target }),
        1 => prop::option::of(arb_ref()).prop_map(|subject| Fixture::Encounter { subject }),
        1 => Just(Fixture::Practitioner),
    ]
}

/// The store: four patients (some linked to others) and random other resources `r0..`.
fn arb_store() -> impl Strategy<Value = Vec<(String, Fixture)>> {
    (
        prop::collection::vec(prop::option::of(arb_link()), 4),
        prop::collection::vec(arb_fixture(), 4..12),
    )
        .prop_map(|(links, rest)| {
            let mut store: Vec<(String, Fixture)> = links
                .into_iter()
                .enumerate()
                .map(|(i, link)| (PATIENTS[i].to_owned(), Fixture::Patient { link }))
                .collect();
            store.extend(
                rest.into_iter()
                    .enumerate()
                    .map(|(i, f)| (format!("r{i}"), f)),
            );
            store
        })
}

#[derive(Debug, Clone)]
enum Step {
    Read(usize),
    Search(&'static str, &'static str),
    Everything(usize),
    CompartmentSearch(usize, &'static str),
    History(&'static str),
    SystemSearch,
    Update(usize, Ref),
    /// `PUT Patient/pN` with a new (or no) link.
    Relink(usize, Option<(Ref, LinkType)>),
}

const TYPES: [&str; 7] = [
    "Patient",
    "Observation",
    "Coverage",
    "DiagnosticReport",
    "Provenance",
    "Encounter",
    "Practitioner",
];
const QUERIES: [&str; 4] = [
    "",
    "?_include=DiagnosticReport:result",
    "?_revinclude=Provenance:target",
    "?_include=*",
];

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..16usize).prop_map(Step::Read),
        3 => (prop::sample::select(TYPES.to_vec()), prop::sample::select(QUERIES.to_vec())).prop_map(|(t, q)| Step::Search(t, q)),
        1 => (0..5usize).prop_map(Step::Everything),
        1 => (0..5usize, prop::sample::select(TYPES.to_vec())).prop_map(|(p, t)| Step::CompartmentSearch(p, t)),
        1 => prop::sample::select(TYPES.to_vec()).prop_map(Step::History),
        1 => Just(Step::SystemSearch),
        2 => (0..16usize, arb_ref()).prop_map(|(i, r)| Step::Update(i, r)),
        1 => (0..4usize, prop::option::of(arb_link())).prop_map(|(i, l)| Step::Relink(i, l)),
    ]
}

const SCOPES: [&str; 4] = [
    "patient/*.cruds",
    "patient/*.read patient/*.write",
    "patient/*.rs patient/Observation.u",
    "patient/Observation.rs patient/DiagnosticReport.rs patient/Patient.r",
];

fn parse(v: &Value) -> Resource {
    fhir_types::json::parse_resource(v.to_string().as_bytes()).expect("fixture parses")
}

fn bundle(entries: &[(&str, &Value)]) -> Resource {
    let entry: Vec<Value> = entries
        .iter()
        .map(|(mode, r)| json!({"resource": r, "search": {"mode": mode}}))
        .collect();
    if entry.is_empty() {
        // FHIR JSON has no empty arrays.
        return parse(&json!({"resourceType": "Bundle", "type": "searchset"}));
    }
    parse(&json!({"resourceType": "Bundle", "type": "searchset", "entry": entry}))
}

/// Runs one step as the naive host and returns the `(type, id)` of what left the server.
fn run(
    a: &Authorizer,
    follow: &[LinkType],
    scopes: &str,
    patient: &str,
    store: &[(String, Fixture)],
    step: &Step,
) -> Vec<(String, String)> {
    let ctx = context(scopes, Some(patient), None);
    let all: Vec<(&str, Value)> = store
        .iter()
        .map(|(id, f)| (f.type_name(), f.to_json(id)))
        .collect();
    let of_type = |t: &str| {
        all.iter()
            .filter(|(ty, _)| *ty == t)
            .map(|(_, v)| v)
            .collect::<Vec<_>>()
    };
    let returned = |r: &Resource| -> Vec<(String, String)> {
        match r {
            Resource::Bundle(b) => b
                .entry
                .iter()
                .filter_map(|e| e.resource.as_ref())
                .map(|r| {
                    (
                        r.resource_type().to_string(),
                        r.id().unwrap_or("").to_owned(),
                    )
                })
                .collect(),
            r => vec![(
                r.resource_type().to_string(),
                r.id().unwrap_or("").to_owned(),
            )],
        }
    };
    let search_all = |line: &str, matches: Vec<&Value>| -> Vec<(String, String)> {
        let Ok(permit) = a.decide(&ctx, &request(line)).into_result() else {
            return Vec::new();
        };
        // Naive host: every stored resource of the type, plus everything else as includes.
        let mut entries: Vec<(&str, &Value)> = matches.iter().map(|v| ("match", *v)).collect();
        if line.contains("_include") || line.contains("_revinclude") {
            entries.extend(all.iter().map(|(_, v)| ("include", v)));
        }
        let mut b = bundle(&entries);
        permit
            .filter_result(&mut b)
            .expect("bundles are filtered, not refused");
        returned(&b)
    };
    match step {
        Step::Read(i) => {
            let Some((id, f)) = store.get(*i) else {
                return Vec::new();
            };
            let Ok(permit) = a
                .decide(&ctx, &request(&format!("GET {}/{id}", f.type_name())))
                .into_result()
            else {
                return Vec::new();
            };
            let r = parse(&f.to_json(id));
            match permit.check_resource(&r) {
                Ok(()) => returned(&r),
                Err(d) => {
                    assert_eq!(
                        d,
                        Denial::not_found(),
                        "a refused read must look like a missing resource"
                    );
                    Vec::new()
                }
            }
        }
        Step::Search(t, q) => search_all(&format!("GET {t}{q}"), of_type(t)),
        Step::Everything(p) => {
            let p = PATIENTS.get(*p).copied().unwrap_or("nobody");
            search_all(
                &format!("GET Patient/{p}/$everything"),
                all.iter().map(|(_, v)| v).collect(),
            )
        }
        Step::CompartmentSearch(p, t) => {
            let p = PATIENTS.get(*p).copied().unwrap_or("nobody");
            search_all(&format!("GET Patient/{p}/{t}"), of_type(t))
        }
        Step::History(t) => search_all(&format!("GET {t}/_history"), of_type(t)),
        Step::SystemSearch => search_all(
            "GET ?_type=Observation,Coverage,Provenance",
            all.iter().map(|(_, v)| v).collect(),
        ),
        Step::Update(i, new_subject) => {
            let Some((
                id,
                Fixture::Observation {
                    subject,
                    performer,
                    focus,
                },
            )) = store.get(*i)
            else {
                return Vec::new();
            };
            let Ok(permit) = a
                .decide(&ctx, &request(&format!("PUT Observation/{id}")))
                .into_result()
            else {
                return Vec::new();
            };
            let stored = Fixture::Observation {
                subject: subject.clone(),
                performer: performer.clone(),
                focus: focus.clone(),
            };
            let new = Fixture::Observation {
                subject: Some(new_subject.clone()),
                performer: performer.clone(),
                focus: focus.clone(),
            };
            let allowed = permit
                .check_write(
                    Some(&parse(&new.to_json(id))),
                    Some(&parse(&stored.to_json(id))),
                )
                .is_ok();
            let model =
                stored.only_in_compartment(id, patient) && new.only_in_compartment(id, patient);
            assert_eq!(allowed, model, "update {id}: stored {stored:?} new {new:?}");
            Vec::new()
        }
        Step::Relink(i, new_link) => {
            let Some((id, stored @ Fixture::Patient { link })) = store.get(*i) else {
                return Vec::new();
            };
            let Ok(permit) = a
                .decide(&ctx, &request(&format!("PUT Patient/{id}")))
                .into_result()
            else {
                return Vec::new();
            };
            let new = Fixture::Patient {
                link: new_link.clone(),
            };
            let allowed = permit
                .check_write(
                    Some(&parse(&new.to_json(id))),
                    Some(&parse(&stored.to_json(id))),
                )
                .is_ok();
            // Writes never follow links; while links are followed, a `patient/` token may not
            // change them at all.
            let same_link = link.as_ref().map(|(r, t)| (r.render(), *t))
                == new_link.as_ref().map(|(r, t)| (r.render(), *t));
            let model = stored.in_compartment(id, patient)
                && new.in_compartment(id, patient)
                && (follow.is_empty() || same_link);
            assert_eq!(allowed, model, "relink {id}: {stored:?} -> {new:?}");
            Vec::new()
        }
    }
}

fn property(
    store: Vec<(String, Fixture)>,
    patient: usize,
    scopes: usize,
    follow: bool,
    steps: Vec<Step>,
) {
    let follow: &[LinkType] = if follow { &FOLLOWED } else { &[] };
    let a = Authorizer::new(
        DecisionPolicy::default()
            .with_base_url(BASE)
            .with_patient_links(follow.iter().copied()),
    );
    let patient = PATIENTS[patient];
    let scopes = SCOPES[scopes];
    let stored = |ty: &str, id: &str| {
        &store
            .iter()
            .find(|(i, f)| *i == id && f.type_name() == ty)
            .expect("returned resource is stored")
            .1
    };
    for step in &steps {
        // Compartment searches and `$everything` never follow links.
        let strict = matches!(step, Step::Everything(_) | Step::CompartmentSearch(..));
        let model: &[LinkType] = if strict { &[] } else { follow };
        for (ty, id) in run(&a, follow, scopes, patient, &store, step) {
            let f = stored(&ty, &id);
            assert!(
                f.in_compartment_with(&id, patient, model),
                "{step:?} returned {ty}/{id} ({f:?}) outside Patient/{patient} (links followed: {follow:?})"
            );
        }
    }
    // Completeness of reads, and agreement of fhir-types' own compartment facts with the model.
    let ctx = context(scopes, Some(patient), None);
    for (i, (id, f)) in store.iter().enumerate() {
        let granted = a
            .decide(&ctx, &request(&format!("GET {}/{id}", f.type_name())))
            .is_allowed();
        let got = !run(&a, follow, scopes, patient, &store, &Step::Read(i)).is_empty();
        assert_eq!(
            got,
            granted && f.in_compartment_with(id, patient, follow),
            "read {id}: {f:?} (links followed: {follow:?})"
        );
        let r = parse(&f.to_json(id));
        let facts = fhir_types::compartment::memberships(
            fhir_types::compartment::CompartmentType::Patient,
            &r,
            Some(BASE),
        );
        let by = |links: bool| {
            facts.iter().any(|m| {
                m.id == patient
                    && (links
                        || !matches!(
                            m.via,
                            fhir_types::compartment::Via::Param { param: "link", .. }
                        ))
            })
        };
        assert_eq!(
            by(false),
            f.in_compartment(id, patient),
            "fhir-types compartment facts for {id}: {f:?}"
        );
        assert_eq!(
            by(true),
            f.in_compartment_with(id, patient, &LinkType::ALL),
            "fhir-types compartment facts with links for {id}: {f:?}"
        );
    }
    // Completeness: a plain search of a granted type returns exactly the compartment's members.
    for t in ["Observation", "DiagnosticReport", "Patient"] {
        let granted = a.decide(&ctx, &request(&format!("GET {t}"))).is_allowed();
        let mut got: Vec<String> = run(
            &a,
            follow,
            scopes,
            patient,
            &store,
            &Step::Search(TYPES.iter().find(|x| **x == t).unwrap(), ""),
        )
        .into_iter()
        .map(|(_, id)| id)
        .collect();
        let mut want: Vec<String> = store
            .iter()
            .filter(|(id, f)| {
                granted && f.type_name() == t && f.in_compartment_with(id, patient, follow)
            })
            .map(|(id, _)| id.clone())
            .collect();
        got.sort();
        want.sort();
        assert_eq!(
            got, want,
            "search {t} under {scopes} for {patient} (links followed: {follow:?})"
        );
    }
}

#[test]
fn no_request_sequence_leaves_the_compartment() {
    // Parsing Bundles in a debug build needs more than the default 2 MiB test stack.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let config = ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() };
            proptest!(config, |(store in arb_store(), patient in 0..4usize, scopes in 0..4usize, follow in any::<bool>(), steps in prop::collection::vec(arb_step(), 1..10))| {
                property(store, patient, scopes, follow, steps);
            });
        })
        .unwrap()
        .join()
        .unwrap();
}
