//! Table tests for the FHIR request model (FHIR R4 http.html, search.html).

use fhir_types::ResourceType;
use http::{Method, Request};
use smart_auth::request::{FhirRequest, Interaction, OperationLevel, RequestError, Summary};

fn classify(method: &str, uri: &str) -> Result<FhirRequest, RequestError> {
    let req = Request::builder().method(method).uri(uri).body(()).unwrap();
    let (parts, ()) = req.into_parts();
    FhirRequest::from_parts(&parts, "/fhir", None)
}

#[test]
fn every_interaction() {
    use Interaction::*;
    type Row<'a> = (
        &'a str,
        &'a str,
        Interaction,
        Option<&'a str>,
        Option<&'a str>,
    );
    let rows: &[Row] = &[
        (
            "GET",
            "/fhir/Patient/123",
            Read,
            Some("Patient"),
            Some("123"),
        ),
        (
            "HEAD",
            "/fhir/Patient/123",
            Read,
            Some("Patient"),
            Some("123"),
        ),
        (
            "GET",
            "/fhir/Patient/123/_history/2",
            VRead,
            Some("Patient"),
            Some("123"),
        ),
        (
            "PUT",
            "/fhir/Patient/123",
            Update,
            Some("Patient"),
            Some("123"),
        ),
        (
            "PATCH",
            "/fhir/Patient/123",
            Patch,
            Some("Patient"),
            Some("123"),
        ),
        (
            "DELETE",
            "/fhir/Patient/123",
            Delete,
            Some("Patient"),
            Some("123"),
        ),
        (
            "POST",
            "/fhir/Observation",
            Create,
            Some("Observation"),
            None,
        ),
        (
            "PUT",
            "/fhir/Observation?identifier=x|1",
            ConditionalUpdate,
            Some("Observation"),
            None,
        ),
        (
            "PATCH",
            "/fhir/Observation?identifier=x|1",
            ConditionalPatch,
            Some("Observation"),
            None,
        ),
        (
            "DELETE",
            "/fhir/Observation?identifier=x|1",
            ConditionalDelete,
            Some("Observation"),
            None,
        ),
        (
            "GET",
            "/fhir/Observation?code=1",
            SearchType,
            Some("Observation"),
            None,
        ),
        (
            "GET",
            "/fhir/Observation",
            SearchType,
            Some("Observation"),
            None,
        ),
        (
            "POST",
            "/fhir/Observation/_search",
            SearchType,
            Some("Observation"),
            None,
        ),
        ("GET", "/fhir?_type=Observation", SearchSystem, None, None),
        ("POST", "/fhir/_search", SearchSystem, None, None),
        (
            "GET",
            "/fhir/Patient/123/Observation",
            SearchCompartment,
            Some("Observation"),
            None,
        ),
        ("GET", "/fhir/Patient/123/*", SearchCompartment, None, None),
        (
            "GET",
            "/fhir/Patient/123/_history",
            HistoryInstance,
            Some("Patient"),
            Some("123"),
        ),
        (
            "GET",
            "/fhir/Patient/_history",
            HistoryType,
            Some("Patient"),
            None,
        ),
        ("GET", "/fhir/_history", HistorySystem, None, None),
        ("GET", "/fhir/metadata", Capabilities, None, None),
        ("POST", "/fhir", BatchOrTransaction, None, None),
        ("POST", "/fhir/", BatchOrTransaction, None, None),
        (
            "GET",
            "/fhir/Patient/123/$everything",
            Operation,
            Some("Patient"),
            Some("123"),
        ),
        (
            "POST",
            "/fhir/Observation/$validate",
            Operation,
            Some("Observation"),
            None,
        ),
        ("GET", "/fhir/$export", Operation, None, None),
        (
            "GET",
            "/fhir/Group/g1/$export",
            Operation,
            Some("Group"),
            Some("g1"),
        ),
    ];
    for (method, uri, interaction, ty, id) in rows {
        let req = classify(method, uri).unwrap_or_else(|e| panic!("{method} {uri}: {e:?}"));
        assert_eq!(req.interaction(), *interaction, "{method} {uri}");
        assert_eq!(
            req.resource_type().map(|t| t.as_str()),
            *ty,
            "{method} {uri}"
        );
        assert_eq!(req.id(), *id, "{method} {uri}");
    }
}

