//! The authorization decision: a typical read and search, and post-filtering a 1,000-entry
//! search Bundle, each next to a named baseline in the same run.
//!
//! - `decision/read`, `decision/search`: `Authorizer::decide` on an already classified request,
//!   against *baseline: naive scope string match* (splitting the raw `scope` string and comparing
//!   tokens, what a hand-rolled check does; it decides far less).
//! - `decision/classify`: `FhirRequest::from_parts` (path + query parsing) for the same search.
//! - `filter_bundle/1000`: `Permit::filter_bundle_into` over 1,000 search entries (typed
//!   Observations, half in the patient's compartment): the checks of every entry and the
//!   compaction of the Bundle in place (kept entries after a removed one move once; the 500
//!   refused entries are moved whole into a `Vec` the caller frees after answering, as a
//!   server does). Freeing them is not the filter's work: the host frees the whole Bundle
//!   after writing the response anyway. The Bundle is cloned in untimed setup
//!   (`iter_batched_ref`, so it is cold in cache as a freshly parsed one is); it and the
//!   removed entries are dropped after timing.
//! - `filter_bundle/1000 dropping the removed`: `Permit::filter_bundle`, the same with the 500
//!   refused resources (each a 3 KB typed Observation, tens of allocations) freed inside the
//!   timing.
//! - `filter_bundle/1000 checks only`: `Permit::allows` on each of the 1,000 resources, nothing
//!   removed or moved, the same Bundle every iteration (warm in cache).
//! - `filter_bundle/1000 reference walks only`: fhir-types' generic `Resource::visit_references`
//!   (the walk over every element that membership rested on before), and
//!   `filter_bundle/1000 compartment reference walks only` the generated walk membership now
//!   rests on (`compartment::visit_references`: only the Patient compartment's paths).
//! - *baseline: serde_json::Value scan*: the same Bundle as a `serde_json::Value`, keeping
//!   entries whose `subject.reference` equals `Patient/123` (`retain`, so the refused values are
//!   freed inside the timing; cloned in untimed setup).

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use fhir_types::compartment::{self, CompartmentType};
use fhir_types::Resource;
use serde_json::Value;
use smart_auth::decision::Authorizer;
use smart_auth::request::FhirRequest;
use smart_auth::scope::Permissions;
use smart_auth::testing::policy::{context, request};

#[path = "decision/bundle.rs"]
mod bundle;
use bundle::bundle_json;

const SCOPES: &str = "openid fhirUser launch/patient patient/Patient.r patient/Observation.rs patient/Condition.rs patient/Encounter.rs";

fn naive_allows(scopes: &str, wanted: &str) -> bool {
    scopes.split(' ').any(|s| s == wanted)
}

fn decisions(c: &mut Criterion) {
    let authorizer = Authorizer::default();
    let ctx = context(SCOPES, Some("123"), None);
    let read = request("GET Observation/abc");
    let search = request("GET Observation?code=http://loinc.org|8867-4&date=ge2020-01-01&_count=50&_include=Observation:subject:Patient");
    let mut g = c.benchmark_group("decision");
    g.bench_function("read", |b| {
        b.iter(|| black_box(authorizer.decide(black_box(&ctx), black_box(&read))))
    });
    g.bench_function("search", |b| {
        b.iter(|| black_box(authorizer.decide(black_box(&ctx), black_box(&search))))
    });
    g.bench_function("baseline: naive scope string match", |b| {
        b.iter(|| {
            black_box(naive_allows(
                black_box(SCOPES),
                black_box("patient/Observation.rs"),
            ))
        })
    });
    let (parts, ()) = http::Request::get("/fhir/Observation?code=http://loinc.org%7C8867-4&date=ge2020-01-01&_count=50&_include=Observation:subject:Patient")
        .body(())
        .unwrap()
        .into_parts();
    g.bench_function("classify", |b| {
        b.iter(|| black_box(FhirRequest::from_parts(black_box(&parts), "/fhir", None)))
    });
    g.finish();
}

fn baseline_scan(bundle: &mut Value) -> usize {
    let entries = bundle["entry"].as_array_mut().unwrap();
    entries.retain(|e| e["resource"]["subject"]["reference"].as_str() == Some("Patient/123"));
    entries.len()
}

fn filtering(c: &mut Criterion) {
    let authorizer = Authorizer::default();
    let ctx = context(SCOPES, Some("123"), None);
    let permit = authorizer
        .decide(&ctx, &request("GET Observation?code=8867-4"))
        .into_result()
        .unwrap();
    let json = bundle_json(1000);
    let Resource::Bundle(bundle) =
        fhir_types::json::parse_resource(json.to_string().as_bytes()).unwrap()
    else {
        unreachable!()
    };
    let (mut check, mut removed) = (bundle.clone(), Vec::new());
    assert_eq!(
        permit.filter_bundle_into(&mut check, &mut removed).kept,
        500
    );
    assert_eq!(removed.len(), 500);
    assert!(removed.iter().all(|e| e
        .resource
        .as_ref()
        .and_then(|r| r.id())
        .is_some_and(|id| id.ends_with(['1', '3', '5', '7', '9']))));
    let mut g = c.benchmark_group("filter_bundle");
    g.bench_function("1000", |b| {
        b.iter_batched_ref(
            || (bundle.clone(), Vec::new()),
            |(b, removed)| black_box(permit.filter_bundle_into(b, removed)),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("1000 dropping the removed", |b| {
        b.iter_batched_ref(
            || bundle.clone(),
            |b| black_box(permit.filter_bundle(b)),
            BatchSize::LargeInput,
        )
    });
    // The per-entry checks alone, without removing (and dropping) the refused entries.
    let resources: Vec<&Resource> = bundle
        .entry
        .iter()
        .filter_map(|e| e.resource.as_ref())
        .collect();
    g.bench_function("1000 checks only", |b| {
        b.iter(|| {
            resources
                .iter()
                .filter(|r| permit.allows(r, Permissions::SEARCH))
                .count()
        })
    });
    g.bench_function("1000 reference walks only", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for r in &resources {
                r.visit_references(&mut |_, _| n += 1);
            }
            n
        })
    });
    g.bench_function("1000 compartment reference walks only", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for r in &resources {
                compartment::visit_references(CompartmentType::Patient, r, &mut |_, _| n += 1);
            }
            n
        })
    });
    g.bench_function("baseline: serde_json::Value scan", |b| {
        b.iter_batched_ref(
            || json.clone(),
            |v| black_box(baseline_scan(v)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, decisions, filtering);
criterion_main!(benches);
