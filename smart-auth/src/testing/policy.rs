//! State an authorization rule in one line and check it: "these scopes, this context, this
//! request, this stored data: expect this".
//!
//! ```
//! use smart_auth::decision::{Authorizer, DecisionPolicy};
//! use smart_auth::testing::policy::{Case, Expect};
//!
//! let authorizer = Authorizer::new(DecisionPolicy::default());
//! Case::new("patient/Observation.rs").patient("123").request("GET Observation?code=x").expect(Expect::Narrow).assert(&authorizer);
//! Case::new("patient/Observation.rs").patient("123").request("GET Condition/1").expect(Expect::Forbidden).assert(&authorizer);
//! Case::new("patient/Observation.rs").request("GET Observation/1").expect(Expect::Unauthorized).assert(&authorizer);
//! ```

use std::fmt;

use fhir_types::Resource;
use http::Method;
use serde_json::{Map, Value};

use crate::context::{AccessContext, ContextClaims, RawClaims};
use crate::decision::{Authorizer, Decision, Response};
use crate::request::FhirRequest;
use crate::scope::ScopeSet;

/// An [`AccessContext`] as a validator would build it from these claims (issuer
/// `https://as.example`, expiring in the far future); [`AccessContext::claim`] sees them too.
pub fn context(scopes: &str, patient: Option<&str>, fhir_user: Option<&str>) -> AccessContext {
    context_with_claims(scopes, patient, fhir_user, &Map::new())
}

/// As [`context`], with further claims (an authorization server's own, such as a role) for a
/// host rule that reads them through [`AccessContext::claim`].
pub fn context_with_claims(
    scopes: &str,
    patient: Option<&str>,
    fhir_user: Option<&str>,
    extra: &Map<String, Value>,
) -> AccessContext {
    let claims = ContextClaims {
        issuer: "https://as.example",
        subject: Some("test-subject"),
        client_id: Some("test-client"),
        fhir_user,
        patient,
        ..ContextClaims::default()
    };
    let mut raw = extra.clone();
    raw.insert("iss".into(), claims.issuer.into());
    raw.insert("sub".into(), "test-subject".into());
    raw.insert("client_id".into(), "test-client".into());
    raw.insert("scope".into(), scopes.into());
    if let Some(p) = patient {
        raw.insert("patient".into(), p.into());
    }
    if let Some(u) = fhir_user {
        raw.insert("fhirUser".into(), u.into());
    }
    // The strings are copied, not spans of the raw claims: they stay valid as those change.
    AccessContext::new(
        &claims,
        "",
        ScopeSet::parse(scopes),
        Vec::new(),
        i64::MAX,
        None,
    )
    .with_raw_claims(RawClaims::from(raw))
}

/// Parses `"GET Observation/1"` or `"POST Observation/_search"` (path relative to the base,
/// optional query). Panics on a malformed line: it is a test helper.
pub fn request(line: &str) -> FhirRequest {
    try_request(line).unwrap_or_else(|e| panic!("request {line:?}: {e}"))
}

/// Like [`request`], returning the classification error instead of panicking.
pub fn try_request(line: &str) -> Result<FhirRequest, String> {
    let (method, target) = line.split_once(' ').ok_or("expected \"METHOD path\"")?;
    let method: Method = method
        .parse()
        .map_err(|_| format!("bad method {method:?}"))?;
    let uri = format!("/fhir/{}", target.trim_start_matches('/'));
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(())
        .map_err(|e| e.to_string())?;
    let (parts, ()) = req.into_parts();
    FhirRequest::from_parts(&parts, "/fhir", None).map_err(|e| e.to_string())
}

/// The expected outcome of a [`Case`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Allowed without narrowing (results still checked).
    Allow,
    /// Allowed with narrowing.
    Narrow,
    /// Allowed, narrowed or not.
    Allowed,
    /// Answered exactly as a missing resource.
    NotFound,
    /// 403.
    Forbidden,
    /// 401 `invalid_token`.
    Unauthorized,
    /// 400.
    BadRequest,
    /// An empty search result.
    EmptySearch,
}

