//! The server's audit trail: every record goes to the tamper-evident log (`--audit-log`, or an
//! in-memory log) and into the store's view of the trail ([`crate::store::audit`]), where it
//! is read and searched as FHIR AuditEvents at `/fhir/AuditEvent` (and nowhere written by
//! clients).
//!
//! Durability (audit.md §8.6): the record of a request the server answered (a PHI disclosure,
//! or a change) is made durable in the log — written and `fdatasync`ed by the log's group
//! commit, so that concurrent requests share one flush — before the response is released; if
//! that fails the response is not sent (fail closed, see [`Pending::durable`]). Refusals (which
//! disclose nothing) are queued without waiting. An in-memory log (no `--audit-log`) cannot be
//! durable: that is the development default only.
//!
//! The store's copy (a row per record, and the in-memory index of their AuditEvents and of the
//! records per patient, see [`crate::store::audit_index`]) is a view of the log, written by a
//! background thread in large batches (one store transaction per 256 records, at
//! least every [`MATERIALIZE_EVERY`]); a request that may read that view first waits for
//! everything recorded before it ([`AuditTrail::sync`]), so an answered request's AuditEvent is
//! readable as soon as its response arrives. A crash loses at most the last batch of the view,
//! never of the log.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fhir_audit::checkpoint::NoteSigner;
use fhir_audit::render::RenderConfig;
use fhir_audit::store::file::{AckFuture, FileStore, FileStoreConfig};
use fhir_audit::store::{Ack, AuditSink, MemoryStore};
use fhir_audit::AuditRecord;
use tokio::sync::oneshot;

use crate::audit_keys::signer_for;
use crate::cli::CommitDelay;
use crate::store::audit::PreparedRecord;
use crate::store::Store;

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
    events: Option<Arc<ViewQueue>>,
    commit_delay: CommitDelay,
    /// Requests in flight (see [`AuditTrail::enter`]).
    in_flight: AtomicUsize,
    /// Gives each record its id.
    ids: RecordIds,
}

/// Record ids unique across the server's runs without a system call per record: 128 random
/// bits drawn when the trail opens, then a counter (`<random hex>-<n>`).
struct RecordIds {
    run: String,
    next: AtomicU64,
}

impl RecordIds {
    fn new() -> RecordIds {
        RecordIds {
            run: crate::store::new_id(),
            next: AtomicU64::new(0),
        }
    }

    /// `record` with an id of this run (unless it has one): two requests alike in every fact,
    /// at one instant, are then two records with distinct AuditEvent ids.
    fn identify(&self, mut record: AuditRecord) -> AuditRecord {
        if record.record_id.is_none() {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            record.record_id = Some(format!("{}-{n}", self.run));
        }
        record
    }
}

enum Log {
    File(FileStore),
    Memory(MemoryStore),
}

/// Records on their way to the store's view, shared by the request threads and the view
/// writer. The writer is woken only when it has something to do (the first record of a batch,
/// a full batch, a reader waiting, shutdown), not for every record: a wake-up per request was
/// a tenth of the server's CPU.
#[derive(Default)]
struct ViewQueue {
    state: Mutex<Waiting>,
    /// Wakes the writer.
    work: Condvar,
    /// Wakes request threads waiting for room.
    room: Condvar,
}

#[derive(Default)]
struct Waiting {
    /// Each record with its log bytes (serialized once, for the log and the view).
    records: Vec<(AuditRecord, Vec<u8>)>,
    /// Readers waiting for everything queued before them.
    syncs: Vec<oneshot::Sender<bool>>,
    /// When the oldest waiting record arrived.
    since: Option<Instant>,
    /// The trail is closing: write what is left and stop.
    closing: bool,
    /// The writer has stopped (it takes nothing more).
    stopped: bool,
}

