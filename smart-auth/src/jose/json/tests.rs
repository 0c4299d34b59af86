use super::*;

#[test]
fn accepts_plain_object() {
    let m = parse_object(br#"{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}"#).unwrap();
    assert_eq!(m.len(), 3);
}

#[test]
fn refuses_duplicates_even_escaped() {
    assert_eq!(
        parse_object(br#"{"a":1,"a":2}"#),
        Err(JsonError::DuplicateMember)
    );
    assert_eq!(
        parse_object(br#"{"a":1,"\u0061":2}"#),
        Err(JsonError::DuplicateMember)
    );
    assert_eq!(
        parse_object(br#"{"x":{"a":1,"a":1}}"#),
        Err(JsonError::DuplicateMember)
    );
}

#[test]
fn bounds_depth() {
    let deep = format!(
        "{}{}",
        "{\"a\":".repeat(16),
        "1".to_owned() + &"}".repeat(16)
    );
    assert!(parse_object(deep.as_bytes()).is_ok());
    let deeper = format!("{}1{}", "{\"a\":".repeat(17), "}".repeat(17));
    assert_eq!(parse_object(deeper.as_bytes()), Err(JsonError::TooDeep));
    let arrays = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(parse_object(arrays.as_bytes()), Err(JsonError::TooDeep));
}

#[test]
fn refuses_non_objects_trailing_and_bad_text() {
    assert_eq!(parse_object(b"[1]"), Err(JsonError::NotAnObject));
    assert_eq!(parse_object(b"{} {}"), Err(JsonError::Syntax));
    assert_eq!(parse_object(b"{\"a\":\"\xff\"}"), Err(JsonError::Syntax));
    assert_eq!(parse_object(br#"{"a":"\ud800"}"#), Err(JsonError::Syntax));
    assert_eq!(parse_object(b"{'a':1}"), Err(JsonError::Syntax));
}

#[test]
fn borrowed_parse_agrees_with_the_owned_one() {
    let cases: [&[u8]; 12] = [
        br#"{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}"#,
        br#"{"a":1,"a":2}"#,
        br#"{"a":1,"\u0061":2}"#,
        br#"{"x":{"a":1,"a":1}}"#,
        br#"{"x":[{"k":1,"k":2}]}"#,
        br#"{"esc":"a\nb\u00e9","plain":"z"}"#,
        b"[1]",
        b"{} {}",
        b"{\"a\":\"\xff\"}",
        br#"{"a":"\ud800"}"#,
        br#"{"a":1e400}"#,
        br#"{"n":-0.5,"big":18446744073709551615,"neg":-9223372036854775808}"#,
    ];
    for case in cases {
        let owned = parse_object(case);
        let borrowed = parse_borrowed(case).map(|o| o.to_map());
        assert_eq!(borrowed, owned, "{}", String::from_utf8_lossy(case));
    }
    let deeper = format!("{}1{}", "{\"a\":".repeat(17), "}".repeat(17));
    assert_eq!(parse_borrowed(deeper.as_bytes()), Err(JsonError::TooDeep));
    let ok = format!("{}1{}", "{\"a\":".repeat(16), "}".repeat(16));
    assert!(parse_borrowed(ok.as_bytes()).is_ok());
}

#[test]
fn borrowed_parse_finds_duplicates_in_large_objects() {
    let mut members: Vec<String> = (0..5000).map(|i| format!("\"m{i}\":{i}")).collect();
    let text = format!("{{{}}}", members.join(","));
    assert_eq!(parse_borrowed(text.as_bytes()).unwrap().len(), 5000);
    members.push("\"m17\":0".into());
    let text = format!("{{{}}}", members.join(","));
    assert_eq!(
        parse_borrowed(text.as_bytes()),
        Err(JsonError::DuplicateMember)
    );
    assert_eq!(
        parse_object(text.as_bytes()),
        Err(JsonError::DuplicateMember)
    );
}

/// JSON-like text: valid values of every kind, with numbers, escapes and whitespace near
/// the edges of the grammar, repeated member names, and some plainly invalid pieces.
fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    use proptest::sample::select;
    // Mostly valid pieces, so that most texts parse and a wrong acceptance shows.
    let number = prop_oneof![
        4 => any::<i64>().prop_map(|n| n.to_string()),
        2 => any::<u64>().prop_map(|n| n.to_string()),
        2 => any::<f64>().prop_map(|f| format!("{f:e}")),
        2 => any::<f64>().prop_map(|f| f.to_string()),
        4 => select(vec![
            "-0", "0", "-0.0", "1e400", "-1e400", "1E+2", "0.5e-3", "123456789012345678",
            "1234567890123456789", "18446744073709551615", "18446744073709551616",
            "-9223372036854775808", "-9223372036854775809", "1.7976931348623157e308",
            "5e-324", "1e-400", "10", "0e0",
        ])
        .prop_map(str::to_owned),
        1 => select(vec!["01", "-01", "00", "1.", "-", "1e", "1e+", ".5", "+1", "0x1"])
            .prop_map(str::to_owned),
    ];
    let piece = prop_oneof![
        10 => select(vec![
            "a", "é", "😀", "\\\"", "\\\\", "\\/", "\\b\\f\\n\\r\\t", "\\u0041",
            "\\u00E9", "\\ud83d\\ude00", "\u{7f}", "iss", "aud", "\\u0000", " ",
        ]),
        1 => select(vec![
            "\\ud800", "\\udc00", "\\ud800\\u0041", "\\ud800\\n", "\\x", "\\u12",
            "\u{1}", "\t", "\n",
        ]),
    ];
    let string =
        proptest::collection::vec(piece, 0..4).prop_map(|parts| format!("\"{}\"", parts.concat()));
    let ws = prop_oneof![
        10 => select(vec!["", " ", "\n", "\t ", "\r"]),
        1 => select(vec!["\u{a0}", "\u{c}"]),
    ];
    let leaf = prop_oneof![
        6 => select(vec!["null", "true", "false"]).prop_map(str::to_owned),
        1 => select(vec!["nul", "True", "[", "{", "]", "}", "\"", ","]).prop_map(str::to_owned),
        6 => number,
        6 => string.clone(),
    ];
    leaf.prop_recursive(5, 48, 5, move |inner| {
        prop_oneof![
            proptest::collection::vec((inner.clone(), ws.clone()), 0..5).prop_map(|v| {
                let items: Vec<String> = v.iter().map(|(v, w)| format!("{w}{v}{w}")).collect();
                format!("[{}]", items.join(","))
            }),
            proptest::collection::vec((string.clone(), inner, ws.clone()), 0..5).prop_map(|m| {
                let members: Vec<String> = m
                    .iter()
                    .map(|(k, v, w)| format!("{w}{k}{w}:{w}{v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(4000))]

    /// The borrowed parser accepts exactly what the serde_json-based one accepts, with the
    /// same values; mutated bytes included.
    #[test]
    fn borrowed_parser_agrees_with_serde_json(
        inner in json_text(),
        wrap in proptest::bool::ANY,
        edit in proptest::option::of((proptest::num::usize::ANY, proptest::num::u8::ANY)),
    ) {
        let mut text = if wrap { format!("{{\"k\":{inner}}}") } else { inner }.into_bytes();
        if let Some((at, byte)) = edit {
            if !text.is_empty() {
                let at = at % text.len();
                text[at] = byte;
            }
        }
        let owned = parse_object(&text);
        let borrowed = parse_borrowed(&text);
        proptest::prop_assert_eq!(
            borrowed.as_ref().ok().map(Object::to_map),
            owned.as_ref().ok().cloned(),
            "{}", String::from_utf8_lossy(&text)
        );
        // Refusals agree on the reason whenever there is only one.
        if let (Err(b), Err(o)) = (&borrowed, &owned) {
            if text.is_ascii() && *o != JsonError::Syntax && *b != JsonError::Syntax {
                proptest::prop_assert_eq!(b, o);
            }
        }
    }
}

#[test]
fn string_scan_stops_at_every_special_byte_in_every_lane() {
    for at in 0..20 {
        for b in 0u8..=0xff {
            let mut text = br#"{"a":""#.to_vec();
            text.extend(std::iter::repeat_n(b'x', at));
            text.push(b);
            text.extend(br#"yy"}"#);
            let got =
                parse_borrowed(&text).map(|o| o.get("a").and_then(JsonRef::as_str).map(str::len));
            let want = match b {
                0..=0x1f | b'\\' | 0x80..=0xff => Err(JsonError::Syntax),
                // The string ends early and `yy` follows it.
                b'"' => Err(JsonError::Syntax),
                _ => Ok(Some(at + 3)),
            };
            assert_eq!(got, want, "byte {b:#x} at {at}");
        }
    }
}

#[test]
fn borrowed_strings_are_not_copied() {
    let text = br#"{"iss":"https://as.example","esc":"a\/b"}"#;
    let o = parse_borrowed(text).unwrap();
    assert!(matches!(
        o.get("iss"),
        Some(JsonRef::String(Cow::Borrowed(_)))
    ));
    assert_eq!(o.get("esc").and_then(JsonRef::as_str), Some("a/b"));
}
