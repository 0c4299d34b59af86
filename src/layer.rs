//! A `tower` [`Layer`] that runs [`SecureFhir::authorize`] in front of a FHIR service (feature
//! `tower`), for axum, hyper and tonic-style stacks.
//!
//! The layer checks the request line, headers and credential first (what they refuse is
//! answered before the body is read), buffers the body (up to
//! [`Limits::max_body_bytes`](crate::limits::Limits)), decides the request, and either answers with the rejection or passes the request on with the
//! [`Authorized`] value in its extensions. The inner service must read the narrowing and check
//! its results from that value; the layer records one audit record per request with the status
//! the inner service answered. Put an [`AuditFacts`] in the response's extensions to name what
//! was returned and whose data it was, and a [`RequestInfo`] in the request's (from an outer
//! layer that knows the peer address and the request id) to record those.

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
/// Where the layer sends audit records.
pub type AuditHook = Arc<dyn Fn(fhir_audit::AuditRecord) + Send + Sync>;

/// Wraps services with [`SecureFhirService`].
#[derive(Clone)]
pub struct SecureFhirLayer {
    facade: Arc<SecureFhir>,
    clock: Clock,
    audit: AuditHook,
}

impl SecureFhirLayer {
    /// A layer deciding with `facade`, reading time from `clock`, auditing into `audit`.
    pub fn new(facade: Arc<SecureFhir>, clock: Clock, audit: AuditHook) -> SecureFhirLayer {
        SecureFhirLayer {
            facade,
            clock,
            audit,
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
                    (layer.audit)(rejected.audit_record(now, &parts, &[], &info));
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
                    (layer.audit)(rejected.audit_record(now, &parts, &[], &info));
                    return Ok(rejected.to_response().map(R::from));
                }
            };
            let now = (layer.clock)();
            let decided = layer.facade.authorize_body(&parts, &bytes, head);
            let authorized: Authorized = match decided {
                Ok(a) => a,
                Err(rejected) => {
                    (layer.audit)(rejected.audit_record(now, &parts, &bytes, &info));
                    return Ok(rejected.to_response().map(R::from));
                }
            };
            let audit_parts = parts.clone();
            let mut req = http::Request::from_parts(parts, Full::new(bytes.clone()));
            req.extensions_mut().insert(authorized.clone());
            let response = inner.call(req).await?;
            let none = AuditFacts::default();
            let facts = response.extensions().get::<AuditFacts>().unwrap_or(&none);
            let record = authorized.audit_record(
                (layer.clock)(),
                &audit_parts,
                &bytes,
                &info,
                response.status(),
                facts,
            );
            (layer.audit)(record);
            Ok(response)
        })
    }
}
