//! The group-commit writer thread: one write and one `fdatasync` of the log per batch of
//! records, then a signed checkpoint of the new tree appended to the checkpoint file (at most
//! one signature per [`SIGN_EVERY`]: Ed25519 signing per batch was ~6% of a loaded server's
//! CPU), which is flushed (its own `fdatasync`) when a caller waits for [`Ack::Anchored`], once per checkpoint
//! interval under steady load, when the writer goes idle past that interval, and at close.
//!
//! Why the checkpoint file is not flushed per batch: that doubled the flushes on the commit
//! path (the writer could not start the next batch until the checkpoint was on disk too),
//! and [`Ack::Durable`] never depended on it. Checkpoints are still signed and written within
//! [`SIGN_EVERY`] of a commit, so a killed process leaves them in the page cache and all but
//! the last few milliseconds of the log stay covered; only a power loss can lose the checkpoints of up to one interval, leaving records
//! durable but not anchored, which recovery accepts (the next checkpoint covers them).
//! [`Ack::Anchored`] still means a flushed checkpoint covers the record.
//!
//! [`Ack::Anchored`]: crate::store::Ack::Anchored
//! [`Ack::Durable`]: crate::store::Ack::Durable

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pending::Shared;
use crate::checkpoint::{Checkpoint, NoteSigner, SignedCheckpoint};
use crate::clock::Clock;
use crate::frame;
use crate::merkle::leaf_hash;

/// The longest a committed batch waits for a signed checkpoint to be written.
pub(super) const SIGN_EVERY: Duration = Duration::from_millis(10);

/// How much the log file grows at a time: zeros written ahead of the records (see
/// [`super`]).
pub(super) const PREALLOCATE: usize = 1 << 20;

/// The shortest look-again wait after a commit (see [`FileStoreConfig::poll`]).
///
/// [`FileStoreConfig::poll`]: super::FileStoreConfig::poll
const MIN_POLL: Duration = Duration::from_micros(50);

pub(super) struct Writer {
    pub shared: Arc<Shared>,
    pub log: File,
    pub checkpoints: File,
    pub signer: NoteSigner,
    pub origin: String,
    pub clock: Arc<dyn Clock>,
    pub max_batch: usize,
    /// The longest look-again wait after a commit (see `FileStoreConfig::poll`).
    pub poll: Duration,
    /// When the last batch was committed.
    pub last_commit: Instant,
    /// Moving average of the time between records, as seen at commits.
    pub gap: Duration,
    /// Whether the look-again wait since the last commit was spent.
    pub polled: bool,
    pub checkpoint_interval: Duration,
    pub next_index: u64,
    /// End of the log's last record: where the next batch is written.
    pub offset: u64,
    /// Length of the log file (`offset` plus preallocated zeros).
    pub allocated: u64,
    /// Preallocation failed once (no space): records are written at their exact size.
    pub preallocation_failed: bool,
    /// Records covered by the last flushed checkpoint.
    pub anchored: u64,
    /// The last checkpoint written and not yet flushed.
    pub unflushed: Option<SignedCheckpoint>,
    /// When the last checkpoint was signed (or the writer started).
    pub last_signed: Instant,
    /// When the last checkpoint was persisted (or the writer started).
    pub last_anchor: Instant,
}

enum Next {
    /// Commit the batch.
    Batch,
    /// Nothing queued; flush a checkpoint of what is durable.
    Anchor,
    /// Nothing queued; a checkpoint may be due.
    Timer,
    /// Closed and drained.
    Stop,
}

/// Fails the log if the writer thread unwinds, so that no submitter or waiter waits forever
/// for a commit that will not come (fail closed: every PHI answer then gets its 503).
struct FailOnUnwind(Arc<Shared>);

impl Drop for FailOnUnwind {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let msg = "the audit log writer stopped unexpectedly".to_owned();
            self.0.queue().failed = Some(msg.clone());
            self.0.space.notify_all();
            self.0.update(|p| {
                p.failed = Some(msg);
                p.closed = true;
            });
        }
    }
}