/// What actually happened, for failure messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The matching [`Expect`] variant.
    pub kind: Expect,
    /// The denial reason code, when refused.
    pub reason: Option<&'static str>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Some(r) => write!(f, "{:?} ({r})", self.kind),
            None => write!(f, "{:?}", self.kind),
        }
    }
}

/// Parses FHIR JSON for a test fixture; panics with the parse error on bad input.
pub fn resource(json: &str) -> Resource {
    fhir_types::json::parse_resource(json.as_bytes()).unwrap_or_else(|e| panic!("fixture: {e}"))
}

/// One rule: scopes, context, request, stored data, expectation.
///
/// With stored data the whole path runs: the pre-query decision, then for reads
/// [`Permit::check_resource`](crate::decision::Permit::check_resource) on the stored resource,
/// for writes [`Permit::check_write`](crate::decision::Permit::check_write) on the body and the
/// stored version, and for searches [`Permit::filter_bundle`](crate::decision::Permit::filter_bundle)
/// over all stored resources (as a host that forgot to narrow would return them).
#[derive(Debug, Clone)]
pub struct Case {
    scopes: String,
    patient: Option<String>,
    fhir_user: Option<String>,
    request: Option<String>,
    stored: Vec<Resource>,
    body: Option<Resource>,
    expect: Option<Expect>,
    visible: Option<Vec<String>>,
    claims: Map<String, Value>,
}

impl Case {
    /// A case for a token with these scopes (no launch context yet).
    pub fn new(scopes: &str) -> Case {
        Case {
            scopes: scopes.to_owned(),
            patient: None,
            fhir_user: None,
            request: None,
            stored: Vec::new(),
            body: None,
            expect: None,
            visible: None,
            claims: Map::new(),
        }
    }

    /// Adds a stored resource (FHIR JSON): the one a read fetches, the current version of a
    /// write, or one of the resources a search could return.
    pub fn stored(mut self, json: &str) -> Case {
        self.stored.push(resource(json));
        self
    }

    /// Sets the body of a write (FHIR JSON).
    pub fn body(mut self, json: &str) -> Case {
        self.body = Some(resource(json));
        self
    }

    /// Expects a search to return exactly these resources (`Type/id`), in stored order.
    pub fn expect_visible<I: IntoIterator<Item = S>, S: Into<String>>(mut self, refs: I) -> Case {
        self.visible = Some(refs.into_iter().map(Into::into).collect());
        self.expect.get_or_insert(Expect::Allowed);
        self
    }

    /// Sets the launch patient.
    pub fn patient(mut self, id: &str) -> Case {
        self.patient = Some(id.to_owned());
        self
    }

