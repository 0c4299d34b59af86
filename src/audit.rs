//! The audit record of every request, allowed or not, as [`fhir_audit::AuditRecord`]s.
//!
//! The facade hands the audit crate plain facts: who (user, client, token by reference — never
//! the token), what (interaction, type, resources, patients, the query for searches, with
//! credentials removed), and how it ended, with the true reason even when the client saw a
//! deliberately uninformative 404.

use chrono::{DateTime, Utc};
use fhir_audit::{
    AuditRecord, Client, Interaction, Outcome, RawRequest, ResourceRef, Severity, TokenRef, User,
};
use http::StatusCode;
use smart_auth::request::{FhirRequest, Interaction as Kind};
use smart_auth::AccessContext;

use crate::authorized::Authorized;
use crate::guard::Rejected;
use crate::rejection::Rejection;

/// Per-request facts the facade cannot see in the `http` parts: the peer address and the
/// correlation id the host assigned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// The network peer (IP address), when known. BALP requires it: a rendered AuditEvent
    /// claims a BALP profile only with the client's address (and
    /// [`RenderConfig::server_address`](fhir_audit::render::RenderConfig::server_address)).
    pub peer: Option<String>,
    /// The request's correlation id (e.g. `X-Request-Id`).
    pub correlation_id: Option<String>,
}

/// What the host returned or changed, and whose data it was: the facts of an allowed
/// request's audit record ([`Authorized::audit_record`]). Behind the `tower` layer, the service
/// puts it in its response's extensions for the layer's audit record (a `system/` or `user/`
/// token has no launch patient to fall back on).
///
/// ```
/// use secure_fhir::audit::AuditFacts;
/// use secure_fhir::fhir_audit::ResourceRef;
/// let facts = AuditFacts {
///     resources: vec![ResourceRef::new("Observation", "bp-1").version("2")],
///     patients: vec!["123".into()],
/// };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFacts {
    /// Each resource returned or changed, with its version for a version-specific
    /// interaction (vread, a version of a history). The first 1,000 are recorded.
    pub resources: Vec<ResourceRef>,
    /// The patients whose data they were: logical ids (`123`; `Patient/123` is read as `123`),
    /// the Patient compartments of what was returned or changed
    /// ([`fhir_types::compartment::compartment_ids_at`]).
    pub patients: Vec<String>,
}

fn interaction(req: Option<&FhirRequest>, is_transaction: bool) -> (Interaction, Option<String>) {
    let Some(req) = req else {
        return (Interaction::Operation, None);
    };
    let i = match req.interaction() {
        Kind::Read => Interaction::Read,
        Kind::VRead => Interaction::Vread,
        Kind::Update | Kind::ConditionalUpdate => Interaction::Update,
        Kind::Patch | Kind::ConditionalPatch => Interaction::Patch,
        Kind::Delete | Kind::ConditionalDelete => Interaction::Delete,
        Kind::Create => Interaction::Create,
        Kind::SearchType => Interaction::SearchType,
        Kind::SearchSystem => Interaction::SearchSystem,
        Kind::SearchCompartment => Interaction::Search,
        Kind::HistoryInstance => Interaction::HistoryInstance,
        Kind::HistoryType => Interaction::HistoryType,
        Kind::HistorySystem => Interaction::HistorySystem,
        Kind::Capabilities => Interaction::Capabilities,
        Kind::BatchOrTransaction if is_transaction => Interaction::Transaction,
        Kind::BatchOrTransaction => Interaction::Batch,
        _ => Interaction::Operation,
    };
    (i, req.operation().map(|o| o.name.clone()))
}

