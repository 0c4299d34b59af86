//! # fhir-audit
//!
//! The audit and disclosure event model for secure FHIR servers:
//!
//! - [`AuditRecord`]: a version-neutral record of who did what to which patients' data, when,
//!   why and with what outcome. It has no field that could hold a token or secret.
//! - A tamper-evident, append-only log: RFC 9162 Merkle hashing ([`merkle`]), inclusion and
//!   consistency proofs, signed checkpoints ([`checkpoint`]) and a [verifier](verify_log) that
//!   names the first bad record.
//! - [`render`]: FHIR R4 AuditEvents (typed, from `fhir-types`) conforming to IHE BALP, one per
//!   patient, with documented shapes for denials, failures, login/logout, token issuance,
//!   security alerts and disclosures.
//! - [`disclosure`]: the HIPAA §164.528 accounting of disclosures for one patient, as plain
//!   text or a FHIR Bundle.
//! - Stores and sinks ([`store`]): the durable [`FileStore`](store::file::FileStore) with group
//!   commit and crash recovery, an in-memory [`MemoryStore`](store::MemoryStore), and the
//!   [`AuditSink`](store::AuditSink) trait for hosts' own sinks.
//!
//! The crate reads no clock (time is a parameter or a [`Clock`]) and, outside
//! [`store::file`], does no I/O.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use fhir_audit::{AuditRecord, Client, Interaction, RawRequest, User, verify_log, VerifyOptions};
//! use fhir_audit::checkpoint::NoteSigner;
//! use fhir_audit::store::MemoryStore;
//! use std::sync::Arc;
//!
//! let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
//! let record = AuditRecord::rest(now, Interaction::SearchType, Some("Observation"))
//!     .user(User::new("dr-x").fhir_user("Practitioner/7"))
//!     .client(Client::new("growth-chart").address("10.0.0.5"))
//!     .patient("123")
//!     .query(RawRequest::from_bytes(
//!         b"GET /Observation?patient=123&access_token=SECRET HTTP/1.1\nAuthorization: Bearer SECRET\n",
//!     ))
//!     .correlation_id("req-1");
//! // Credentials never reach the record.
//! assert!(!String::from_utf8_lossy(&record.to_log_bytes()?).contains("SECRET"));
//!
//! let signer = NoteSigner::from_seed("audit.example.org", &[7; 32])?;
//! let verifier = signer.verifier();
//! let log = MemoryStore::with_signer("audit.example.org/log1", signer, Arc::new(move || now));
//! let index = log.append(&record)?;
//!
//! // Prove the record is in the log, against a signed checkpoint.
//! let checkpoint = log.checkpoint().unwrap()?;
//! checkpoint.verify(&[verifier.clone()])?;
//! let proof = log.inclusion_proof(index, checkpoint.checkpoint.size).unwrap();
//! let leaf = fhir_audit::merkle::leaf_hash(&record.to_log_bytes()?);
//! proof.verify(&leaf, &checkpoint.checkpoint.root)?;
//!
//! // Verify a whole exported log against the checkpoint.
//! let report = verify_log(
//!     &log.to_log_file_bytes(),
//!     &[],
//!     &VerifyOptions {
//!         keys: vec![verifier],
//!         anchors: vec![checkpoint],
//!         origin: Some("audit.example.org/log1".into()),
//!     },
//! );
//! assert!(report.is_ok());
//!
//! // Render it as BALP AuditEvents (here: IHE.BasicAudit.PatientQuery). BALP requires the
//! // server's network address (and the client's): without it no profile is claimed.
//! let config = fhir_audit::render::RenderConfig::new("Device/secure-fhir")
//!     .server_address("fhir.example.org");
//! let events = fhir_audit::render::to_audit_events(&record, &config);
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].action.as_ref().and_then(|a| a.as_str()), Some("E"));
//! let profile = &events[0].meta.as_ref().unwrap().profile[0];
//! assert_eq!(
//!     profile.as_str(),
//!     Some("https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientQuery")
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The durable store is used the same way from a server (see [`store::file`]):
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use fhir_audit::{checkpoint::NoteSigner, store::{Ack, file::{FileStore, FileStoreConfig}}};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let record: fhir_audit::AuditRecord = todo!();
//! let signer = NoteSigner::from_skey(&std::fs::read_to_string("audit.key")?)?;
//! let clock: Arc<dyn fhir_audit::Clock> = Arc::new(|| chrono::Utc::now());
//! let (store, recovery) = FileStore::open("audit.log", signer, clock, FileStoreConfig::new("example.org/audit"))?;
//! store.append(&record, Ack::Durable)?; // returns once fsynced
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod checkpoint;
mod clock;
pub mod disclosure;
pub mod frame;
mod instant;
pub mod merkle;
mod model;
pub mod render;
mod request;
pub mod store;
pub mod syslog;
pub mod verify;

pub use clock::{Clock, FixedClock};
pub use model::{
    AuditRecord, Client, Disclosure, Event, Interaction, Outcome, Recipient, RecordError,
    ResourceRef, SecurityAlert, Severity, TokenRef, User, MAX_RECORD_LEN,
    UNREADABLE_PURPOSE_OF_USE,
};
pub use request::{RawRequest, MAX_RAW_REQUEST};
pub use verify::{verify_log, Problem, ProblemKind, VerifyOptions, VerifyReport};
