//! The example secure FHIR server as a library, so its parts can be tested and reused.
//!
//! - [`authz`]: the development SMART authorization server mounted in the same process when the
//!   binary runs without `--issuer`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod authz;