impl ViewQueue {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // Plain data: consistent whatever panicked while holding the lock.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `record`; when the queue is full, waits for room if `wait` (answered requests:
    /// back-pressure) or gives up (refusals: they stay in the log).
    fn push(&self, record: AuditRecord, bytes: Vec<u8>, wait: bool) -> Result<(), &'static str> {
        let mut w = self.lock();
        while w.records.len() >= QUEUE && !w.stopped {
            if !wait {
                return Err("AuditEvent queue full; event kept in the log only");
            }
            w = self.room.wait(w).unwrap_or_else(|p| p.into_inner());
        }
        if w.stopped {
            return Err("AuditEvent writer stopped");
        }
        w.records.push((record, bytes));
        if w.records.len() == 1 {
            w.since = Some(Instant::now());
            self.work.notify_one();
        } else if w.records.len() == BATCH {
            self.work.notify_one();
        }
        Ok(())
    }
}

/// Marks the writer stopped however it ends (a panic included), failing later requests that
/// would otherwise wait for it.
struct StopGuard(Arc<ViewQueue>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        let mut w = self.0.lock();
        w.stopped = true;
        for s in w.syncs.drain(..) {
            let _ = s.send(false);
        }
        self.0.room.notify_all();
    }
}

/// The audit of one answered request on its way to storage. Await [`Pending::durable`] before
/// releasing the response.
#[must_use = "the response must wait for its audit record"]
pub struct Pending {
    log: Vec<AckFuture>,
    failed: Option<String>,
}

impl Pending {
    /// An audit that failed for reason `e`: [`Pending::durable`] returns it, and the response
    /// is withheld.
    pub fn failed(e: String) -> Pending {
        Pending {
            log: Vec::new(),
            failed: Some(e),
        }
    }

    /// The audit of a request that took several records: durable once every one is.
    pub fn all(pending: impl IntoIterator<Item = Pending>) -> Pending {
        let mut all = Pending {
            log: Vec::new(),
            failed: None,
        };
        for p in pending {
            all.log.extend(p.log);
            all.failed = all.failed.or(p.failed);
        }
        all
    }

    /// Resolves once the record is durable in the log (`fdatasync`ed; at once for an in-memory
    /// log). `Err` (the reason, for the server log) means the response must not be released.
    pub async fn durable(self) -> Result<(), String> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        for log in self.log {
            log.await.map_err(|e| format!("audit log: {e}"))?;
        }
        Ok(())
    }
}

/// How the server at the FHIR base URL `base` renders its AuditEvents (BALP, via
/// `fhir_audit::render`). The server agent's network address is the base's host: BALP requires
/// it, and without it no event claims a BALP profile.
pub fn render_config(base: &str) -> RenderConfig {
    let config =
        RenderConfig::new("Device/secure-fhir-server").observer_display("secure-fhir-server");
    match url::Url::parse(base)
        .ok()
        .as_ref()
        .and_then(url::Url::host_str)
    {
        Some(host) => config.server_address(host),
        None => config,
    }
}

