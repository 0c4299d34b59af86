//! Tampering with a stored log is detected, and the verifier names the first bad record.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use fhir_audit::checkpoint::SignedCheckpoint;
use fhir_audit::store::file::{
    checkpoint_path, last_checkpoint, verify_file, FileStore, FileStoreConfig,
};
use fhir_audit::store::{Ack, StoreError};
use fhir_audit::{ProblemKind, VerifyOptions, VerifyReport};

const N: u64 = 20;

/// A log of N records, each committed alone (so each has its own checkpoint, after the one of
/// the empty log), plus the last checkpoint as an anchor held elsewhere.
fn make_log(dir: &Path) -> (PathBuf, SignedCheckpoint) {
    let path = dir.join("audit.log");
    let (store, _) =
        FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)).unwrap();
    for i in 0..N {
        store.append(&record(i), Ack::Anchored).unwrap();
    }
    let anchor = store.checkpoint().unwrap();
    store.close().unwrap();
    (path, anchor)
}

/// Each record of `log` as its leaf index and payload (what `encode` writes back).
fn records(log: &[u8]) -> Vec<(u64, Vec<u8>)> {
    frames(log).into_iter().map(|(_, _, i, p)| (i, p)).collect()
}

fn verify(path: &Path, anchor: Option<&SignedCheckpoint>) -> VerifyReport {
    let options = VerifyOptions {
        keys: vec![signer().verifier()],
        anchors: anchor.into_iter().cloned().collect(),
        origin: Some(ORIGIN.into()),
    };
    verify_file(path, &options).unwrap()
}

fn first_bad(r: &VerifyReport) -> (u64, bool) {
    let p = r.first_problem().expect("a problem is reported");
    (p.first_bad_record.expect("a record is named"), p.exact)
}

#[test]
fn intact_log_verifies_against_file_and_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let (path, anchor) = make_log(dir.path());
    let r = verify(&path, Some(&anchor));
    assert!(r.is_ok(), "{:?}", r.problems);
    assert_eq!(
        (r.records, r.checkpoints_matched, r.anchors_matched),
        (N, N as usize + 1, 1)
    );
    assert!(r.signatures_checked);
    assert_eq!(r.root, anchor.checkpoint.root);
    assert_eq!(r.covered, N);
    assert!(r.to_string().starts_with("OK: 20 records, root "), "{r}");
    // The note to copy out is the last one in the file.
    assert_eq!(last_checkpoint(&path).unwrap(), Some(anchor));
}

#[test]
fn flipped_byte_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, anchor) = make_log(dir.path());
    let mut log = std::fs::read(&path).unwrap();
    let (off, len, ..) = frames(&log)[7];
    log[off + len / 2] ^= 0x20;
    std::fs::write(&path, &log).unwrap();
    let r = verify(&path, Some(&anchor));
    assert_eq!(first_bad(&r), (7, true));
    assert_eq!(r.first_problem().unwrap().kind, ProblemKind::DamagedRecord);
    let summary = r.to_string();
    assert!(summary.starts_with("FAILED: 7 records,"), "{summary}");
    assert!(summary.contains("\nfirst bad record: 7:"), "{summary}");
    assert!(r
        .first_problem()
        .unwrap()
        .clone()
        .to_string()
        .starts_with("first bad record: 7:"));
}

#[test]
fn modification_with_recomputed_checksum_is_named_by_the_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let (path, anchor) = make_log(dir.path());
    let log = std::fs::read(&path).unwrap();
    let mut fr = records(&log);
    let forged = String::from_utf8(fr[11].1.clone())
        .unwrap()
        .replace("user-4", "user-5");
    fr[11].1 = forged.into_bytes();
    std::fs::write(&path, encode(&fr)).unwrap();
    let r = verify(&path, Some(&anchor));
    assert_eq!(first_bad(&r), (11, true));
    assert!(matches!(
        r.first_problem().unwrap().clone().kind,
        ProblemKind::RootMismatch {
            checkpoint_size: 12,
            ..
        }
    ));
}

