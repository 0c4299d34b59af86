//! Literal reference parsing (FHIR R4 references.html; smart.md §12.2 "Reference matching";
//! threats.md §3 class 13 "reference spoofing").

use fhir_types::reference::{is_valid_id, ReferenceTarget};
use fhir_types::ResourceType;

/// (literal, type, id, version, base)
type Row<'a> = (
    &'a str,
    ResourceType,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
);

#[test]
fn literal_references_parse_to_type_id_version_and_base() {
    let id64 = "a".repeat(64);
    let rel64 = format!("Patient/{id64}");
    let rows: &[Row] = &[
        ("Patient/123", ResourceType::Patient, "123", None, None),
        (
            "Patient/a.b-C9",
            ResourceType::Patient,
            "a.b-C9",
            None,
            None,
        ),
        (
            "Observation/x/_history/2",
            ResourceType::Observation,
            "x",
            Some("2"),
            None,
        ),
        (
            "https://ehr.example/fhir/Patient/123",
            ResourceType::Patient,
            "123",
            None,
            Some("https://ehr.example/fhir"),
        ),
        (
            "http://localhost:8080/Encounter/e1/_history/v.1",
            ResourceType::Encounter,
            "e1",
            Some("v.1"),
            Some("http://localhost:8080"),
        ),
        (
            "https://h/r4/fhir/MedicationRequest/m",
            ResourceType::MedicationRequest,
            "m",
            None,
            Some("https://h/r4/fhir"),
        ),
        (&rel64, ResourceType::Patient, &id64, None, None),
    ];
    for &(text, ty, id, version, base) in rows {
        let t = ReferenceTarget::parse(text).unwrap_or_else(|| panic!("{text} should parse"));
        assert_eq!(t.resource_type, ty, "{text}");
        assert_eq!(t.id, id, "{text}");
        assert_eq!(t.version.as_deref(), version, "{text}");
        assert_eq!(t.base.as_deref(), base, "{text}");
        assert_eq!(t.to_string(), text, "Display gives the literal back");
    }
}

#[test]
fn everything_else_is_not_a_trustworthy_reference() {
    let id65 = format!("Patient/{}", "a".repeat(65));
    let long = format!("https://{}/Patient/1", "h".repeat(5000));
    let rows = [
        ("", "empty"),
        ("#p1", "contained"),
        (
            "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0",
            "bundle-local uuid",
        ),
        ("urn:oid:1.2.3.4", "bundle-local oid"),
        ("patient/123", "type names are case-sensitive"),
        ("PATIENT/123", "type names are case-sensitive"),
        ("Foo/123", "unknown type"),
        ("Patient", "no id"),
        ("Patient/", "empty id"),
        ("/Patient/123", "leading slash"),
        ("Patient/123/", "trailing slash"),
        ("Patient//123", "double slash"),
        ("Patient/12 3", "space in id"),
        ("Patient/123?_format=json", "query string"),
        ("Patient/123#x", "fragment"),
        ("Patient/%31", "percent-encoded id"),
        ("Patient/ab_c", "underscore in id"),
        (&id65, "id longer than 64"),
        ("Patient/123/_history", "history without version"),
        ("Patient/123/_history/", "empty version"),
        ("Patient/123/_history/1/2", "extra segment"),
        ("Patient/123/extra", "extra segment"),
        ("fhir/Patient/123", "relative path prefix"),
        ("ftp://h/Patient/1", "scheme other than http(s)"),
        ("https:/h/Patient/1", "malformed scheme"),
        ("https://Patient/1", "no host"),
        ("https://h//Patient/1", "empty base segment"),
        ("https://h/../Patient/1", "dot segment in base"),
        ("https://h/a\\b/Patient/1", "backslash"),
        ("https://h/a?x=/Patient/1", "query in base"),
        ("https://user@h/Patient/1", "userinfo"),
        (&long, "over the length bound"),
        (" Patient/1", "leading space"),
    ];
    for (text, why) in rows {
        assert_eq!(ReferenceTarget::parse(text), None, "{why}: {text:?}");
    }
}

