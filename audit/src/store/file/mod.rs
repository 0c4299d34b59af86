//! The durable log file: group commit, acknowledgement levels, back-pressure and crash
//! recovery. This is the crate's only module that does I/O (file I/O and one writer thread);
//! the model, Merkle tree, proofs and rendering stay I/O-free.
//!
//! A store at `audit.log` keeps two files: `audit.log` (the records, see [`crate::frame`]) and
//! `audit.log.checkpoints` (signed checkpoints). Records are submitted to a bounded queue; a
//! writer thread writes each batch with one `fdatasync` and acknowledges it [`Ack::Durable`],
//! then appends a signed checkpoint of the new tree (at most one signature per 10 ms, written
//! within 10 ms of a commit). The checkpoint file is flushed (its own `fdatasync`, then
//! [`Ack::Anchored`]) when a caller waits for that level, at most once per
//! [`FileStoreConfig::checkpoint_interval`] otherwise, and at close; a power loss can leave
//! records durable past the last flushed checkpoint, and recovery accepts them. The leaf order
//! is the submission order, so batch sizes do not change the resulting root.
//!
//! The log file grows in 1 MiB steps of written zeros, and each batch overwrites
//! zeros in place: its `fdatasync` then flushes the data alone, not also the inode's new size
//! (an extra synchronous write per commit on ext4; with it gone the writer thread's CPU per
//! record fell by about a third and commits returned sooner). Readers take the zeros at the
//! end as the end of the log ([`crate::frame`]).
//!
//! A new log's checkpoint file gets a signed checkpoint of the empty tree, flushed before the
//! first record is written: every log with records has a checkpoint beside it, and one
//! without (its checkpoint file removed, emptied or cut to its header) is refused.
//!
//! On open, recovery cuts a torn tail (an incomplete or damaged frame after the last
//! checkpoint, left by a crash mid-append) from both files and checks the surviving records
//! against the last checkpoint, which must verify with the store's own key and carry the
//! store's origin (a key may sign for several logs). A log that does
//! not match its checkpoint, or is shorter than it, is refused: the store never signs a
//! checkpoint inconsistent with an earlier one. So is a checkpoint file whose last note is
//! smaller than an earlier one (the store only appends growing sizes: an older valid note
//! appended after the others would otherwise hide a rewrite of the records it does not cover). So is one with an intact frame out of order
//! (a record dropped, inserted or moved), which no crash leaves.
//!
//! Operating it safely:
//!
//! - New files are created readable by their owner only (Unix mode `0600`): records are PHI.
//! - One store writes a log at a time: [`FileStore::open`] takes an advisory lock on the log
//!   file and fails with [`StoreError::InUse`] while another store, in this process or
//!   another, holds it.
//! - Keep the signing key (`NoteSigner`, `skey` form) out of reach of anyone who can write the
//!   log directory, and give auditors the verifier key (`vkey`) through another channel: a
//!   verifier that reads the key from beside the log trusts whoever can write there.
//! - Publish [`FileStore::checkpoint`] regularly to somewhere the server cannot rewrite (an ATNA
//!   repository, a witness, another host). Only such an anchor detects a log truncated together
//!   with its checkpoint file; pass it to [`verify_file`] in [`VerifyOptions::anchors`].
//! - Acknowledge what your policy needs: [`Ack::Durable`] before answering a PHI read fails
//!   closed when the audit cannot be written; [`Ack::Buffered`] is faster but a crash loses the
//!   records still queued.

mod pending;
mod writer;

pub use pending::{AckFuture, Pending};

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use self::pending::Shared;
use self::writer::Writer;
use super::{Ack, AuditSink, Receipt, StoreError};
use crate::checkpoint::{Checkpoint, NoteSigner, SignedCheckpoint};
use crate::clock::Clock;
use crate::frame;
use crate::merkle::{empty_root, ConsistencyProof, Hash, InclusionProof};
use crate::model::{AuditRecord, RecordError, MAX_RECORD_LEN};
use crate::verify::{
    scan_checkpoints, scan_log, verify_scans, CheckpointScan, Problem, ProblemKind, VerifyOptions,
    VerifyReport,
};

