//! The audit log reader (fhir-audit): `verify_log` over arbitrary bytes, record parsing, and
//! tamper detection against a signed checkpoint.

use std::sync::{Arc, LazyLock};

use chrono::{TimeZone, Utc};
use fhir_audit::checkpoint::{NoteSigner, NoteVerifier, SignedCheckpoint};
use fhir_audit::store::MemoryStore;
use fhir_audit::{verify_log, AuditRecord, Interaction, Outcome, User, VerifyOptions};

/// `audit_log_verify`: a log file and a checkpoint file as read from disk (the first two
/// bytes choose where the input splits). Verification never panics, and a report that says
/// "ok" found no problem; every record frame's payload also goes through the record parser.
pub fn audit_log_verify(data: &[u8]) {
    let split = match data {
        [a, b, ..] => usize::from(u16::from_le_bytes([*a, *b])).min(data.len()),
        _ => data.len(),
    };
    let (log, checkpoints) = data.split_at(split);
    let report = verify_log(log, checkpoints, &VerifyOptions::default());
    assert_eq!(report.is_ok(), report.first_problem().is_none());
    assert!(
        report.records <= log.len() as u64 / 12,
        "more records than frames fit"
    );
    // The whole input as one record's payload.
    if let Ok(record) = AuditRecord::from_log_bytes(data) {
        let bytes = record.to_log_bytes().expect("a parsed record serializes");
        let again = AuditRecord::from_log_bytes(&bytes).expect("serialized record parses");
        assert_eq!(
            again.to_log_bytes().ok(),
            Some(bytes),
            "record round trip is not stable"
        );
    }
}

struct Reference {
    log: Vec<u8>,
    verifier: NoteVerifier,
    anchor: SignedCheckpoint,
}

static REFERENCE: LazyLock<Reference> = LazyLock::new(|| {
    let now = Utc
        .with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
        .single()
        .expect("valid time");
    let signer = NoteSigner::from_seed("audit.example.org", &[7; 32]).expect("signer");
    let verifier = signer.verifier();
    let store = MemoryStore::with_signer("audit.example.org/fuzz", signer, Arc::new(move || now));
    for (i, patient) in ["123", "456", "123", "789", "456"].iter().enumerate() {
        let record = AuditRecord::rest(now, Interaction::Read, Some("Observation"))
            .user(User::new(format!("user-{i}")))
            .patient(*patient)
            .outcome(if i % 2 == 0 {
                Outcome::Success
            } else {
                Outcome::Denied {
                    reason: "forbidden".into(),
                }
            });
        store.append(&record).expect("append");
    }
    let anchor = store
        .checkpoint()
        .expect("signing store")
        .expect("checkpoint");
    Reference {
        log: store.to_log_file_bytes(),
        verifier,
        anchor,
    }
});

/// `audit_log_tamper`: edits a known-good log (each 3 input bytes: a 16-bit offset and a value
/// to XOR in; an odd first byte also truncates). Whatever changed, verification against the
/// signed anchor checkpoint must fail: no edit, truncation or reordering goes unnoticed.
pub fn audit_log_tamper(data: &[u8]) {
    let reference = &*REFERENCE;
    let mut log = reference.log.clone();
    for edit in data.chunks_exact(3) {
        let offset = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % log.len().max(1);
        if let Some(b) = log.get_mut(offset) {
            *b ^= edit[2];
        }
    }
    if data.first().is_some_and(|b| b & 1 == 1) {
        let keep = usize::from(data.get(1).copied().unwrap_or(0)) * log.len() / 256;
        log.truncate(keep);
    }
    let options = VerifyOptions {
        keys: vec![reference.verifier.clone()],
        anchors: vec![reference.anchor.clone()],
        origin: None,
    };
    let report = verify_log(&log, &[], &options);
    if log == reference.log {
        assert!(
            report.is_ok(),
            "the untouched log must verify: {:?}",
            report.problems
        );
    } else {
        assert!(!report.is_ok(), "a tampered log verified");
    }
}

/// The known-good log `audit_log_tamper` edits (for seeding `audit_log_verify`).
pub fn reference_log() -> Vec<u8> {
    REFERENCE.log.clone()
}
