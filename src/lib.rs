//! # secure-fhir
//!
//! The facade that wires [`smart_auth`] (token validation and authorization decisions) and
//! [`fhir_audit`] (audit events and the tamper-evident log) for the `http` crate's request and
//! response types. See the README for the whole flow.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use fhir_audit;
pub use fhir_types;
pub use smart_auth;

pub mod audit;
mod authorized;
mod decide;
mod guard;
pub mod limits;
pub mod rejection;
pub mod response;

pub use authorized::Authorized;
pub use guard::{Rejected, RevocationCheck, SecureFhir};
pub use rejection::Rejection;
#[cfg(feature = "tower")]
pub mod layer;