/// Tuning of a [`FileStore`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileStoreConfig {
    /// The log's identity in checkpoints, e.g. `audit.example.org/log1`.
    pub origin: String,
    /// Most records per batch (per `fdatasync`). `1` gives one fsync per record.
    pub max_batch: usize,
    /// Records the queue holds before submitters block or fail (back-pressure).
    pub queue_capacity: usize,
    /// How long the writer waits for more records to fill a batch once one is queued. Zero
    /// (the default) commits whatever is queued at once; batches grow by themselves under
    /// load. A linger delays every commit by up to this long (a full batch or a blocked
    /// submitter ends it sooner), and pays off only when enough records arrive meanwhile:
    /// many concurrent requests each waiting for its own record.
    pub linger: Duration,
    /// After a commit with nothing queued, the writer waits about one (recent, average) gap
    /// between records, at most this long, before it sleeps until a submitter wakes it:
    /// records arriving meanwhile pay no wake-up (a futex wake on the request path was ~6% of
    /// a loaded server's CPU) and wait at most that long for their commit. Zero: the writer
    /// sleeps as soon as it is idle.
    pub poll: Duration,
    /// How long [`AuditSink::record`] blocks on a full queue before failing.
    pub submit_timeout: Duration,
    /// How often, at most, the checkpoint file is flushed when nobody waits for
    /// [`Ack::Anchored`] (a waiter gets a flush at once). Every batch's checkpoint is still
    /// written when the batch is durable.
    pub checkpoint_interval: Duration,
}

impl FileStoreConfig {
    /// Defaults for `origin`: batches of up to 1024, a queue of 16384, no linger, a look-again
    /// wait of at most 1 ms after a commit, 5 s timeout,
    /// checkpoints flushed at least every second while records arrive.
    pub fn new(origin: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            max_batch: 1024,
            queue_capacity: 16 * 1024,
            linger: Duration::ZERO,
            poll: Duration::from_millis(1),
            submit_timeout: Duration::from_secs(5),
            checkpoint_interval: Duration::from_secs(1),
        }
    }

    /// Sets the batch limit (at least 1).
    pub fn max_batch(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }

    /// Sets the queue capacity (at least 1).
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n.max(1);
        self
    }

    /// Sets the longest look-again wait after a commit (see [`FileStoreConfig::poll`]).
    pub fn poll(mut self, d: Duration) -> Self {
        self.poll = d;
        self
    }

    /// Sets the linger time.
    pub fn linger(mut self, d: Duration) -> Self {
        self.linger = d;
        self
    }

    /// Sets the submit timeout.
    pub fn submit_timeout(mut self, d: Duration) -> Self {
        self.submit_timeout = d;
        self
    }

    /// Sets the checkpoint interval.
    pub fn checkpoint_interval(mut self, d: Duration) -> Self {
        self.checkpoint_interval = d;
        self
    }
}

/// What recovery found when a store was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// Records in the log after recovery.
    pub records: u64,
    /// Bytes cut from the end of the log (a torn tail).
    pub log_bytes_cut: u64,
    /// Bytes cut from the end of the checkpoint file.
    pub checkpoint_bytes_cut: u64,
    /// Size of the last checkpoint (records past it were durable but not yet anchored).
    pub checkpoint_size: u64,
}

/// The path of the checkpoint file that belongs to the log at `log`.
pub fn checkpoint_path(log: &Path) -> PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(".checkpoints");
    PathBuf::from(s)
}