#[test]
fn operations_and_versions() {
    let r = classify("GET", "/fhir/Patient/123/$everything").unwrap();
    let op = r.operation().unwrap();
    assert_eq!(
        (op.name.as_str(), op.level),
        ("everything", OperationLevel::Instance)
    );
    assert_eq!(
        classify("GET", "/fhir/$export")
            .unwrap()
            .operation()
            .unwrap()
            .level,
        OperationLevel::System
    );
    assert_eq!(
        classify("GET", "/fhir/Patient/$export")
            .unwrap()
            .operation()
            .unwrap()
            .level,
        OperationLevel::Type
    );
    assert_eq!(
        classify("GET", "/fhir/Patient/1/_history/7")
            .unwrap()
            .version(),
        Some("7")
    );
    let c = classify("GET", "/fhir/Patient/9/Observation").unwrap();
    assert_eq!(
        c.compartment().unwrap().resource_type,
        ResourceType::Patient
    );
    assert_eq!(c.compartment().unwrap().id, "9");
}

#[test]
fn strict_paths() {
    use RequestError::*;
    let rows: &[(&str, &str, RequestError)] = &[
        ("GET", "/fhir/patient/123", UnknownResourceType), // case-sensitive types
        ("GET", "/fhir/Nonsense/1", UnknownResourceType),
        ("GET", "/fhir/Patient/../Observation/1", InvalidPath),
        ("GET", "/fhir/Patient/./123", InvalidPath),
        ("GET", "/fhir/Patient/..", InvalidPath),
        ("GET", "/fhir/Patient/%2e%2e", InvalidPath),
        ("GET", "/fhir/Patient%2F123", InvalidPath), // encoded slash
        ("GET", "/fhir/Patient/1%2F2", InvalidPath),
        ("GET", "/fhir/Patient//123", InvalidPath), // empty segment
        ("GET", "/fhir/Patient/123;jsessionid=1", InvalidPath), // matrix parameter
        ("GET", "/fhir/Patient/12_3", InvalidId),
        (
            "GET",
            "/fhir/Patient/1234567890123456789012345678901234567890123456789012345678901234567890",
            InvalidId,
        ),
        ("GET", "/fhir/Patient/1/_history/x_y", InvalidId),
        ("GET", "/other/Patient/1", NotUnderBase),
        ("GET", "/fhirx/Patient/1", NotUnderBase),
        ("PUT", "/fhir/Observation", MissingCriteria), // conditional update needs criteria
        ("DELETE", "/fhir/Observation", MissingCriteria),
        ("GET", "/fhir/Observation/1/Patient", InvalidPath), // not a compartment type
        ("GET", "/fhir/Patient/1/$bad$name", InvalidPath),
        ("GET", "/fhir/Observation?_count=-1", InvalidQuery),
        ("GET", "/fhir/Observation?_count=ten", InvalidQuery),
        ("GET", "/fhir/Observation?_summary=bogus", InvalidQuery),
        ("GET", "/fhir/Observation?_count=1&_count=2", InvalidQuery),
        ("GET", "/fhir?_type=observation", InvalidQuery),
        (
            "GET",
            "/fhir/Observation?_include=Nope:subject",
            InvalidQuery,
        ),
        (
            "GET",
            "/fhir/Observation?_include:bogus=Observation:subject",
            InvalidQuery,
        ),
        (
            "GET",
            "/fhir/Observation?_has:Nope:patient:code=1",
            InvalidQuery,
        ),
        (
            "GET",
            "/fhir/Observation?_has:Observation:patient",
            InvalidQuery,
        ),
        ("GET", "/fhir/Observation?a.b.c.d.e=1", InvalidQuery),
        ("GET", "/fhir/Observation?code:=1", InvalidQuery),
        // R4 sorts by search parameter names only: a chain would order results by data behind
        // references the decision never checked.
        ("GET", "/fhir/Observation?_sort=subject.name", InvalidQuery),
        (
            "GET",
            "/fhir/Observation?_sort=-subject:Patient.name",
            InvalidQuery,
        ),
        ("GET", "/fhir/Observation?_sort=date,", InvalidQuery),
        ("GET", "/fhir/Observation?_sort=--date", InvalidQuery),
        ("GET", "/fhir/Observation?_sort=", InvalidQuery),
    ];
    for (method, uri, err) in rows {
        assert_eq!(classify(method, uri), Err(*err), "{method} {uri}");
    }
    assert_eq!(UnknownResourceType.status(), http::StatusCode::NOT_FOUND);
    assert_eq!(InvalidId.status(), http::StatusCode::BAD_REQUEST);
}

