//! The example secure FHIR R4 server, as a library so that its parts can be tested and reused:
//! the embedded store, the FHIR REST API, the HTTP layer and (in [`authz`]) the development SMART
//! authorization server. The binary `secure-fhir-server` wires them together.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;
pub mod data;
pub mod fhir;
pub mod security;
pub mod store;
pub mod web;
