//! A `tower` [`Layer`] that runs [`SecureFhir::authorize`] in front of a FHIR service (feature
//! `tower`), for axum, hyper and tonic-style stacks.
//!
//! The layer checks the request line, headers and credential first (what they refuse is
//! answered before the body is read), buffers the body (up to
//! [`Limits::max_body_bytes`](crate::limits::Limits)), decides the request, and either answers with the rejection or passes the request on with the
//! [`Authorized`] value in its extensions. The inner service must read the narrowing and check
//! its results from that value; the layer records one audit record per request with the status
//! the inner service answered (a failure when it answers nothing: it returns an error, panics,
//! or the request is dropped while it works). Put an [`AuditFacts`] in the response's extensions to name what
//! was returned and whose data it was, and a [`RequestInfo`] in the request's (from an outer
//! layer that knows the peer address and the request id) to record those.
//!
//! Audit records go to a hook. [`SecureFhirLayer::durable`] awaits the hook's future before the
//! response leaves, and answers a 503 instead of the service's response when the record could
//! not be kept: audit.md §8.6's fail-closed policy for disclosures. Refusals disclose nothing
//! and are answered whatever the hook says. [`SecureFhirLayer::dangerous_buffered`] hands
//! records over and moves on: a record the hook then loses goes unnoticed while the
//! disclosures go on, so it is an explicit opt-out of that policy.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use smart_auth::UnixTime;
use tower::{Layer, Service};

use crate::audit::{AuditFacts, RequestInfo};
use crate::{Authorized, Rejection, SecureFhir};

/// The current time, supplied by the host (the library reads no clock).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;
/// Where the layer sends audit records, without waiting
/// ([`SecureFhirLayer::dangerous_buffered`]).
pub type AuditHook = Arc<dyn Fn(fhir_audit::AuditRecord) + Send + Sync>;
/// Why an audit record could not be kept.
pub type AuditError = Box<dyn std::error::Error + Send + Sync>;
/// Resolves once an audit record is kept (for a file log: durable), or with why not.
pub type AuditFuture = Pin<Box<dyn Future<Output = Result<(), AuditError>> + Send>>;
/// Where the layer sends audit records and learns they are kept
/// ([`SecureFhirLayer::durable`]).
pub type DurableAuditHook = Arc<dyn Fn(fhir_audit::AuditRecord) -> AuditFuture + Send + Sync>;

#[derive(Clone)]
enum Audit {
    Buffered(AuditHook),
    Durable(DurableAuditHook),
}

impl Audit {
    /// Hands `record` over; `Err` when a durable hook could not keep it.
    async fn record(&self, record: fhir_audit::AuditRecord) -> Result<(), AuditError> {
        match self {
            Audit::Buffered(hook) => {
                hook(record);
                Ok(())
            }
            Audit::Durable(hook) => hook(record).await,
        }
    }
}

/// Wraps services with [`SecureFhirService`].
#[derive(Clone)]
pub struct SecureFhirLayer {
    facade: Arc<SecureFhir>,
    clock: Clock,
    audit: Audit,
}

impl SecureFhirLayer {
    /// Dangerous: a layer deciding with `facade`, reading time from `clock`, handing each
    /// audit record to `audit` without waiting for it to be kept. Nothing tells the layer when
    /// the hook loses a record (a full queue, a failed disk), so disclosures go on unrecorded:
    /// audit.md §8.6 allows that only when configured so. Use [`SecureFhirLayer::durable`]
    /// unless the hook keeps each record before it returns (e.g. an in-memory list in tests)
    /// or the host accepts losing records.
    pub fn dangerous_buffered(
        facade: Arc<SecureFhir>,
        clock: Clock,
        audit: AuditHook,
    ) -> SecureFhirLayer {
        SecureFhirLayer {
            facade,
            clock,
            audit: Audit::Buffered(audit),
        }
    }

