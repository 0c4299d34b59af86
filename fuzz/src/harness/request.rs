//! Request classification and the authorization decision (smart-auth `request`, `decision`).

use std::sync::LazyLock;

use http::StatusCode;
use smart_auth::decision::{Authorizer, Decision, DecisionPolicy};
use smart_auth::request::FhirRequest;
use smart_auth::testing::policy::context;
use smart_auth::AccessContext;

struct Fixture {
    authorizer: Authorizer,
    contexts: Vec<AccessContext>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| Fixture {
    authorizer: Authorizer::new(DecisionPolicy::default()),
    contexts: vec![
        context(
            "patient/*.cruds launch/patient",
            Some("123"),
            Some("Patient/123"),
        ),
        context(
            "patient/Observation.rs?category=laboratory",
            Some("123"),
            None,
        ),
        context("user/*.rs", None, Some("Patient/123")),
        context("system/*.rs", None, None),
    ],
});

/// A patient-bound permit never narrows to another patient's compartment.
fn check_decision(ctx: &AccessContext, decision: &Decision) {
    match decision {
        Decision::Deny(d) => {
            let s = d.status();
            assert!(
                [
                    StatusCode::OK,
                    StatusCode::BAD_REQUEST,
                    StatusCode::UNAUTHORIZED,
                    StatusCode::FORBIDDEN,
                    StatusCode::NOT_FOUND
                ]
                .contains(&s),
                "unexpected denial status {s}"
            );
            assert!(!d.reason().code().is_empty());
        }
        Decision::Allow(p) | Decision::Narrow(p) => {
            if let (Some(patient), Some(n)) = (ctx.launch().patient, p.narrowing()) {
                for alt in n.alternatives() {
                    if let Some(c) = alt.compartment() {
                        assert_eq!(c.id, patient, "narrowed to another patient's compartment");
                    }
                }
            }
        }
    }
}

/// `request_decide`: a request head (first line `METHOD target`, then `name: value` headers,
/// an empty line, the body) classified like the facade does, then decided for a patient, a
/// granular, a user and a system token; a body that parses as a Bundle is decided entry by
/// entry. Classification and decisions never panic, denials map to one of the policy's
/// statuses, and a patient-bound permit only ever narrows to that patient.
pub fn request_decide(data: &[u8]) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let (method, target) = match first.iter().position(|&b| b == b' ') {
        Some(i) => (&first[..i], &first[i + 1..]),
        None => (&b"GET"[..], first),
    };
    let Ok(method) = http::Method::from_bytes(method) else {
        return;
    };
    let mut builder = http::Request::builder().method(method.clone());
    if let Ok(uri) = http::Uri::try_from(target) {
        builder = builder.uri(uri);
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (mut parts, ()) = request.into_parts();
    for line in lines {
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let value = line[colon + 1..]
                .strip_prefix(b" ")
                .unwrap_or(&line[colon + 1..]);
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(&line[..colon]),
                http::HeaderValue::from_bytes(value),
            ) {
                parts.headers.append(n, v);
            }
        }
    }
    let f = &*FIXTURE;
    if let Ok(req) = FhirRequest::from_parts(&parts, "/fhir", Some(body)) {
        for ctx in &f.contexts {
            check_decision(ctx, &f.authorizer.decide(ctx, &req));
        }
    }
    // The same target as a Bundle entry URL.
    if let Ok(url) = std::str::from_utf8(target) {
        if let Ok(req) = FhirRequest::from_entry(&method, url.trim_start_matches("/fhir/"), None) {
            for ctx in &f.contexts {
                check_decision(ctx, &f.authorizer.decide(ctx, &req));
            }
        }
    }
    if let Ok(fhir_types::Resource::Bundle(bundle)) = fhir_types::json::parse_resource(body) {
        for ctx in &f.contexts {
            if let Ok(decided) = f.authorizer.decide_bundle(ctx, &bundle) {
                assert_eq!(
                    decided.entries.len(),
                    bundle.entry.len(),
                    "one decision per entry"
                );
                for d in &decided.entries {
                    check_decision(ctx, d);
                }
            }
        }
    }
}
