//! Every FHIR request through the `secure-fhir` facade: the decision before the handler, the
//! narrowing inside it, and the audit record after it (allowed or not).

use std::sync::{Arc, Mutex};

use secure_fhir::audit::{AuditFacts, RequestInfo};
use secure_fhir::fhir_audit::ResourceRef;
use secure_fhir::rejection::Rejection;
use secure_fhir::{Authorized, SecureFhir};
use smart_auth::request::FhirRequest;
use smart_auth::UnixTime;

mod binary;
mod permit;

use self::permit::PermitAccess;
use crate::audit_trail::{AuditTrail, Pending};
use crate::authz::ratelimit::RateLimiter;
use crate::authz::RateLimit;
use crate::fhir::access::{Access, Unrestricted};
use crate::fhir::bundle::Entry;
use crate::fhir::outcome::Fail;
use crate::followed_keys::FollowedKeys;
use crate::parse_cache::ParseCache;
use crate::store::{Store, Tx};

/// How requests are decided.
pub enum Mode {
    /// Through the facade (the only mode a deployment uses).
    Secure(Box<SecureFhir>),
    /// Benchmark only (`--dangerous-disable-security`): no authorization, no audit.
    DangerousDisabled,
}

/// Decides every request and records it.
pub struct Gate {
    mode: Mode,
    keys: Option<FollowedKeys>,
    trail: Option<Arc<AuditTrail>>,
    store: Arc<Store>,
    limits: secure_fhir::limits::Limits,
    parsed: Arc<ParseCache>,
    /// `--rate-limit`: a bucket per caller.
    throttle: Option<RateLimiter>,
}

/// A request whose head [`Gate::authenticate`] passed (its caller, in secure mode).
pub struct Head(Option<secure_fhir::Authenticated>);

/// An authorized request on its way through the handler.
pub struct Verdict {
    access: Box<dyn Access + Send>,
    /// Shared with the handlers' [`PermitAccess`] (not cloned per request).
    authorized: Option<Arc<Authorized>>,
    touched: Mutex<Touched>,
    info: RequestInfo,
}

/// The patients (logical ids) whose compartments hold each of a response's resources, in
/// their order.
pub type PatientsOf = Vec<Vec<String>>;

/// Resources as `(type, id)`.
type Resources = Vec<(String, String)>;

/// Marks a response answered as "not found" for a resource the caller may not see (in its
/// extensions, never sent): its audit record is the denial it is, not a missing id.
#[derive(Debug, Clone, Copy)]
pub struct Hidden;

/// The outcome recorded for a [`Hidden`] answer: the decision's own reason for it (the
/// record is then for auditors only: see `AuditRecord::for_auditors_only`).
fn hidden_outcome() -> fhir_audit::Outcome {
    fhir_audit::Outcome::Denied {
        reason: smart_auth::decision::DenialReason::NotFound
            .code()
            .to_owned(),
    }
}

/// What the response carries, for the audit record.
#[derive(Default)]
struct Touched {
    /// `Type/id` of each resource read or written (at most 1,000).
    resources: Vec<String>,
    /// The patients whose compartments hold each of them, when the handler looked them up in
    /// its own store access (`None`: the audit record looks them up).
    patients: Option<PatientsOf>,
}

impl Verdict {
    /// The caller's rights, for the handlers.
    pub fn access(&self) -> &dyn Access {
        &*self.access
    }

    /// Whether the facade's classification of the request names the same type and id as the
    /// server's own routing (`None` where the route names none): what was authorized must be
    /// what runs.
    pub fn agrees_with(&self, rtype: Option<&str>, id: Option<&str>) -> bool {
        let Some(a) = &self.authorized else {
            return true;
        };
        let req = a.request();
        let type_ok = req.resource_type().map(|t| t.as_str()) == rtype || rtype.is_none();
        let id_ok = id.is_none() || req.id() == id;
        type_ok && id_ok
    }

    /// Notes resources the response carries, for the audit record, with the patients whose
    /// compartments hold them when the handler looked them up ([`Verdict::patients_of`]).
    pub fn note_touched(&self, touched: &[String], patients: Option<PatientsOf>) {
        if let Ok(mut t) = self.touched.lock() {
            // Known only for everything noted so far (a Bundle notes its entries one by one).
            t.patients = if t.resources.is_empty() {
                patients
            } else {
                None
            };
            let room = 1000usize.saturating_sub(t.resources.len());
            t.resources.extend(touched.iter().take(room).cloned());
        }
    }