/// Verifies the log at `log` and its checkpoint file (read-only; a missing checkpoint file
/// counts as empty), also while a store writes them, reading both files record by record (memory
/// holds the tree and offsets, not the files). See [`verify_log`](crate::verify_log).
pub fn verify_file(log: &Path, options: &VerifyOptions) -> std::io::Result<VerifyReport> {
    // Checkpoints first: a store writes a checkpoint only after the records it covers, so of
    // a log that grows meanwhile this reads every record they cover. The other way round, a
    // checkpoint written between the two reads would look like truncation.
    let cps = match open_regular(&checkpoint_path(log)) {
        Ok((f, len)) => scan_checkpoints(read_from_start(&f, len)?, Some(options))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => CheckpointScan::default(),
        Err(e) => return Err(e),
    };
    let (f, len) = open_regular(log)?;
    let scan = scan_log(read_from_start(&f, len)?)?;
    Ok(verify_scans(&scan, &cps, options))
}

/// The last checkpoint in the checkpoint file of the log at `log` (read-only; its signature
/// is not checked here), or `None` when it holds none: the signed note to copy where the log's
/// writer cannot reach, and to give [`verify_file`] back in [`VerifyOptions::anchors`].
pub fn last_checkpoint(log: &Path) -> std::io::Result<Option<SignedCheckpoint>> {
    let (f, len) = open_regular(&checkpoint_path(log))?;
    let cps = scan_checkpoints(read_from_start(&f, len)?, None)?;
    cps.last
        .transpose()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Opens `path` for reading if it is a regular file, with its length.
fn open_regular(path: &Path) -> std::io::Result<(File, u64)> {
    let f = File::open(path)?;
    let len = regular_len(&f)?.ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file")
    })?;
    Ok((f, len))
}

/// A durable, append-only, tamper-evident audit log in a file.
///
/// Cheap to share: wrap it in an `Arc`. Dropping (or [`close`](Self::close)) commits what is
/// queued and stops the writer.
pub struct FileStore {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    log_path: PathBuf,
    reader: Mutex<File>,
    config: FileStoreConfig,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.log_path)
            .finish_non_exhaustive()
    }
}

enum Mode {
    Block(Instant),
    Fail,
}

