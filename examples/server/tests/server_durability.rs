//! The audit record of an answered request is durable, and its AuditEvent searchable, when the
//! response arrives (audit.md §8.6: no PHI leaves before its audit record is safe); `audit
//! verify --audit-pubkey` trusts a key kept apart from the log; the CapabilityStatement is
//! dated by the running server.

mod server_support;

use std::time::Duration;

use server_support::{run, Scratch, Server};

/// Reads `Patient/example` tagged `request_id` and checks that its audit record is in the log
/// file when the answer arrives; how long the read took.
fn read_logged(s: &Server, token: &str, request_id: &str) -> Duration {
    let start = std::time::Instant::now();
    let r = s.request(
        "GET",
        "/Patient/example",
        Some(token),
        &[("X-Request-Id", request_id)],
        None,
    );
    let took = start.elapsed();
    assert_eq!(r.status, 200);
    let log = std::fs::read(s.audit_log()).unwrap();
    assert!(
        log.windows(request_id.len())
            .any(|w| w == request_id.as_bytes()),
        "{request_id} is in the log file when its response arrives"
    );
    took
}

#[test]
fn an_answered_request_is_logged_and_searchable_when_its_response_arrives() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    let auditor = s.patient_token("patient/AuditEvent.rs");
    for n in 0..5 {
        let request_id = format!("durability-check-{n}-{}", std::process::id());
        // No waiting: the record was written to the log before the response was sent ...
        read_logged(&s, &t, &request_id);
        // ... and its AuditEvent committed to the store.
        let events = s.get("/AuditEvent?entity=Patient/example&_count=100", &auditor);
        assert_eq!(events.status, 200, "{}", events.text());
        let found = events.json()["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["resource"].to_string().contains(&request_id));
        assert!(found, "request {n}'s AuditEvent is searchable at once");
    }
}

fn verify(log: &std::path::Path, pubkey: Option<&std::path::Path>) -> (bool, String, String) {
    let log = log.display().to_string();
    let key = pubkey.map(|k| k.display().to_string());
    let mut args = vec!["audit", "verify", "--audit-log", &log];
    if let Some(k) = &key {
        args.extend(["--audit-pubkey", k]);
    }
    let (status, out, err) = run(&args);
    (status.success(), out, err)
}

/// A log of another origin signed with the trusted key (a key may sign for several logs) is
/// not this server's log: `audit verify` refuses it; the same log under the server's origin
/// passes.
#[test]
fn audit_verify_refuses_a_log_of_another_origin() {
    use fhir_audit::checkpoint::NoteSigner;
    use fhir_audit::store::file::{FileStore, FileStoreConfig};
    use fhir_audit::store::Ack;

    let dir = Scratch::new();
    let signer = || NoteSigner::from_seed("secure-fhir-server/audit", &[5; 32]).unwrap();
    let pubkey = dir.path("trusted.pub");
    std::fs::write(&pubkey, signer().verifier().to_vkey()).unwrap();
    let now = chrono::Utc::now();
    let verify_log_of = |origin: &str| {
        let log = dir.path(&format!("{}.log", origin.replace('/', "_")));
        let clock: std::sync::Arc<dyn fhir_audit::Clock> = std::sync::Arc::new(move || now);
        let (store, _) =
            FileStore::open(&log, signer(), clock, FileStoreConfig::new(origin)).unwrap();
        let record = fhir_audit::AuditRecord::rest(now, fhir_audit::Interaction::Read, None);
        store.append(&record, Ack::Anchored).unwrap();
        drop(store);
        verify(&log, Some(&pubkey))
    };
    let (ok, out, err) = verify_log_of("secure-fhir-server/audit");
    assert!(ok, "{out}{err}");
    let (ok, out, err) = verify_log_of("elsewhere.example/log");
    assert!(!ok, "another log's checkpoints must not vouch: {out}");
    assert!(err.contains("elsewhere.example/log"), "{err}");
}

/// Runs a server, makes a few audited requests, stops it: the log and its key files stay.
fn audited_run() -> Server {
    let mut s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    for _ in 0..3 {
        assert_eq!(s.get("/Patient/example", &t).status, 200);
    }
    // Let the writer sign its last checkpoint, then stop.
    std::thread::sleep(Duration::from_millis(300));
    s.stop();
    s
}