#[test]
fn only_relative_or_own_base_references_are_local() {
    let rel = ReferenceTarget::parse("Patient/1").unwrap();
    assert!(rel.is_local(None));
    assert!(rel.is_local(Some("https://ehr.example/fhir")));

    let abs = ReferenceTarget::parse("https://ehr.example/fhir/Patient/1").unwrap();
    assert!(abs.is_local(Some("https://ehr.example/fhir")));
    assert!(
        abs.is_local(Some("https://ehr.example/fhir/")),
        "one trailing slash is ignored"
    );
    assert!(!abs.is_local(None), "no known base: fail closed");
    assert!(!abs.is_local(Some("https://ehr.example/fhir2")));
    assert!(
        !abs.is_local(Some("https://ehr.example")),
        "prefix of the base is not the base"
    );
    assert!(
        !abs.is_local(Some("http://ehr.example/fhir")),
        "scheme differs"
    );

    let longer = ReferenceTarget::parse("https://ehr.example/fhir/other/Patient/1").unwrap();
    assert!(
        !longer.is_local(Some("https://ehr.example/fhir")),
        "base must match exactly, not by prefix"
    );
}

#[test]
fn versioned_references_point_to_the_resource() {
    let t = ReferenceTarget::parse("Patient/1/_history/7").unwrap();
    assert!(t.points_to(ResourceType::Patient, "1"));
    assert!(!t.points_to(ResourceType::Patient, "7"));
    assert!(!t.points_to(ResourceType::Group, "1"));
}

#[test]
fn id_syntax_is_the_spec_regex() {
    for ok in ["1", "a-b.C", &"z".repeat(64)] {
        assert!(is_valid_id(ok), "{ok}");
    }
    for bad in ["", "a b", "a/b", "a_b", "é", &"z".repeat(65)] {
        assert!(!is_valid_id(bad), "{bad}");
    }
}

/// Mutations of valid and invalid references: parsing never panics, and whatever parses prints
/// back to a literal that parses to the same target with a valid id.
#[test]
fn parse_is_total_and_display_round_trips() {
    let seeds = [
        "Patient/123",
        "Observation/x/_history/2",
        "https://ehr.example/fhir/Patient/123",
        "http://h:80/a/b/Encounter/e.1/_history/v-2",
        "#p1",
        "urn:uuid:0c3151bd",
    ];
    let alphabet: Vec<char> = "Pa/_h:.-#?%\\ 1xé".chars().collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut parsed = 0;
    for round in 0..20_000 {
        let mut chars: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..=next(3) {
            let at = next(chars.len() + 1);
            match next(3) {
                0 => chars.insert(at, alphabet[next(alphabet.len())]),
                1 if at < chars.len() => {
                    chars.remove(at);
                }
                _ if at < chars.len() => chars[at] = alphabet[next(alphabet.len())],
                _ => {}
            }
        }
        let text: String = chars.into_iter().collect();
        if let Some(t) = ReferenceTarget::parse(&text) {
            parsed += 1;
            assert!(is_valid_id(&t.id), "{text:?}");
            assert_eq!(t.to_string(), text, "only canonical literals parse");
            assert_eq!(ReferenceTarget::parse(&t.to_string()), Some(t));
        }
    }
    assert!(
        parsed > 1000,
        "only {parsed} mutants parsed: the property is barely exercised"
    );
}

#[test]
fn references_lists_the_literal_references_of_a_resource() {
    let resource = fhir_types::json::parse_resource(
        br##"{"resourceType":"Observation","status":"final","code":{"text":"x"},
            "contained":[{"resourceType":"Patient","id":"c1","managingOrganization":{"reference":"Organization/o9"}}],
            "subject":{"reference":"Patient/p1/_history/2"},
            "performer":[{"reference":"#c1"},{"identifier":{"value":"x"}},{"reference":"https://h/fhir/Practitioner/d1"}],
            "note":[{"authorReference":{"reference":"RelatedPerson/r1"},"text":"n"}]}"##,
    )
    .unwrap();
    let got: Vec<(String, String)> = fhir_types::reference::references(&resource)
        .into_iter()
        .map(|(path, t)| (path, t.to_string()))
        .collect();
    let want = [
        ("Observation.subject", "Patient/p1/_history/2"),
        ("Observation.performer", "https://h/fhir/Practitioner/d1"),
        ("Observation.note.author[x]", "RelatedPerson/r1"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(
        got, want,
        "contained, logical and nested-resource references are not listed"
    );
}