impl Writer {
    pub fn run(mut self) {
        let _unwind = FailOnUnwind(Arc::clone(&self.shared));
        let mut batch: Vec<Vec<u8>> = Vec::with_capacity(self.max_batch);
        let mut buf = Vec::new();
        let result = loop {
            let step = match self.collect(&mut batch) {
                Next::Batch => self.commit(&batch, &mut buf),
                Next::Anchor => self.anchor(&mut buf),
                Next::Timer => self.sign_if_due(&mut buf),
                Next::Stop => break self.anchor(&mut buf),
            };
            batch.clear();
            if let Err(e) = step {
                break Err(e);
            }
            if self.anchor_due() {
                if let Err(e) = self.anchor(&mut buf) {
                    break Err(e);
                }
            }
        };
        if let Err(e) = result {
            let msg = e.to_string();
            self.shared.queue().failed = Some(msg.clone());
            self.shared.space.notify_all();
            self.shared.update(|p| p.failed = Some(msg));
        }
        self.shared.update(|p| p.closed = true);
    }

    /// Whether a checkpoint should be flushed now: a caller waits for one, or the interval
    /// has passed since the last.
    fn anchor_due(&self) -> bool {
        self.next_index > self.anchored
            && (self.shared.queue().anchor_wanted > self.anchored
                || self.last_anchor.elapsed() >= self.checkpoint_interval)
    }