fn base_record(
    now: DateTime<Utc>,
    parts: &http::request::Parts,
    body: &[u8],
    req: Option<&FhirRequest>,
    context: Option<&AccessContext>,
    info: &RequestInfo,
) -> AuditRecord {
    let (i, operation) = interaction(req, false);
    let rtype = req.and_then(FhirRequest::resource_type).map(|t| t.as_str());
    let mut r = AuditRecord::rest(now, i, rtype);
    if let (
        Some(op),
        fhir_audit::Event::Rest {
            operation: slot, ..
        },
    ) = (operation, &mut r.event)
    {
        *slot = Some(op);
    }
    if let Some(ctx) = context {
        let id = ctx.subject().or(ctx.client_id()).unwrap_or_default();
        let mut user = User::new(id).issuer(ctx.issuer());
        if let Some(f) = ctx.fhir_user() {
            user = user.fhir_user(f);
        }
        r = r.user(user);
        if let Some(jti) = ctx.token_id() {
            r = r.token(TokenRef::jti(jti));
        }
        for code in purposes_of_use(ctx) {
            r = r.purpose(code);
        }
    }
    let mut client = match context.and_then(AccessContext::client_id) {
        Some(id) => Client::new(id),
        None => Client::default(),
    };
    if let Some(peer) = &info.peer {
        client = client.address(peer.clone());
    }
    r = r.client(client);
    if i.is_search() || req.is_none() {
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes()));
        // A search's form body is its query (audit.md §2.6); any other body is a resource or a
        // patch, whose names and clinical values stay out of the log (§8.7, minimal pattern).
        let search_form =
            parts.method == http::Method::POST && parts.uri.path().ends_with("/_search");
        let body = if i.is_search() || search_form {
            body
        } else {
            &[]
        };
        r = r.query(RawRequest::from_parts(
            parts.method.as_str(),
            target.as_bytes(),
            headers,
            body,
        ));
    }
    if let Some(id) = &info.correlation_id {
        r = r.correlation_id(id.clone());
    }
    r
}

/// The purposes of use a token states (claim `purpose_of_use`: a v3 PurposeOfUse code, a
/// Coding `{"system", "code"}` as IHE IUA carries it, or a list of either). Bounded; a value of
/// another form is recorded as [`fhir_audit::UNREADABLE_PURPOSE_OF_USE`], never dropped.
fn purposes_of_use(ctx: &AccessContext) -> Vec<String> {
    use serde_json::Value;
    let code = |v: &Value| -> String {
        let code = match v {
            Value::Object(coding) => coding.get("code").and_then(Value::as_str),
            other => other.as_str(),
        };
        let well_formed = |s: &&str| {
            (1..=32).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        code.filter(well_formed)
            .unwrap_or(fhir_audit::UNREADABLE_PURPOSE_OF_USE)
            .to_owned()
    };
    let mut codes: Vec<String> = match ctx.claim("purpose_of_use") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.is_empty() => Vec::new(),
        Some(Value::Array(a)) => a.iter().take(8).map(code).collect(),
        Some(one) => vec![code(one)],
    };
    codes.dedup();
    codes
}