#[test]
fn dropped_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, anchor) = make_log(dir.path());
    let log = std::fs::read(&path).unwrap();
    let (off, len, ..) = frames(&log)[5];
    let mut cut = log[..off].to_vec();
    cut.extend_from_slice(&log[off + len..]);
    std::fs::write(&path, &cut).unwrap();
    let r = verify(&path, Some(&anchor));
    assert_eq!(first_bad(&r), (5, true));
    assert_eq!(
        r.first_problem().unwrap().clone().kind,
        ProblemKind::MissingRecord { found: 6 }
    );

    // Renumbering the rest does not help: the checkpoint of size 6 no longer matches.
    let fr: Vec<(u64, Vec<u8>)> = frames(&log)
        .into_iter()
        .filter(|f| f.2 != 5)
        .enumerate()
        .map(|(i, f)| (i as u64, f.3))
        .collect();
    std::fs::write(&path, encode(&fr)).unwrap();
    assert_eq!(first_bad(&verify(&path, Some(&anchor))), (5, true));
}

#[test]
fn reordered_records_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, anchor) = make_log(dir.path());
    let log = std::fs::read(&path).unwrap();
    let mut fr = records(&log);
    fr.swap(9, 10);
    std::fs::write(&path, encode(&fr)).unwrap();
    let r = verify(&path, Some(&anchor));
    assert_eq!(first_bad(&r), (9, true));
    // Swapping the payloads but keeping the indices in order: the roots catch it.
    let mut fr = records(&log);
    let (a, b) = (fr[9].1.clone(), fr[10].1.clone());
    fr[9].1 = b;
    fr[10].1 = a;
    std::fs::write(&path, encode(&fr)).unwrap();
    let r = verify(&path, Some(&anchor));
    assert_eq!(first_bad(&r), (9, true));
}

#[test]
fn inserted_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, anchor) = make_log(dir.path());
    let log = std::fs::read(&path).unwrap();
    let f = frames(&log);
    // A copy of record 2 slipped in before record 13.
    let mut naive = log[..f[13].0].to_vec();
    naive.extend_from_slice(&log[f[2].0..f[2].0 + f[2].1]);
    naive.extend_from_slice(&log[f[13].0..]);
    std::fs::write(&path, &naive).unwrap();
    let r = verify(&path, Some(&anchor));
    assert_eq!(first_bad(&r), (13, true));
    assert_eq!(
        r.first_problem().unwrap().clone().kind,
        ProblemKind::UnexpectedRecord { found: 2 }
    );
    // A forged record with the indices renumbered.
    let mut fr: Vec<Vec<u8>> = f.iter().map(|x| x.3.clone()).collect();
    fr.insert(13, record(999).to_log_bytes().unwrap());
    let fr: Vec<(u64, Vec<u8>)> = fr
        .into_iter()
        .enumerate()
        .map(|(i, p)| (i as u64, p))
        .collect();
    std::fs::write(&path, encode(&fr)).unwrap();
    assert_eq!(first_bad(&verify(&path, Some(&anchor))), (13, true));
}

#[test]
fn truncation_is_detected_by_checkpoints_and_by_an_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let (path, anchor) = make_log(dir.path());
    let log = std::fs::read(&path).unwrap();
    let f = frames(&log);
    std::fs::write(&path, &log[..f[17].0]).unwrap();
    let r = verify(&path, None);
    assert_eq!(first_bad(&r), (17, true));
    assert!(matches!(
        r.first_problem().unwrap().clone().kind,
        ProblemKind::Truncated { anchor: false, .. }
    ));

    // Truncating the checkpoint file too hides it from the files alone, not from the anchor.
    let cps = std::fs::read(checkpoint_path(&path)).unwrap();
    let mut pos = 8;
    let mut kept = 8;
    for _ in 0..17 {
        let (_, len) = fhir_audit::frame::decode_checkpoint(&cps[pos..]).unwrap();
        pos += len;
        kept = pos;
    }
    std::fs::write(checkpoint_path(&path), &cps[..kept]).unwrap();
    assert!(verify(&path, None).is_ok());
    let r = verify(&path, Some(&anchor));
    assert_eq!(first_bad(&r), (17, true));
    assert!(matches!(
        r.first_problem().unwrap().clone().kind,
        ProblemKind::Truncated {
            anchor: true,
            checkpoint_size: 20
        }
    ));
}

#[test]
fn a_record_appended_after_the_last_checkpoint_is_reported_as_uncovered() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = make_log(dir.path());
    let mut log = std::fs::read(&path).unwrap();
    // Written where the writer would write the next record, over the preallocated zeros.
    log.truncate(records_end(&log));
    let forged = record(77).to_log_bytes().unwrap();
    fhir_audit::frame::encode_record(
        N,
        &forged,
        &fhir_audit::merkle::leaf_hash(&forged),
        &mut log,
    );
    std::fs::write(&path, &log).unwrap();
    let r = verify(&path, None);
    assert!(r.is_ok());
    assert_eq!((r.records, r.covered), (N + 1, N));
    assert!(
        r.to_string()
            .contains("records 20..21 are not covered by any checkpoint yet"),
        "{r}"
    );
}