    /// Waits for work and takes up to `max_batch` queued records under one lock acquisition
    /// (lingering up to `linger` for more).
    fn collect(&mut self, batch: &mut Vec<Vec<u8>>) -> Next {
        let shared = Arc::clone(&self.shared);
        let mut q = shared.queue();
        loop {
            if !q.jobs.is_empty() {
                break;
            }
            if q.closed {
                return Next::Stop;
            }
            let unanchored = self.next_index > self.anchored;
            if unanchored && q.anchor_wanted > self.anchored {
                return Next::Anchor;
            }
            // Idle: sign what is unsigned after SIGN_EVERY, anchor after the interval.
            let sign = (self.next_index > self.signed())
                .then(|| SIGN_EVERY.saturating_sub(self.last_signed.elapsed()));
            let anchor = unanchored.then(|| {
                self.checkpoint_interval
                    .saturating_sub(self.last_anchor.elapsed())
            });
            let left = match (sign, anchor) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if left.is_some_and(|l| l.is_zero()) {
                return Next::Timer;
            }
            if !self.polled && !self.poll.is_zero() {
                // Just committed: wait about one gap between records without advertising
                // idleness, so that the next submitter need not wake us; if nothing came, the
                // load has stopped and the next submitter does.
                self.polled = true;
                let wait = self.gap.max(MIN_POLL).min(self.poll);
                let wait = left.map_or(wait, |l| l.min(wait));
                q = shared
                    .work
                    .wait_timeout(q, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                continue;
            }
            q.writer_idle = true;
            q = match left {
                Some(l) => {
                    shared
                        .work
                        .wait_timeout(q, l)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => shared.work.wait(q).unwrap_or_else(|e| e.into_inner()),
            };
            q.writer_idle = false;
        }
        // Linger for a fuller batch without advertising idleness: submitters wake the writer
        // only when the batch is full or the queue is, not for each record (a wake-up per
        // record made the linger cost more CPU than the flushes it saved).
        let start = Instant::now();
        loop {
            let left = shared.linger().saturating_sub(start.elapsed());
            if q.jobs.len() >= self.max_batch || left.is_zero() || q.closed || q.blocked > 0 {
                break;
            }
            q = shared
                .work
                .wait_timeout(q, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        take(&mut q.jobs, batch, self.max_batch);
        if q.blocked > 0 {
            shared.space.notify_all();
        }
        Next::Batch
    }

    fn commit(
        &mut self,
        batch: &[Vec<u8>],
        buf: &mut Vec<u8>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        buf.clear();
        let first = self.next_index;
        let mut leaves = Vec::with_capacity(batch.len());
        let mut frame_offsets = Vec::with_capacity(batch.len());
        let base = self.offset;
        for (i, payload) in batch.iter().enumerate() {
            let leaf = leaf_hash(payload);
            frame_offsets.push(base + buf.len() as u64);
            frame::encode_record(first + i as u64, payload, &leaf, buf);
            leaves.push(leaf);
        }
        let end = self.offset + buf.len() as u64;
        if end > self.allocated {
            self.preallocate(end);
        }
        self.log.seek(SeekFrom::Start(self.offset))?;
        self.log.write_all(buf)?;
        self.log.sync_data()?;
        let now = Instant::now();
        let records = u32::try_from(batch.len()).unwrap_or(u32::MAX).max(1);
        let per_record = (now.duration_since(self.last_commit) / records).min(self.poll);
        // Saturating: `poll` is the host's to set, up to `Duration::MAX`.
        self.gap = self.gap.saturating_mul(3).saturating_add(per_record) / 4;
        self.last_commit = now;
        self.polled = false;
        self.offset += buf.len() as u64;
        let end = first + batch.len() as u64;
        self.next_index = end;
        {
            let mut tree = self.shared.tree.write().unwrap_or_else(|e| e.into_inner());
            for l in leaves {
                tree.push(l);
            }
        }
        self.shared
            .offsets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .extend(frame_offsets);
        self.shared.update(|p| p.durable = end);
        self.sign_if_due(buf)
    }

    /// Extends the log file with written zeros (not a hole: writing into a hole allocates
    /// blocks, a metadata change the next `fdatasync` would flush) to cover `end`, in
    /// [`PREALLOCATE`] steps. The caller's `fdatasync` flushes the new size once per step.
    ///
    /// Only an optimisation: when the zeros cannot be written (a full disk, a file size
    /// limit) they are cut again and records are written at their exact size from then on,
    /// so the log fails no earlier than it would without preallocation.
    fn preallocate(&mut self, end: u64) {
        if self.preallocation_failed {
            return;
        }
        let start = self.allocated;
        let step = PREALLOCATE as u64;
        let target = end.div_ceil(step).saturating_mul(step);
        let zeros = vec![0u8; PREALLOCATE];
        let mut grow = || -> std::io::Result<()> {
            self.log.seek(SeekFrom::Start(self.allocated))?;
            while self.allocated < target {
                let n = (target - self.allocated).min(step) as usize;
                self.log.write_all(&zeros[..n])?;
                self.allocated += n as u64;
            }
            Ok(())
        };
        if grow().is_err() {
            self.preallocation_failed = true;
            let _ = self.log.set_len(start);
            self.allocated = start;
        }
    }

    /// Records covered by the last written checkpoint.
    fn signed(&self) -> u64 {
        self.unflushed
            .as_ref()
            .map_or(self.anchored, |c| c.checkpoint.size)
    }

    /// Writes a checkpoint of unsigned records if none was signed for [`SIGN_EVERY`].
    fn sign_if_due(&mut self, buf: &mut Vec<u8>) -> Result<(), Box<dyn std::error::Error>> {
        if self.next_index > self.signed() && self.last_signed.elapsed() >= SIGN_EVERY {
            self.write_checkpoint(buf)?;
        }
        Ok(())
    }

    /// Signs a checkpoint of everything durable and appends it (not flushed).
    fn write_checkpoint(&mut self, buf: &mut Vec<u8>) -> Result<(), Box<dyn std::error::Error>> {
        let (size, root) = {
            let tree = self.shared.tree.read().unwrap_or_else(|e| e.into_inner());
            (tree.size(), tree.root())
        };
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            time: Some(self.clock.now()),
        };
        let signed = self.signer.sign(&cp)?;
        buf.clear();
        frame::encode_checkpoint(signed.note().as_bytes(), buf);
        self.checkpoints.write_all(buf)?;
        self.unflushed = Some(signed);
        self.last_signed = Instant::now();
        Ok(())
    }

    /// Flushes the checkpoint file (its last checkpoint covers everything durable), then
    /// publishes that checkpoint and acknowledges its records anchored.
    fn anchor(&mut self, buf: &mut Vec<u8>) -> Result<(), Box<dyn std::error::Error>> {
        let end = self.next_index;
        if end == self.anchored {
            return Ok(());
        }
        if self.unflushed.as_ref().map(|c| c.checkpoint.size) != Some(end) {
            self.write_checkpoint(buf)?;
        }
        self.checkpoints.sync_data()?;
        *self
            .shared
            .latest
            .write()
            .unwrap_or_else(|e| e.into_inner()) = self.unflushed.take();
        self.anchored = end;
        self.last_anchor = Instant::now();
        self.shared.update(|p| p.anchored = end);
        Ok(())
    }
}

/// Moves up to `max` jobs from the front of `queue` to `batch` (swapping the buffers when all
/// fit, so neither is reallocated).
fn take(queue: &mut Vec<Vec<u8>>, batch: &mut Vec<Vec<u8>>, max: usize) {
    let room = max.saturating_sub(batch.len());
    if batch.is_empty() && queue.len() <= room {
        std::mem::swap(queue, batch);
    } else {
        let n = room.min(queue.len());
        batch.extend(queue.drain(..n));
    }
}
