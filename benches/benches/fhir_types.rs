//! fhir-types: typed parse and serialize, against `serde_json::Value` on the same bytes.
//!
//! Inputs: the official R4 instance examples (from `../shared/fhir-r4`, conformance resources and
//! definition Bundles left out), and a generated ~20 MB searchset Bundle of many patients'
//! Observations, Conditions, Encounters, Claims and MedicationRequests.
//!
//! `cargo bench -p secure-fhir-benches --bench fhir_types`; with `--features peers` also the
//! crates users would pick instead (`fhirbolt`, `fhir`, `helios-fhir`, `fhirkit`), in the same run.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fhir_types::json;
use std::io::Read;
use std::time::Duration;

#[cfg(feature = "peers")]
#[path = "fhir_types/peers.rs"]
mod peers;

const CONFORMANCE: &[&str] = &[
    "StructureDefinition",
    "ValueSet",
    "CodeSystem",
    "SearchParameter",
    "ConceptMap",
    "OperationDefinition",
    "CompartmentDefinition",
    "CapabilityStatement",
    "NamingSystem",
    "ImplementationGuide",
    "StructureMap",
    "GraphDefinition",
    "MessageDefinition",
    "TerminologyCapabilities",
    "ExampleScenario",
];

/// The instance examples that parse (a few package files are invalid R4 by design).
fn instance_examples() -> Vec<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fhir-r4/hl7.fhir.r4.examples-4.0.1.tgz"
    );
    let file = std::fs::File::open(path).expect("examples archive");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry
            .path()
            .expect("path")
            .to_string_lossy()
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        let ty = name.split('-').next().unwrap_or("");
        let definition_bundle =
            name.starts_with("Bundle-") && !name.contains("-example") && name.len() < 40 && {
                [
                    "resources",
                    "types",
                    "searchParams",
                    "valuesets",
                    "dataelements",
                    "extensions",
                    "profiles-others",
                    "v2-valuesets",
                    "v3-valuesets",
                    "conceptmaps",
                    "terminologies",
                    "registry",
                    "externals",
                ]
                .iter()
                .any(|b| name == format!("Bundle-{b}.json"))
            };
        if !name.ends_with(".json")
            || name == "package.json"
            || name.starts_with('.')
            || CONFORMANCE.contains(&ty)
            || definition_bundle
        {
            continue;
        }
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf).expect("read");
        if json::parse_resource(&buf).is_ok() {
            out.push(buf);
        }
    }
    out
}

