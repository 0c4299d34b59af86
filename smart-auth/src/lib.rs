//! # smart-auth
//!
//! Sans-IO SMART App Launch 2.x authorization for FHIR resource servers: access-token validation
//! (JWT with JWKS, RFC 7662 introspection, DPoP), SMART v1/v2 scopes, and the authorization
//! decision for a FHIR request. The crate opens no sockets, reads no files and no clock: the host
//! passes in JWKS documents, introspection responses and the current time.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod context;
pub mod scope;

pub use context::{AccessContext, LaunchContext};
pub use scope::ScopeSet;
pub mod request;
pub mod decision;
#[cfg(feature = "testing")]
pub mod testing;