    /// The former name of [`SecureFhirLayer::dangerous_buffered`], which does not wait for
    /// audit records to be kept.
    #[deprecated(
        since = "0.1.0",
        note = "records go unchecked: use `SecureFhirLayer::durable` (fail closed, audit.md §8.6), or `dangerous_buffered` to opt out"
    )]
    pub fn new(facade: Arc<SecureFhir>, clock: Clock, audit: AuditHook) -> SecureFhirLayer {
        SecureFhirLayer::dangerous_buffered(facade, clock, audit)
    }

    /// A layer that awaits `audit`'s future for each record before the response leaves. When
    /// it fails, an allowed request is answered `503` with an OperationOutcome instead of the
    /// service's response, which is dropped (what it disclosed is not sent unrecorded; a
    /// write the service made stays made, as after any failure past the commit); a refusal
    /// is answered as it was. A request the service never answers (it panicked, or the client
    /// went away) is recorded as the future unwinds or is dropped, where nothing can be
    /// awaited: the hook is called and its future dropped, so let the hook take the record
    /// when it is called, as below.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use secure_fhir::SecureFhir;
    /// # use smart_auth::decision::DecisionPolicy;
    /// # let issuer = smart_auth::testing::TestIssuer::new("https://as.example", "https://fhir.example/fhir");
    /// # let facade = Arc::new(SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir"));
    /// use secure_fhir::layer::{AuditFuture, SecureFhirLayer};
    /// use secure_fhir::fhir_audit::store::{Ack, MemoryStore};
    /// use secure_fhir::fhir_audit::AuditRecord;
    ///
    /// // With a file log (`fhir_audit::store::file::FileStore`) the hook submits the record
    /// // (`store.submit(&record)`) and returns a future awaiting the `Pending`'s
    /// // `until(Ack::Durable)`: resolved once its group commit made the record durable.
    /// let log = Arc::new(MemoryStore::new());
    /// let rng = ring::rand::SystemRandom::new();
    /// let layer = SecureFhirLayer::durable(
    ///     facade,
    ///     Arc::new(chrono::Utc::now),
    ///     Arc::new(move |mut record: AuditRecord| -> AuditFuture {
    ///         // A record id from the host's random source, so that two requests alike in
    ///         // every fact, at one instant, get distinct AuditEvent ids (the crates draw none).
    ///         let mut id = [0u8; 16];
    ///         if ring::rand::SecureRandom::fill(&rng, &mut id).is_err() {
    ///             return Box::pin(async { Err("no randomness for a record id".into()) });
    ///         }
    ///         record.record_id = Some(id.iter().map(|b| format!("{b:02x}")).collect());
    ///         let kept = log.append(&record).map(|_| ()).map_err(Into::into);
    ///         Box::pin(async move { kept })
    ///     }),
    /// );
    /// ```
    pub fn durable(
        facade: Arc<SecureFhir>,
        clock: Clock,
        audit: DurableAuditHook,
    ) -> SecureFhirLayer {
        SecureFhirLayer {
            facade,
            clock,
            audit: Audit::Durable(audit),
        }
    }
}

impl<S> Layer<S> for SecureFhirLayer {
    type Service = SecureFhirService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecureFhirService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`SecureFhirLayer`].
