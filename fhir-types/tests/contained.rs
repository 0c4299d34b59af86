//! The rules on contained resources (dom-2, dom-4, dom-5), one table row each, checked wherever
//! the containing resource sits.

use fhir_types::json::{self, ErrorKind, ParseOptions};
use proptest::prelude::*;

/// A Patient whose first contained resource is `inner` (a JSON object).
fn patient_containing(inner: &str) -> String {
    format!(r#"{{"resourceType":"Patient","id":"p","contained":[{inner}]}}"#)
}

const ORG: &str = r#"{"resourceType":"Organization","id":"o","name":"x"}"#;

/// `(rule, contained resource, expected path below the containing resource, rule in the detail)`.
const REJECTED: &[(&str, &str, &str, &str)] = &[
    (
        "contained in contained",
        r#"{"resourceType":"Patient","id":"c1","contained":[{"resourceType":"Patient","id":"c2"}]}"#,
        "Patient.contained[0].contained[0]",
        "dom-2",
    ),
    (
        "a contained Bundle with an entry resource",
        r#"{"resourceType":"Bundle","id":"b","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"c2"}}]}"#,
        "Patient.contained[0].entry[0].resource",
        "dom-2",
    ),
    (
        "a contained Parameters with a resource",
        r#"{"resourceType":"Parameters","id":"x","parameter":[{"name":"n","resource":{"resourceType":"Patient","id":"c2"}}]}"#,
        "Patient.contained[0].parameter[0].resource",
        "dom-2",
    ),
    (
        "meta.versionId",
        r#"{"resourceType":"Organization","id":"o","meta":{"versionId":"1"}}"#,
        "Patient.contained[0].meta.versionId",
        "dom-4",
    ),
    (
        "meta.versionId given as an extension only",
        r#"{"resourceType":"Organization","id":"o","meta":{"_versionId":{"extension":[{"url":"http://x","valueString":"v"}]}}}"#,
        "Patient.contained[0].meta.versionId",
        "dom-4",
    ),
    (
        "meta.lastUpdated",
        r#"{"resourceType":"Organization","id":"o","meta":{"lastUpdated":"2020-01-01T00:00:00Z"}}"#,
        "Patient.contained[0].meta.lastUpdated",
        "dom-4",
    ),
    (
        "security label",
        r#"{"resourceType":"Organization","id":"o","meta":{"security":[{"code":"R"}]}}"#,
        "Patient.contained[0].meta.security",
        "dom-5",
    ),
];

#[test]
fn each_rule_is_enforced_with_its_path() {
    for (rule, inner, path, invariant) in REJECTED {
        for opts in [ParseOptions::strict(), ParseOptions::lenient()] {
            let doc = patient_containing(inner);
            let e = json::parse_resource_with(doc.as_bytes(), &opts).unwrap_err();
            assert_eq!(
                (e.kind(), e.path()),
                (ErrorKind::InvalidContained, *path),
                "{rule}: {e}"
            );
            assert!(e.detail().starts_with(invariant), "{rule}: {e}");
        }
    }
}

#[test]
fn the_rules_hold_below_bundles_too() {
    let (_, inner, _, _) = REJECTED[0];
    let doc = format!(
        r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"resource":{ORG}}},{{"resource":{}}}]}}"#,
        patient_containing(inner)
    );
    let e = json::parse_resource(doc.as_bytes()).unwrap_err();
    assert_eq!(
        e.path(),
        "Bundle.entry[1].resource.contained[0].contained[0]"
    );
}

#[test]
fn what_the_rules_allow_is_accepted() {
    let ok = [
        // A contained resource with other meta elements.
        patient_containing(
            r#"{"resourceType":"Organization","id":"o","meta":{"source":"urn:x","profile":["http://x.example/p"],"tag":[{"code":"t"}]}}"#,
        ),
        // Several contained resources, side by side.
        format!(r#"{{"resourceType":"Patient","contained":[{ORG},{ORG},{ORG}]}}"#),
        // Bundle entries are not contained: they may have versions, security labels and their
        // own contained resources.
        format!(
            r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"resource":{{"resourceType":"Patient","meta":{{"versionId":"2","lastUpdated":"2020-01-01T00:00:00Z","security":[{{"code":"R"}}]}},"contained":[{ORG}]}}}},{{"resource":{}}}]}}"#,
            patient_containing(ORG)
        ),
        // The containing resource itself may have them.
        format!(
            r#"{{"resourceType":"Patient","meta":{{"versionId":"1","security":[{{"code":"R"}}]}},"contained":[{ORG}]}}"#
        ),
        // A Parameters with a resource that contains one.
        format!(
            r#"{{"resourceType":"Parameters","parameter":[{{"name":"p","resource":{}}}]}}"#,
            patient_containing(ORG)
        ),
    ];
    for doc in &ok {
        let r = json::parse_resource(doc.as_bytes()).unwrap_or_else(|e| panic!("{doc}: {e}"));
        assert_eq!(json::to_vec(&r), doc.as_bytes(), "round trip");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However deep a Bundle nests, a resource inside a contained one is refused, and nothing
    /// else is.
    #[test]
    fn nested_resources_under_contained_are_refused_at_any_depth(bundles in 0usize..6, nested in any::<bool>()) {
        let inner = if nested {
            r#"{"resourceType":"Basic","code":{"text":"t"},"contained":[{"resourceType":"Basic","code":{"text":"u"}}]}"#
        } else {
            r#"{"resourceType":"Basic","code":{"text":"t"}}"#
        };
        let mut doc = patient_containing(inner);
        for _ in 0..bundles {
            doc = format!(r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"resource":{doc}}}]}}"#);
        }
        let result = json::parse_resource(doc.as_bytes());
        if nested {
            let e = result.unwrap_err();
            prop_assert_eq!(e.kind(), ErrorKind::InvalidContained);
            let expected = match bundles {
                0 => "Patient".to_string(),
                n => format!("Bundle{}", ".entry[0].resource".repeat(n)),
            } + ".contained[0].contained[0]";
            prop_assert_eq!(e.path(), expected);
        } else {
            prop_assert!(result.is_ok());
        }
    }
}
