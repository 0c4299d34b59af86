//! The FHIR service behind the layer: read, type search and Patient-compartment search over the
//! in-memory [`Store`]. Everything it sees has been authorized by
//! [`SecureFhirLayer`](secure_fhir::layer::SecureFhirLayer); what it returns it checks against
//! that [`Authorized`] request, and it names what it returned in [`AuditFacts`] for the layer's
//! audit record.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use fhir_types::compartment::{self, CompartmentType};
use fhir_types::search::SearchParamType;
use fhir_types::ResourceType;
use http::{header, StatusCode};
use http_body_util::Full;
use secure_fhir::audit::AuditFacts;
use secure_fhir::fhir_audit::ResourceRef;
use secure_fhir::response::{self, IssueCode};
use secure_fhir::smart_auth::request::{FhirRequest, Interaction, Query};
use secure_fhir::{Authorized, Rejection};
use serde_json::{json, Value};

use crate::store::{matches_reference, Store, Stored};

/// Largest page of a search.
const MAX_COUNT: usize = 100;
/// Page size when the client names none.
const DEFAULT_COUNT: usize = 20;

/// The service's state: the data and the base URL its links and references use.
pub struct Fhir {
    /// The resources.
    pub store: Store,
    /// The FHIR base URL (`http://127.0.0.1:8081/fhir`).
    pub base: String,
}

type Answer = http::Response<Full<Bytes>>;

/// Answers one authorized request. A request the layer did not authorize (no [`Authorized`] in
/// its extensions: the service was mounted without the layer) is a 500, never served.
pub async fn serve(fhir: Arc<Fhir>, req: http::Request<Full<Bytes>>) -> Result<Answer, Infallible> {
    let Some(authorized) = req.extensions().get::<Authorized>() else {
        return Ok(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            IssueCode::Processing,
            "Not authorized",
        ));
    };
    let request = authorized.request();
    let found = match (request.interaction(), request.resource_type()) {
        (Interaction::Read, Some(ty)) => read(&fhir, authorized, ty, request.id().unwrap_or("")),
        (Interaction::SearchType, Some(ty)) => search(&fhir, authorized, request, ty, None),
        (Interaction::SearchCompartment, Some(ty)) => match request.compartment() {
            Some(c) if c.resource_type == ResourceType::Patient => {
                search(&fhir, authorized, request, ty, Some(&c.id))
            }
            _ => Err(unsupported("Only Patient compartments are searched here")),
        },
        _ => {
            let refusal = Rejection::new(
                StatusCode::METHOD_NOT_ALLOWED,
                IssueCode::NotSupported,
                "not_supported",
                "This server answers read and search only",
            );
            // RFC 9110 §15.5.6: a 405 names the methods its target takes; here the reads
            // and searches never reach this arm, so none.
            let mut answer = refusal.to_response();
            answer
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static(""));
            return Ok(answer.map(Full::from));
        }
    };
    Ok(found.unwrap_or_else(|rejection| rejection.to_response().map(Full::from)))
}

fn read(
    fhir: &Fhir,
    authorized: &Authorized,
    ty: ResourceType,
    id: &str,
) -> Result<Answer, Rejection> {
    // Missing and not allowed are the same answer, byte for byte.
    let stored = fhir
        .store
        .get(ty, id)
        .ok_or_else(|| Rejection::not_found("not_found"))?;
    authorized.check_resource(&stored.resource)?;
    let mut answer = ok(&stored.json);
    answer.extensions_mut().insert(facts(fhir, &[stored]));
    Ok(answer)
}

fn search(
    fhir: &Fhir,
    authorized: &Authorized,
    request: &FhirRequest,
    ty: ResourceType,
    compartment: Option<&str>,
) -> Result<Answer, Rejection> {
    let query = request.query();
    let (offset, count) = page(query)?;
    let criteria = criteria(query, ty)?;
    // Every match is checked before it is counted: `total` says nothing of what the token may
    // not see.
    let matches: Vec<&Stored> = fhir
        .store
        .of_type(ty)
        .filter(|s| {
            compartment.is_none_or(|p| {
                compartment::in_compartment(CompartmentType::Patient, p, &s.resource)
            })
        })
        .filter(|s| criteria.iter().all(|c| c.matches(s)))
        .filter(|s| authorized.may_return(&s.resource))
        .collect();
    let shown: Vec<&Stored> = matches.iter().skip(offset).take(count).copied().collect();
    let entries: Vec<Value> = shown
        .iter()
        .map(|s| {
            let id = s.resource.id().unwrap_or_default();
            json!({
                "fullUrl": format!("{}/{}/{id}", fhir.base, ty.as_str()),
                "resource": s.json,
                "search": {"mode": "match"},
            })
        })
        .collect();
    let mut links = vec![
        json!({"relation": "self", "url": link(fhir, request, ty, compartment, offset, count)}),
    ];
    if count > 0 && offset + count < matches.len() {
        let next = link(fhir, request, ty, compartment, offset + count, count);
        links.push(json!({"relation": "next", "url": next}));
    }
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": matches.len(),
        "link": links,
        "entry": entries,
    });
    let mut answer = ok(&bundle);
    answer.extensions_mut().insert(facts(fhir, &shown));
    Ok(answer)
}

