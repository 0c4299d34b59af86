//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use fhir_audit::checkpoint::NoteSigner;
use fhir_audit::frame;
use fhir_audit::{AuditRecord, Client, Interaction, User};

pub const ORIGIN: &str = "audit.test/log";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

pub fn clock() -> Arc<dyn fhir_audit::Clock> {
    Arc::new(FixedClockFn)
}

struct FixedClockFn;
impl fhir_audit::Clock for FixedClockFn {
    fn now(&self) -> DateTime<Utc> {
        t0()
    }
}

pub fn signer() -> NoteSigner {
    NoteSigner::from_seed("audit.test", &[42; 32]).unwrap()
}

/// A distinct, deterministic record per index.
pub fn record(i: u64) -> AuditRecord {
    AuditRecord::rest(
        t0() + chrono::Duration::seconds(i as i64),
        Interaction::Read,
        Some("Observation"),
    )
    .user(User::new(format!("user-{}", i % 7)))
    .client(Client::new("app").address("10.0.0.1"))
    .resource(fhir_audit::ResourceRef::new(
        "Observation",
        format!("obs-{i}"),
    ))
    .patient(format!("p{}", i % 3))
    .correlation_id(format!("req-{i}"))
}

/// The frames of a log file: (offset, length, index, payload).
pub fn frames(log: &[u8]) -> Vec<(usize, usize, u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 8;
    // Zeros at the end are space the writer preallocated, not frames.
    while pos < log.len() && !frame::is_preallocated(&log[pos..]) {
        let f = frame::decode_record(&log[pos..]).expect("intact frame");
        out.push((pos, f.len, f.index, f.payload.to_vec()));
        pos += f.len;
    }
    out
}

/// Where the last frame of a log file ends (preallocated zeros may follow).
pub fn records_end(log: &[u8]) -> usize {
    frames(log).last().map_or(8, |(pos, len, _, _)| pos + len)
}

/// Re-encodes frames (as an attacker who knows the format would).
pub fn encode(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = frame::LOG_MAGIC.to_vec();
    for (i, p) in frames {
        frame::encode_record(*i, p, &fhir_audit::merkle::leaf_hash(p), &mut out);
    }
    out
}
