//! Compartment membership over the 5,306 official R4 examples, checked against an independent
//! reading of the same JSON: at each membership path, take the `reference` strings that are
//! plainly `Type/id` (or versioned) with no contradicting `type`, as smart.md §12.2 defines.
//! The typed side goes through `json::parse_resource`, the generated compartment visitor and
//! `ReferenceTarget::parse`; the JSON side shares only the paths from the generated tables.
//! The generated visitor is also checked against the generic `Resource::visit_references` walk.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

use fhir_types::compartment::{compartment_ids, params, visit_references, CompartmentType, Via};
use fhir_types::datatypes::Reference;
use fhir_types::search::search_param;
use fhir_types::{json, Resource, ResourceType};
use serde_json::Value;

/// The examples, read once for all tests of this file.
/// (file name, bytes, JSON)
type Example = (String, Vec<u8>, Value);

/// The examples, read once for all tests of this file.
fn examples() -> &'static [Example] {
    static EXAMPLES: OnceLock<Vec<Example>> = OnceLock::new();
    EXAMPLES.get_or_init(read_examples)
}

fn read_examples() -> Vec<Example> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fhir-r4/hl7.fhir.r4.examples-4.0.1.tgz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if !name.ends_with(".json") || name.ends_with("package.json") {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        if value.get("resourceType").is_some() {
            out.push((name, bytes, value));
        }
    }
    out
}

/// The resource and, recursively, the resources in its Bundle entries (each its own subject),
/// typed and as JSON side by side.
fn with_bundle_entries<'a>(
    name: &str,
    typed: &'a Resource,
    v: &'a Value,
    out: &mut Vec<(String, &'a Resource, &'a Value)>,
) {
    out.push((name.to_string(), typed, v));
    if let Resource::Bundle(bundle) = typed {
        let json_entries = v["entry"].as_array().map_or(&[][..], Vec::as_slice);
        assert_eq!(bundle.entry.len(), json_entries.len(), "{name}");
        for (i, (entry, json)) in bundle.entry.iter().zip(json_entries).enumerate() {
            if let Some(r) = &entry.resource {
                with_bundle_entries(&format!("{name}#entry[{i}]"), r, &json["resource"], out);
            }
        }
    }
}

/// The JSON values at an element path like `CarePlan.activity.detail.performer` or
/// `DeviceRequest.code[x]` (a choice holding a Reference is `codeReference` in JSON).
fn at_path<'a>(v: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![v];
    for segment in path.split('.').skip(1) {
        let key = match segment.strip_suffix("[x]") {
            Some(name) => format!("{name}Reference"),
            None => segment.to_string(),
        };
        let mut next = Vec::new();
        for c in current {
            match &c[&key] {
                Value::Array(items) => next.extend(items.iter()),
                Value::Null => {}
                other => next.push(other),
            }
        }
        current = next;
    }
    current
}

fn plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// `Type/id` or `Type/id/_history/v` with the wanted type, read without the crate's parser.
fn plain_reference(reference: &Value, wanted: &str) -> Option<String> {
    let literal = reference["reference"].as_str()?;
    if reference["type"].as_str().is_some_and(|t| t != wanted) {
        return None;
    }
    let parts: Vec<&str> = literal.split('/').collect();
    let ok = match parts.as_slice() {
        [t, id] => *t == wanted && plain_id(id),
        [t, id, h, v] => *t == wanted && plain_id(id) && *h == "_history" && plain_id(v),
        _ => false,
    };
    ok.then(|| parts[1].to_string())
}

fn expected_ids(c: CompartmentType, rt: ResourceType, v: &Value) -> BTreeSet<String> {
    let wanted = c.as_str();
    let mut ids = BTreeSet::new();
    if rt == c.resource_type() {
        if let Some(id) = v["id"].as_str().filter(|id| plain_id(id)) {
            ids.insert(id.to_string());
        }
    }
    for &p in params(c, rt) {
        let def = search_param(rt, p).unwrap();
        for path in def
            .paths
            .iter()
            .filter(|s| s.resolves_to.is_none_or(|t| t == c.resource_type()))
        {
            ids.extend(
                at_path(v, path.path)
                    .into_iter()
                    .filter_map(|r| plain_reference(r, wanted)),
            );
        }
    }
    ids
}