    /// The patients whose compartments hold each of `touched`, looked up in the handler's own
    /// store access (so that the audit record does not take the store's lock a second time);
    /// `None` when nothing will be audited.
    pub fn patients_of(&self, tx: &Tx<'_>, touched: &[String]) -> Option<PatientsOf> {
        self.authorized.as_ref()?;
        tx.patients_of(&split_touched(touched)).ok()
    }
}

/// The reason code of a failure answered with `status` (as the audit records of standalone
/// requests name it).
fn failure_reason(status: http::StatusCode) -> &'static str {
    use http::StatusCode as S;
    match status {
        S::NOT_FOUND => "not_found",
        S::FORBIDDEN => "forbidden",
        S::GONE => "gone",
        S::CONFLICT => "conflict",
        S::PRECONDITION_FAILED => "precondition_failed",
        S::UNPROCESSABLE_ENTITY => "unprocessable_entity",
        S::METHOD_NOT_ALLOWED => "method_not_allowed",
        S::BAD_REQUEST => "bad_request",
        _ => "failed",
    }
}

/// A Bundle entry's request as the request line its audit record shows (`GET
/// /fhir/Observation?patient=x`); the base alone if its URL is no valid URI.
fn entry_parts(entry: &Entry) -> http::request::Parts {
    let request = http::Request::builder()
        .method(entry.method.clone())
        .uri(format!("/fhir/{}", entry.url))
        .body(())
        .or_else(|_| http::Request::builder().uri("/fhir").body(()));
    request.unwrap_or_default().into_parts().0
}

/// `Type/id` strings as pairs (at most 1,000, like [`Verdict::note_touched`]).
fn split_touched(touched: &[String]) -> Resources {
    touched
        .iter()
        .take(1000)
        .filter_map(|r| r.split_once('/'))
        .map(|(t, i)| (t.to_owned(), i.to_owned()))
        .collect()
}

fn now_unix() -> UnixTime {
    UnixTime::from_secs(chrono::Utc::now().timestamp())
}

fn info(parts: &http::request::Parts) -> RequestInfo {
    RequestInfo {
        peer: parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        correlation_id: parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 128)
            .map(str::to_owned),
    }
}

impl Gate {
    /// A gate deciding through `facade`, recording to `trail`.
    pub fn secure(facade: SecureFhir, trail: Arc<AuditTrail>, store: Arc<Store>) -> Gate {
        let limits = *facade.limits();
        Gate {
            mode: Mode::Secure(Box::new(facade)),
            keys: None,
            trail: Some(trail),
            store,
            limits,
            parsed: Arc::default(),
            throttle: None,
        }
    }

    /// Benchmark only: no authorization and no audit.
    pub fn dangerous_disabled(store: Arc<Store>) -> Gate {
        Gate {
            mode: Mode::DangerousDisabled,
            keys: None,
            trail: None,
            store,
            limits: secure_fhir::limits::Limits::default(),
            parsed: Arc::default(),
            throttle: None,
        }
    }

    /// Refuses a caller's requests past `per_second` a second (in bursts of up to as many)
    /// with a 429; a caller is a token's issuer, client and subject.
    pub fn with_rate_limit(mut self, per_second: u32) -> Gate {
        let limit = RateLimit::new(per_second, f64::from(per_second));
        self.throttle = Some(RateLimiter::new(limit));
        self
    }

    /// Follows the keys of an in-process issuer (the development authorization server): its
    /// JWKS is installed now and whenever the validator's key cache asks for it.
    pub fn follow_keys(mut self, keys: FollowedKeys) -> Gate {
        if let Mode::Secure(facade) = &self.mode {
            keys.refresh(&facade.validator(), now_unix());
        }
        self.keys = Some(keys);
        self
    }

    /// Waits until the store's view of the audit trail (AuditEvents, disclosures) holds every
    /// record made before the call. `false` if it could not be written.
    pub async fn sync_audit_view(&self) -> bool {
        match &self.trail {
            Some(trail) => trail.sync().await,
            None => true,
        }
    }