/// RFC 9110 §15.5.6: a 405 response MUST carry `Allow` with the methods the target resource
/// supports: each refused method says what its path's shape takes (R4 http.html). A shape FHIR
/// does not define takes none: it is an invalid path, not a 405.
#[test]
fn a_method_not_allowed_says_which_methods_are() {
    let everything = "GET, HEAD, POST, PUT, PATCH, DELETE";
    let rows = [
        ("PUT", "/fhir", "GET, HEAD, POST"),
        ("OPTIONS", "/fhir/Observation", everything),
        ("TRACE", "/fhir/Observation", everything),
        ("POST", "/fhir/Patient/1", "GET, HEAD, PUT, PATCH, DELETE"),
        ("POST", "/fhir/Patient/1/_history", "GET, HEAD"),
        ("DELETE", "/fhir/Patient/1/_history/2", "GET, HEAD"),
        ("POST", "/fhir/Patient/1/Observation", "GET, HEAD"),
        ("PUT", "/fhir/Patient/1/$everything", "GET, HEAD, POST"),
        ("POST", "/fhir/$export", "GET, HEAD"),
        ("POST", "/fhir/Group/g1/$export", "GET, HEAD"),
    ];
    for (method, uri, allow) in rows {
        match classify(method, uri) {
            Err(RequestError::MethodNotAllowed(a)) => {
                assert_eq!(a.header_value(), allow, "{method} {uri}");
                // Each method it names is taken on that path (a conditional write asks
                // for criteria).
                for m in allow.split(", ") {
                    let r = classify(m, uri);
                    assert!(
                        matches!(r, Ok(_) | Err(RequestError::MissingCriteria)),
                        "{m} {uri}: {r:?}"
                    );
                }
            }
            other => panic!("{method} {uri}: {other:?}"),
        }
    }
    for (method, uri) in [
        ("POST", "/fhir/Observation/1/Patient"),
        ("GET", "/fhir/Patient/1/Observation/2"),
    ] {
        assert_eq!(
            classify(method, uri).err(),
            Some(RequestError::InvalidPath),
            "{method} {uri}"
        );
    }
}

#[test]
fn query_parsing() {
    let r = classify(
        "GET",
        "/fhir/Observation?subject:Patient.name:exact=Peter&_has:Observation:patient:_has:AuditEvent:entity:agent=x&_include=Observation:subject:Patient&_revinclude:iterate=Provenance:target&_include=*&_count=20&_summary=count&_elements=id,code&_sort=-date&code=http://loinc.org%7C1234-5",
    )
    .unwrap();
    let q = r.query();
    assert_eq!(q.count, Some(20));
    assert_eq!(q.summary, Some(Summary::Count));
    assert_eq!(q.elements, ["id", "code"]);
    assert_eq!(q.controls, [("_sort".to_owned(), "-date".to_owned())]);
    // A host's paging cursor is a result control, not a criterion (history takes none).
    let paged = classify("GET", "/fhir/Observation/_history?_count=2&_cursor=41.37").unwrap();
    assert!(paged.query().params.is_empty());
    assert_eq!(
        paged.query().controls,
        [("_cursor".to_owned(), "41.37".to_owned())]
    );
    let sorted = classify(
        "GET",
        "/fhir/Observation?_sort=status,-date,_lastUpdated,value-quantity",
    );
    assert!(sorted.is_ok(), "{sorted:?}");
    let chained = &q.params[0];
    assert!(chained.is_chained());
    assert_eq!(chained.to_string(), "subject:Patient.name:exact");
    assert_eq!(chained.modifier(), Some("exact"));
    assert_eq!(q.params[1].value, "http://loinc.org|1234-5");
    assert_eq!(
        q.has[0].steps,
        [
            (ResourceType::Observation, "patient".to_owned()),
            (ResourceType::AuditEvent, "entity".to_owned())
        ]
    );
    assert_eq!(q.has[0].param.code(), "agent");
    assert_eq!(q.includes.len(), 3);
    assert_eq!(q.includes[0].target, Some(ResourceType::Patient));
    assert!(q.includes[1].reverse && q.includes[1].iterate);
    assert_eq!(q.includes[2].source, None);
}

#[test]
fn bounds() {
    let many: Vec<String> = (0..101).map(|i| format!("code={i}")).collect();
    assert_eq!(
        classify("GET", &format!("/fhir/Observation?{}", many.join("&"))),
        Err(RequestError::TooManyParameters)
    );
    let long = "a".repeat(20_000);
    assert_eq!(
        classify("GET", &format!("/fhir/Observation?code={long}")),
        Err(RequestError::QueryTooLong)
    );
}

