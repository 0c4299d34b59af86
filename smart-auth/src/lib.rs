//! # smart-auth
//!
//! Sans-IO SMART App Launch 2.x authorization for FHIR resource servers: access-token validation
//! (JWT with JWKS, RFC 7662 introspection, DPoP), SMART v1/v2 scopes, and the authorization
//! decision for a FHIR request. The crate opens no sockets, reads no files and no clock: the host
//! passes in JWKS documents, introspection responses and the current time.
//!
//! ## Validating an access token
//!
//! Configure each trusted authorization server once, hand the validator the key set it
//! published, then validate the `Authorization` header of each request:
//!
//! ```
//! use smart_auth::bearer::extract_credential;
//! use smart_auth::jwks::JwkSet;
//! use smart_auth::jose::{Algorithm, AlgorithmSet};
//! use smart_auth::{IssuerConfig, TokenError, UnixTime, Validator};
//!
//! // The authorization server's JWKS, as the host fetched it from its `jwks_uri`.
//! let jwks = br#"{"keys":[{"alg":"EdDSA","crv":"Ed25519","kid":"2026-key","kty":"OKP",
//!     "use":"sig","x":"6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw"}]}"#;
//! let validator = Validator::new([
//!     IssuerConfig::new("https://auth.example.org", "https://fhir.example.org/r4")
//!         .algorithms(AlgorithmSet::ACCESS_TOKEN_DEFAULT.with(Algorithm::EdDSA))
//!         .jwks(JwkSet::parse(jwks)?),
//! ])?;
//!
//! let mut headers = http::HeaderMap::new();
//! headers.insert("authorization", "Bearer eyJhbGciOiJFZERTQSIsImtpZCI6IjIwMjYta2V5IiwidHlwIjoiYXQrand0In0.\
//! eyJhdWQiOiJodHRwczovL2ZoaXIuZXhhbXBsZS5vcmcvcjQiLCJjbGllbnRfaWQiOiJ0ZXN0LWNsaWVudCIsImV4cCI6MTc2NzIy\
//! OTIwMCwiaWF0IjoxNzY3MjI1NjAwLCJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5vcmciLCJqdGkiOiJhMWIyIiwicGF0aWVu\
//! dCI6IjEyMyIsInNjb3BlIjoicGF0aWVudC9PYnNlcnZhdGlvbi5ycyBsYXVuY2gvcGF0aWVudCIsInN1YiI6InRlc3QtdXNlciJ9.\
//! BDcFzJBQHxHsRh_SpexR-jJUicsUdNSO4dg9FdQvqENhhjCM-OvYlP1HpMHTwvbnlFFa99jFGZvN8lTIhAo7Cw".parse()?);
//!
//! // The host reads its clock; here it is pinned to when the token was valid.
//! let now = UnixTime::from_secs(1_767_226_000);
//! let credential = extract_credential(&headers)?;
//! let context = validator.validate(credential.token(), now)?;
//! assert_eq!(context.launch().patient, Some("123"));
//! assert_eq!(context.client_id(), Some("test-client"));
//!
//! // An hour later the same token is refused, with a stable reason for the logs and a
//! // uniform RFC 6750 challenge for the client.
//! let err = validator.validate(credential.token(), now.plus(3600)).unwrap_err();
//! assert_eq!(err, TokenError::Expired);
//! assert_eq!(err.reason(), "expired");
//! assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
//! assert_eq!(err.challenge().realm("fhir").to_header_value(),
//!            r#"Bearer realm="fhir", error="invalid_token""#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A key set given alone, as here, is pinned: keys the authorization server rotates in are
//! refused. Keys that rotate are kept in a [`jwks::KeyCache`] whose refresh policy the crate
//! computes and the host carries out: configure the issuer's
//! [`jwks_uri`](IssuerConfig::jwks_uri) and run [`Validator::refreshes_due`] (its example is
//! the whole loop). Opaque tokens go through
//! [`introspection`]; sender-constrained tokens through [`dpop`] and [`mtls`]. Authorization
//! servers validate Backend Services client assertions with [`client_assertion`] (replays are
//! caught through a [`replay::ReplayStore`]), and hosts consuming ID tokens use [`oidc`]. The
//! `testing` feature mints tokens and key sets for a host's own tests.
//!
//! ## Deciding a request
//!
//! [`request::FhirRequest::from_parts`] classifies the `http` request (strict paths, parsed
//! query); [`decision::Authorizer::decide`] turns the [`AccessContext`] and that request into
//! allow, allow-with-narrowing or a [`decision::Denial`] with exactly one HTTP answer; the
//! [`decision::Permit`] of an allowed request then checks what leaves the server
//! ([`Permit::filter_result`](decision::Permit::filter_result)) and writes against the stored
//! version ([`Permit::check_write`](decision::Permit::check_write)). Scopes are parsed by
//! [`scope::ScopeSet`]; [`discovery`] builds `.well-known/smart-configuration`. With the `testing`
//! feature, `testing::policy` states a host's rules as one-line cases and `testing::strategy`
//! generates inputs for property tests.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bearer;
pub mod cache;
pub mod client_assertion;
pub mod context;
pub mod decision;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod introspection;
pub mod jose;
pub mod jwk;
pub mod jwks;
pub mod mtls;
pub mod oidc;
pub mod replay;
pub mod request;
pub mod scope;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod validator;

pub use context::{AccessContext, LaunchContext};
pub use error::{Challenge, TokenError};
pub use scope::ScopeSet;
pub use time::UnixTime;
pub use validator::{IssuerConfig, Validator};
