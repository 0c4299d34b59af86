//! # fhir-types
//!
//! Typed FHIR R4 (4.0.1) resources and datatypes, generated from the official definitions.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