#[test]
fn post_search_reads_the_form_body() {
    let req = Request::post("/fhir/Observation/_search?_count=5")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(())
        .unwrap();
    let (parts, ()) = req.into_parts();
    let r = FhirRequest::from_parts(&parts, "/fhir", Some(b"patient=Patient%2F1&code=x")).unwrap();
    assert_eq!(r.query().params.len(), 2);
    assert_eq!(r.query().params[0].value, "Patient/1");
    assert_eq!(r.query().count, Some(5));
    let req = Request::post("/fhir/Observation/_search")
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (parts, ()) = req.into_parts();
    assert_eq!(
        FhirRequest::from_parts(&parts, "/fhir", Some(b"{}")),
        Err(RequestError::UnsupportedMediaType)
    );
}

#[test]
fn conditional_create_and_entries() {
    let req = Request::post("/fhir/Observation")
        .header("if-none-exist", "identifier=http://x|1")
        .body(())
        .unwrap();
    let (parts, ()) = req.into_parts();
    let r = FhirRequest::from_parts(&parts, "/fhir", None).unwrap();
    assert_eq!(r.if_none_exist().unwrap().params[0].code(), "identifier");
    // Exactly one set of criteria, never empty, from a header or a Bundle entry alike.
    let req = Request::post("/fhir/Observation")
        .header("if-none-exist", "identifier=http://x|1")
        .header("if-none-exist", "subject:Patient.name=x")
        .body(())
        .unwrap();
    let (parts, ()) = req.into_parts();
    assert_eq!(
        FhirRequest::from_parts(&parts, "/fhir", None),
        Err(RequestError::InvalidQuery)
    );
    for empty in ["", "Observation?", "_count=1"] {
        assert_eq!(
            FhirRequest::from_entry(&Method::POST, "Observation", Some(empty)),
            Err(RequestError::InvalidQuery),
            "{empty:?}"
        );
    }
    // A `[type]?` before the criteria names the created type or nothing: a host reading the
    // prefix would search Patient with criteria and a narrowing decided for Observation.
    for (criteria, ok) in [
        ("Observation?identifier=x|1", true),
        ("?identifier=x|1", true),
        ("Patient?identifier=x|1", false),
        ("Nonsense?identifier=x|1", false),
        ("Observation/1?identifier=x|1", false),
        ("https://ehr.example/fhir/Observation?identifier=x|1", false),
    ] {
        let entry = FhirRequest::from_entry(&Method::POST, "Observation", Some(criteria));
        assert_eq!(entry.is_ok(), ok, "{criteria:?}: {entry:?}");
        let req = Request::post("/fhir/Observation")
            .header("if-none-exist", criteria)
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let header = FhirRequest::from_parts(&parts, "/fhir", None);
        assert_eq!(header.is_ok(), ok, "{criteria:?}: {header:?}");
        if !ok {
            assert_eq!(header, Err(RequestError::InvalidQuery));
        }
    }
    // The method-override header is ignored: the wire method decides.
    let req = Request::get("/fhir/Patient/1")
        .header("x-http-method-override", "DELETE")
        .body(())
        .unwrap();
    let (parts, ()) = req.into_parts();
    assert_eq!(
        FhirRequest::from_parts(&parts, "/fhir", None)
            .unwrap()
            .interaction(),
        Interaction::Read
    );
    // Bundle entries use relative URLs.
    let e = FhirRequest::from_entry(&Method::PUT, "Observation/1", None).unwrap();
    assert_eq!(e.interaction(), Interaction::Update);
    let e = FhirRequest::from_entry(&Method::POST, "Observation", Some("identifier=x|1")).unwrap();
    assert!(e.if_none_exist().is_some());
    assert_eq!(
        FhirRequest::from_entry(&Method::GET, "https://evil.example/Patient/1", None),
        Err(RequestError::InvalidPath)
    );
    assert_eq!(
        FhirRequest::from_entry(&Method::GET, "Patient/../Patient/2", None),
        Err(RequestError::InvalidPath)
    );
}

#[test]
fn root_base() {
    let req = Request::get("/Patient/1").body(()).unwrap();
    let (parts, ()) = req.into_parts();
    assert_eq!(
        FhirRequest::from_parts(&parts, "", None).unwrap().id(),
        Some("1")
    );
    assert_eq!(
        FhirRequest::from_parts(&parts, "/", None).unwrap().id(),
        Some("1")
    );
}