#[test]
fn forged_checkpoints_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (path, anchor) = make_log(dir.path());
    // Rewrite the log and re-sign with another key: the trusted key does not know it.
    let other = fhir_audit::checkpoint::NoteSigner::from_seed("audit.test", &[1; 32]).unwrap();
    let path2 = dir.path().join("forged.log");
    let (store, _) = FileStore::open(&path2, other, clock(), FileStoreConfig::new(ORIGIN)).unwrap();
    store.append(&record(0), Ack::Anchored).unwrap();
    store.close().unwrap();
    let r = verify(&path2, Some(&anchor));
    assert!(
        r.problems
            .iter()
            .any(|p| matches!(p.kind, ProblemKind::BadCheckpoint { .. })),
        "{:?}",
        r.problems
    );
    assert!(matches!(
        verify(&path2, None).first_problem().unwrap().kind,
        ProblemKind::BadCheckpoint { .. }
    ));
    assert!(verify(&path, Some(&anchor)).is_ok());
}

#[test]
fn store_refuses_to_open_a_tampered_or_rolled_back_log() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = make_log(dir.path());
    let log = std::fs::read(&path).unwrap();
    let f = frames(&log);

    let mut flipped = log.clone();
    flipped[f[3].0 + 20] ^= 1;
    std::fs::write(&path, &flipped).unwrap();
    let err = FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)).unwrap_err();
    assert!(matches!(err, StoreError::Tampered(_)), "{err}");

    std::fs::write(&path, &log[..f[15].0]).unwrap();
    let err = FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)).unwrap_err();
    assert!(
        matches!(err, StoreError::Tampered(_) | StoreError::Rollback { .. }),
        "{err}"
    );

    // A rewrite with recomputed checksums is named by the checkpoints when the store opens.
    let mut fr: Vec<(u64, Vec<u8>)> = f.iter().map(|(_, _, i, p)| (*i, p.clone())).collect();
    fr[12].1 = record(500).to_log_bytes().unwrap();
    std::fs::write(&path, encode(&fr)).unwrap();
    match FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)).unwrap_err() {
        StoreError::Tampered(p) => {
            assert_eq!((p.first_bad_record, p.exact), (Some(12), true), "{p}")
        }
        e => panic!("{e}"),
    }

    // Deleting the checkpoints to re-sign a rewritten history is refused too.
    std::fs::write(&path, &log).unwrap();
    let cps = std::fs::read(checkpoint_path(&path)).unwrap();
    std::fs::remove_file(checkpoint_path(&path)).unwrap();
    let err = FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)).unwrap_err();
    assert!(matches!(err, StoreError::Tampered(_)), "{err}");
    std::fs::write(checkpoint_path(&path), cps).unwrap();

    let wrong_key = fhir_audit::checkpoint::NoteSigner::from_seed("audit.test", &[1; 32]).unwrap();
    let err = FileStore::open(&path, wrong_key, clock(), FileStoreConfig::new(ORIGIN)).unwrap_err();
    assert!(matches!(err, StoreError::Checkpoint(_)), "{err}");
    FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)).unwrap();
}

/// [`make_log`] with record 0 rewritten (its checksum recomputed): the path, the anchor, the
/// rewritten log's bytes and the checkpoint file's.
fn rewritten_first_record(dir: &Path) -> (PathBuf, SignedCheckpoint, Vec<u8>, Vec<u8>) {
    let (path, anchor) = make_log(dir);
    let mut fr = records(&std::fs::read(&path).unwrap());
    fr[0].1 = record(500).to_log_bytes().unwrap();
    let log = encode(&fr);
    std::fs::write(&path, &log).unwrap();
    let cps = std::fs::read(checkpoint_path(&path)).unwrap();
    (path, anchor, log, cps)
}