    /// Counts a request in flight while the guard lives (see [`AuditTrail::enter`]).
    pub fn enter(&self) -> Option<crate::audit_trail::InFlight<'_>> {
        self.trail.as_ref().map(|t| t.enter())
    }

    /// The request limits.
    pub fn limits(&self) -> &secure_fhir::limits::Limits {
        &self.limits
    }

    /// Checks a request's head before its body is read: the limits on the line and headers,
    /// then the credential. The [`Head`] goes to [`authorize`](Self::authorize) with the body;
    /// `Err` is the response to send (already audited).
    #[allow(clippy::result_large_err)] // the error is the response itself, sent at once
    pub fn authenticate(
        &self,
        parts: &http::request::Parts,
    ) -> Result<Head, http::Response<Vec<u8>>> {
        let facade = match &self.mode {
            Mode::DangerousDisabled => return Ok(Head(None)),
            Mode::Secure(f) => f,
        };
        let now = now_unix();
        let mut head = facade.authorize_head(parts, now);
        if let (Err(rejected), Some(keys)) = (&head, &self.keys) {
            // A token signed with a key the cache lacks asks for a refresh: after a rotation
            // the new key is installed and the token checked again, once.
            if rejected.rejection().status() == http::StatusCode::UNAUTHORIZED
                && keys.refresh(&facade.validator(), now)
            {
                head = facade.authorize_head(parts, now);
            }
        } else if let Some(keys) = &self.keys {
            keys.refresh(&facade.validator(), now);
        }
        head.map(|h| Head(Some(h))).map_err(|rejected| {
            if let Some(trail) = &self.trail {
                trail.record(rejected.audit_record(chrono::Utc::now(), parts, b"", &info(parts)));
            }
            rejected.to_response()
        })
    }

    /// Refuses a request whose head passed for what was found while its body arrived (over
    /// the limit, or unreadable), naming the caller in its record.
    pub fn refuse_body(
        &self,
        parts: &http::request::Parts,
        head: &Head,
        rejection: Rejection,
    ) -> http::Response<Vec<u8>> {
        match (&head.0, &self.trail) {
            (Some(authenticated), Some(trail)) => {
                let refused = authenticated.refused(rejection);
                trail.record(refused.audit_record(chrono::Utc::now(), parts, b"", &info(parts)));
                refused.to_response()
            }
            _ => rejection.to_response(),
        }
    }

    /// Decides a request whose head passed [`authenticate`](Self::authenticate): a verdict for
    /// the handler, or the response to send (already audited).
    #[allow(clippy::result_large_err)] // the error is the response itself, sent at once
    pub fn authorize(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        head: Head,
    ) -> Result<Verdict, http::Response<Vec<u8>>> {
        let info = info(parts);
        let facade = match &self.mode {
            Mode::DangerousDisabled => {
                return Ok(Verdict {
                    access: Box::new(Unrestricted),
                    authorized: None,
                    touched: Mutex::default(),
                    info,
                })
            }
            Mode::Secure(f) => f,
        };
        let Some(authenticated) = head.0 else {
            // Only an open gate makes a head without a caller: fail closed.
            return Err(Rejection::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                secure_fhir::response::IssueCode::Exception,
                "unauthenticated_head",
                "The request could not be authorized",
            )
            .to_response());
        };
        let decided = facade.authorize_body(parts, body, authenticated);
        match decided {
            Ok(authorized) => {
                if let Err(wait) = self.admit(&authorized) {
                    let rejected = facade.refuse(&authorized, Rejection::throttled(wait));
                    if let Some(trail) = &self.trail {
                        trail.record(rejected.audit_record(chrono::Utc::now(), parts, body, &info));
                    }
                    return Err(rejected.to_response());
                }
                let authorized = Arc::new(authorized);
                Ok(Verdict {
                    access: Box::new(PermitAccess {
                        authorized: Arc::clone(&authorized),
                        parsed: self.parsed.clone(),
                    }),
                    authorized: Some(authorized),
                    touched: Mutex::default(),
                    info,
                })
            }
            Err(rejected) => {
                if let Some(trail) = &self.trail {
                    trail.record(rejected.audit_record(chrono::Utc::now(), parts, body, &info));
                }
                Err(rejected.to_response())
            }
        }
    }

    /// Takes one request from the caller's bucket; `Err(seconds)` to wait when it is empty.
    fn admit(&self, authorized: &Authorized) -> Result<(), u32> {
        let Some(throttle) = &self.throttle else {
            return Ok(());
        };
        let ctx = authorized.context();
        let (iss, client) = (ctx.issuer(), ctx.client_id().unwrap_or_default());
        // Length-prefixed: no two callers share a key, whatever their claims hold.
        let key = format!(
            "{}:{iss}{}:{client}{}",
            iss.len(),
            client.len(),
            ctx.subject().unwrap_or_default()
        );
        throttle
            .check(&key)
            .map_err(|secs| u32::try_from(secs).unwrap_or(u32::MAX))
    }

    /// Authorizes one Bundle entry as the equivalent standalone request.
    pub fn authorize_entry(
        &self,
        verdict: &Verdict,
        entry: &Entry,
    ) -> Result<Box<dyn Access + Send>, Fail> {
        let (Mode::Secure(facade), Some(parent)) = (&self.mode, &verdict.authorized) else {
            return Ok(Box::new(Unrestricted));
        };
        let request =
            FhirRequest::from_entry(&entry.method, &entry.url, entry.if_none_exist.as_deref())
                .map_err(|_| Fail::bad_request("Malformed Bundle entry request"))?;
        match facade.authorize_entry(parent, request.clone()) {
            Ok(authorized) => Ok(Box::new(PermitAccess {
                authorized: Arc::new(authorized),
                parsed: self.parsed.clone(),
            })),
            Err(rejection) => {
                let fail = Fail::new(
                    rejection.status(),
                    if rejection.is_not_found() {
                        secure_fhir::response::IssueCode::NotFound
                    } else {
                        secure_fhir::response::IssueCode::Forbidden
                    },
                    if rejection.is_not_found() {
                        "Resource not found"
                    } else {
                        "The access token does not allow this request"
                    },
                );
                // A denial inside a Bundle is recorded as such (audit.md §4): the Bundle's own
                // record names only what its entries touched.
                if let Some(trail) = &self.trail {
                    let refused = facade.refused_entry(parent, request, rejection);
                    let parts = entry_parts(entry);
                    let now = chrono::Utc::now();
                    trail.record(refused.audit_record(now, &parts, b"", &verdict.info));
                }
                Err(fail)
            }
        }
    }

    /// Records a Bundle entry that was authorized and then failed (a read of what the caller
    /// may not see answered 404, a refused write), as its standalone request would be: the
    /// Bundle's own record names only what its entries touched.
    pub fn record_entry_failure(&self, verdict: &Verdict, entry: &Entry, fail: &Fail) {
        let (Mode::Secure(facade), Some(parent), Some(trail)) =
            (&self.mode, &verdict.authorized, &self.trail)
        else {
            return;
        };
        let Ok(request) =
            FhirRequest::from_entry(&entry.method, &entry.url, entry.if_none_exist.as_deref())
        else {
            return;
        };
        let rejection = Rejection::new(
            fail.status,
            fail.code,
            failure_reason(fail.status),
            fail.text,
        );
        let refused = facade.refused_entry(parent, request, rejection);
        let mut record =
            refused.audit_record(chrono::Utc::now(), &entry_parts(entry), b"", &verdict.info);
        if fail.hidden {
            record.outcome = hidden_outcome();
            record = record.for_auditors_only();
        }
        trail.record(record);
    }

    /// Records a request refused before the facade saw it whole (oversized request line or
    /// body), naming the caller when its credential is valid, and returns the answer.
    pub fn reject(
        &self,
        parts: &http::request::Parts,
        rejection: Rejection,
    ) -> http::Response<Vec<u8>> {
        let response = rejection.to_response();
        if let (Some(trail), Mode::Secure(facade)) = (&self.trail, &self.mode) {
            let refused = facade.refused(parts, rejection, now_unix());
            trail.record(refused.audit_record(chrono::Utc::now(), parts, b"", &info(parts)));
        }
        response
    }

    /// Records an authorized request's outcome. The response must not be released before the
    /// returned [`Pending`] is [durable](Pending::durable) (`None`: nothing to wait for, in the
    /// benchmark-only mode without audit).
    #[must_use = "the response must wait for its audit record"]
    pub fn record(
        &self,
        verdict: &Verdict,
        parts: &http::request::Parts,
        body: &[u8],
        response: &http::Response<Vec<u8>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<Pending> {
        let (Some(trail), Some(authorized)) = (&self.trail, &verdict.authorized) else {
            return None;
        };
        // A record that cannot name the patients the response concerns would be missing from
        // their accounting of disclosures: it is still written with what is known (audit.md
        // §2.5, best effort), but the response is withheld (§8.6, fail closed).
        let mut unattributed = None;
        let (resources, patients) = match verdict.touched.lock() {
            Ok(mut t) => (split_touched(&t.resources), t.patients.take()),
            Err(poisoned) => {
                unattributed = Some("what the response carries was lost".to_owned());
                let mut t = poisoned.into_inner();
                (split_touched(&t.resources), t.patients.take())
            }
        };
        let patients = match patients {
            Some(p) => p,
            None if resources.is_empty() => Vec::new(),
            None => match self.store.read(|tx| tx.patients_of(&resources)) {
                Ok(p) => p,
                Err(e) => {
                    unattributed = Some(format!("its patients could not be looked up: {e}"));
                    Vec::new()
                }
            },
        };
        let withheld =
            unattributed.map(|why| Pending::failed(format!("audit record unattributed: {why}")));
        let record = |resources: Resources, patients: Vec<String>| {
            let resources = resources.into_iter();
            let facts = AuditFacts {
                resources: resources.map(|(t, id)| ResourceRef::new(t, id)).collect(),
                patients,
            };
            let mut r =
                authorized.audit_record(now, parts, body, &verdict.info, response.status(), &facts);
            if response.extensions().get::<Hidden>().is_some() {
                r.outcome = hidden_outcome();
                r = r.for_auditors_only();
            }
            r
        };
        let mut split = per_patient(resources, &patients);
        if split.len() == 1 {
            let (resources, patients) = split.remove(0);
            let pending = trail.record_durable(record(resources, patients));
            return Some(Pending::all([pending].into_iter().chain(withheld)));
        }
        // Every resource once, in the order the patients' records name them.
        let mut seen = std::collections::HashSet::new();
        let all: Resources = split
            .iter()
            .flat_map(|(resources, _)| resources)
            .filter(|r| seen.insert(*r))
            .cloned()
            .collect();
        // Split over several patients: each patient's record leaves out the query, which may
        // name the others (`patient=a,b`, their identifiers); the whole request, query
        // included, is recorded once more under no patient, for auditors.
        let mut records: Vec<Pending> = split
            .into_iter()
            .map(|(resources, patients)| {
                let mut mine = record(resources, patients);
                (mine.query, mine.query_description) = (None, None);
                trail.record_durable(mine)
            })
            .collect();
        let mut whole = record(all, Vec::new());
        // Not even the launch patient the facade falls back on: each patient has their record.
        whole.patients.clear();
        records.push(trail.record_durable(whole));
        Some(Pending::all(records.into_iter().chain(withheld)))
    }
}