fn with_ext(log: &std::path::Path, ext: &str) -> std::path::PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(ext);
    s.into()
}

#[test]
fn audit_verify_with_a_trusted_key_catches_tampering_and_a_swapped_key() {
    let victim = audited_run();
    let log = victim.audit_log();
    // The auditor's copy of the public key, kept away from the log.
    let trusted = std::env::temp_dir().join(format!("trusted-{}.pub", std::process::id()));
    std::fs::copy(with_ext(&log, ".pub"), &trusted).unwrap();

    let (ok, out, _) = verify(&log, Some(&trusted));
    assert!(ok, "{out}");
    assert!(out.contains("--audit-pubkey"), "{out}");

    // Someone who can write the log's directory replaces the log, its checkpoints and the key
    // beside it with those of another server (re-signed history).
    let forger = audited_run();
    let forged = forger.audit_log();
    for ext in ["", ".checkpoints", ".pub"] {
        std::fs::copy(with_ext(&forged, ext), with_ext(&log, ext)).unwrap();
    }
    let (ok, _, err) = verify(&log, None);
    assert!(
        ok,
        "the fallback trusts the swapped key beside the log: {err}"
    );
    assert!(err.contains("WARNING"), "and says so: {err}");
    let (ok, out, err) = verify(&log, Some(&trusted));
    assert!(!ok, "the trusted key refuses the forged log: {out}");
    assert!(err.contains("FAILED"), "{err}");

    // A flipped byte inside a record fails even under the forger's own key.
    let mut bytes = std::fs::read(&forged).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&forged, &bytes).unwrap();
    let (ok, _, err) = verify(&forged, Some(&with_ext(&forged, ".pub")));
    assert!(!ok);
    assert!(err.contains("first bad record"), "{err}");

    // An unreadable key is an error, not a pass.
    let (ok, _, _) = verify(&log, Some(std::path::Path::new("/nonexistent/key.pub")));
    assert!(!ok);
    let _ = std::fs::remove_file(&trusted);
}

#[test]
fn audit_verify_fails_when_the_signed_checkpoints_are_removed() {
    let s = audited_run();
    let log = s.audit_log();
    let trusted = s.scratch.path("trusted.pub");
    std::fs::copy(with_ext(&log, ".pub"), &trusted).unwrap();
    let (ok, out, _) = verify(&log, Some(&trusted));
    assert!(ok, "{out}");

    // Without its checkpoints nothing signed vouches for a record: one rewritten (its frame
    // checksum recomputed) would pass unnoticed, so none verifies.
    let checkpoints = with_ext(&log, ".checkpoints");
    std::fs::write(&checkpoints, b"").unwrap();
    let (ok, out, err) = verify(&log, Some(&trusted));
    assert!(!ok, "emptied checkpoints: {out}");
    assert!(err.contains("first bad record: 0"), "{err}");
    std::fs::remove_file(&checkpoints).unwrap();
    let (ok, out, err) = verify(&log, Some(&trusted));
    assert!(!ok, "removed checkpoints: {out}");
    assert!(err.contains("first bad record: 0"), "{err}");
}

#[test]
fn a_trusted_checkpoint_catches_a_log_rolled_back_with_its_checkpoints() {
    let mut s = audited_run();
    let log = s.audit_log();
    let trusted = s.scratch.path("trusted.pub");
    std::fs::copy(with_ext(&log, ".pub"), &trusted).unwrap();
    let old: Vec<Vec<u8>> = ["", ".checkpoints"]
        .iter()
        .map(|ext| std::fs::read(with_ext(&log, ext)).unwrap())
        .collect();
    s.restart();
    let t = s.patient_token("patient/*.rs");
    assert_eq!(s.get("/Patient/example", &t).status, 200);
    std::thread::sleep(Duration::from_millis(300));
    s.stop();

    // The auditor copies the latest checkpoint out of the server's reach.
    let (status, note, err) = run(&[
        "audit",
        "checkpoint",
        "--audit-log",
        &log.display().to_string(),
    ]);
    assert!(status.success(), "{err}");
    let note_file = s.scratch.path("trusted.note");
    std::fs::write(&note_file, &note).unwrap();
    let with_note = |log: &std::path::Path| {
        let (log, key, note) = (
            log.display().to_string(),
            trusted.display().to_string(),
            note_file.display().to_string(),
        );
        let (status, out, err) = run(&[
            "audit",
            "verify",
            "--audit-log",
            &log,
            "--audit-pubkey",
            &key,
            "--trusted-checkpoint",
            &note,
        ]);
        (status.success(), out, err)
    };
    let (ok, out, err) = with_note(&log);
    assert!(ok, "{out}{err}");
    assert!(out.contains("and the trusted checkpoint"), "{out}");

    // Both files put back as they were before the restart: consistent with each other, so
    // only the trusted checkpoint notices the records that are gone.
    for (ext, bytes) in ["", ".checkpoints"].iter().zip(&old) {
        std::fs::write(with_ext(&log, ext), bytes).unwrap();
    }
    let (ok, out, _) = verify(&log, Some(&trusted));
    assert!(ok, "{out}");
    let (ok, out, err) = with_note(&log);
    assert!(!ok, "{out}");
    assert!(err.contains("first bad record"), "{err}");

    // A note that is not a checkpoint is an error, not a pass.
    std::fs::write(&note_file, "not a checkpoint\n").unwrap();
    let (ok, _, err) = with_note(&log);
    assert!(!ok);
    assert!(err.contains("trusted.note"), "{err}");
}