    /// Adds a claim of the token beyond the SMART ones (e.g. an authorization server's `role`),
    /// for a host rule that reads it through [`AccessContext::claim`].
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Case {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Sets `fhirUser`.
    pub fn user(mut self, url: &str) -> Case {
        self.fhir_user = Some(url.to_owned());
        self
    }

    /// Sets the request line (see [`request`]).
    pub fn request(mut self, line: &str) -> Case {
        self.request = Some(line.to_owned());
        self
    }

    /// Sets the expectation.
    pub fn expect(mut self, expect: Expect) -> Case {
        self.expect = Some(expect);
        self
    }

    /// The access context of the case.
    fn context(&self) -> AccessContext {
        context_with_claims(
            &self.scopes,
            self.patient.as_deref(),
            self.fhir_user.as_deref(),
            &self.claims,
        )
    }

    /// Runs the case and reports what happened.
    pub fn run(&self, authorizer: &Authorizer) -> Result<Outcome, String> {
        let line = self.request.as_deref().ok_or("no request")?;
        let ctx = self.context();
        let req = try_request(line)?;
        let decision = authorizer.decide(&ctx, &req);
        let Some(permit) = decision.permit() else {
            return Ok(outcome(&decision));
        };
        let after = if req.interaction().is_write() {
            permit.check_write(self.body.as_ref(), self.stored.first())
        } else if req.id().is_some() && req.operation().is_none() {
            match self.stored.first() {
                Some(r) => permit.check_resource(r),
                None => Ok(()),
            }
        } else {
            Ok(())
        };
        Ok(match after {
            Ok(()) => outcome(&decision),
            Err(d) => outcome(&Decision::Deny(d)),
        })
    }

    /// For a search case: what the permit lets through of all stored resources.
    pub fn visible(&self, authorizer: &Authorizer) -> Result<Vec<String>, String> {
        let line = self.request.as_deref().ok_or("no request")?;
        let ctx = self.context();
        let decision = authorizer.decide(&ctx, &try_request(line)?);
        let Some(permit) = decision.permit() else {
            return Ok(Vec::new());
        };
        let entries: Vec<serde_json::Value> = self
            .stored
            .iter()
            .map(|r| {
                let json: serde_json::Value =
                    serde_json::from_slice(&fhir_types::json::to_vec(r)).unwrap_or_default();
                serde_json::json!({"resource": json, "search": {"mode": "match"}})
            })
            .collect();
        let bundle =
            serde_json::json!({"resourceType": "Bundle", "type": "searchset", "entry": entries});
        let Resource::Bundle(mut bundle) = resource(&bundle.to_string()) else {
            return Err("not a Bundle".into());
        };
        permit.filter_bundle(&mut bundle);
        Ok(bundle
            .entry
            .iter()
            .filter_map(|e| e.resource.as_ref())
            .map(|r| format!("{}/{}", r.resource_type(), r.id().unwrap_or("")))
            .collect())
    }

    /// Checks the case: `Err` describes the mismatch.
    pub fn check(&self, authorizer: &Authorizer) -> Result<(), String> {
        let expect = self.expect.ok_or("no expectation")?;
        if let Some(want) = &self.visible {
            let got = self.visible(authorizer)?;
            if &got != want {
                return Err(format!("{self}: expected to see {want:?}, saw {got:?}"));
            }
        }
        let got = self.run(authorizer)?;
        let ok = got.kind == expect
            || (expect == Expect::Allowed && matches!(got.kind, Expect::Allow | Expect::Narrow));
        if ok {
            Ok(())
        } else {
            Err(format!("{self}: expected {expect:?}, got {got}"))
        }
    }

    /// Panics with a readable message unless the case holds.
    pub fn assert(&self, authorizer: &Authorizer) {
        if let Err(e) = self.check(authorizer) {
            panic!("{e}");
        }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.scopes)?;
        if let Some(p) = &self.patient {
            write!(f, " patient={p}")?;
        }
        if let Some(u) = &self.fhir_user {
            write!(f, " fhirUser={u}")?;
        }
        for (name, value) in &self.claims {
            write!(f, " {name}={value}")?;
        }
        write!(f, " {}", self.request.as_deref().unwrap_or("<no request>"))
    }
}

/// Checks every case and panics listing all that failed.
pub fn assert_table(authorizer: &Authorizer, cases: &[Case]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| c.check(authorizer).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Maps a decision to its [`Outcome`].
pub fn outcome(decision: &Decision) -> Outcome {
    match decision {
        Decision::Allow(_) => Outcome {
            kind: Expect::Allow,
            reason: None,
        },
        Decision::Narrow(_) => Outcome {
            kind: Expect::Narrow,
            reason: None,
        },
        Decision::Deny(d) => Outcome {
            kind: match d.response() {
                Response::InvalidToken => Expect::Unauthorized,
                Response::Forbidden => Expect::Forbidden,
                Response::NotFound => Expect::NotFound,
                Response::EmptySearch => Expect::EmptySearch,
                Response::BadRequest => Expect::BadRequest,
            },
            reason: Some(d.reason().code()),
        },
    }
}