/// The audit records of a request that touched `resources`, whose compartments' patients are
/// `patients` (one list per resource): one record, unless they concern several patients; then
/// one per patient, naming only what lies in that patient's compartment (and what lies in
/// none). Each patient's AuditEvents (readable under their own `patient/` grant, and in their
/// accounting of disclosures) then never name another patient's resources, as one record
/// rendered to an event per patient would.
fn per_patient(resources: Resources, patients: &[Vec<String>]) -> Vec<(Resources, Vec<String>)> {
    let owners = |i: usize| patients.get(i).map_or(&[][..], Vec::as_slice);
    let all: std::collections::BTreeSet<&String> = patients.iter().flatten().collect();
    if all.len() <= 1 {
        let all = all.into_iter().cloned().collect();
        return vec![(resources, all)];
    }
    all.into_iter()
        .map(|p| {
            let mine = (0..resources.len())
                .filter(|&i| owners(i).is_empty() || owners(i).contains(p))
                .map(|i| resources[i].clone())
                .collect();
            (mine, vec![p.clone()])
        })
        .collect()
}

#[cfg(test)]
mod record_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_touching_several_patients_takes_a_record_per_patient() {
        let r = |t: &str, i: &str| (t.to_owned(), i.to_owned());
        let p = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let resources = vec![
            r("Observation", "a1"),
            r("Observation", "b1"),
            r("Practitioner", "x"),
            r("Observation", "ab"),
        ];
        let patients = vec![p(&["a"]), p(&["b"]), p(&[]), p(&["a", "b"])];
        assert_eq!(
            per_patient(resources.clone(), &patients),
            vec![
                (
                    vec![
                        r("Observation", "a1"),
                        r("Practitioner", "x"),
                        r("Observation", "ab")
                    ],
                    p(&["a"])
                ),
                (
                    vec![
                        r("Observation", "b1"),
                        r("Practitioner", "x"),
                        r("Observation", "ab")
                    ],
                    p(&["b"])
                ),
            ]
        );
        // One patient, or none: one record, as before.
        for (res, pat, expected) in [
            (&resources[..1], &patients[..1], p(&["a"])),
            (&resources[2..3], &patients[2..3], p(&[])),
            (&resources[..0], &patients[..0], p(&[])),
        ] {
            assert_eq!(
                per_patient(res.to_vec(), pat),
                vec![(res.to_vec(), expected)]
            );
        }
    }
}