impl FileStore {
    /// Opens (or creates) the log at `path`, recovering from a crash, and starts the writer.
    ///
    /// Fails with [`StoreError::InUse`] while another store has the log open, with
    /// [`StoreError::NotRegularFile`] when either file is not a regular file (a
    /// device, a FIFO, a directory), with [`StoreError::Tampered`] when the checkpoint file is damaged, missing or
    /// without a checkpoint while the log holds records, with [`StoreError::Tampered`] or [`StoreError::Rollback`] when the existing log
    /// does not match its last checkpoint or holds a record out of order, and with [`StoreError::Checkpoint`] when that
    /// checkpoint is not signed by `signer`'s key or is of another origin than `config`'s.
    pub fn open(
        path: impl AsRef<Path>,
        signer: NoteSigner,
        clock: Arc<dyn Clock>,
        config: FileStoreConfig,
    ) -> Result<(Self, Recovery), StoreError> {
        let log_path = path.as_ref().to_path_buf();
        let mut log = open_file(&log_path, false)?;
        let mut checkpoints = open_file(&checkpoint_path(&log_path), true)?;
        // Checked on the opened handles, not the paths (no window for a swap): a device such
        // as /dev/zero would be read forever, and the log must be a file we can cut and sync.
        let (Some(log_len), Some(cp_len)) = (regular_len(&log)?, regular_len(&checkpoints)?) else {
            return Err(StoreError::NotRegularFile);
        };
        // One writer per log: a second one would write at the end it found, over the first's
        // durable records. The lock (advisory, like `flock`) goes with the writer's handle.
        match log.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(StoreError::InUse),
            Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {}
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
        sync_dir(&log_path);

        // Streamed: memory holds the tree, the offsets and the last checkpoint, not the files.
        let keys = [signer.verifier()];
        let cps = scan_checkpoints(read_from_start(&checkpoints, cp_len)?, None)?;
        let scan = scan_log(read_from_start(&log, log_len)?)?;
        // A new log gets a checkpoint (of the empty tree) flushed before its first record
        // (below), so a log with records and no checkpoint had its checkpoint file removed,
        // emptied or cut to its header: taking it would let a rewritten history be signed
        // afresh.
        if cps.damaged || (cps.last.is_none() && scan.tree.size() > 0) {
            return Err(StoreError::Tampered(problem(
                ProblemKind::DamagedCheckpointFile,
                None,
            )));
        }
        let latest = match &cps.last {
            None => None,
            Some(Err(e)) => return Err(StoreError::Checkpoint(e.clone())),
            Some(Ok(c)) => {
                c.verify(&keys)?;
                c.checkpoint.check_origin(&config.origin)?;
                Some(c.clone())
            }
        };
        let checkpoint_size = latest.as_ref().map_or(0, |c| c.checkpoint.size);
        // Every checkpoint, not only the last, vouches for the records: each must be checked
        // (with the verifier naming the first bad record) when one is larger than the last (an
        // older valid note appended, or notes reordered, to hide a rewrite) or the last does
        // not match the records.
        let refuse = |fallback: ProblemKind| -> Result<StoreError, StoreError> {
            let options = VerifyOptions {
                keys: keys.to_vec(),
                anchors: Vec::new(),
                origin: Some(config.origin.clone()),
            };
            let all = scan_checkpoints(read_from_start(&checkpoints, cp_len)?, Some(&options))?;
            let report = verify_scans(&scan, &all, &options);
            let first = report.problems.into_iter().next();
            Ok(StoreError::Tampered(
                first.unwrap_or_else(|| problem(fallback, None)),
            ))
        };
        if cps.max_size > checkpoint_size {
            return Err(refuse(ProblemKind::DamagedCheckpointFile)?);
        }

        let records = scan.tree.size();
        if let Some((kind, offset)) = &scan.stop {
            // Damage inside what a checkpoint vouches for is tampering, not a torn write. So is
            // a whole frame with the wrong index anywhere: the writer writes indices in order
            // and a torn write breaks the checksum; cutting there would destroy the durable
            // records after it and sign over the gap.
            let out_of_order = matches!(
                kind,
                ProblemKind::MissingRecord { .. } | ProblemKind::UnexpectedRecord { .. }
            );
            if records < checkpoint_size
                || out_of_order
                || matches!(kind, ProblemKind::BadHeader) && !scan.torn
            {
                let mut p = problem(kind.clone(), Some(records));
                p.offset = Some(*offset);
                return Err(StoreError::Tampered(p));
            }
        }
        if records < checkpoint_size {
            return Err(StoreError::Rollback {
                records,
                checkpoint_size,
            });
        }
        if let Some(c) = &latest {
            if scan.tree.root_at(c.checkpoint.size) != Some(c.checkpoint.root) {
                return Err(refuse(ProblemKind::RootMismatch {
                    checkpoint_size: c.checkpoint.size,
                    anchor: false,
                })?);
            }
        }

        // Cut torn tails, then make sure headers exist. Preallocated zeros stay.
        let log_end = scan.valid_end;
        // Saturating: the files were measured before they were read.
        let log_cut = log_len.saturating_sub(log_end + scan.preallocated);
        let cp_cut = cp_len.saturating_sub(cps.valid_end);
        if log_end < frame::LOG_MAGIC.len() as u64 {
            log.set_len(0)?;
            log.seek(SeekFrom::Start(0))?;
            std::io::Write::write_all(&mut log, frame::LOG_MAGIC)?;
        } else if log_cut > 0 {
            log.set_len(log_end)?;
        }
        if cps.valid_end < frame::CHECKPOINT_MAGIC.len() as u64 {
            checkpoints.set_len(0)?;
            std::io::Write::write_all(&mut checkpoints, frame::CHECKPOINT_MAGIC)?;
        } else if cp_cut > 0 {
            checkpoints.set_len(cps.valid_end)?;
        }
        let latest = match latest {
            Some(c) => c,
            // A new log (or one whose creation a crash cut short: it has no records yet).
            // Without this checkpoint, a crash between the first batch's `fdatasync` and its
            // checkpoint (written within `SIGN_EVERY`, flushed later) would leave records
            // beside a checkpoint file holding only its header: the state an attacker leaves
            // by emptying the file, which could then not be refused.
            None => {
                let c = signer.sign(&Checkpoint {
                    origin: config.origin.clone(),
                    size: 0,
                    root: empty_root(),
                    time: Some(clock.now()),
                })?;
                let mut buf = Vec::new();
                frame::encode_checkpoint(c.note().as_bytes(), &mut buf);
                std::io::Write::write_all(&mut checkpoints, &buf)?;
                c
            }
        };
        log.sync_all()?;
        checkpoints.sync_all()?;
        // The log is written at `offset` (over preallocated zeros), not appended.
        let allocated = log.seek(SeekFrom::End(0))?;
        let offset = log_end.max(frame::LOG_MAGIC.len() as u64);

        let recovery = Recovery {
            records,
            log_bytes_cut: log_cut,
            checkpoint_bytes_cut: cp_cut,
            checkpoint_size,
        };
        let shared = Arc::new(Shared::new(scan.tree, scan.offsets, Some(latest)));
        shared.set_linger(config.linger);
        let reader = reopen(&log, &log_path)?;
        let writer = Writer {
            shared: Arc::clone(&shared),
            log,
            checkpoints,
            signer,
            origin: config.origin.clone(),
            clock,
            max_batch: batch_limit(&config),
            poll: config.poll,
            last_commit: Instant::now(),
            gap: Duration::ZERO,
            polled: true,
            checkpoint_interval: config.checkpoint_interval,
            next_index: records,
            offset,
            allocated,
            preallocation_failed: false,
            anchored: checkpoint_size,
            unflushed: None,
            last_signed: Instant::now(),
            last_anchor: Instant::now(),
        };
        let handle = std::thread::Builder::new()
            .name("fhir-audit-writer".into())
            .spawn(move || writer.run())?;
        let store = Self {
            shared,
            writer: Mutex::new(Some(handle)),
            reader: Mutex::new(reader),
            log_path,
            config,
        };
        Ok((store, recovery))
    }