#[test]
fn store_refuses_a_rewritten_log_beside_an_emptied_checkpoint_file() {
    // A reviewer's reproduction: rewrite record 0 (checksum recomputed), empty the checkpoint
    // file or leave only its header, restart. Taking the log would sign the forged history.
    let dir = tempfile::tempdir().unwrap();
    let (path, anchor, _, cps) = rewritten_first_record(dir.path());
    for kept in [0, 8] {
        std::fs::write(checkpoint_path(&path), &cps[..kept]).unwrap();
        match FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)).unwrap_err() {
            StoreError::Tampered(p) => assert_eq!(p.kind, ProblemKind::DamagedCheckpointFile),
            e => panic!("{e}"),
        }
        // Refused before anything was written.
        assert_eq!(std::fs::read(checkpoint_path(&path)).unwrap(), &cps[..kept]);
    }
    // An anchor kept elsewhere catches the rewrite (somewhere in the records it covers).
    assert_eq!(first_bad(&verify(&path, Some(&anchor))), (0, false));
}

#[test]
fn verify_reports_records_beside_a_removed_or_emptied_checkpoint_file() {
    // What the store refuses to open, the verifier must not call OK: a rewritten record
    // (checksum recomputed) with the checkpoint file removed, emptied or cut to its header.
    let dir = tempfile::tempdir().unwrap();
    let (path, _, log, cps) = rewritten_first_record(dir.path());
    for kept in [None, Some(0), Some(8)] {
        match kept {
            None => std::fs::remove_file(checkpoint_path(&path)).unwrap(),
            Some(n) => std::fs::write(checkpoint_path(&path), &cps[..n]).unwrap(),
        }
        let r = verify(&path, None);
        assert!(!r.is_ok(), "checkpoint file kept {kept:?}: {r}");
        assert_eq!(
            r.first_problem().unwrap().kind,
            ProblemKind::DamagedCheckpointFile,
            "{r}"
        );
        let r = fhir_audit::verify_log(&log, &cps[..kept.unwrap_or(0)], &Default::default());
        assert!(
            !r.is_ok(),
            "verify_log, checkpoint bytes kept {kept:?}: {r}"
        );
    }
    // An empty log needs no checkpoint.
    std::fs::write(&path, fhir_audit::frame::LOG_MAGIC).unwrap();
    assert!(verify(&path, None).is_ok());
}

#[test]
fn a_new_log_is_anchored_before_its_first_record() {
    // The crash this guards: records durable, the first batch's checkpoint not yet written.
    // The checkpoint file then still holds the one written at creation, so the state differs
    // from an emptied file, and recovery takes the records (the next checkpoint covers them).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (store, _) =
        FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)).unwrap();
    let created = std::fs::read(checkpoint_path(&path)).unwrap();
    assert_eq!(store.checkpoint().unwrap().checkpoint.size, 0);
    for i in 0..3 {
        store.append(&record(i), Ack::Durable).unwrap();
    }
    store.close().unwrap();
    let r = verify(&path, None);
    assert!(r.is_ok(), "{r}");
    assert!(r.checkpoints_matched >= 2, "{r}");
    std::fs::write(checkpoint_path(&path), &created).unwrap();
    let (store, recovery) =
        FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)).unwrap();
    assert_eq!((recovery.records, recovery.checkpoint_size), (3, 0));
    store.close().unwrap();
    assert_eq!(verify(&path, None).covered, 3);
}

#[test]
fn store_refuses_reordered_or_dropped_records_past_the_last_checkpoint() {
    // Records 5.. are durable but no checkpoint covers them (as after a power loss took the
    // last checkpoints). Whole frames out of order there are no torn write: recovery must not
    // cut them, with the durable records after them, and sign over the gap.
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = make_log(dir.path());
    let log = std::fs::read(&path).unwrap();
    let cps = std::fs::read(checkpoint_path(&path)).unwrap();
    let mut keep = fhir_audit::frame::CHECKPOINT_MAGIC.len();
    // The new log's checkpoint, then those of records 0..5.
    for _ in 0..6 {
        keep += fhir_audit::frame::decode_checkpoint(&cps[keep..])
            .unwrap()
            .1;
    }
    std::fs::write(checkpoint_path(&path), &cps[..keep]).unwrap();
    let fr = records(&log);
    let mut swapped = fr.clone();
    swapped.swap(7, 8);
    let mut dropped = fr.clone();
    dropped.remove(7);
    for (what, tampered) in [("swapped", swapped), ("dropped", dropped)] {
        let bytes = encode(&tampered);
        std::fs::write(&path, &bytes).unwrap();
        match FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)) {
            Err(StoreError::Tampered(p)) => {
                assert_eq!(
                    (p.first_bad_record, p.exact),
                    (Some(7), true),
                    "{what}: {p}"
                )
            }
            Err(e) => panic!("{what}: {e}"),
            Ok((_, rec)) => panic!("{what}: opened, {rec:?}"),
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{what}: log left as found"
        );
    }
    // The log as written opens, with its uncovered records.
    std::fs::write(&path, &log).unwrap();
    let (_, rec) = FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)).unwrap();
    assert_eq!((rec.records, rec.checkpoint_size), (N, 5));
}

