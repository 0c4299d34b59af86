//! The server's audit trail: every record goes to the tamper-evident log (`--audit-log`, or an
//! in-memory log) and, rendered as a FHIR AuditEvent, into the store, where it can be read and
//! searched at `/fhir/AuditEvent` (and nowhere written by clients).
//!
//! The AuditEvents are inserted by a background thread in batches, so that a request does not
//! pay for a second SQLite write; they become searchable a few milliseconds after the request.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use fhir_audit::checkpoint::{NoteSigner, NoteVerifier};
use fhir_audit::render::{to_audit_events, RenderConfig};
use fhir_audit::store::file::{verify_file, FileStore, FileStoreConfig};
use fhir_audit::store::{Ack, AuditSink, MemoryStore};
use fhir_audit::{AuditRecord, VerifyOptions};
use fhir_types::Resource;

use crate::store::{self, Store};

/// The log's origin line in its signed checkpoints.
const ORIGIN: &str = "secure-fhir-server/audit";
/// AuditEvents waiting for the store before new ones are dropped from the store (never from
/// the log).
const QUEUE: usize = 65_536;

/// Where audit records go.
pub struct AuditTrail {
    log: Box<dyn AuditSink>,
    events: Option<SyncSender<AuditRecord>>,
}

/// How the server renders its AuditEvents (BALP, via `fhir_audit::render`).
pub fn render_config() -> RenderConfig {
    RenderConfig::new("Device/secure-fhir-server").observer_display("secure-fhir-server")
}

fn key_paths(log: &Path) -> (PathBuf, PathBuf) {
    let with = |ext: &str| {
        let mut s = log.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    (with(".key"), with(".pub"))
}

/// The log's signing key: read from `<log>.key`, or created there (owner-only) with its
/// public half in `<log>.pub`, which `audit verify` uses.
fn signer_for(log: &Path) -> Result<NoteSigner, String> {
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

impl AuditTrail {
    /// Opens the trail: the file log at `log` (recovering it, refusing one that does not
    /// verify) or an in-memory log; AuditEvents go to `store`.
    pub fn open(log: Option<&Path>, store: Option<Arc<Store>>) -> Result<AuditTrail, String> {
        let clock: Arc<dyn fhir_audit::Clock> = Arc::new(chrono::Utc::now);
        let sink: Box<dyn AuditSink> = match log {
            Some(path) => {
                let signer = signer_for(path)?;
                let (file, recovery) =
                    FileStore::open(path, signer, clock, FileStoreConfig::new(ORIGIN))
                        .map_err(|e| format!("audit log {}: {e}", path.display()))?;
                if recovery.log_bytes_cut > 0 {
                    eprintln!(
                        "secure-fhir-server: audit log recovered: cut a torn tail of {} bytes",
                        recovery.log_bytes_cut
                    );
                }
                Box::new(file)
            }
            None => {
                let rng = ring::rand::SystemRandom::new();
                let skey = NoteSigner::generate_skey(ORIGIN, &rng).map_err(|e| e.to_string())?;
                let signer = NoteSigner::from_skey(&skey).map_err(|e| e.to_string())?;
                Box::new(MemoryStore::with_signer(ORIGIN, signer, clock))
            }
        };
        let events = store.map(|store| {
            let (tx, rx) = sync_channel(QUEUE);
            std::thread::Builder::new()
                .name("audit-events".into())
                .spawn(move || insert_events(&store, &rx))
                .map(|_| tx)
        });
        let events = match events {
            Some(Ok(tx)) => Some(tx),
            Some(Err(e)) => return Err(format!("audit thread: {e}")),
            None => None,
        };
        Ok(AuditTrail { log: sink, events })
    }

    /// Records one event: into the log (queued for the next group commit), and as an
    /// AuditEvent into the store. A log that refuses the record is reported on stderr.
    pub fn record(&self, record: &AuditRecord) {
        if let Err(e) = self.log.record(record, Ack::Buffered) {
            eprintln!("secure-fhir-server: AUDIT LOG FAILURE: {e}");
        }
        if let Some(tx) = &self.events {
            if let Err(TrySendError::Full(_)) = tx.try_send(record.clone()) {
                eprintln!("secure-fhir-server: AuditEvent queue full; event kept in the log only");
            }
        }
    }
}

fn insert_events(store: &Store, rx: &Receiver<AuditRecord>) {
    let config = render_config();
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        // Small batches: the store's lock is shared with requests, so hold it briefly.
        while batch.len() < 32 {
            match rx.recv_timeout(Duration::from_millis(2)) {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let now = chrono::Utc::now();
        let r = store.transaction_canonical(|tx| -> Result<(), store::StoreError> {
            for record in batch {
                if let Ok(bytes) = record.to_log_bytes() {
                    let at = record.recorded.timestamp_millis();
                    tx.insert_audit_record(at, &bytes, &record.patients)?;
                }
                for event in to_audit_events(&record, &config) {
                    let id = event
                        .id
                        .as_ref()
                        .and_then(|i| i.value.clone())
                        .unwrap_or_else(store::new_id);
                    let json = fhir_types::json::to_vec(&Resource::AuditEvent(Box::new(event)));
                    match serde_json::from_slice(&json) {
                        Ok(v) => {
                            tx.put("AuditEvent", &id, v, now)?;
                        }
                        Err(e) => eprintln!("secure-fhir-server: AuditEvent not rendered: {e}"),
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = r {
            eprintln!("secure-fhir-server: AuditEvents not stored: {e}");
        }
    }
}

/// `audit verify --audit-log FILE`: exit 0 when the log and its checkpoints verify (with the
/// public key in `FILE.pub` when present), non-zero naming the first bad record otherwise.
pub fn verify(log: &Path) -> ExitCode {
    let (_, public) = key_paths(log);
    let keys: Vec<NoteVerifier> = match std::fs::read_to_string(&public) {
        Ok(v) => match NoteVerifier::from_vkey(v.trim()) {
            Ok(k) => vec![k],
            Err(e) => {
                eprintln!("audit verify: {}: {e}", public.display());
                return ExitCode::from(2);
            }
        },
        Err(_) => Vec::new(),
    };
    let signed = !keys.is_empty();
    let report = match verify_file(
        log,
        &VerifyOptions {
            keys,
            anchors: Vec::new(),
        },
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("audit verify: {}: {e}", log.display());
            return ExitCode::from(2);
        }
    };
    match report.first_problem() {
        None => {
            println!(
                "audit log OK: {} records, {} checkpoints matched{}",
                report.records,
                report.checkpoints_matched,
                if signed {
                    ", signatures checked"
                } else {
                    " (no public key: signatures not checked)"
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