    /// Queues a record, blocking while the queue is full (back-pressure) for at most the
    /// configured submit timeout.
    pub fn submit(&self, record: &AuditRecord) -> Result<Pending, StoreError> {
        let deadline = Instant::now() + self.config.submit_timeout;
        self.submit_bytes(record.to_log_bytes()?, Mode::Block(deadline))
    }

    /// Queues a record, failing at once with [`StoreError::QueueFull`] if the queue is full.
    pub fn try_submit(&self, record: &AuditRecord) -> Result<Pending, StoreError> {
        self.submit_bytes(record.to_log_bytes()?, Mode::Fail)
    }

    /// Queues raw record bytes (blocking while the queue is full, up to the submit timeout).
    pub fn submit_raw(&self, bytes: Vec<u8>) -> Result<Pending, StoreError> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLarge.into());
        }
        let deadline = Instant::now() + self.config.submit_timeout;
        self.submit_bytes(bytes, Mode::Block(deadline))
    }

    /// Appends a record and waits until it reached `ack`.
    pub fn append(&self, record: &AuditRecord, ack: Ack) -> Result<Receipt, StoreError> {
        self.submit(record)?.wait(ack)
    }

    /// One lock acquisition per record; the writer is woken only when it waits for work.
    fn submit_bytes(&self, payload: Vec<u8>, mode: Mode) -> Result<Pending, StoreError> {
        let capacity = self.config.queue_capacity.max(1);
        let mut q = self.shared.queue();
        loop {
            if q.closed {
                return Err(StoreError::Closed);
            }
            if let Some(e) = &q.failed {
                return Err(StoreError::Io(e.clone()));
            }
            if q.jobs.len() < capacity {
                q.jobs.push(payload);
                let index = q.next;
                q.next += 1;
                // A full batch also ends the writer's linger (see `FileStoreConfig::linger`).
                let wake = q.take_idle() || q.jobs.len() == batch_limit(&self.config);
                drop(q);
                if wake {
                    self.shared.work.notify_one();
                }
                return Ok(Pending {
                    index,
                    shared: Arc::clone(&self.shared),
                });
            }
            let Mode::Block(deadline) = mode else {
                return Err(StoreError::QueueFull);
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::QueueFull);
            }
            q.blocked += 1;
            // A lingering writer takes what is queued now rather than at the end of its linger.
            self.shared.work.notify_one();
            q = self
                .shared
                .space
                .wait_timeout(q, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            q.blocked -= 1;
        }
    }

    /// Changes [`FileStoreConfig::linger`] from the next batch on. For hosts that know their
    /// load: lingering pays off only while many requests are in flight (each waiting for its
    /// own record), and delays every commit otherwise. Cheap enough to call per request.
    pub fn set_linger(&self, linger: Duration) {
        self.shared.set_linger(linger);
    }

    /// Records durable so far (the size of the tree proofs can be made for).
    pub fn size(&self) -> u64 {
        self.shared
            .tree
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .size()
    }

    /// The root of the durable tree.
    pub fn root(&self) -> Hash {
        self.shared
            .tree
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .root()
    }

    /// The root when the log had `size` records.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        self.shared
            .tree
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .root_at(size)
    }

    /// The latest persisted signed checkpoint: publish it somewhere the writer cannot rewrite.
    pub fn checkpoint(&self) -> Option<SignedCheckpoint> {
        self.shared
            .latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The inclusion proof of record `index` in the tree of `size` records.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<InclusionProof> {
        self.shared
            .tree
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .inclusion_proof(index, size)
    }

    /// The consistency proof between sizes `first` and `second`.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Option<ConsistencyProof> {
        self.shared
            .tree
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .consistency_proof(first, second)
    }

    /// Reads the bytes of durable record `index`. A record that is no longer the one written
    /// (its leaf hash differs from the tree's) is [`StoreError::Tampered`].
    pub fn read_raw(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(offset) = self
            .shared
            .offsets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(index as usize)
            .copied()
        else {
            return Ok(None);
        };
        let mut f = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        f.seek(SeekFrom::Start(offset))?;
        let mut head = [0u8; 12];
        f.read_exact(&mut head)?;
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        if len > MAX_RECORD_LEN {
            return Err(StoreError::Io("record length out of range".into()));
        }
        let mut rest = vec![0u8; len + 16];
        f.read_exact(&mut rest)?;
        let mut whole = head.to_vec();
        whole.extend_from_slice(&rest);
        let frame =
            frame::decode_record(&whole).map_err(|_| StoreError::Io("damaged record".into()))?;
        if frame.index != index {
            return Err(StoreError::Io("record out of place".into()));
        }
        // A frame rewritten with its checksum recomputed still differs from the leaf the tree
        // took when the record was written.
        let leaf = self
            .shared
            .tree
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .leaf(index);
        if leaf != Some(frame.leaf) {
            let mut p = problem(ProblemKind::DamagedRecord, Some(index));
            p.offset = Some(offset);
            return Err(StoreError::Tampered(p));
        }
        Ok(Some(frame.payload.to_vec()))
    }

    /// Reads and decodes durable record `index`.
    pub fn read(&self, index: u64) -> Result<Option<AuditRecord>, StoreError> {
        match self.read_raw(index)? {
            Some(b) => Ok(Some(AuditRecord::from_log_bytes(&b)?)),
            None => Ok(None),
        }
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.log_path
    }

    /// Commits everything queued, stops the writer and waits for it.
    pub fn close(&self) -> Result<(), StoreError> {
        self.shared.queue().closed = true;
        self.shared.work.notify_one();
        self.shared.space.notify_all();
        if let Some(h) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.join()
                .map_err(|_| StoreError::Io("audit writer panicked".into()))?;
        }
        match &self.shared.lock().failed {
            Some(e) => Err(StoreError::Io(e.clone())),
            None => Ok(()),
        }
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl AuditSink for FileStore {
    fn record(&self, record: &AuditRecord, ack: Ack) -> Result<Receipt, StoreError> {
        let pending = self.submit(record)?;
        match ack {
            Ack::Buffered => Ok(Receipt {
                index: Some(pending.index),
                leaf: None,
                level: Ack::Buffered,
            }),
            _ => pending.wait(ack),
        }
    }
}

