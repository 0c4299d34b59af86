//! The audit log reader (fhir-audit): `verify_log` over arbitrary bytes, record parsing, and
//! tamper detection against a signed checkpoint.

use std::sync::{Arc, LazyLock};

use chrono::{TimeZone, Utc};
use fhir_audit::checkpoint::{
    Checkpoint, NoteSigner, NoteVerifier, SignedCheckpoint, MAX_NOTE_LEN,
};
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

/// The reference log's checkpoint key (a fixed seed: inputs replay).
fn reference_signer() -> NoteSigner {
    NoteSigner::from_seed("audit.example.org", &[7; 32]).expect("signer")
}

static REFERENCE: LazyLock<Reference> = LazyLock::new(|| {
    let now = Utc
        .with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
        .single()
        .expect("valid time");
    let signer = reference_signer();
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

/// The anchor checkpoint of the reference log, as a signed note (for seeding `checkpoint_note`).
pub fn reference_note() -> String {
    REFERENCE.anchor.note().to_owned()
}

/// `checkpoint_note`: a signed checkpoint note, as read from a checkpoint file or handed to an
/// auditor (`--trusted-checkpoint`). An odd first byte: the rest is the note text; parsing
/// never panics, keeps the text, and what it read the writer writes back (time to the second).
/// An even first byte: a checkpoint built from the input (origin line, 8-byte size, 32-byte
/// root, 4-byte time) is signed, must parse back to itself and verify, and each 3 further
/// bytes (a 16-bit offset and a value to XOR in) edit the note: an edit of the signed body
/// never verifies.
pub fn checkpoint_note(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let verifier = &REFERENCE.verifier;
    if mode & 1 == 1 {
        let Ok(note) = std::str::from_utf8(rest) else {
            return;
        };
        let Ok(parsed) = SignedCheckpoint::parse(note) else {
            return;
        };
        assert!(note.len() <= MAX_NOTE_LEN, "parsed an oversized note");
        assert_eq!(parsed.note(), note, "the note text changed");
        let c = &parsed.checkpoint;
        let again = Checkpoint::parse_body(&c.body()).expect("the writer's body parses");
        assert_eq!(
            (&again.origin, again.size, again.root),
            (&c.origin, c.size, c.root)
        );
        assert_eq!(
            again.time.map(|t| t.timestamp()),
            c.time.map(|t| t.timestamp()),
            "the time line did not survive"
        );
        let _ = parsed.verify(std::slice::from_ref(verifier));
        return;
    }
    let (origin, rest) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (String::from_utf8_lossy(&rest[..i]), &rest[i + 1..]),
        None => return,
    };
    let Some((fixed, edits)) = rest.split_at_checked(8 + 32 + 4) else {
        return;
    };
    let size = u64::from_le_bytes(fixed[..8].try_into().expect("8 bytes"));
    let root: [u8; 32] = fixed[8..40].try_into().expect("32 bytes");
    let secs = u32::from_le_bytes(fixed[40..].try_into().expect("4 bytes"));
    let checkpoint = Checkpoint {
        origin: origin.into_owned(),
        size,
        root,
        time: (secs != 0).then(|| Utc.timestamp_opt(i64::from(secs), 0).unwrap()),
    };
    let Ok(signed) = reference_signer().sign(&checkpoint) else {
        return;
    };
    let parsed = match SignedCheckpoint::parse(signed.note()) {
        Ok(p) => p,
        Err(e) => panic!("a signed checkpoint does not parse: {e}"),
    };
    assert_eq!(parsed, signed, "the note parsed to another checkpoint");
    assert!(
        parsed.verify(std::slice::from_ref(verifier)).is_ok(),
        "own signature"
    );
    assert!(parsed.checkpoint.check_origin(&checkpoint.origin).is_ok());
    let mut note = signed.note().as_bytes().to_vec();
    for edit in edits.chunks_exact(3) {
        let offset = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % note.len();
        note[offset] ^= edit[2];
    }
    let body_len = checkpoint.body().len();
    if note[..body_len] == signed.note().as_bytes()[..body_len] {
        return;
    }
    if let Ok(edited) = std::str::from_utf8(&note) {
        if let Ok(p) = SignedCheckpoint::parse(edited) {
            assert!(
                p.verify(std::slice::from_ref(verifier)).is_err(),
                "an edited checkpoint body verified"
            );
        }
    }
}