impl AuditTrail {
    /// Opens the trail: the file log at `log` (recovering it, refusing one that does not
    /// verify) or an in-memory log; AuditEvents go to `store`. The file log's flushes wait
    /// for more records as `commit_delay` says.
    pub fn open(
        log: Option<&Path>,
        store: Option<Arc<Store>>,
        commit_delay: CommitDelay,
    ) -> Result<AuditTrail, String> {
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
                let queue = Arc::new(ViewQueue::default());
                let writer = StopGuard(queue.clone());
                std::thread::Builder::new()
                    .name("audit-events".into())
                    .spawn(move || insert_events(&store, writer))
                    .map_err(|e| format!("audit thread: {e}"))?;
                Some(queue)
            }
        };
        Ok(AuditTrail {
            log,
            events,
            commit_delay,
            in_flight: AtomicUsize::new(0),
            ids: RecordIds::new(),
        })
    }

    /// Counts a request in flight until the guard drops, and turns the log's commit delay on
    /// while at least [`CommitDelay::siblings`] are (then most of them wait for their
    /// records, and a flush that waits a little serves many), off below.
    pub fn enter(&self) -> InFlight<'_> {
        let n = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.delay_commits(n);
        InFlight(self)
    }

    fn delay_commits(&self, in_flight: usize) {
        if let Log::File(f) = &self.log {
            if !self.commit_delay.delay.is_zero() {
                f.set_linger(if in_flight >= self.commit_delay.siblings {
                    self.commit_delay.delay
                } else {
                    Duration::ZERO
                });
            }
        }
    }

    /// Whether the log is a file (so that [`Pending::durable`] means `fdatasync`ed).
    pub fn is_durable(&self) -> bool {
        matches!(self.log, Log::File(_))
    }

    /// Records a refusal: queued for the log's next group commit and for the store, without
    /// waiting (a refusal discloses nothing). A log that refuses it is reported on stderr.
    ///
    /// One naming several patients (the caller's launch patient and the one its request named,
    /// audit.md §2.5) is recorded as an answered request touching several is: once per patient
    /// without the query, which names the others, and the whole request, query included, once
    /// more under no patient, for auditors. A patient-user's `fhirUser` is left out of the
    /// copies of other patients (the user stays named by issuer and subject): it would name
    /// one patient in another's trail, and put that trail in the prober's compartment.
    pub fn record(&self, record: AuditRecord) {
        if record.patients.len() <= 1 {
            return self.record_one(record);
        }
        for patient in &record.patients {
            let mut mine = record.clone();
            mine.patients = vec![patient.clone()];
            (mine.query, mine.query_description) = (None, None);
            if let Some(user) = &mut mine.user {
                if user.patient().is_some_and(|p| p != patient) {
                    user.fhir_user = None;
                }
            }
            self.record_one(mine);
        }
        if record.query.is_some() {
            let mut whole = record;
            whole.patients.clear();
            self.record_one(whole);
        }
    }

    fn record_one(&self, record: AuditRecord) {
        let record = self.ids.identify(record);
        let bytes = match record.to_log_bytes() {
            Ok(b) => b,
            Err(e) => {
                eprintln!("secure-fhir-server: AUDIT LOG FAILURE: {e}");
                return;
            }
        };
        let logged = match &self.log {
            Log::File(f) => f.submit_raw(bytes.clone()).map(drop),
            Log::Memory(m) => m.record(&record, Ack::Buffered).map(drop),
        };
        if let Err(e) = logged {
            eprintln!("secure-fhir-server: AUDIT LOG FAILURE: {e}");
        }
        if let Some(queue) = &self.events {
            if let Err(e) = queue.push(record, bytes, false) {
                eprintln!("secure-fhir-server: {e}");
            }
        }
    }

    /// Resolves once every record handed in before the call is in the store's view (its
    /// AuditEvents searchable). `false` if the view could not be written.
    pub async fn sync(&self) -> bool {
        let Some(queue) = &self.events else {
            return true;
        };
        let (done, synced) = oneshot::channel();
        {
            let mut w = queue.lock();
            if w.stopped {
                return false;
            }
            w.syncs.push(done);
            queue.work.notify_one();
        }
        synced.await.unwrap_or(false)
    }

    /// Records an answered request: submitted to the log and queued for the store's view; the
    /// caller awaits [`Pending::durable`] before releasing the response.
    pub fn record_durable(&self, record: AuditRecord) -> Pending {
        let record = self.ids.identify(record);
        let bytes = match record.to_log_bytes() {
            Ok(b) => b,
            Err(e) => return Pending::failed(format!("audit log: {e}")),
        };
        let log = match &self.log {
            Log::File(f) => match f.submit_raw(bytes.clone()) {
                Ok(p) => vec![p.until(Ack::Durable)],
                Err(e) => return Pending::failed(format!("audit log: {e}")),
            },
            Log::Memory(m) => match m.record(&record, Ack::Buffered) {
                Ok(_) => Vec::new(),
                Err(e) => return Pending::failed(format!("audit log: {e}")),
            },
        };
        if let Some(queue) = &self.events {
            // Blocks only while the queue is full: back-pressure on answered requests.
            if let Err(e) = queue.push(record, bytes, true) {
                return Pending::failed(e.into());
            }
        }
        Pending { log, failed: None }
    }
}

