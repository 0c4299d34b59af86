//! Property tests: hostile bytes never panic, and valid content survives a round trip exactly.

use fhir_types::json;
use proptest::prelude::*;

const PATIENT: &str = r#"{"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"2020-01-01T00:00:00Z"},"contained":[{"resourceType":"Observation","id":"o","status":"final","code":{"text":"t"},"valueQuantity":{"value":1.50}}],"name":[{"family":"Doe","given":["J",null],"_given":[null,{"extension":[{"url":"http://x","valueString":"y"}]}]}],"birthDate":"1970-01-01","_birthDate":{"id":"b"}}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = json::parse_resource(&bytes);
    }

    #[test]
    fn mutated_documents_never_panic(at in 0..PATIENT.len(), byte in any::<u8>(), cut in 0..PATIENT.len()) {
        let mut doc = PATIENT.as_bytes().to_vec();
        doc[at] = byte;
        let _ = json::parse_resource(&doc);
        let _ = json::parse_resource(&PATIENT.as_bytes()[..cut]);
    }

    #[test]
    // Control characters but tab, LF and CR are refused (R4 strings should not hold them).
    fn any_string_round_trips(family in "[^\u{00}-\u{08}\u{0b}\u{0c}\u{0e}-\u{1f}]{1,40}") {
        let doc = format!(r#"{{"resourceType":"Patient","name":[{{"family":{}}}]}}"#, serde_json_string(&family));
        let r = json::parse_resource(doc.as_bytes()).unwrap();
        let again = json::parse_resource(&json::to_vec(&r)).unwrap();
        prop_assert_eq!(&r, &again);
        let fhir_types::Resource::Patient(p) = r else { panic!("a Patient") };
        prop_assert_eq!(p.name[0].family.as_ref().and_then(|f| f.as_str()), Some(family.as_str()));
    }

    // Exponents of up to two digits keep every value in the range of a double (the parser's bound).
    #[test]
    fn decimals_keep_their_text(int in "-?(0|[1-9][0-9]{0,20})", frac in "(\\.[0-9]{1,20})?", exp in "([eE][+-]?[0-9]{1,2})?") {
        let text = format!("{int}{frac}{exp}");
        let doc = format!(r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"valueQuantity":{{"value":{text}}}}}"#);
        let r = json::parse_resource(doc.as_bytes()).unwrap();
        prop_assert_eq!(json::to_string(&r), doc);
    }
}

#[test]
fn sample_document_round_trips_byte_for_byte() {
    let r = json::parse_resource(PATIENT.as_bytes()).unwrap();
    assert_eq!(json::to_string(&r), PATIENT);
}

/// JSON-quotes a string with only the escapes JSON requires.
fn serde_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
