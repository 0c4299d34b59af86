//! # fhir-audit
//!
//! The audit and disclosure event model: IHE BALP AuditEvents, accounting of disclosures and a
//! tamper-evident log.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
