//! Binary resources authorized through `Binary.securityContext` (smart.md §12.13, threats.md
//! §16): reading requires access to the referenced resource, and writes may not point
//! `securityContext` at a resource the caller cannot access.

use fhir_types::Resource;
use smart_auth::decision::{security_context, Authorizer, DecisionPolicy, Permit};
use smart_auth::scope::Permissions;
use smart_auth::testing::policy::{context, request, resource};

const DOC_123: &str = r#"{"resourceType":"DocumentReference","id":"d1","status":"current","content":[{"attachment":{"url":"Binary/b1"}}],"subject":{"reference":"Patient/123"}}"#;
const DOC_456: &str = r#"{"resourceType":"DocumentReference","id":"d2","status":"current","content":[{"attachment":{"url":"Binary/b2"}}],"subject":{"reference":"Patient/456"}}"#;
const PAT_123: &str = r#"{"resourceType":"Patient","id":"123"}"#;
const BIN_DOC_123: &str = r#"{"resourceType":"Binary","id":"b1","contentType":"text/plain","data":"aGk=","securityContext":{"reference":"DocumentReference/d1"}}"#;
const BIN_DOC_456: &str = r#"{"resourceType":"Binary","id":"b1","contentType":"text/plain","data":"aGk=","securityContext":{"reference":"DocumentReference/d2"}}"#;
const BIN_PAT_123: &str = r#"{"resourceType":"Binary","id":"b1","contentType":"text/plain","securityContext":{"reference":"https://ehr.example/fhir/Patient/123"}}"#;
const BIN_BY_IDENTIFIER: &str = r#"{"resourceType":"Binary","id":"b1","contentType":"text/plain","securityContext":{"identifier":{"system":"urn:x","value":"d1"}}}"#;
const BIN_PLAIN: &str = r#"{"resourceType":"Binary","id":"b1","contentType":"text/plain"}"#;

fn permit(scopes: &str, line: &str) -> Permit {
    let authorizer =
        Authorizer::new(DecisionPolicy::default().with_base_url("https://ehr.example/fhir"));
    let decision = authorizer.decide(&context(scopes, Some("123"), None), &request(line));
    decision
        .permit()
        .unwrap_or_else(|| panic!("{scopes} {line}: {decision:?}"))
        .clone()
}

/// A version and its context, as `check_write_with_context` takes them.
fn pair(v: &Option<(Resource, Resource)>) -> Option<(&Resource, Option<&Resource>)> {
    v.as_ref().map(|(r, c)| (r, Some(c)))
}

fn read(scopes: &str, binary: &str, context: Option<&str>) -> bool {
    let context = context.map(resource);
    permit(scopes, "GET Binary/b1")
        .check_resource_with_context(&resource(binary), context.as_ref())
        .is_ok()
}

const READ_BOTH: &str = "patient/Binary.rs patient/DocumentReference.r";

#[test]
fn the_host_is_told_which_resource_to_fetch() {
    assert_eq!(
        security_context(&resource(BIN_DOC_123)),
        Some("DocumentReference/d1")
    );
    assert_eq!(security_context(&resource(BIN_PLAIN)), None);
    assert_eq!(security_context(&resource(BIN_BY_IDENTIFIER)), None);
    assert_eq!(security_context(&resource(DOC_123)), None);
}

#[test]
fn a_binary_is_read_through_its_security_context() {
    // The context in the patient's compartment and readable: the Binary is readable.
    assert!(read(READ_BOTH, BIN_DOC_123, Some(DOC_123)));
    // Another patient's document: not found, like any resource outside the compartment.
    assert!(!read(READ_BOTH, BIN_DOC_456, Some(DOC_456)));
    // Reading the Binary needs read access to the context itself...
    assert!(!read("patient/Binary.r", BIN_DOC_123, Some(DOC_123)));
    // ...and a grant on Binary: access to the document alone is not enough.
    let authorizer = Authorizer::new(DecisionPolicy::default());
    let ctx = context("patient/DocumentReference.r", Some("123"), None);
    assert!(authorizer
        .decide(&ctx, &request("GET Binary/b1"))
        .permit()
        .is_none());
    // A context pointing straight at the patient.
    assert!(read(
        "patient/Binary.r patient/Patient.r",
        BIN_PAT_123,
        Some(PAT_123)
    ));
}