impl Authorized {
    /// The audit record of this request once the host has answered it with `status`, having
    /// returned or changed what `facts` names.
    ///
    /// [`AuditFacts::patients`] is the host's to find: the Patient compartments of what it
    /// returned or changed. Only when it is empty is the token's launch patient recorded for a
    /// success; a `user/` or `system/` token has none, so its reads would name no patient and
    /// be missing from every patient's accounting of disclosures.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use fhir_types::compartment::{compartment_ids_at, CompartmentType};
    /// use secure_fhir::audit::{AuditFacts, RequestInfo};
    /// use secure_fhir::fhir_audit::ResourceRef;
    /// use secure_fhir::SecureFhir;
    /// use smart_auth::decision::DecisionPolicy;
    /// use smart_auth::testing::TestIssuer;
    ///
    /// let base = "https://fhir.example.org/fhir";
    /// let issuer = TestIssuer::new("https://auth.example.org", base);
    /// let facade = SecureFhir::new(issuer.validator(), DecisionPolicy::default().with_base_url(base), "/fhir");
    /// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    ///
    /// // A backend service (no launch patient) reads an Observation.
    /// let token = issuer.token(now.into()).scope("system/Observation.rs").sign();
    /// let (parts, ()) = http::Request::get("/fhir/Observation/bp-1")
    ///     .header("authorization", format!("Bearer {token}"))
    ///     .body(())?
    ///     .into_parts();
    /// let authorized = facade.authorize(&parts, b"", now.into()).expect("allowed");
    /// let stored = fhir_types::json::parse_resource(br#"{"resourceType":"Observation","id":"bp-1",
    ///     "status":"final","code":{"text":"BP"},"subject":{"reference":"Patient/123"}}"#)?;
    /// authorized.check_resource(&stored).expect("visible");
    ///
    /// let facts = AuditFacts {
    ///     resources: vec![ResourceRef::new("Observation", "bp-1")],
    ///     patients: compartment_ids_at(CompartmentType::Patient, &stored, base).into_iter().collect(),
    /// };
    /// let record = authorized.audit_record(now, &parts, b"", &RequestInfo::default(), http::StatusCode::OK, &facts);
    /// assert_eq!(record.patients, ["123"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn audit_record(
        &self,
        now: DateTime<Utc>,
        parts: &http::request::Parts,
        body: &[u8],
        info: &RequestInfo,
        status: StatusCode,
        facts: &AuditFacts,
    ) -> AuditRecord {
        let mut r = base_record(
            now,
            parts,
            body,
            Some(self.request()),
            Some(self.context()),
            info,
        );
        if matches!(self.request().interaction(), Kind::BatchOrTransaction) {
            if let fhir_audit::Event::Rest { interaction, .. } = &mut r.event {
                *interaction = interaction_of(is_transaction(body));
            }
        }
        for resource in facts.resources.iter().take(1000) {
            r = r.resource(resource.clone());
        }
        let mut ps: Vec<&str> = facts.patients.iter().map(String::as_str).collect();
        if let Some(p) = self.context().launch().patient {
            if ps.is_empty() && status.is_success() {
                ps.push(p);
            }
        }
        ps.sort();
        ps.dedup();
        for p in ps {
            r = r.patient(p);
        }
        r.outcome(outcome_of(status))
    }
}

/// Whether a Bundle posted to the base is a transaction: its own `type`, not the word anywhere
/// in it (a batch entry's resource may hold `"transaction"` as a value).
fn is_transaction(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
        .is_ok_and(|bundle| bundle.get("type").and_then(|t| t.as_str()) == Some("transaction"))
}

fn interaction_of(is_transaction: bool) -> Interaction {
    if is_transaction {
        Interaction::Transaction
    } else {
        Interaction::Batch
    }
}

/// The outcome for a status the host answered with.
pub fn outcome_of(status: StatusCode) -> Outcome {
    if status.is_success() || status.is_redirection() || status == StatusCode::NOT_MODIFIED {
        return Outcome::Success;
    }
    let reason = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace(' ', "_");
    match status {
        StatusCode::UNAUTHORIZED => Outcome::Unauthenticated { reason },
        StatusCode::FORBIDDEN => Outcome::Denied { reason },
        s => Outcome::Failed {
            severity: severity_of(s),
            reason,
            http_status: Some(s.as_u16()),
        },
    }
}

/// How bad a failure answered with `status` is: the server's own (5xx) is serious.
fn severity_of(status: StatusCode) -> Severity {
    if status.is_server_error() {
        Severity::Serious
    } else {
        Severity::Minor
    }
}

/// The outcome of a refusal, with its true reason: a denial by the decision or a result check
/// (a 404 hiding what the caller may not see, the empty searchset answered instead of a 403)
/// or any 403 is `Denied`; a 404 for what does not exist is a failure.
pub(crate) fn refusal_outcome(rejection: &Rejection) -> Outcome {
    let reason = rejection.reason().to_owned();
    match rejection.status() {
        StatusCode::UNAUTHORIZED => Outcome::Unauthenticated { reason },
        StatusCode::FORBIDDEN => Outcome::Denied { reason },
        _ if rejection.denied => Outcome::Denied { reason },
        s => Outcome::Failed {
            severity: severity_of(s),
            reason,
            http_status: Some(s.as_u16()),
        },
    }
}

