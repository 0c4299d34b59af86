//! Unit tests of the parser's internals.

use super::Parser;
use crate::json::ParseOptions;
use crate::Resource;

/// `levels` Bundles, each with `resourceType` last, around a Patient of about `payload` bytes.
fn nested_bundles(levels: usize, payload: usize) -> String {
    let given = vec![r#""abcdefgh""#; payload / 11].join(",");
    let mut doc = r#"{"type":"collection","entry":[{"resource":"#.repeat(levels);
    doc.push_str(&format!(
        r#"{{"name":[{{"given":[{given}]}}],"resourceType":"Patient"}}"#
    ));
    doc.push_str(&r#"}],"resourceType":"Bundle"}"#.repeat(levels));
    doc
}

#[test]
fn resource_type_scans_read_each_byte_once_however_deep() {
    // With `resourceType` last at every level, each level's pre-scan used to read everything
    // below it again: 30 levels read the payload 31 times.
    let opts = ParseOptions::default();
    for levels in [0, 1, 30] {
        let doc = nested_bundles(levels, 100_000);
        let mut p = Parser::new(doc.as_bytes(), &opts).unwrap();
        let r = Resource::read(&mut p).unwrap();
        p.finish().unwrap();
        assert_eq!(r.nested_resources().len(), usize::from(levels > 0));
        assert!(
            p.scanned_bytes <= doc.len(),
            "{levels} levels: scanned {} bytes of {}",
            p.scanned_bytes,
            doc.len()
        );
    }
}

#[test]
fn a_remembered_resource_type_is_checked_like_a_scanned_one() {
    // The nested resource's type is learnt while its Bundle is scanned; it must still be
    // refused when unknown, and the first of two `resourceType`s is still a duplicate key.
    let unknown = br#"{"type":"collection","entry":[{"resource":{"id":"a","resourceType":"Nope"}}],"resourceType":"Bundle"}"#;
    let e = crate::json::parse_resource(unknown).unwrap_err();
    assert_eq!(
        (e.kind(), e.path()),
        (
            crate::json::ErrorKind::UnknownResourceType,
            "Bundle.entry[0].resource"
        )
    );
    let twice = br#"{"type":"collection","entry":[{"resource":{"resourceType":"Patient","resourceType":"Basic"}}],"resourceType":"Bundle"}"#;
    let e = crate::json::parse_resource(twice).unwrap_err();
    assert_eq!(e.kind(), crate::json::ErrorKind::DuplicateKey);
    let ok = br#"{"type":"collection","entry":[{"resource":{"id":"a","resourceType":"Patient"}}],"resourceType":"Bundle"}"#;
    let r = crate::json::parse_resource(ok).unwrap();
    assert_eq!(r.nested_resources()[0].id(), Some("a"));
}