#[derive(Clone)]
pub struct SecureFhirService<S> {
    inner: S,
    layer: SecureFhirLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> Service<http::Request<B>> for SecureFhirService<S>
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    R: From<Vec<u8>> + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // The clone is ready per tower's contract: swap it in for the one polled ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let limit = layer.facade.limits().max_body_bytes;
            let info = parts
                .extensions
                .get::<RequestInfo>()
                .cloned()
                .unwrap_or_default();
            // The head first: a request its line, headers or credential refuse is answered
            // before its body is read (no one without a valid token makes the server buffer
            // one; a declared length over the limit is a 413 at once).
            let now = (layer.clock)();
            let head = match layer.facade.authorize_head(&parts, UnixTime::from(now)) {
                Ok(c) => c,
                Err(rejected) => {
                    refused(&layer, rejected.audit_record(now, &parts, &[], &info)).await;
                    return Ok(rejected.to_response().map(R::from));
                }
            };
            let bytes = match Limited::new(body, limit).collect().await {
                Ok(c) => c.to_bytes(),
                Err(e) => {
                    // Over the limit is a 413; a body that failed to arrive (the client went
                    // away, a broken chunked encoding) is the client's malformed request.
                    let rejection = if e.is::<LengthLimitError>() {
                        Rejection::new(
                            http::StatusCode::PAYLOAD_TOO_LARGE,
                            crate::response::IssueCode::TooLong,
                            "body_too_large",
                            "The request body is too large",
                        )
                    } else {
                        Rejection::new(
                            http::StatusCode::BAD_REQUEST,
                            crate::response::IssueCode::Structure,
                            "body_unreadable",
                            "The request body could not be read",
                        )
                    };
                    // Audited like every refusal, naming the caller.
                    let now = (layer.clock)();
                    let rejected = head.refused(rejection);
                    refused(&layer, rejected.audit_record(now, &parts, &[], &info)).await;
                    return Ok(rejected.to_response().map(R::from));
                }
            };
            let now = (layer.clock)();
            let decided = layer.facade.authorize_body(&parts, &bytes, head);
            let authorized: Authorized = match decided {
                Ok(a) => a,
                Err(rejected) => {
                    refused(&layer, rejected.audit_record(now, &parts, &bytes, &info)).await;
                    return Ok(rejected.to_response().map(R::from));
                }
            };
            let audit_parts = parts.clone();
            let mut req = http::Request::from_parts(parts, Full::new(bytes.clone()));
            req.extensions_mut().insert(authorized.clone());
            let mut unanswered = Unanswered {
                layer: &layer,
                authorized: &authorized,
                parts: &audit_parts,
                body: &bytes,
                info: &info,
                armed: true,
            };
            let answered = inner.call(req).await;
            unanswered.armed = false;
            let response = match answered {
                Ok(response) => response,
                Err(e) => {
                    let record = unanswered.record("service_error");
                    let _ = layer.audit.record(record).await;
                    return Err(e);
                }
            };
            let none = AuditFacts::default();
            let facts = response.extensions().get::<AuditFacts>().unwrap_or(&none);
            let mut record = authorized.audit_record(
                (layer.clock)(),
                &audit_parts,
                &bytes,
                &info,
                response.status(),
                facts,
            );
            // A refusal of the service's own (a result check's 404) keeps its true reason. That
            // reason says the resource exists, which its answer hid: for auditors only.
            if let Some(refusal) = response.extensions().get::<Rejection>() {
                record.outcome = crate::audit::refusal_outcome(refusal);
                if refusal.denied && refusal.is_not_found() {
                    record = record.for_auditors_only();
                }
            }
            match layer.audit.record(record).await {
                Ok(()) => Ok(response),
                // Fail closed: what the service answered is not sent unrecorded.
                Err(_) => Ok(audit_unavailable().map(R::from)),
            }
        })
    }
}

/// An allowed request the service is working on. Should it never answer (its future panics,
/// or this one is dropped: the client went away), the request is audited all the same, as a
/// failure: what it did cannot be known, and nothing left unrecorded.
struct Unanswered<'a> {
    layer: &'a SecureFhirLayer,
    authorized: &'a Authorized,
    parts: &'a http::request::Parts,
    body: &'a [u8],
    info: &'a RequestInfo,
    armed: bool,
}

impl Unanswered<'_> {
    /// The request's record, failed for `reason`, without a status (none was answered).
    fn record(&self, reason: &str) -> fhir_audit::AuditRecord {
        let status = http::StatusCode::INTERNAL_SERVER_ERROR;
        let none = AuditFacts::default();
        let now = (self.layer.clock)();
        let mut record =
            (self.authorized).audit_record(now, self.parts, self.body, self.info, status, &none);
        record.outcome = fhir_audit::Outcome::Failed {
            severity: fhir_audit::Severity::Serious,
            reason: reason.to_owned(),
            http_status: None,
        };
        record
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let reason = if std::thread::panicking() {
            "service_panicked"
        } else {
            "service_abandoned"
        };
        let record = self.record(reason);
        // Nothing can be awaited here: the record is handed over (a durable hook's future is
        // not polled). No response leaves either, so nothing is disclosed unrecorded.
        match &self.layer.audit {
            Audit::Buffered(hook) => hook(record),
            Audit::Durable(hook) => drop(hook(record)),
        }
    }
}

/// Hands a refusal's record over. Its failure changes nothing: a refusal discloses nothing.
async fn refused(layer: &SecureFhirLayer, record: fhir_audit::AuditRecord) {
    let _ = layer.audit.record(record).await;
}

/// The answer to an allowed request whose audit record could not be kept.
fn audit_unavailable() -> http::Response<Vec<u8>> {
    crate::response::error(
        http::StatusCode::SERVICE_UNAVAILABLE,
        crate::response::IssueCode::Exception,
        "The request could not be audited",
    )
}