#[test]
fn the_preallocated_tail_verifies_only_while_it_is_all_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let (path, anchor) = make_log(dir.path());
    let log = std::fs::read(&path).unwrap();
    let end = records_end(&log);
    assert!(
        log.len() > end,
        "the writer preallocates zeros past the records"
    );
    let r = verify(&path, Some(&anchor));
    assert!(r.is_ok(), "{r}");
    assert_eq!((r.records, r.covered), (N, N));
    // One byte far into the zeros: not a torn write of the next frame, but damage there.
    let mut damaged = log.clone();
    damaged[log.len() - 1] = 1;
    std::fs::write(&path, &damaged).unwrap();
    let r = verify(&path, Some(&anchor));
    assert!(!r.is_ok(), "{r}");
    assert_eq!(r.first_problem().unwrap().offset, Some(end as u64));
    // A frame appended after the zeros is not a record of the log either.
    let mut appended = log.clone();
    let forged = record(77).to_log_bytes().unwrap();
    fhir_audit::frame::encode_record(
        N,
        &forged,
        &fhir_audit::merkle::leaf_hash(&forged),
        &mut appended,
    );
    std::fs::write(&path, &appended).unwrap();
    assert!(!verify(&path, Some(&anchor)).is_ok());
}

#[test]
fn zeroing_the_end_of_a_signed_record_is_not_taken_for_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = make_log(dir.path());
    let log = std::fs::read(&path).unwrap();
    let end = records_end(&log);
    // The last record's checksum, then the whole last record, zeroed: both look like a write
    // torn over preallocated space, but the signed checkpoint covers that record.
    let last = frames(&log).last().unwrap().0;
    for from in [end - 5, last] {
        let mut edited = log.clone();
        edited[from..end].fill(0);
        std::fs::write(&path, &edited).unwrap();
        let r = verify(&path, None);
        assert!(!r.is_ok(), "{r}");
        assert_eq!(first_bad(&r).0, N - 1, "{r}");
        let err = FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN))
            .map(drop)
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Tampered(_) | StoreError::Rollback { .. }),
            "{err}"
        );
    }
}

#[test]
fn streamed_verification_agrees_with_verification_of_the_bytes() {
    // Files are read in chunks smaller than these records, the bytes in one piece: the
    // answers must not depend on where a chunk ends, for intact, torn and tampered logs.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (store, _) =
        FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)).unwrap();
    for i in 0..6u8 {
        let len = [150_000, 10, 70_000, 300_000, 1, 65_536][i as usize];
        store
            .submit_raw(vec![b'a' + i; len])
            .unwrap()
            .wait(Ack::Anchored)
            .unwrap();
    }
    store.close().unwrap();
    let log = std::fs::read(&path).unwrap();
    let cps = std::fs::read(checkpoint_path(&path)).unwrap();
    let f = frames(&log);
    let end = f.last().map(|(o, l, ..)| o + l).unwrap();
    let big = f[3].0;

    let mut variants: Vec<(Vec<u8>, Vec<u8>)> = vec![(log.clone(), cps.clone())];
    for cut in [end, big + 5, big + 100_000, f[4].0 + 20, 3] {
        variants.push((log[..cut].to_vec(), cps.clone()));
    }
    let mut flipped = log.clone();
    flipped[big + 200_000] ^= 1;
    variants.push((flipped, cps.clone()));
    // Torn over preallocated space: the end of the big frame zeroed, zeros after it.
    let mut zeroed = log[..end].to_vec();
    zeroed[big + 250_000..].fill(0);
    zeroed.extend(vec![0; 100_000]);
    variants.push((zeroed.clone(), cps.clone()));
    // Zeros, then one other byte far beyond the buffer: not preallocated space.
    let mut stray = log[..end].to_vec();
    stray.extend(vec![0; 200_000]);
    stray.push(7);
    variants.push((stray, cps.clone()));
    // The checkpoint file torn, damaged, or reduced to its header.
    variants.push((log.clone(), cps[..cps.len() - 3].to_vec()));
    let mut bad = cps.clone();
    bad[20] ^= 1;
    variants.push((log.clone(), bad));
    variants.push((log.clone(), cps[..8].to_vec()));

    for (i, (l, c)) in variants.iter().enumerate() {
        std::fs::write(&path, l).unwrap();
        std::fs::write(checkpoint_path(&path), c).unwrap();
        let options = VerifyOptions {
            keys: vec![signer().verifier()],
            anchors: Vec::new(),
            origin: Some(ORIGIN.into()),
        };
        let streamed = verify_file(&path, &options).unwrap();
        let whole = fhir_audit::verify_log(l, c, &options);
        assert_eq!(format!("{streamed:?}"), format!("{whole:?}"), "variant {i}");
    }
    // The intact log, a torn tail and the zeroed tail verify and open; the others are named.
    std::fs::write(checkpoint_path(&path), &cps).unwrap();
    std::fs::write(&path, &log).unwrap();
    assert!(verify(&path, None).is_ok());
    std::fs::write(&path, &zeroed).unwrap();
    match FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)).unwrap_err() {
        // The zeroed record is covered by a checkpoint: tampering, not a torn write.
        StoreError::Tampered(p) => assert_eq!(p.first_bad_record, Some(3), "{p}"),
        e => panic!("{e}"),
    }
}