impl Rejected {
    /// The audit record of this refused request, with the refusal's true reason. Its patients
    /// are the token's launch patient and those the request itself names (audit.md §2.5), read
    /// from the request alone, so that a probe of another patient's record is in theirs.
    pub fn audit_record(
        &self,
        now: DateTime<Utc>,
        parts: &http::request::Parts,
        body: &[u8],
        info: &RequestInfo,
    ) -> AuditRecord {
        let context = self.context();
        let mut r = base_record(now, parts, body, self.request(), context, info);
        if context.is_none() {
            r.event = fhir_audit::Event::Authentication;
        }
        let outcome = refusal_outcome(&self.rejection);
        if let Some(p) = context.and_then(|c| c.launch().patient) {
            r = r.patient(p);
        }
        for p in self.request().map(named_patients).unwrap_or_default() {
            r = r.patient(p);
        }
        r.outcome(outcome)
    }
}

/// At most this many patients named by one refused request are recorded: each is an event.
const MAX_NAMED_PATIENTS: usize = 16;

/// The patients a request names itself (audit.md §2.5: a `patient`/`subject` criterion names
/// the subject): `Patient/[id]…`, a compartment `Patient/[id]/…`, `Patient?_id=`, and each
/// `patient`/`subject` value that is `Patient/[id]`, `<base>/Patient/[id]` or a bare id (not
/// chained; no modifier, or `:Patient`). Read from the request alone: nothing is looked up, so
/// a refusal's record names whom it probed whether they exist or not.
fn named_patients(req: &FhirRequest) -> Vec<&str> {
    use smart_auth::request::is_valid_id;
    let patient =
        |ty: Option<fhir_types::ResourceType>| ty == Some(fhir_types::ResourceType::Patient);
    let mut ids = Vec::new();
    if patient(req.resource_type()) {
        ids.extend(req.id());
    }
    if let Some(c) = req.compartment().filter(|c| patient(Some(c.resource_type))) {
        ids.push(c.id.as_str());
    }
    let by_id = |p: &&smart_auth::request::SearchParam| {
        p.code() == "_id" && patient(req.resource_type()) && req.compartment().is_none()
    };
    let by_reference = |p: &&smart_auth::request::SearchParam| {
        matches!(p.code(), "patient" | "subject") && matches!(p.modifier(), None | Some("Patient"))
    };
    for p in &req.query().params {
        if p.is_chained() || !(by_id(&p) || by_reference(&p)) {
            continue;
        }
        for v in p.value.split(',') {
            let v = v.split("/_history/").next().unwrap_or(v);
            let id = match v.rsplit_once("Patient/") {
                Some((prefix, id)) if prefix.is_empty() || prefix.ends_with('/') => id,
                _ => v,
            };
            ids.push(id);
        }
    }
    ids.retain(|id| is_valid_id(id));
    ids.truncate(MAX_NAMED_PATIENTS);
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};
    use smart_auth::testing::policy::context_with_claims;

    fn stated(purpose: Value) -> Vec<String> {
        let mut claims = Map::new();
        claims.insert("purpose_of_use".into(), purpose);
        purposes_of_use(&context_with_claims("system/*.rs", None, None, &claims))
    }

    #[test]
    fn a_stated_purpose_is_recorded_in_every_form_and_never_dropped() {
        let v3 = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
        assert_eq!(stated(json!("PUBHLTH")), ["PUBHLTH"]);
        assert_eq!(stated(json!(["TREAT", "PUBHLTH"])), ["TREAT", "PUBHLTH"]);
        // IHE IUA carries a Coding.
        assert_eq!(
            stated(json!({"system": v3, "code": "PUBHLTH"})),
            ["PUBHLTH"]
        );
        assert_eq!(
            stated(json!([{"system": v3, "code": "HLEGAL"}])),
            ["HLEGAL"]
        );
        // A purpose stated in a form this cannot read still makes the access accountable.
        for unreadable in [
            json!("public health!"),
            json!(7),
            json!({"display": "law"}),
            json!([""]),
        ] {
            assert_eq!(stated(unreadable), [fhir_audit::UNREADABLE_PURPOSE_OF_USE]);
        }
        assert!(stated(Value::Null).is_empty());
        assert!(stated(json!([])).is_empty());
    }
}