#[test]
fn without_the_right_context_a_binary_is_not_found() {
    // The checks without a context never allow a Binary that names one.
    let p = permit(READ_BOTH, "GET Binary/b1");
    assert!(p.check_resource(&resource(BIN_DOC_123)).is_err());
    assert!(!p.allows(&resource(BIN_DOC_123), Permissions::READ));
    assert!(!read(READ_BOTH, BIN_DOC_123, None));
    // A context other than the one referenced (here the patient's own document for a Binary
    // that names another patient's) is refused.
    assert!(!read(READ_BOTH, BIN_DOC_456, Some(DOC_123)));
    // A context named by identifier only cannot be fetched: always denied.
    assert!(!read(READ_BOTH, BIN_BY_IDENTIFIER, Some(DOC_123)));
    // A Binary with no context is in no patient compartment.
    assert!(!read(READ_BOTH, BIN_PLAIN, Some(DOC_123)));
    // System scopes reach everything, but the context must still be readable.
    let system = Authorizer::new(DecisionPolicy::default());
    let ctx = context("system/Binary.r", None, None);
    let decision = system.decide(&ctx, &request("GET Binary/b1"));
    let p = decision.permit().unwrap();
    assert!(p
        .check_resource_with_context(&resource(BIN_DOC_123), Some(&resource(DOC_123)))
        .is_err());
    assert!(p.check_resource(&resource(BIN_DOC_123)).is_err());
    assert!(p.check_resource(&resource(BIN_PLAIN)).is_ok());
}

#[test]
fn results_and_includes_with_context() {
    let p = permit(READ_BOTH, "GET Binary?_id=b1");
    let doc = resource(DOC_123);
    assert!(p.allows_with_context(&resource(BIN_DOC_123), Some(&doc), Permissions::READ));
    assert!(!p.allows_with_context(&resource(BIN_DOC_456), Some(&doc), Permissions::READ));
    // Other resources ignore the context.
    assert!(p.allows_with_context(&doc, Some(&resource(DOC_456)), Permissions::READ));
}

#[test]
fn bundles_keep_a_binary_only_with_its_context() {
    let bundle = |entries: &[&str]| {
        let entries: Vec<String> = entries
            .iter()
            .map(|r| format!(r#"{{"resource":{r},"search":{{"mode":"match"}}}}"#))
            .collect();
        let json = format!(
            r#"{{"resourceType":"Bundle","type":"searchset","entry":[{}]}}"#,
            entries.join(",")
        );
        match resource(&json) {
            Resource::Bundle(b) => *b,
            other => panic!("{other:?}"),
        }
    };
    let p = permit(READ_BOTH, "GET Binary?_id=b1");
    let mut b = bundle(&[BIN_DOC_123, BIN_DOC_456]);
    assert_eq!(p.filter_bundle(&mut b).kept, 0);
    let mut b = bundle(&[BIN_DOC_123, BIN_DOC_456]);
    let report = p.filter_bundle_with_contexts(&mut b, &[resource(DOC_456), resource(DOC_123)]);
    assert_eq!((report.kept, report.removed), (1, 1));
    assert_eq!(
        security_context(b.entry[0].resource.as_ref().unwrap()),
        Some("DocumentReference/d1")
    );
}

#[test]
fn writes_may_not_point_the_context_at_what_the_caller_cannot_access() {
    let write =
        |scopes: &str, line: &str, new: Option<(&str, &str)>, stored: Option<(&str, &str)>| {
            let parsed = |v: Option<(&str, &str)>| v.map(|(r, c)| (resource(r), resource(c)));
            let (new, stored) = (parsed(new), parsed(stored));
            permit(scopes, line)
                .check_write_with_context(pair(&new), pair(&stored))
                .map_err(|d| d.status().as_u16())
        };
    let all = "patient/Binary.cu patient/DocumentReference.r";
    assert_eq!(
        write(all, "POST Binary", Some((BIN_DOC_123, DOC_123)), None),
        Ok(())
    );
    // Pointing a new Binary at another patient's document.
    assert_eq!(
        write(all, "POST Binary", Some((BIN_DOC_456, DOC_456)), None),
        Err(403)
    );
    // Pointing it at a document the caller may not read.
    assert_eq!(
        write(
            "patient/Binary.c",
            "POST Binary",
            Some((BIN_DOC_123, DOC_123)),
            None
        ),
        Err(403)
    );
    // Taking over another patient's Binary by repointing it at our document.
    assert_eq!(
        write(
            all,
            "PUT Binary/b1",
            Some((BIN_DOC_123, DOC_123)),
            Some((BIN_DOC_456, DOC_456))
        ),
        Err(403)
    );
    assert_eq!(
        write(
            all,
            "PUT Binary/b1",
            Some((BIN_DOC_123, DOC_123)),
            Some((BIN_DOC_123, DOC_123))
        ),
        Ok(())
    );
    // The plain write check refuses a Binary naming a context.
    let p = permit(all, "POST Binary");
    assert!(p.check_write(Some(&resource(BIN_DOC_123)), None).is_err());
}