/// One supported criterion: `_id`, or a reference parameter of the type (`patient=123`,
/// `subject=Patient/123`), each with comma-separated alternatives.
enum Criterion<'q> {
    Id(Vec<&'q str>),
    Reference(&'q str, Vec<&'q str>),
}

impl Criterion<'_> {
    fn matches(&self, stored: &Stored) -> bool {
        match self {
            Criterion::Id(ids) => ids.contains(&stored.resource.id().unwrap_or_default()),
            Criterion::Reference(code, values) => values
                .iter()
                .any(|v| matches_reference(&stored.resource, code, v)),
        }
    }
}

/// The query's criteria; anything else is refused rather than ignored (an ignored filter
/// would answer more than was asked).
fn criteria(query: &Query, ty: ResourceType) -> Result<Vec<Criterion<'_>>, Rejection> {
    if !query.has.is_empty()
        || !query.includes.is_empty()
        || query.summary.is_some()
        || !query.elements.is_empty()
        || query.controls.iter().any(|(name, _)| name != "_offset")
    {
        return Err(unsupported("Unsupported search result parameter"));
    }
    query
        .params
        .iter()
        .map(|p| {
            if p.is_chained() || p.modifier().is_some() {
                return Err(unsupported("Chains and modifiers are not supported"));
            }
            let values = p.value.split(',').collect();
            match p.code() {
                "_id" => Ok(Criterion::Id(values)),
                code => match fhir_types::search::search_param(ty, code) {
                    Some(def) if def.param_type == SearchParamType::Reference => {
                        Ok(Criterion::Reference(def.code, values))
                    }
                    _ => Err(unsupported("Unsupported search parameter")),
                },
            }
        })
        .collect()
}

/// `_offset` and `_count` (at most [`MAX_COUNT`]).
fn page(query: &Query) -> Result<(usize, usize), Rejection> {
    let count = query
        .count
        .map_or(DEFAULT_COUNT, |c| (c as usize).min(MAX_COUNT));
    let offset = match query.controls.iter().find(|(name, _)| name == "_offset") {
        None => 0,
        Some((_, v)) => v
            .parse::<usize>()
            .ok()
            .filter(|o| *o <= 1_000_000)
            .ok_or_else(|| invalid("_offset must be a number up to 1000000"))?,
    };
    Ok((offset, count))
}

/// A page link: the criteria as the client gave them, with this page's `_offset` and `_count`.
fn link(
    fhir: &Fhir,
    request: &FhirRequest,
    ty: ResourceType,
    compartment: Option<&str>,
    offset: usize,
    count: usize,
) -> String {
    let path = match compartment {
        Some(p) => format!("{}/Patient/{p}/{}", fhir.base, ty.as_str()),
        None => format!("{}/{}", fhir.base, ty.as_str()),
    };
    let mut url = path + "?";
    for p in &request.query().params {
        url.push_str(&encode(p.code()));
        url.push('=');
        url.push_str(&encode(&p.value));
        url.push('&');
    }
    url + &format!("_offset={offset}&_count={count}")
}

/// Percent-encodes all but unreserved characters (RFC 3986 §2.3).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What was returned and whose data it was, for the audit record.
fn facts(fhir: &Fhir, stored: &[&Stored]) -> AuditFacts {
    let mut patients = BTreeSet::new();
    let resources = stored
        .iter()
        .map(|s| {
            patients.extend(compartment::compartment_ids_at(
                CompartmentType::Patient,
                &s.resource,
                &fhir.base,
            ));
            ResourceRef::new(
                s.resource.resource_type().as_str(),
                s.resource.id().unwrap_or_default(),
            )
        })
        .collect();
    AuditFacts {
        resources,
        patients: patients.into_iter().collect(),
    }
}

fn ok(body: &Value) -> Answer {
    let mut answer = http::Response::new(Full::from(body.to_string()));
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/fhir+json; charset=utf-8"),
    );
    response::security_headers(headers);
    response::no_store(headers);
    answer
}

fn error(status: StatusCode, code: IssueCode, diagnostics: &'static str) -> Answer {
    response::error(status, code, diagnostics).map(Full::from)
}

fn unsupported(diagnostics: &'static str) -> Rejection {
    Rejection::new(
        StatusCode::BAD_REQUEST,
        IssueCode::NotSupported,
        "not_supported",
        diagnostics,
    )
}

fn invalid(diagnostics: &'static str) -> Rejection {
    Rejection::new(
        StatusCode::BAD_REQUEST,
        IssueCode::Invalid,
        "invalid_query",
        diagnostics,
    )
}
