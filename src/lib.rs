//! # secure-fhir
//!
//! The facade that wires [`smart_auth`] (access-token validation and the authorization
//! decision) and [`fhir_audit`] (audit records and the tamper-evident log) for the `http`
//! crate's request and response types, so that a FHIR server on any HTTP stack gets the whole
//! secure flow from one call:
//!
//! 1. [`SecureFhir::authorize`] takes the request's [`http::request::Parts`] (and its body),
//!    checks the [limits](limits::Limits), validates the credential, classifies the FHIR
//!    request and decides it. It returns either an [`Authorized`] request — the access
//!    context, the classified request, and the permit whose narrowing the host adds to its
//!    queries — or a [`Rejected`] one whose [`to_response`](Rejected::to_response) is a ready
//!    `http::Response`: 400/401/403/404/405/413/414/415 with the RFC 6750 challenge and an
//!    OperationOutcome that leaks nothing (diagnostics are `&'static str`: no echo of input).
//!    For opaque tokens the host introspects itself (RFC 7662), [`SecureFhir::authorize_context`]
//!    takes the access context instead of the credential; an introspection that fails is
//!    refused as a 503 without a challenge, not as an invalid token.
//! 2. The host runs the interaction with the narrowing, and checks what it returns.
//! 3. [`Authorized::audit_record`] / [`Rejected::audit_record`] give the
//!    [`fhir_audit::AuditRecord`] of every request, allowed or not, for the host's log.
//!
//! The crate does no I/O and reads no clock: time is a parameter, keys come in through the
//! [`smart_auth::Validator`], records go out as values. Behind the `tower` feature,
//! `layer::SecureFhirLayer` runs step 1 and 3 as a `tower::Layer`.
//!
//! The example mints its token with `smart_auth::testing::TestIssuer`, from smart-auth's
//! `testing` feature: enable it in your `[dev-dependencies]` only (its signing keys are
//! public). In production the validator trusts your authorization server's keys
//! ([`SecureFhir::validator`] shows the refresh loop).
//!
//! ```
//! use secure_fhir::SecureFhir;
//! use smart_auth::decision::DecisionPolicy;
//! use smart_auth::testing::TestIssuer;
//! use smart_auth::UnixTime;
//!
//! // The authorization server's keys go into a validator (here: a test issuer's).
//! let issuer = TestIssuer::new("https://auth.example.org", "https://fhir.example.org/fhir");
//! let facade = SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir");
//! let now = UnixTime::from_secs(1_767_225_600);
//!
//! // A patient-facing app searches Observations.
//! let token = issuer.token(now).scope("patient/Observation.rs").patient("123").sign();
//! let (parts, ()) = http::Request::get("/fhir/Observation?code=8867-4")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(())?
//!     .into_parts();
//! let authorized = facade.authorize(&parts, b"", now).expect("allowed");
//! // The host must confine its query to Patient/123's compartment.
//! let narrowing = authorized.narrowing().expect("narrowed");
//! assert_eq!(narrowing.alternatives()[0].compartment().unwrap().id, "123");
//!
//! // No token: a ready 401 with a bare RFC 6750 challenge and an OperationOutcome body.
//! let (parts, ()) = http::Request::get("/fhir/Observation").body(())?.into_parts();
//! let rejected = facade.authorize(&parts, b"", now).unwrap_err();
//! let response = rejected.to_response();
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["www-authenticate"], "Bearer realm=\"fhir\"");
//! assert_eq!(response.headers()["content-type"], "application/fhir+json; charset=utf-8");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use fhir_audit;
pub use fhir_types;
pub use smart_auth;

pub mod audit;
mod authorized;
mod decide;
mod dpop;
mod guard;
#[cfg(feature = "tower")]
pub mod layer;
pub mod limits;
pub mod rejection;
pub mod response;

pub use authorized::Authorized;
pub use dpop::InvalidBaseUrl;
pub use guard::{Authenticated, Rejected, RevocationCheck, SecureFhir};
pub use rejection::Rejection;