#[test]
fn the_capability_statement_is_dated_by_the_running_server() {
    let before = chrono::Utc::now().timestamp();
    let s = Server::start(&[]);
    let after = chrono::Utc::now().timestamp();
    let r = s.request("GET", "/metadata", None, &[], None);
    assert_eq!(r.status, 200);
    let date = r.json()["date"].as_str().unwrap().to_owned();
    let at = chrono::DateTime::parse_from_rfc3339(&date)
        .unwrap_or_else(|e| panic!("`{date}` is a FHIR dateTime with a time zone: {e}"))
        .timestamp();
    assert!((before..=after).contains(&at), "{date} is the start time");
}

/// When the audit log cannot be made durable (here the file-size limit makes its writes fail),
/// no PHI leaves: each such answer is replaced by a 503 OperationOutcome that discloses
/// nothing, for as long as the log fails; refusals stay refusals.
#[cfg(unix)]
#[test]
fn phi_is_withheld_when_the_audit_log_fails() {
    let s = Server::start_with_file_limit(40, &[]);
    let t = s.patient_token("patient/*.rs");
    let mut answered = 0;
    let refused = loop {
        let r = s.get("/Patient/example", &t);
        if r.status == 503 {
            break r;
        }
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains("Chalmers"));
        answered += 1;
        assert!(answered < 1000, "the log never filled up");
    };
    assert!(answered > 0, "the log worked before it failed");
    let body = refused.json();
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert!(!refused.text().contains("Chalmers"), "{}", refused.text());
    for path in ["/Patient/example", "/Observation?patient=example"] {
        let r = s.get(path, &t);
        assert_eq!(r.status, 503, "{path}");
        assert!(!r.text().contains("Chalmers") && !r.text().contains("Observation/"));
    }
    assert_eq!(
        s.request("GET", "/Patient/example", None, &[], None).status,
        401
    );
}

/// `--audit-commit-delay` holds a flush for more records only while enough requests are in
/// flight (`--audit-commit-siblings`): with one sibling (every request) each answer waits
/// about the delay, with the default (32) a lone request does not; every answer is still
/// logged before it arrives.
#[test]
fn the_commit_delay_applies_only_with_enough_requests_in_flight() {
    let delay = Duration::from_millis(10);
    // The fastest of a few reads after a first one (token validated, caches warm).
    let fastest_read = |extra: &[&str]| {
        let s = Server::start(extra);
        let t = s.patient_token("patient/*.rs");
        (0..4)
            .map(|n| {
                let id = format!("commit-delay-{n}-{}", std::process::id());
                read_logged(&s, &t, &id)
            })
            .skip(1)
            .min()
            .unwrap()
    };
    let micros = delay.as_micros().to_string();
    let always = fastest_read(&[
        "--audit-commit-delay",
        &micros,
        "--audit-commit-siblings",
        "1",
    ]);
    assert!(
        always >= delay,
        "one request in flight, siblings 1: {always:?}"
    );
    let lone = fastest_read(&["--audit-commit-delay", &micros]);
    assert!(
        lone + delay / 2 < always,
        "one request in flight, siblings 32: {lone:?} (with the delay: {always:?})"
    );
}
