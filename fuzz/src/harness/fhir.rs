//! FHIR JSON (fhir-types): top-level resources, Bundles, and the "one parse path, identical
//! verdicts everywhere" rule of threats.md §5.

use fhir_types::json::{parse_resource, to_vec, ErrorKind};
use fhir_types::Resource;

/// Properties of an accepted resource: the writer's output parses back to the same value and
/// writes the same bytes (lossless, deterministic), and the security facts can be walked.
fn check_accepted(resource: &Resource) -> Vec<u8> {
    let bytes = to_vec(resource);
    let again = match parse_resource(&bytes) {
        Ok(r) => r,
        Err(e) => panic!("the writer's own output was rejected: {e}"),
    };
    assert!(again == *resource, "round trip changed the resource");
    assert_eq!(to_vec(&again), bytes, "writing is not deterministic");
    let mut references = 0usize;
    resource.visit_references(&mut |path, _reference| {
        assert!(!path.is_empty(), "a reference without a path");
        references += 1;
    });
    for nested in resource.nested_resources() {
        let _ = nested.resource_type();
    }
    bytes
}

/// Properties of a rejection: a stable reason, and a message that quotes little of the input.
fn check_refused(err: &fhir_types::ParseError, input: &[u8]) {
    assert!(
        !err.kind().as_str().is_empty(),
        "a rejection has a stable reason"
    );
    assert!(err.offset() <= input.len(), "error offset beyond the input");
    assert!(
        err.detail().len() <= 256,
        "error detail is not short: {}",
        err.detail().len()
    );
    let _ = err.to_string();
}

/// Accepted resources keep their verdict and value when they travel inside a Bundle entry or a
/// `Parameters.parameter.resource`: the same parse path serves them (threats.md §5).
fn check_nested_verdict(data: &[u8], resource: &Resource) {
    for (open, close) in [
        (
            &br#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":"#[..],
            &b"}]}"[..],
        ),
        (
            &br#"{"resourceType":"Parameters","parameter":[{"name":"r","resource":"#[..],
            &b"}]}"[..],
        ),
    ] {
        let wrapped = [open, data, close].concat();
        match parse_resource(&wrapped) {
            Ok(outer) => {
                let inner = outer.nested_resources();
                assert!(
                    inner.iter().any(|r| **r == *resource),
                    "the nested copy parsed to a different value"
                );
            }
            // Nesting adds three levels: only the depth bound may tell the two apart.
            Err(e) if e.kind() == ErrorKind::TooDeep => {}
            Err(e) => panic!("accepted at top level, rejected nested: {e}"),
        }
    }
}

/// `fhir_resource`: any resource from a request body.
pub fn fhir_resource(data: &[u8]) {
    match parse_resource(data) {
        Ok(resource) => {
            check_accepted(&resource);
            check_nested_verdict(data, &resource);
        }
        Err(e) => check_refused(&e, data),
    }
}

/// `fhir_bundle`: a Bundle (batch, transaction, collection) and everything in it. Every
/// resource accepted inside is also accepted on its own, with the same value.
pub fn fhir_bundle(data: &[u8]) {
    match parse_resource(data) {
        Ok(resource) => {
            check_accepted(&resource);
            for nested in resource.nested_resources() {
                let bytes = to_vec(nested);
                match parse_resource(&bytes) {
                    Ok(alone) => assert!(alone == *nested, "nested resource changed alone"),
                    Err(e) => panic!("accepted nested, rejected at top level: {e}"),
                }
            }
        }
        Err(e) => check_refused(&e, data),
    }
}