/// A request in flight (see [`AuditTrail::enter`]).
pub struct InFlight<'a>(&'a AuditTrail);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let n = self.0.in_flight.fetch_sub(1, Ordering::Relaxed) - 1;
        self.0.delay_commits(n);
    }
}

impl Drop for AuditTrail {
    fn drop(&mut self) {
        if let Some(queue) = &self.events {
            queue.lock().closing = true;
            queue.work.notify_one();
        }
    }
}

/// The view writer: writes what is waiting when [`BATCH`] records are, [`MATERIALIZE_EVERY`]
/// after the oldest arrived, when a reader asks ([`AuditTrail::sync`]), or on closing.
fn insert_events(store: &Store, queue: StopGuard) {
    let config = render_config(store.base());
    let queue = &*queue.0;
    loop {
        let (records, syncs, closing) = {
            let mut w = queue.lock();
            loop {
                if w.closing || !w.syncs.is_empty() || w.records.len() >= BATCH {
                    break;
                }
                w = match w.since {
                    None => queue.work.wait(w).unwrap_or_else(|p| p.into_inner()),
                    Some(t) => match MATERIALIZE_EVERY.checked_sub(t.elapsed()) {
                        Some(left) if !left.is_zero() => {
                            let waited = queue.work.wait_timeout(w, left);
                            waited.unwrap_or_else(|p| p.into_inner()).0
                        }
                        _ => break,
                    },
                };
            }
            w.since = None;
            queue.room.notify_all();
            (
                std::mem::take(&mut w.records),
                std::mem::take(&mut w.syncs),
                w.closing,
            )
        };
        let ok = write_view(store, &config, records);
        for s in syncs {
            let _ = s.send(ok);
        }
        if closing {
            return;
        }
    }
}

/// Writes `records` (audit records and their AuditEvents) in one transaction.
fn write_view(store: &Store, config: &RenderConfig, records: Vec<(AuditRecord, Vec<u8>)>) -> bool {
    if records.is_empty() {
        return true;
    }
    let mut ok = true;
    // Prepared outside the store's lock (each record's bytes moved, not copied); written in
    // chunks so that requests never wait long for the lock.
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let prepared: Vec<PreparedRecord> = records
            .by_ref()
            .take(TRANSACTION)
            .map(|(r, bytes)| PreparedRecord::new(&r, bytes, config, store.base()))
            .collect();
        let r = store.insert_audit(&prepared);
        if let Err(e) = &r {
            eprintln!("secure-fhir-server: AuditEvents not stored: {e}");
            ok = false;
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use fhir_audit::render::to_audit_events;
    use fhir_audit::Event;

    #[test]
    fn identical_records_at_one_instant_are_logged_under_distinct_event_ids() {
        let trail = AuditTrail::open(None, None, CommitDelay::default()).unwrap();
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let record = AuditRecord::new(at, Event::Login);
        trail.record(record.clone());
        drop(trail.record_durable(record));
        let Log::Memory(log) = &trail.log else {
            unreachable!("an in-memory log")
        };
        let config = render_config("http://localhost:8080/fhir");
        let ids: Vec<_> = log
            .records()
            .unwrap()
            .iter()
            .map(|r| to_audit_events(r, &config)[0].id.clone())
            .collect();
        assert_eq!(ids.len(), 2);
        assert_ne!(
            ids[0], ids[1],
            "a feed deduplicating on ids would merge them"
        );
    }

    #[test]
    fn record_ids_differ_across_runs_of_the_server() {
        // Each run counts from 0: its random part keeps the first record of the next run (a
        // restart on the same log) apart from this run's first.
        let first = |ids: &RecordIds| {
            let at = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
            ids.identify(AuditRecord::new(at, Event::Login)).record_id
        };
        let (a, b) = (RecordIds::new(), RecordIds::new());
        let (a0, b0) = (first(&a), first(&b));
        assert!(a0.is_some());
        assert_ne!(a0, b0);
        assert_ne!(first(&a), a0, "and within a run");
    }
}