fn problem(kind: ProblemKind, first: Option<u64>) -> Problem {
    Problem {
        kind,
        first_bad_record: first,
        exact: first.is_some(),
        last_possible: None,
        offset: None,
    }
}

/// The most records one batch takes: `max_batch`, or fewer if the queue holds fewer (then a
/// full queue is a full batch, and ends a linger like one).
fn batch_limit(config: &FileStoreConfig) -> usize {
    config.max_batch.max(1).min(config.queue_capacity.max(1))
}

/// Opens for reading and writing (appending only if `append`), creating the file readable by
/// its owner only: audit records are themselves PHI.
fn open_file(path: &Path, append: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).append(append).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The length of `f` if it is a regular file (asked of the handle, not the path).
fn regular_len(f: &File) -> std::io::Result<Option<u64>> {
    let m = f.metadata()?;
    Ok(m.is_file().then_some(m.len()))
}

/// A buffered reader of `f` from its start, of at most `len` bytes (its length when checked):
/// a file that grows meanwhile cannot make reading it unbounded.
fn read_from_start(mut f: &File, len: u64) -> std::io::Result<Bounded<'_>> {
    f.seek(SeekFrom::Start(0))?;
    Ok(Bounded {
        inner: BufReader::with_capacity(64 * 1024, f),
        pos: 0,
        limit: len,
    })
}

