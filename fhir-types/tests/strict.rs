//! One table row per strictness rule: the input, the stable reason and the JSON path.

use fhir_types::json::{self, ErrorKind, ParseOptions};

/// `(rule, input, expected reason, expected path)`.
const REJECTED: &[(&str, &str, ErrorKind, &str)] = &[
    // Elements
    (
        "unknown element",
        r#"{"resourceType":"Patient","nmae":[{"family":"X"}]}"#,
        ErrorKind::UnknownElement,
        "Patient.nmae",
    ),
    (
        "unknown element in a datatype",
        r#"{"resourceType":"Patient","name":[{"famly":"X"}]}"#,
        ErrorKind::UnknownElement,
        "Patient.name[0].famly",
    ),
    (
        "keys are case-sensitive",
        r#"{"resourceType":"Patient","BirthDate":"2000"}"#,
        ErrorKind::UnknownElement,
        "Patient.BirthDate",
    ),
    (
        "unknown _element",
        r#"{"resourceType":"Patient","_nmae":{"id":"a"}}"#,
        ErrorKind::UnknownElement,
        "Patient._nmae",
    ),
    (
        "_ on a complex element",
        r#"{"resourceType":"Patient","_name":{"id":"a"}}"#,
        ErrorKind::UnknownElement,
        "Patient._name",
    ),
    (
        "duplicate key",
        r#"{"resourceType":"Patient","id":"a","id":"b"}"#,
        ErrorKind::DuplicateKey,
        "Patient.id",
    ),
    (
        "duplicate resourceType",
        r#"{"resourceType":"Patient","resourceType":"Patient"}"#,
        ErrorKind::DuplicateKey,
        "Patient.resourceType",
    ),
    (
        "duplicate key inside contained",
        r#"{"resourceType":"Patient","contained":[{"resourceType":"Organization","name":"a","name":"b"}]}"#,
        ErrorKind::DuplicateKey,
        "Patient.contained[0].name",
    ),
    (
        "duplicate key inside a Bundle entry",
        r#"{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:x","fullUrl":"urn:y"}]}"#,
        ErrorKind::DuplicateKey,
        "Bundle.entry[0].fullUrl",
    ),
    (
        "duplicate _key",
        r#"{"resourceType":"Patient","_gender":{"id":"a"},"_gender":{"id":"b"}}"#,
        ErrorKind::DuplicateKey,
        "Patient._gender",
    ),
    (
        "two variants of one choice element",
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","valueBoolean":true}"#,
        ErrorKind::ChoiceConflict,
        "Observation.valueBoolean",
    ),
    (
        "choice value and another variant's extension",
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","_valueBoolean":{"id":"x"}}"#,
        ErrorKind::ChoiceConflict,
        "Observation._valueBoolean",
    ),
    (
        "required element missing",
        r#"{"resourceType":"Observation","status":"final"}"#,
        ErrorKind::MissingElement,
        "Observation.code",
    ),
    (
        "required element missing in a backbone element",
        r#"{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET"}}]}"#,
        ErrorKind::MissingElement,
        "Bundle.entry[0].request.url",
    ),
    (
        "required choice missing",
        r#"{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"}}"#,
        ErrorKind::MissingElement,
        "MedicationRequest.medication[x]",
    ),
    // resourceType
    (
        "missing resourceType",
        r#"{"id":"a"}"#,
        ErrorKind::MissingResourceType,
        "",
    ),
    (
        "unknown resourceType",
        r#"{"resourceType":"Patients"}"#,
        ErrorKind::UnknownResourceType,
        "",
    ),
    (
        "resourceType is case-sensitive",
        r#"{"resourceType":"patient"}"#,
        ErrorKind::UnknownResourceType,
        "",
    ),
    (
        "abstract resourceType",
        r#"{"resourceType":"DomainResource"}"#,
        ErrorKind::UnknownResourceType,
        "",
    ),
    (
        "nested resource without resourceType",
        r#"{"resourceType":"Patient","contained":[{"id":"x"}]}"#,
        ErrorKind::MissingResourceType,
        "Patient.contained[0]",
    ),
    // Primitive formats
    (
        "id: bad character",
        r#"{"resourceType":"Patient","id":"a_b"}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.id",
    ),
    (
        "id: 65 characters",
        r#"{"resourceType":"Patient","id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.id",
    ),
    (
        "date: month 13",
        r#"{"resourceType":"Patient","birthDate":"2000-13-01"}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.birthDate",
    ),
    (
        "date: a day its month does not have",
        r#"{"resourceType":"Patient","birthDate":"2021-02-29"}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.birthDate",
    ),
    (
        "dateTime: a day its month does not have",
        r#"{"resourceType":"Patient","deceasedDateTime":"2021-04-31T10:00:00Z"}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.deceasedDateTime",
    ),
    (
        "instant: a day its month does not have",
        r#"{"resourceType":"Patient","meta":{"lastUpdated":"2021-02-30T10:00:00Z"}}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.meta.lastUpdated",
    ),
    (
        "date: with a time",
        r#"{"resourceType":"Patient","birthDate":"2000-01-01T00:00:00Z"}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.birthDate",
    ),
    (
        "dateTime: time without zone",
        r#"{"resourceType":"Patient","deceasedDateTime":"2000-01-01T10:00:00"}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.deceasedDateTime",
    ),
    (
        "instant: date only",
        r#"{"resourceType":"Patient","meta":{"lastUpdated":"2000-01-01"}}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.meta.lastUpdated",
    ),
    (
        "time: 24 hours",
        r#"{"resourceType":"Location","hoursOfOperation":[{"openingTime":"24:00:00"}]}"#,
        ErrorKind::InvalidPrimitive,
        "Location.hoursOfOperation[0].openingTime",
    ),
    (
        "uri: whitespace",
        r#"{"resourceType":"Patient","implicitRules":"http://a b"}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.implicitRules",
    ),
    (
        "code: double space",
        r#"{"resourceType":"Patient","language":"en  US"}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.language",
    ),
    (
        "code: not in the required value set",
        r#"{"resourceType":"Patient","gender":"f"}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.gender",
    ),
    (
        "decimal as a string",
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":"1.5"}}"#,
        ErrorKind::UnexpectedType,
        "Observation.valueQuantity.value",
    ),
    (
        "decimal: leading zero",
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":01.5}}"#,
        ErrorKind::Syntax,
        "Observation.valueQuantity.value",
    ),
    (
        "base64Binary: bad length",
        r#"{"resourceType":"Binary","contentType":"text/plain","data":"abc"}"#,
        ErrorKind::InvalidPrimitive,
        "Binary.data",
    ),
    (
        "base64Binary: whitespace inside a quartet (R4 regex: only between quartets)",
        r#"{"resourceType":"Binary","contentType":"text/plain","data":"QU JD"}"#,
        ErrorKind::InvalidPrimitive,
        "Binary.data",
    ),
    (
        "integer: -0 (R4 allows it, an i32 cannot keep it apart from 0: refused, not rewritten)",
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueInteger":-0}"#,
        ErrorKind::InvalidPrimitive,
        "Observation.valueInteger",
    ),
    (
        "string: escaped control character (R4: strings SHOULD NOT hold them)",
        r#"{"resourceType":"Patient","name":[{"family":"a\u0001b"}]}"#,
        ErrorKind::InvalidString,
        "Patient.name[0].family",
    ),
    (
        "string: escaped NUL",
        r#"{"resourceType":"Patient","name":[{"family":"a\u0000"}]}"#,
        ErrorKind::InvalidString,
        "Patient.name[0].family",
    ),
    (
        "string: backspace escape",
        r#"{"resourceType":"Patient","name":[{"family":"a\b"}]}"#,
        ErrorKind::InvalidString,
        "Patient.name[0].family",
    ),
    (
        "uri: escaped control character",
        r#"{"resourceType":"Patient","meta":{"source":"urn:a\u001f"}}"#,
        ErrorKind::InvalidString,
        "Patient.meta.source",
    ),
    (
        "integer: fraction",
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueInteger":1.0}"#,
        ErrorKind::InvalidPrimitive,
        "Observation.valueInteger",
    ),
    (
        "integer: beyond 32 bits",
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueInteger":2147483648}"#,
        ErrorKind::InvalidPrimitive,
        "Observation.valueInteger",
    ),
    (
        "positiveInt: zero",
        r#"{"resourceType":"Appointment","minutesDuration":0}"#,
        ErrorKind::InvalidPrimitive,
        "Appointment.minutesDuration",
    ),
    (
        "unsignedInt: negative",
        r#"{"resourceType":"Patient","photo":[{"size":-1}]}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.photo[0].size",
    ),
    (
        "boolean as a string",
        r#"{"resourceType":"Patient","active":"true"}"#,
        ErrorKind::UnexpectedType,
        "Patient.active",
    ),
    (
        "Extension.url: whitespace (a uri)",
        r#"{"resourceType":"Patient","extension":[{"url":"http://x y","valueString":"a"}]}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.extension[0].url",
    ),
    (
        "oid: missing prefix",
        r#"{"resourceType":"Patient","identifier":[{"system":"1.2.3"}],"extension":[{"url":"http://x","valueOid":"1.2.3"}]}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.extension[0].valueOid",
    ),
    (
        "uuid: uppercase",
        r#"{"resourceType":"Patient","extension":[{"url":"http://x","valueUuid":"urn:uuid:C757873D-EC9A-4326-A141-556F43239520"}]}"#,
        ErrorKind::InvalidPrimitive,
        "Patient.extension[0].valueUuid",
    ),
    // Empty values
    (
        "empty string",
        r#"{"resourceType":"Patient","name":[{"family":""}]}"#,
        ErrorKind::Empty,
        "Patient.name[0].family",
    ),
    (
        "empty object",
        r#"{"resourceType":"Patient","maritalStatus":{}}"#,
        ErrorKind::Empty,
        "Patient.maritalStatus",
    ),
    (
        "empty array",
        r#"{"resourceType":"Patient","name":[]}"#,
        ErrorKind::Empty,
        "Patient.name",
    ),
    (
        "element with only an id (ele-1)",
        r#"{"resourceType":"Patient","maritalStatus":{"coding":[{"id":"c"}]}}"#,
        ErrorKind::Empty,
        "Patient.maritalStatus.coding[0]",
    ),
    (
        "primitive with only an id and no value (ele-1)",
        r#"{"resourceType":"Patient","_birthDate":{"id":"b"}}"#,
        ErrorKind::Empty,
        "Patient._birthDate",
    ),
    (
        "choice primitive with only an id and no value (ele-1)",
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"_valueString":{"id":"v"}}"#,
        ErrorKind::Empty,
        "Observation._valueString",
    ),
    (
        "primitive array item with only an id and no value (ele-1)",
        r#"{"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,{"id":"g"}]}]}"#,
        ErrorKind::Empty,
        "Patient.name[0].given[1]",
    ),
    (
        "extension with a value and nested extensions (ext-1)",
        r#"{"resourceType":"Patient","extension":[{"url":"http://x","valueString":"a","extension":[{"url":"y","valueString":"b"}]}]}"#,
        ErrorKind::InvalidExtension,
        "Patient.extension[0]",
    ),
    (
        "extension with neither (ext-1)",
        r#"{"resourceType":"Patient","name":[{"_family":{"extension":[{"url":"http://x"}]}}]}"#,
        ErrorKind::InvalidExtension,
        "Patient.name[0]._family.extension[0]",
    ),
    (
        "null for a single element",
        r#"{"resourceType":"Patient","gender":null}"#,
        ErrorKind::UnexpectedType,
        "Patient.gender",
    ),
    // Primitive arrays
    (
        "value and _ arrays differ in length",
        r#"{"resourceType":"Patient","name":[{"given":["a","b"],"_given":[null]}]}"#,
        ErrorKind::PrimitiveArrayMismatch,
        "Patient.name[0]._given",
    ),
    (
        "null on both sides",
        r#"{"resourceType":"Patient","name":[{"given":["a",null]}]}"#,
        ErrorKind::PrimitiveArrayMismatch,
        "Patient.name[0].given[1]",
    ),
    // JSON
    (
        "trailing data",
        r#"{"resourceType":"Patient"} x"#,
        ErrorKind::TrailingData,
        "Patient",
    ),
    (
        "trailing comma",
        r#"{"resourceType":"Patient","id":"a",}"#,
        ErrorKind::Syntax,
        "Patient.id",
    ),
    (
        "lone surrogate",
        r#"{"resourceType":"Patient","name":[{"family":"\ud800"}]}"#,
        ErrorKind::InvalidString,
        "Patient.name[0].family",
    ),
    (
        "raw control character",
        "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"a\u{1}\"}]}",
        ErrorKind::InvalidString,
        "Patient.name[0].family",
    ),
    (
        "an array, not a resource",
        r#"[{"resourceType":"Patient"}]"#,
        ErrorKind::UnexpectedType,
        "",
    ),
];