/// A realistic searchset Bundle of at least `target` bytes.
fn searchset_bundle(target: usize) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut size = 0;
    let mut p = 0;
    while size < target {
        let pid = format!("pat-{p}");
        let mut add = |ty: &str, id: String, body: String| {
            let e = format!(
                r#"{{"fullUrl":"https://fhir.example.org/r4/{ty}/{id}","resource":{{"resourceType":"{ty}","id":"{id}","meta":{{"versionId":"1","lastUpdated":"2024-05-0{}T10:1{}:00.000+00:00"}},{body}}},"search":{{"mode":"match","score":1}}}}"#,
                1 + p % 9,
                p % 10
            );
            size += e.len() + 1;
            entries.push(e);
        };
        add(
            "Patient",
            pid.clone(),
            format!(
                r#""identifier":[{{"system":"urn:oid:2.16.840.1.113883.4.1","value":"999-{p:06}"}}],"active":true,"name":[{{"use":"official","family":"Family{p}","given":["Given{p}","Middle"]}}],"telecom":[{{"system":"phone","value":"+1 555 {p:07}","use":"home"}}],"gender":"{}","birthDate":"19{:02}-0{}-1{}","address":[{{"line":["{p} Main St"],"city":"Springfield","state":"IL","postalCode":"6270{}","country":"US"}}]"#,
                if p % 2 == 0 { "female" } else { "male" },
                40 + p % 60,
                1 + p % 9,
                p % 10,
                p % 10
            ),
        );
        for i in 0..10 {
            add(
                "Observation",
                format!("obs-{p}-{i}"),
                format!(
                    r#""status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}}],"text":"Heart rate"}},"subject":{{"reference":"Patient/{pid}"}},"encounter":{{"reference":"Encounter/enc-{p}-0"}},"effectiveDateTime":"2024-04-1{}T08:3{}:00+02:00","valueQuantity":{{"value":{}.{},"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}},"interpretation":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"N"}}]}}]"#,
                    i,
                    i,
                    60 + (p + i) % 40,
                    i * 5
                ),
            );
        }
        for i in 0..3 {
            add(
                "Condition",
                format!("cond-{p}-{i}"),
                format!(
                    r#""clinicalStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}}]}},"verificationStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}}]}},"code":{{"coding":[{{"system":"http://snomed.info/sct","code":"4466400{i}","display":"Condition {i}"}}]}},"subject":{{"reference":"Patient/{pid}"}},"onsetDateTime":"2019-0{}-01","recordedDate":"2020-01-0{}""#,
                    1 + i,
                    1 + i
                ),
            );
        }
        for i in 0..3 {
            add(
                "Encounter",
                format!("enc-{p}-{i}"),
                format!(
                    r#""status":"finished","class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB","display":"ambulatory"}},"type":[{{"text":"Check-up"}}],"subject":{{"reference":"Patient/{pid}"}},"participant":[{{"individual":{{"reference":"Practitioner/pr-{}"}}}}],"period":{{"start":"2024-03-0{}T09:00:00Z","end":"2024-03-0{}T09:30:00Z"}},"serviceProvider":{{"reference":"Organization/org-1"}}"#,
                    p % 50,
                    1 + i,
                    1 + i
                ),
            );
        }
        for i in 0..2 {
            add(
                "Claim",
                format!("claim-{p}-{i}"),
                format!(
                    r#""status":"active","type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}}]}},"use":"claim","patient":{{"reference":"Patient/{pid}"}},"created":"2024-03-0{}","provider":{{"reference":"Organization/org-1"}},"priority":{{"coding":[{{"code":"normal"}}]}},"insurance":[{{"sequence":1,"focal":true,"coverage":{{"reference":"Coverage/cov-{p}"}}}}],"item":[{{"sequence":1,"productOrService":{{"coding":[{{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}}]}},"unitPrice":{{"value":125.50,"currency":"USD"}},"net":{{"value":125.50,"currency":"USD"}}}}],"total":{{"value":125.50,"currency":"USD"}}"#,
                    1 + i
                ),
            );
        }
        for i in 0..3 {
            add(
                "MedicationRequest",
                format!("medreq-{p}-{i}"),
                format!(
                    r#""status":"active","intent":"order","medicationCodeableConcept":{{"coding":[{{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"31459{i}","display":"Medication {i}"}}]}},"subject":{{"reference":"Patient/{pid}"}},"authoredOn":"2024-02-1{i}","requester":{{"reference":"Practitioner/pr-{}"}},"dosageInstruction":[{{"text":"1 tablet daily","timing":{{"repeat":{{"frequency":1,"period":1,"periodUnit":"d"}}}},"doseAndRate":[{{"doseQuantity":{{"value":1,"unit":"tablet"}}}}]}}]"#,
                    p % 50
                ),
            );
        }
        p += 1;
    }
    let total = entries.len();
    format!(
        r#"{{"resourceType":"Bundle","id":"search-1","type":"searchset","total":{total},"link":[{{"relation":"self","url":"https://fhir.example.org/r4/Observation?_count=all"}}],"entry":[{}]}}"#,
        entries.join(",")
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let examples = instance_examples();
    let bytes: usize = examples.iter().map(Vec::len).sum();
    let typed: Vec<_> = examples
        .iter()
        .map(|b| json::parse_resource(b).expect("parses"))
        .collect();
    let values: Vec<serde_json::Value> = examples
        .iter()
        .map(|b| serde_json::from_slice(b).expect("json"))
        .collect();

    let mut g = c.benchmark_group(format!("fhir_types/examples ({} files)", examples.len()));
    g.throughput(Throughput::Bytes(bytes as u64))
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    g.bench_function("parse/fhir_types", |b| {
        b.iter(|| {
            examples
                .iter()
                .map(|e| json::parse_resource(black_box(e)).map(|_| 1).unwrap_or(0))
                .sum::<usize>()
        })
    });
    g.bench_function("parse/serde_json::Value", |b| {
        b.iter(|| {
            examples
                .iter()
                .map(|e| {
                    serde_json::from_slice::<serde_json::Value>(black_box(e))
                        .map(|_| 1)
                        .unwrap_or(0)
                })
                .sum::<usize>()
        })
    });
    g.bench_function("serialize/fhir_types", |b| {
        b.iter(|| {
            typed
                .iter()
                .map(|r| json::to_vec(black_box(r)).len())
                .sum::<usize>()
        })
    });
    g.bench_function("serialize/serde_json::Value", |b| {
        b.iter(|| {
            values
                .iter()
                .map(|v| {
                    serde_json::to_vec(black_box(v))
                        .map(|x| x.len())
                        .unwrap_or(0)
                })
                .sum::<usize>()
        })
    });
    #[cfg(feature = "peers")]
    {
        let inputs: Vec<&[u8]> = examples.iter().map(Vec::as_slice).collect();
        peers::bench(&mut g, "examples", &inputs);
    }
    g.finish();

    let bundle = searchset_bundle(20 << 20);
    let parsed = json::parse_resource(&bundle).expect("generated bundle is valid");
    let value: serde_json::Value = serde_json::from_slice(&bundle).expect("json");
    let mut g = c.benchmark_group("fhir_types/searchset_bundle");
    g.throughput(Throughput::Bytes(bundle.len() as u64))
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    g.bench_with_input(
        BenchmarkId::new("parse/fhir_types", bundle.len()),
        &bundle,
        |b, input| {
            b.iter(|| json::parse_resource(black_box(input)).map(|r| r.nested_resources().len()))
        },
    );
    g.bench_with_input(
        BenchmarkId::new("parse/serde_json::Value", bundle.len()),
        &bundle,
        |b, input| {
            b.iter(|| {
                serde_json::from_slice::<serde_json::Value>(black_box(input)).map(|v| v.is_object())
            })
        },
    );
    g.bench_function("serialize/fhir_types", |b| {
        b.iter(|| json::to_vec(black_box(&parsed)).len())
    });
    g.bench_function("serialize/serde_json::Value", |b| {
        b.iter(|| serde_json::to_vec(black_box(&value)).map(|v| v.len()))
    });
    #[cfg(feature = "peers")]
    peers::bench(&mut g, "searchset bundle", &[bundle.as_slice()]);
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
