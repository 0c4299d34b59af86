//! The example secure FHIR R4 server as a library, so that its parts can be tested and reused.
//!
//! - [`store`]: the embedded SQLite store (versions, history, search index, compartments);
//! - [`fhir`]: the FHIR REST interactions on it;
//! - [`web`]: the HTTP layer (axum), every request through [`security`] (the `secure-fhir` facade);
//! - [`authz`]: the development SMART authorization server mounted in the same process when the
//!   binary runs without `--issuer`.
//!
//! The binary `secure-fhir-server` wires them together.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit_keys;
pub mod audit_trail;
pub mod authz;
pub mod authz_audit;
pub mod banner;
pub mod cli;
pub mod data;
pub mod fhir;
pub mod followed_keys;
pub mod parse_cache;
pub mod security;
pub mod store;
pub mod web;
