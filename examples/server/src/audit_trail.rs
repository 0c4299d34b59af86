//! The server's audit trail: every record goes to the tamper-evident log (`--audit-log`, or an
//! in-memory log) and, rendered as a FHIR AuditEvent, into the store, where it can be read and
//! searched at `/fhir/AuditEvent` (and nowhere written by clients).
//!
//! Durability (audit.md §8.6): the record of a request the server answered (a PHI disclosure,
//! or a change) is made durable in the log — written and `fdatasync`ed by the log's group
//! commit, so that concurrent requests share one flush — before the response is released; if
//! that fails the response is not sent (fail closed, see [`Pending::durable`]). Refusals (which
//! disclose nothing) are queued without waiting. An in-memory log (no `--audit-log`) cannot be
//! durable: that is the development default only.
//!
//! The store's copy (AuditEvents and the per-patient index of disclosures) is a view of the
//! log, written by a background thread in large batches (one store transaction per batch, at
//! least every [`MATERIALIZE_EVERY`]); a request that may read that view first waits for
//! everything recorded before it ([`AuditTrail::sync`]), so an answered request's AuditEvent is
//! readable as soon as its response arrives. A crash loses at most the last batch of the view,
//! never of the log.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fhir_audit::checkpoint::NoteSigner;
use fhir_audit::render::{to_audit_events, RenderConfig};
use fhir_audit::store::file::{AckFuture, FileStore, FileStoreConfig};
use fhir_audit::store::{Ack, AuditSink, MemoryStore};
use fhir_audit::AuditRecord;
use fhir_types::Resource;
use tokio::sync::oneshot;

use crate::audit_keys::signer_for;
use crate::store::{self, Store};

/// The log's origin line in its signed checkpoints.
pub const ORIGIN: &str = "secure-fhir-server/audit";
/// Records waiting for the store. Refusals that find it full are kept in the log only;
/// answered requests wait for room (back-pressure).
const QUEUE: usize = 65_536;
/// Most records waiting for the view before it is written.
const BATCH: usize = 4_096;
/// Most records per store transaction.
const TRANSACTION: usize = 256;
/// Longest a record waits for the store's view when nobody reads it.
pub const MATERIALIZE_EVERY: Duration = Duration::from_millis(200);

/// Where audit records go.
pub struct AuditTrail {
    log: Log,
    events: Option<SyncSender<EventJob>>,
}

enum Log {
    File(FileStore),
    Memory(MemoryStore),
}

enum EventJob {
    /// A record for the store's view.
    Record(Box<AuditRecord>),
    /// Write everything queued before this, then answer.
    Sync(oneshot::Sender<bool>),
}

/// The audit of one answered request on its way to storage. Await [`Pending::durable`] before
/// releasing the response.
#[must_use = "the response must wait for its audit record"]
pub struct Pending {
    log: Option<AckFuture>,
    failed: Option<String>,
}

impl Pending {
    fn failed(e: String) -> Pending {
        Pending {
            log: None,
            failed: Some(e),
        }
    }

    /// Resolves once the record is durable in the log (`fdatasync`ed; at once for an in-memory
    /// log). `Err` (the reason, for the server log) means the response must not be released.
    pub async fn durable(self) -> Result<(), String> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if let Some(log) = self.log {
            log.await.map_err(|e| format!("audit log: {e}"))?;
        }
        Ok(())
    }
}

/// How the server renders its AuditEvents (BALP, via `fhir_audit::render`).
pub fn render_config() -> RenderConfig {
    RenderConfig::new("Device/secure-fhir-server").observer_display("secure-fhir-server")
}