/// The first `limit` bytes of a file, buffered; unlike [`Read::take`], it can go back (the
/// log scan reads a frame again that a store may have been writing).
struct Bounded<'a> {
    inner: BufReader<&'a File>,
    pos: u64,
    limit: u64,
}

impl Bounded<'_> {
    fn left(&self) -> usize {
        usize::try_from(self.limit.saturating_sub(self.pos)).unwrap_or(usize::MAX)
    }
}

impl Read for Bounded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let max = self.left().min(buf.len());
        let n = self.inner.read(&mut buf[..max])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl BufRead for Bounded<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        let left = self.left();
        if left == 0 {
            return Ok(&[]);
        }
        let b = self.inner.fill_buf()?;
        Ok(&b[..b.len().min(left)])
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.pos += n as u64;
    }
}

impl Seek for Bounded<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
    }
}

/// Opens the log again for positioned reads, refusing anything but the file already opened
/// (the path could have been replaced since).
fn reopen(log: &File, path: &Path) -> Result<File, StoreError> {
    let reader = File::open(path)?;
    if regular_len(&reader)?.is_none() {
        return Err(StoreError::NotRegularFile);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let (a, b) = (log.metadata()?, reader.metadata()?);
        if (a.dev(), a.ino()) != (b.dev(), b.ino()) {
            return Err(StoreError::Io("audit log replaced while opening".into()));
        }
    }
    #[cfg(not(unix))]
    let _ = log;
    Ok(reader)
}

/// Makes a newly created file's directory entry durable (best effort; not all platforms can).
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}