/// Every `Type/id` literal of the wanted type anywhere in the JSON (a superset check).
fn all_literals(v: &Value, wanted: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if k == "reference" {
                    if let Some(id) = x
                        .as_str()
                        .and_then(|s| s.strip_prefix(&format!("{wanted}/")))
                    {
                        out.insert(id.split('/').next().unwrap_or("").to_string());
                    }
                } else if k != "contained" {
                    all_literals(x, wanted, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| all_literals(x, wanted, out)),
        _ => {}
    }
}

#[test]
fn typed_membership_agrees_with_the_json_on_every_official_example() {
    let examples = examples();
    assert!(examples.len() > 5000, "found {} examples", examples.len());
    let typed: Vec<_> = examples
        .iter()
        .filter_map(|(name, bytes, v)| Some((name, json::parse_resource(bytes).ok()?, v)))
        .collect();
    let mut subjects = Vec::new();
    for (name, r, v) in &typed {
        with_bundle_entries(name, r, v, &mut subjects);
    }

    let mut members: BTreeMap<CompartmentType, usize> = BTreeMap::new();
    let mut by_reference: BTreeMap<CompartmentType, usize> = BTreeMap::new();
    let mut mismatches = Vec::new();
    for (name, resource, v) in &subjects {
        let rt = resource.resource_type();
        for c in CompartmentType::ALL {
            let got = compartment_ids(c, resource);
            let want = expected_ids(c, rt, v);
            if got != want {
                mismatches.push(format!("{name} {c}: typed {got:?}, JSON {want:?}"));
            }
            if !got.is_empty() {
                let mut literals = BTreeSet::new();
                all_literals(v, c.as_str(), &mut literals);
                if rt == c.resource_type() {
                    literals.extend(v["id"].as_str().map(String::from));
                }
                assert!(
                    got.is_subset(&literals),
                    "{name} {c}: {got:?} not among the JSON's references"
                );
                *members.entry(c).or_default() += 1;
                if rt != c.resource_type() {
                    *by_reference.entry(c).or_default() += 1;
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    eprintln!(
        "{} of {} examples parsed, {} resources with Bundle entries; members: {members:?}",
        typed.len(),
        examples.len(),
        subjects.len()
    );
    assert!(typed.len() > 5000, "only {} examples parsed", typed.len());
    // Enough real members that agreement means something (R4 examples: 911 by reference).
    let patient_by_reference = by_reference
        .get(&CompartmentType::Patient)
        .copied()
        .unwrap_or(0);
    assert!(
        patient_by_reference > 800,
        "only {patient_by_reference} resources in a Patient compartment by reference"
    );
    for c in CompartmentType::ALL {
        assert!(
            members.get(&c).copied().unwrap_or(0) >= 5,
            "{c}: {members:?}"
        );
    }
}

#[test]
fn known_examples_are_in_the_expected_patient_compartments() {
    let examples = examples();
    let find = |file: &str| {
        let (_, bytes, _) = examples
            .iter()
            .find(|(n, _, _)| n.ends_with(file))
            .unwrap_or_else(|| panic!("{file}"));
        json::parse_resource(bytes).unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    let ids = |file: &str| compartment_ids(CompartmentType::Patient, &find(file));
    let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(ids("package/Observation-example.json"), set(&["example"]));
    assert_eq!(ids("package/Patient-example.json"), set(&["example"]));
    assert_eq!(ids("package/Coverage-9876B1.json"), set(&["4"]));
    assert_eq!(ids("package/Practitioner-example.json"), set(&[]));
    assert_eq!(
        ids("package/Group-101.json"),
        set(&[]),
        "a Group without members"
    );
    assert_eq!(
        ids("package/Group-102.json"),
        set(&["pat1", "pat2", "pat3", "pat4"])
    );
}

/// One Reference a compartment walk reported: why, and which element (by address).
type Report = (Via, usize);

/// What the generic walk finds at a compartment's paths: every Reference
/// [`Resource::visit_references`] reports, matched by path against the parameters' paths (the
/// matcher `compartment::memberships` used before the generated visitor).
fn generic_reports(c: CompartmentType, resource: &Resource) -> Vec<Report> {
    let rt = resource.resource_type();
    let mut rules = Vec::new();
    for &param in params(c, rt) {
        let def = search_param(rt, param).unwrap();
        for p in def
            .paths
            .iter()
            .filter(|p| p.resolves_to.is_none_or(|t| t == c.resource_type()))
        {
            rules.push(Via::Param {
                param,
                path: p.path,
            });
        }
    }
    let mut out = Vec::new();
    resource.visit_references(&mut |path, r| {
        for via in &rules {
            if matches!(via, Via::Param { path: p, .. } if *p == path) {
                out.push((*via, r as *const Reference as usize));
            }
        }
    });
    out.sort();
    out
}

fn generated_reports(c: CompartmentType, resource: &Resource) -> Vec<Report> {
    let mut out = Vec::new();
    visit_references(c, resource, &mut |via, r| {
        out.push((via, r as *const Reference as usize))
    });
    out.sort();
    out
}

#[test]
fn the_generated_compartment_visitor_finds_what_the_generic_walk_finds() {
    let examples = examples();
    let mut subjects = Vec::new();
    let typed: Vec<_> = examples
        .iter()
        .filter_map(|(name, bytes, v)| Some((name, json::parse_resource(bytes).ok()?, v)))
        .collect();
    for (name, r, v) in &typed {
        with_bundle_entries(name, r, v, &mut subjects);
    }
    assert!(subjects.len() > 5000, "{} resources", subjects.len());
    // No example holds a Reference at these paths; these resources do, so every rule is exercised.
    let extra: Vec<Resource> = [
        r#"{"resourceType": "Invoice", "status": "issued", "recipient": {"reference": "Patient/p"}}"#,
        r#"{"resourceType": "ResearchStudy", "status": "active",
            "principalInvestigator": {"reference": "Practitioner/d"}}"#,
    ]
    .iter()
    .map(|j| json::parse_resource(j.as_bytes()).unwrap())
    .collect();
    for r in &extra {
        subjects.push(("(extra)".to_string(), r, &Value::Null));
    }
    let mut reports = 0;
    let mut paths_seen = BTreeSet::new();
    for (name, resource, _) in &subjects {
        for c in CompartmentType::ALL {
            let want = generic_reports(c, resource);
            let got = generated_reports(c, resource);
            assert_eq!(got, want, "{name} {c}");
            reports += got.len();
            paths_seen.extend(got.iter().map(|(via, _)| (c, *via)));
        }
    }
    let mut unseen = Vec::new();
    let mut rules = 0;
    for c in CompartmentType::ALL {
        for rt in ResourceType::ALL {
            for &param in params(c, rt) {
                let paths = search_param(rt, param).unwrap().paths;
                for p in paths
                    .iter()
                    .filter(|p| p.resolves_to.is_none_or(|t| t == c.resource_type()))
                {
                    rules += 1;
                    let via = Via::Param {
                        param,
                        path: p.path,
                    };
                    if !paths_seen.contains(&(c, via)) {
                        unseen.push(format!("{c} {param} {}", p.path));
                    }
                }
            }
        }
    }
    eprintln!(
        "{} resources, {reports} References at compartment paths; {} of {rules} (compartment, \
         parameter, path) rules exercised; not: {unseen:?}",
        subjects.len(),
        rules - unseen.len()
    );
    assert!(reports > 2000, "only {reports} references reported");
    assert!(unseen.is_empty(), "rules never exercised: {unseen:?}");
}