impl AuditTrail {
    /// Opens the trail: the file log at `log` (recovering it, refusing one that does not
    /// verify) or an in-memory log; AuditEvents go to `store`.
    pub fn open(log: Option<&Path>, store: Option<Arc<Store>>) -> Result<AuditTrail, String> {
        let clock: Arc<dyn fhir_audit::Clock> = Arc::new(chrono::Utc::now);
        let log = match log {
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
                Log::File(file)
            }
            None => {
                let rng = ring::rand::SystemRandom::new();
                let skey = NoteSigner::generate_skey(ORIGIN, &rng).map_err(|e| e.to_string())?;
                let signer = NoteSigner::from_skey(&skey).map_err(|e| e.to_string())?;
                Log::Memory(MemoryStore::with_signer(ORIGIN, signer, clock))
            }
        };
        let events = match store {
            None => None,
            Some(store) => {
                let (tx, rx) = sync_channel(QUEUE);
                std::thread::Builder::new()
                    .name("audit-events".into())
                    .spawn(move || insert_events(&store, &rx))
                    .map_err(|e| format!("audit thread: {e}"))?;
                Some(tx)
            }
        };
        Ok(AuditTrail { log, events })
    }

    /// Whether the log is a file (so that [`Pending::durable`] means `fdatasync`ed).
    pub fn is_durable(&self) -> bool {
        matches!(self.log, Log::File(_))
    }

    /// Records a refusal: queued for the log's next group commit and for the store, without
    /// waiting (a refusal discloses nothing). A log that refuses it is reported on stderr.
    pub fn record(&self, record: &AuditRecord) {
        let logged = match &self.log {
            Log::File(f) => f.record(record, Ack::Buffered),
            Log::Memory(m) => m.record(record, Ack::Buffered),
        };
        if let Err(e) = logged {
            eprintln!("secure-fhir-server: AUDIT LOG FAILURE: {e}");
        }
        if let Some(tx) = &self.events {
            let job = EventJob::Record(Box::new(record.clone()));
            if let Err(TrySendError::Full(_)) = tx.try_send(job) {
                eprintln!("secure-fhir-server: AuditEvent queue full; event kept in the log only");
            }
        }
    }

    /// Resolves once every record handed in before the call is in the store's view (its
    /// AuditEvents searchable). `false` if the view could not be written.
    pub async fn sync(&self) -> bool {
        let Some(tx) = &self.events else { return true };
        let (done, synced) = oneshot::channel();
        if tx.send(EventJob::Sync(done)).is_err() {
            return false;
        }
        synced.await.unwrap_or(false)
    }

    /// Records an answered request: submitted to the log and queued for the store's view; the
    /// caller awaits [`Pending::durable`] before releasing the response.
    pub fn record_durable(&self, record: &AuditRecord) -> Pending {
        let log = match &self.log {
            Log::File(f) => match f.submit(record) {
                Ok(p) => Some(p.until(Ack::Durable)),
                Err(e) => return Pending::failed(format!("audit log: {e}")),
            },
            Log::Memory(m) => match m.record(record, Ack::Buffered) {
                Ok(_) => None,
                Err(e) => return Pending::failed(format!("audit log: {e}")),
            },
        };
        if let Some(tx) = &self.events {
            // Blocks only while the queue is full: back-pressure on answered requests.
            if tx.send(EventJob::Record(Box::new(record.clone()))).is_err() {
                return Pending::failed("AuditEvent writer stopped".into());
            }
        }
        Pending { log, failed: None }
    }
}

/// An AuditEvent ready for the store: rendered, serialized and indexed outside the lock.
struct Rendered {
    recorded_ms: i64,
    log_bytes: Option<Vec<u8>>,
    patients: Vec<String>,
    events: Vec<store::Prepared>,
}

fn render(
    record: &AuditRecord,
    config: &RenderConfig,
    base: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Rendered {
    let events = to_audit_events(record, config)
        .into_iter()
        .filter_map(|event| {
            let id = event
                .id
                .as_ref()
                .and_then(|i| i.value.clone())
                .unwrap_or_else(store::new_id);
            let json = fhir_types::json::to_vec(&Resource::AuditEvent(Box::new(event)));
            match serde_json::from_slice(&json) {
                Ok(v) => Some(store::Prepared::new("AuditEvent", &id, v, base, now)),
                Err(e) => {
                    eprintln!("secure-fhir-server: AuditEvent not rendered: {e}");
                    None
                }
            }
        })
        .collect();
    Rendered {
        recorded_ms: record.recorded.timestamp_millis(),
        log_bytes: record.to_log_bytes().ok(),
        patients: record.patients.clone(),
        events,
    }
}

/// The view writer: collects records, writes them in one transaction when [`BATCH`] are
/// waiting, [`MATERIALIZE_EVERY`] after the first, or when a reader asks ([`EventJob::Sync`]).
fn insert_events(store: &Store, rx: &Receiver<EventJob>) {
    let config = render_config();
    let mut waiting: Vec<AuditRecord> = Vec::new();
    let mut since = Instant::now();
    loop {
        let job = if waiting.is_empty() {
            match rx.recv() {
                Ok(j) => Some(j),
                Err(_) => return,
            }
        } else {
            match rx.recv_timeout(MATERIALIZE_EVERY.saturating_sub(since.elapsed())) {
                Ok(j) => Some(j),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    write_view(store, &config, std::mem::take(&mut waiting));
                    return;
                }
            }
        };
        match job {
            Some(EventJob::Record(record)) => {
                if waiting.is_empty() {
                    since = Instant::now();
                }
                waiting.push(*record);
                if waiting.len() < BATCH {
                    continue;
                }
            }
            Some(EventJob::Sync(done)) => {
                let ok = write_view(store, &config, std::mem::take(&mut waiting));
                let _ = done.send(ok);
                continue;
            }
            None => {}
        }
        write_view(store, &config, std::mem::take(&mut waiting));
    }
}

/// Writes `records` (audit records and their AuditEvents) in one transaction.
fn write_view(store: &Store, config: &RenderConfig, records: Vec<AuditRecord>) -> bool {
    if records.is_empty() {
        return true;
    }
    let now = chrono::Utc::now();
    let mut ok = true;
    // Rendered outside the store's lock; written in chunks so that requests never wait long
    // for the lock.
    for chunk in records.chunks(TRANSACTION) {
        let rendered: Vec<Rendered> = chunk
            .iter()
            .map(|r| render(r, config, store.base(), now))
            .collect();
        let r = store.transaction_canonical(|tx| -> Result<(), store::StoreError> {
            for r in rendered {
                if let Some(bytes) = &r.log_bytes {
                    tx.insert_audit_record(r.recorded_ms, bytes, &r.patients)?;
                }
                for event in r.events {
                    tx.put_prepared(event)?;
                }
            }
            Ok(())
        });
        if let Err(e) = &r {
            eprintln!("secure-fhir-server: AuditEvents not stored: {e}");
            ok = false;
        }
    }
    ok
}