/// The checkpoint frames of a checkpoint file, each as its bytes.
fn checkpoint_frames(cps: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = fhir_audit::frame::CHECKPOINT_MAGIC.len();
    while at < cps.len() {
        let (_, len) = fhir_audit::frame::decode_checkpoint(&cps[at..]).unwrap();
        out.push(cps[at..at + len].to_vec());
        at += len;
    }
    out
}

#[test]
fn store_refuses_a_rewritten_log_behind_an_older_checkpoint_appended_to_the_file() {
    // Rewrite record 12 (checksum recomputed) and append a copy of the genuine checkpoint of
    // size 5 after the later ones: it is validly signed and matches the first 5 records, but
    // the checkpoints of sizes 13..=20 before it in the file vouch for the original record 12.
    // Taking the last one alone would let the store sign the rewritten history.
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = make_log(dir.path());
    let log = std::fs::read(&path).unwrap();
    let mut fr = records(&log);
    fr[12].1 = record(500).to_log_bytes().unwrap();
    std::fs::write(&path, encode(&fr)).unwrap();
    let mut cps = std::fs::read(checkpoint_path(&path)).unwrap();
    let old = checkpoint_frames(&cps)[5].clone();
    cps.extend_from_slice(&old);
    std::fs::write(checkpoint_path(&path), &cps).unwrap();
    assert!(!verify(&path, None).is_ok());
    match FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)) {
        Err(StoreError::Tampered(p)) => {
            assert_eq!((p.first_bad_record, p.exact), (Some(12), true), "{p}")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("the rewritten log was opened for writing"),
    }
}

#[test]
fn a_checkpoint_replaced_by_an_older_one_is_reported() {
    // Rewrite the last record (checksum recomputed) and put a copy of the genuine checkpoint of
    // size 5 in place of the last one, the only one that covered it: every checkpoint left
    // matches, but a store never writes a smaller size after a larger one.
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = make_log(dir.path());
    let log = std::fs::read(&path).unwrap();
    let mut fr = records(&log);
    fr[N as usize - 1].1 = record(500).to_log_bytes().unwrap();
    std::fs::write(&path, encode(&fr)).unwrap();
    let cps = std::fs::read(checkpoint_path(&path)).unwrap();
    let frames = checkpoint_frames(&cps);
    let mut replaced = fhir_audit::frame::CHECKPOINT_MAGIC.to_vec();
    for f in &frames[..frames.len() - 1] {
        replaced.extend_from_slice(f);
    }
    replaced.extend_from_slice(&frames[5]);
    std::fs::write(checkpoint_path(&path), &replaced).unwrap();
    let r = verify(&path, None);
    assert!(!r.is_ok(), "{r}");
    assert!(
        r.problems.iter().any(|p| p.kind
            == ProblemKind::CheckpointOutOfOrder {
                position: frames.len() - 1,
                size: 5,
                earlier: N - 1
            }),
        "{r}"
    );
    assert!(matches!(
        FileStore::open(&path, signer(), clock(), FileStoreConfig::new(ORIGIN)),
        Err(StoreError::Tampered(_))
    ));
}