#[test]
fn each_rule_is_enforced_with_reason_and_path() {
    let mut wrong = Vec::new();
    for (rule, input, kind, path) in REJECTED {
        match json::parse_resource(input.as_bytes()) {
            Ok(_) => wrong.push(format!("{rule}: accepted")),
            Err(e) if e.kind() != *kind || (!path.is_empty() && e.path() != *path) => {
                wrong.push(format!(
                    "{rule}: got {e} (kind {:?}, path {:?}), want {kind:?} at {path:?}",
                    e.kind(),
                    e.path()
                ))
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn deep_path_names_every_step() {
    let doc = r#"{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:a"},{"fullUrl":"urn:b"},{"fullUrl":"urn:c"},
        {"resource":{"resourceType":"Patient","contained":[{"resourceType":"Patient","name":[{"family":"a"},{"given":["x y", 1]}]}]}}]}"#;
    let e = json::parse_resource(doc.as_bytes()).unwrap_err();
    assert_eq!(
        e.path(),
        "Bundle.entry[3].resource.contained[0].name[1].given[1]"
    );
    assert_eq!(e.kind(), ErrorKind::UnexpectedType);
    assert!(
        e.to_string()
            .starts_with("unexpected-type at Bundle.entry[3]"),
        "{e}"
    );
}

#[test]
fn resource_type_may_come_last() {
    let doc = br#"{"id":"x","name":[{"family":"Last"}],"contained":[{"id":"o","resourceType":"Organization"}],"resourceType":"Patient"}"#;
    let r = json::parse_resource(doc).unwrap();
    assert_eq!(r.id(), Some("x"));
    assert_eq!(r.nested_resources()[0].id(), Some("o"));
}

#[test]
fn lenient_mode_skips_unknown_elements_only() {
    let doc = br#"{"resourceType":"Patient","nmae":{"deep":[1,2,{"x":null}]},"id":"a"}"#;
    assert_eq!(
        json::parse_resource(doc).unwrap_err().kind(),
        ErrorKind::UnknownElement
    );
    let r = json::parse_resource_with(doc, &ParseOptions::lenient()).unwrap();
    assert_eq!(r.id(), Some("a"));
    // Everything else stays strict.
    let bad = br#"{"resourceType":"Patient","nmae":1,"id":"a_b"}"#;
    assert_eq!(
        json::parse_resource_with(bad, &ParseOptions::lenient())
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidPrimitive
    );
}

#[test]
fn lenient_mode_still_refuses_duplicate_keys() {
    let lenient = ParseOptions::lenient();
    // (document, path of the repeated key)
    let rows: &[(&str, &str)] = &[
        (
            r#"{"resourceType":"Patient","nmae":1,"nmae":2}"#,
            "Patient.nmae",
        ),
        (
            r#"{"resourceType":"Patient","nmae":1,"id":"a","nmae":1}"#,
            "Patient.nmae",
        ),
        (
            r#"{"resourceType":"Patient","name":[{"x":1,"family":"a","x":1}]}"#,
            "Patient.name[0].x",
        ),
        // Inside a skipped value, too.
        (
            r#"{"resourceType":"Patient","nmae":{"a":1,"b":[{"c":1,"c":2}]}}"#,
            "Patient.nmae",
        ),
        (
            r#"{"resourceType":"Patient","contained":[{"resourceType":"Basic","code":{"text":"t"},"y":1,"y":1}]}"#,
            "Patient.contained[0].y",
        ),
        // Known keys as before.
        (
            r#"{"resourceType":"Patient","x":1,"id":"a","id":"a"}"#,
            "Patient.id",
        ),
    ];
    for (doc, path) in rows {
        let e = json::parse_resource_with(doc.as_bytes(), &lenient).unwrap_err();
        assert_eq!(
            (e.kind(), e.path()),
            (ErrorKind::DuplicateKey, *path),
            "{doc}"
        );
    }
    // The same unknown key in different objects is no duplicate.
    let ok = br#"{"resourceType":"Patient","x":{"x":{"x":1}},"name":[{"x":1},{"x":1}]}"#;
    assert!(json::parse_resource_with(ok, &lenient).is_ok());
}

#[test]
fn nesting_is_bounded() {
    // 40 levels of Questionnaire.item (81 levels of JSON): fine by default, rejected with a lower bound.
    let mut doc = String::from(r#"{"resourceType":"Questionnaire","status":"draft""#);
    for i in 0..40 {
        doc.push_str(&format!(r#","item":[{{"linkId":"{i}","type":"group""#));
    }
    for _ in 0..40 {
        doc.push_str("}]");
    }
    doc.push('}');
    assert!(json::parse_resource(doc.as_bytes()).is_ok());
    let mut opts = ParseOptions::default();
    opts.max_depth = 50;
    let e = json::parse_resource_with(doc.as_bytes(), &opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooDeep);

    // Right at the default bound (1 + 49 * 2 = 99 levels), the parse fits the default 2 MiB
    // test-thread stack even in a debug build.
    let mut doc = String::from(r#"{"resourceType":"Questionnaire","status":"draft""#);
    for i in 0..49 {
        doc.push_str(&format!(r#","item":[{{"linkId":"{i}","type":"group""#));
    }
    doc.push_str(&"}]".repeat(49));
    doc.push('}');
    let r = json::parse_resource(doc.as_bytes()).unwrap();
    assert_eq!(
        json::to_vec(&r),
        doc.as_bytes(),
        "written back byte for byte"
    );

    // Hostile depth far beyond the bound is refused without exhausting the stack, also in
    // unknown elements skipped by lenient mode and in the resourceType pre-scan.
    let hostile = format!(
        r#"{{"x":{}{}, "resourceType":"Patient"}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(
        json::parse_resource(hostile.as_bytes()).unwrap_err().kind(),
        ErrorKind::TooDeep
    );
    let hostile = format!(
        r#"{{"resourceType":"Patient","x":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(
        json::parse_resource_with(hostile.as_bytes(), &ParseOptions::lenient())
            .unwrap_err()
            .kind(),
        ErrorKind::TooDeep
    );
}

#[test]
fn strings_and_input_are_bounded() {
    let mut opts = ParseOptions::default();
    opts.max_string_len = 12;
    let e = json::parse_resource_with(br#"{"resourceType":"Patient","id":"abcdefghijklm"}"#, &opts)
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.path()),
        (ErrorKind::StringTooLong, "Patient.id")
    );
    // Escapes count after decoding; the bound applies to escaped strings too.
    let e = json::parse_resource_with(
        br#"{"resourceType":"Patient","id":"\u0061bcdefghijklm"}"#,
        &opts,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StringTooLong);
    opts = ParseOptions::default();
    opts.max_input_len = 10;
    let e = json::parse_resource_with(br#"{"resourceType":"Patient"}"#, &opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InputTooLarge);
}

#[test]
fn numbers_are_bounded_in_length_and_magnitude() {
    // threats.md §5 "Big numbers": `1e400`, million-digit literals.
    let obs = |value: &str| {
        format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"valueQuantity":{{"value":{value}}}}}"#
        )
    };
    let lenient = ParseOptions::lenient();
    for bad in [
        "1e400".to_owned(),
        "-1E+309".to_owned(),
        "1e-400".to_owned(),
        "9".repeat(1_000_000),
        format!("0.{}1", "0".repeat(100)),
    ] {
        let e = json::parse_resource(obs(&bad).as_bytes()).unwrap_err();
        assert_eq!(
            (e.kind(), e.path()),
            (
                ErrorKind::NumberOutOfRange,
                "Observation.valueQuantity.value"
            ),
            "{}",
            &bad[..bad.len().min(20)]
        );
        // Also where lenient mode skips an unknown element, and in the resourceType pre-scan.
        let skipped = format!(r#"{{"resourceType":"Patient","x":[{bad}]}}"#);
        let e = json::parse_resource_with(skipped.as_bytes(), &lenient).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NumberOutOfRange);
        let scanned = format!(r#"{{"x":{bad},"resourceType":"Patient"}}"#);
        let e = json::parse_resource(scanned.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NumberOutOfRange);
    }
    // The official examples' extremes (Observation-decimal.json) and zero stay valid.
    for ok in [
        "-1.000000000000000000E+245",
        "1.000000000000000000E-245",
        "1234567890.1234567890123",
        "0e5",
        "-0.000",
    ] {
        assert!(json::parse_resource(obs(ok).as_bytes()).is_ok(), "{ok}");
    }
    // The length bound is configurable; a whole-number literal counts too.
    let mut opts = ParseOptions::default();
    opts.max_number_len = 4;
    assert!(json::parse_resource_with(obs("1.25").as_bytes(), &opts).is_ok());
    let e = json::parse_resource_with(obs("1.250").as_bytes(), &opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NumberOutOfRange);
}

#[test]
fn reasons_are_stable_strings() {
    assert_eq!(ErrorKind::DuplicateKey.as_str(), "duplicate-key");
    assert_eq!(ErrorKind::UnknownElement.to_string(), "unknown-element");
    assert_eq!(ErrorKind::NumberOutOfRange.as_str(), "number-out-of-range");
    assert_eq!(ErrorKind::InvalidExtension.as_str(), "invalid-extension");
}

#[test]
fn error_paths_quote_and_bound_keys_from_the_input() {
    // An unknown key is input: in the path (and so in `Display`, which ends up in logs) it must
    // neither start a new line nor make the error as large as the document.
    let doc = "{\"resourceType\":\"Patient\",\"a\\nWARN forged line\":1}";
    let e = json::parse_resource(doc.as_bytes()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownElement);
    assert_eq!(e.path(), r#"Patient."a\nWARN forged line""#);
    assert!(!e.to_string().contains('\n'), "{e}");

    let long = format!(
        r#"{{"resourceType":"Patient","{}":1}}"#,
        "k".repeat(1 << 20)
    );
    let e = json::parse_resource(long.as_bytes()).unwrap_err();
    assert!(e.to_string().len() < 200, "{} bytes", e.to_string().len());
    assert!(e.path().starts_with(r#"Patient."kkk"#), "{}", e.path());

    // Element names stay as they are.
    let e = json::parse_resource(br#"{"resourceType":"Patient","name":[{"famly_2":"X"}]}"#)
        .unwrap_err();
    assert_eq!(e.path(), "Patient.name[0].famly_2");
}

#[test]
fn an_id_beside_a_value_or_other_children_is_fine() {
    // ele-1 asks for a value or children besides the id; with either, an id is allowed, in
    // whichever order the two halves of a primitive come.
    for doc in [
        r#"{"resourceType":"Patient","birthDate":"2000","_birthDate":{"id":"b"}}"#,
        r#"{"resourceType":"Patient","_birthDate":{"id":"b"},"birthDate":"2000"}"#,
        r#"{"resourceType":"Patient","maritalStatus":{"id":"m","text":"x"}}"#,
        r#"{"resourceType":"Patient","name":[{"_given":[{"id":"g"},null],"given":["a","b"]}]}"#,
        r#"{"resourceType":"Patient","_birthDate":{"id":"b","extension":[{"url":"http://x","valueCode":"unknown"}]}}"#,
    ] {
        let r = json::parse_resource(doc.as_bytes()).unwrap_or_else(|e| panic!("{doc}: {e}"));
        assert!(json::parse_resource(&json::to_vec(&r)).is_ok(), "{doc}");
    }
}

#[test]
fn lenient_mode_keeps_an_extension_whose_value_it_skipped() {
    // A value type this model does not know (R5's valueInteger64) is skipped in lenient mode;
    // the extension is then left without one, which ext-1 would refuse in strict mode.
    let doc =
        br#"{"resourceType":"Patient","extension":[{"url":"http://x","valueInteger64":"1"}]}"#;
    let r = json::parse_resource_with(doc, &ParseOptions::lenient()).unwrap();
    assert_eq!(
        json::to_string(&r),
        r#"{"resourceType":"Patient","extension":[{"url":"http://x"}]}"#
    );
    let both = br#"{"resourceType":"Patient","extension":[{"url":"http://x","valueCode":"a","extension":[{"url":"y","valueCode":"b"}]}]}"#;
    let e = json::parse_resource_with(both, &ParseOptions::lenient()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidExtension);
}

#[test]
fn fhir_strings_are_bounded_to_a_million_characters() {
    // R4 datatypes: "strings SHALL NOT exceed 1MB (1024*1024 characters) in size".
    const LIMIT: usize = 1024 * 1024;
    let family =
        |text: &str| format!(r#"{{"resourceType":"Patient","name":[{{"family":"{text}"}}]}}"#);
    let Err(e) = json::parse_resource(family(&"a".repeat(LIMIT + 1)).as_bytes()) else {
        panic!("a string of 1024*1024 + 1 characters was accepted");
    };
    assert_eq!(
        (e.kind(), e.path()),
        (ErrorKind::StringTooLong, "Patient.name[0].family")
    );
    let code = format!(
        r#"{{"resourceType":"Patient","maritalStatus":{{"coding":[{{"code":"{}"}}]}}}}"#,
        "c".repeat(LIMIT + 1)
    );
    let Err(e) = json::parse_resource(code.as_bytes()) else {
        panic!("a code of 1024*1024 + 1 characters was accepted");
    };
    assert_eq!(e.kind(), ErrorKind::StringTooLong);
    // Characters are counted, not bytes.
    assert!(json::parse_resource(family(&"é".repeat(LIMIT)).as_bytes()).is_ok());
    // base64Binary is no string: an attachment may be larger.
    let binary = format!(
        r#"{{"resourceType":"Binary","contentType":"text/plain","data":"{}"}}"#,
        "AAAA".repeat(LIMIT / 2)
    );
    assert!(json::parse_resource(binary.as_bytes()).is_ok());
}

/// The typed result is bounded in memory, not only the input in bytes: 100,000 empty contained
/// resources are 2.7 MB of JSON but over 100 MB of structs (each Patient is over 1 KiB), past
/// the default `max_memory`. Refused as too large, and parsed when the host allows the memory.
#[test]
fn the_memory_a_parse_takes_is_bounded() {
    let mut doc = String::from(r#"{"resourceType":"Patient","contained":["#);
    for i in 0..100_000 {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(r#"{"resourceType":"Patient"}"#);
    }
    doc.push_str("]}");
    assert!(doc.len() < 3 << 20);
    let err = json::parse_resource(doc.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InputTooLarge, "{err}");
    let mut opts = ParseOptions::default();
    opts.max_memory = 1 << 30;
    assert!(json::parse_resource_with(doc.as_bytes(), &opts).is_ok());
}

/// What the rules above refuse is refused alone: tab, LF and CR stay allowed in strings
/// (escaped, and kept through a round trip), and base64Binary takes whitespace between quartets.
#[test]
fn tab_line_breaks_and_whitespace_between_base64_quartets_are_fine() {
    let doc = r#"{"resourceType":"Patient","name":[{"family":"a\tb\nc\rd"}]}"#;
    let r = json::parse_resource(doc.as_bytes()).unwrap();
    assert_eq!(json::to_string(&r), doc);
    for data in ["QUJD RUZH", r" QUJD\nRUZH ", "QUJDRA=="] {
        let doc =
            format!(r#"{{"resourceType":"Binary","contentType":"text/plain","data":"{data}"}}"#);
        assert!(json::parse_resource(doc.as_bytes()).is_ok(), "{data}");
    }
    let zero =
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueInteger":0}"#;
    assert!(json::parse_resource(zero.as_bytes()).is_ok());
}
