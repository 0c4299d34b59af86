//! The audit log's signing key, and `audit verify`.
//!
//! The server signs the log's checkpoints with a key kept in `<log>.key` (owner-only) and
//! writes its public half (a note verifier key, `vkey`) to `<log>.pub` at every start. Give
//! auditors a copy of that public key through another channel and verify with
//! `audit verify --audit-log FILE --audit-pubkey KEYFILE`: only a key kept away from the log
//! detects a log rewritten and re-signed by someone who can write the log's directory.
//! Without `--audit-pubkey`, `audit verify` falls back to `<log>.pub` beside the log and says
//! so on stderr: that detects damage and partial tampering, not a rewrite with a swapped key.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fhir_audit::checkpoint::{NoteSigner, NoteVerifier, SignedCheckpoint, MAX_NOTE_LEN};
use fhir_audit::store::file::{last_checkpoint, verify_file};
use fhir_audit::VerifyOptions;

use crate::audit_trail::ORIGIN;

/// `<log>.key` and `<log>.pub`.
pub fn key_paths(log: &Path) -> (PathBuf, PathBuf) {
    let with = |ext: &str| {
        let mut s = log.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    (with(".key"), with(".pub"))
}

/// The log's signing key: read from `<log>.key`, or created there (owner-only); its public
/// half is (re)written to `<log>.pub`.
pub fn signer_for(log: &Path) -> Result<NoteSigner, String> {
    let (key, public) = key_paths(log);
    let skey = match std::fs::read_to_string(&key) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let rng = ring::rand::SystemRandom::new();
            let skey = NoteSigner::generate_skey(ORIGIN, &rng).map_err(|e| e.to_string())?;
            write_private(&key, &skey)?;
            skey
        }
        Err(e) => return Err(format!("{}: {e}", key.display())),
    };
    let signer = NoteSigner::from_skey(&skey).map_err(|e| format!("{}: {e}", key.display()))?;
    std::fs::write(&public, signer.verifier().to_vkey())
        .map_err(|e| format!("{}: {e}", public.display()))?;
    Ok(signer)
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Where `audit verify` takes its trusted key from.
enum Trust {
    /// `--audit-pubkey`: a key kept apart from the log.
    Given(NoteVerifier),
    /// Fallback: `<log>.pub` beside the log.
    Beside(NoteVerifier, PathBuf),
    /// No key at all: signatures are not checked.
    None,
}

fn read_vkey(path: &Path) -> Result<NoteVerifier, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    NoteVerifier::from_vkey(text.trim()).map_err(|e| format!("{}: {e}", path.display()))
}

/// The signed checkpoint note in `path`, if given.
fn read_note(path: Option<&Path>) -> Result<Vec<SignedCheckpoint>, String> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let error = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let mut text = String::new();
    std::io::Read::take(
        std::fs::File::open(path).map_err(|e| error(&e))?,
        MAX_NOTE_LEN as u64 + 1,
    )
    .read_to_string(&mut text)
    .map_err(|e| error(&e))?;
    SignedCheckpoint::parse(&text)
        .map(|c| vec![c])
        .map_err(|e| error(&e))
}

/// `audit checkpoint --audit-log FILE`: prints the log's latest signed checkpoint (exit 0),
/// for an auditor to keep where the server cannot write and pass back to `audit verify
/// --trusted-checkpoint`; exit 2 when there is none or it cannot be read.
pub fn checkpoint(log: &Path) -> ExitCode {
    match last_checkpoint(log) {
        Ok(Some(c)) => {
            print!("{}", c.note());
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("audit checkpoint: {}: no checkpoint yet", log.display());
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("audit checkpoint: {}: {e}", log.display());
            ExitCode::from(2)
        }
    }
}

fn trust(log: &Path, pubkey: Option<&Path>) -> Result<Trust, String> {
    if let Some(path) = pubkey {
        return read_vkey(path).map(Trust::Given);
    }
    let (_, beside) = key_paths(log);
    if !beside.exists() {
        return Ok(Trust::None);
    }
    read_vkey(&beside).map(|k| Trust::Beside(k, beside))
}

/// `audit verify --audit-log FILE [--audit-pubkey KEYFILE] [--trusted-checkpoint NOTEFILE]`:
/// exit 0 when the log and its checkpoints (and the trusted checkpoint) verify, 1 naming the
/// first bad record when they do not, 2 when the log, key or trusted checkpoint cannot be read.
pub fn verify(log: &Path, pubkey: Option<&Path>, checkpoint: Option<&Path>) -> ExitCode {
    let (trust, anchors) = match trust(log, pubkey).and_then(|t| Ok((t, read_note(checkpoint)?))) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("audit verify: {e}");
            return ExitCode::from(2);
        }
    };
    let (keys, how) = match trust {
        Trust::Given(k) => (
            vec![k],
            "signatures checked against --audit-pubkey".to_owned(),
        ),
        Trust::Beside(k, path) => {
            eprintln!(
                "audit verify: WARNING: no --audit-pubkey: trusting {}, which sits beside the log; \
                 a log rewritten together with that file would pass. Keep a copy of the key \
                 elsewhere and pass --audit-pubkey.",
                path.display()
            );
            (
                vec![k],
                format!("signatures checked against {}", path.display()),
            )
        }
        Trust::None => {
            eprintln!("audit verify: WARNING: no public key: checkpoint signatures not checked");
            (
                Vec::new(),
                "signatures NOT checked (no public key)".to_owned(),
            )
        }
    };
    let signed = !keys.is_empty();
    // The server's key may sign other logs too: their checkpoints do not vouch for this one.
    let options = VerifyOptions {
        keys,
        anchors,
        origin: Some(ORIGIN.to_owned()),
    };
    let read = || match verify_file(log, &options) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("audit verify: {}: {e}", log.display());
            None
        }
    };
    let Some(mut report) = read() else {
        return ExitCode::from(2);
    };
    // A running server signs each batch's checkpoint just after its records: a log read
    // meanwhile may end in records no checkpoint covers yet. Read it again after that.
    if signed && report.is_ok() && report.covered < report.records {
        std::thread::sleep(std::time::Duration::from_secs(1));
        report = match read() {
            Some(r) => r,
            None => return ExitCode::from(2),
        };
    }
    match report.first_problem() {
        // Records no signed checkpoint vouches for could have been rewritten by anyone who
        // could write the log (with the checkpoint file emptied or cut short): they do not
        // verify. After a crash the server's next batch signs them again.
        None if signed && report.covered < report.records => {
            eprintln!(
                "audit log FAILED: first bad record: {}: records {}..{} are covered by no \
                 signed checkpoint (checkpoints removed, or the server stopped before signing \
                 them)",
                report.covered, report.covered, report.records
            );
            ExitCode::FAILURE
        }
        None => {
            println!(
                "audit log OK: {} records, {} checkpoints matched{}, {how}",
                report.records,
                report.checkpoints_matched,
                if report.anchors_matched > 0 {
                    " and the trusted checkpoint"
                } else {
                    ""
                }
            );
            ExitCode::SUCCESS
        }
        Some(p) => {
            match p.first_bad_record {
                Some(i) => eprintln!("audit log FAILED: first bad record: {i}: {p}"),
                None => eprintln!("audit log FAILED: {p}"),
            }
            ExitCode::FAILURE
        }
    }
}
