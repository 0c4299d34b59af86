//! Progress shared between the writer thread and callers waiting for acknowledgements, for
//! both blocking waits and futures (no async runtime needed: a future registers its waker).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::checkpoint::SignedCheckpoint;
use crate::merkle::MerkleTree;
use crate::store::{Ack, Receipt, StoreError};

#[derive(Default)]
pub(super) struct Progress {
    /// Records `0..durable` are fsynced.
    pub durable: u64,
    /// Records `0..anchored` are covered by a persisted checkpoint.
    pub anchored: u64,
    /// The writer failed; nothing more will be acknowledged.
    pub failed: Option<String>,
    /// The writer has exited.
    pub closed: bool,
    wakers: Vec<(u64, Ack, Waker)>,
}

/// The submission queue, shared by submitters and the writer under one lock.
#[derive(Default)]
pub(super) struct Queue {
    /// Payloads submitted and not yet taken by the writer, in index order.
    pub jobs: Vec<Vec<u8>>,
    /// The index the next submitted record gets.
    pub next: u64,
    /// No more submissions; the writer commits what is queued and exits.
    pub closed: bool,
    /// The writer failed (mirrors [`Progress::failed`] so submitters need only this lock).
    pub failed: Option<String>,
    /// The writer is waiting on [`Shared::work`]: the next submitter must wake it. Only the
    /// submission that finds it idle pays for a wake-up, not every record.
    pub writer_idle: bool,
    /// Records `0..anchor_wanted` have a waiter for [`Ack::Anchored`].
    pub anchor_wanted: u64,
    /// Submitters waiting for room.
    pub blocked: usize,
}

impl Queue {
    /// Whether the writer must be woken (clears the flag: one wake-up per idle period).
    pub fn take_idle(&mut self) -> bool {
        std::mem::take(&mut self.writer_idle)
    }
}

pub(super) struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
    queue: Mutex<Queue>,
    /// Signals the writer: work queued, an anchor wanted, or closing.
    pub work: Condvar,
    /// Signals blocked submitters: the writer took jobs from a full queue.
    pub space: Condvar,
    pub tree: RwLock<MerkleTree>,
    pub offsets: RwLock<Vec<u64>>,
    pub latest: RwLock<Option<SignedCheckpoint>>,
    /// The writer's linger in microseconds (see `FileStore::set_linger`).
    pub linger_micros: AtomicU64,
}

impl Shared {
    pub fn new(tree: MerkleTree, offsets: Vec<u64>, latest: Option<SignedCheckpoint>) -> Self {
        let size = tree.size();
        let queue = Queue {
            next: size,
            ..Queue::default()
        };
        let anchored = latest.as_ref().map_or(0, |c| c.checkpoint.size);
        Self {
            progress: Mutex::new(Progress {
                durable: size,
                anchored,
                ..Progress::default()
            }),
            changed: Condvar::new(),
            queue: Mutex::new(queue),
            work: Condvar::new(),
            space: Condvar::new(),
            tree: RwLock::new(tree),
            offsets: RwLock::new(offsets),
            latest: RwLock::new(latest),
            linger_micros: AtomicU64::new(0),
        }
    }

    /// How long the writer lingers for a fuller batch now.
    pub fn linger(&self) -> Duration {
        Duration::from_micros(self.linger_micros.load(Ordering::Relaxed))
    }

    /// Sets the linger (saturating at `u64::MAX` microseconds); a store only when it changes,
    /// so that hosts may call this on every request without contending on the cache line.
    pub fn set_linger(&self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if self.linger_micros.load(Ordering::Relaxed) != micros {
            self.linger_micros.store(micros, Ordering::Relaxed);
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the writer to anchor records `0..=index` (checkpoints are otherwise written at most
    /// once per checkpoint interval).
    fn want_anchor(&self, index: u64) {
        let mut q = self.queue();
        if q.anchor_wanted <= index {
            q.anchor_wanted = index + 1;
            if q.take_idle() {
                drop(q);
                self.work.notify_one();
            }
        }
    }

    /// Applies `f` to the progress, then wakes every waiter whose condition may have changed.
    pub fn update(&self, f: impl FnOnce(&mut Progress)) {
        let mut p = self.lock();
        f(&mut p);
        let all = p.failed.is_some() || p.closed;
        let (durable, anchored) = (p.durable, p.anchored);
        let mut done = Vec::new();
        for w in std::mem::take(&mut p.wakers) {
            if all || reached(durable, anchored, w.0, w.1) {
                done.push(w.2);
            } else {
                p.wakers.push(w);
            }
        }
        drop(p);
        for w in done {
            w.wake();
        }
        self.changed.notify_all();
    }

    fn answer(&self, p: &Progress, index: u64, ack: Ack) -> Option<Result<Receipt, StoreError>> {
        if reached(p.durable, p.anchored, index, ack) {
            let leaf = self
                .tree
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .leaf(index);
            return Some(Ok(Receipt {
                index: Some(index),
                leaf,
                level: ack,
            }));
        }
        if let Some(e) = &p.failed {
            return Some(Err(StoreError::Io(e.clone())));
        }
        if p.closed {
            return Some(Err(StoreError::Closed));
        }
        None
    }
}

fn reached(durable: u64, anchored: u64, index: u64, ack: Ack) -> bool {
    match ack {
        Ack::Buffered => true,
        Ack::Durable => index < durable,
        Ack::Anchored => index < anchored,
    }
}

/// A submitted record: wait for the acknowledgement level you need, blocking or as a future.
#[must_use = "a pending record is only acknowledged once waited for"]
pub struct Pending {
    pub(super) index: u64,
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("index", &self.index)
            .finish()
    }
}

impl Pending {
    /// The record's leaf index (assigned at submission; order is the log's order).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Blocks until the record reached `ack` (or the store failed).
    pub fn wait(&self, ack: Ack) -> Result<Receipt, StoreError> {
        self.request(ack);
        let mut p = self.shared.lock();
        loop {
            if let Some(r) = self.shared.answer(&p, self.index, ack) {
                return r;
            }
            p = self
                .shared
                .changed
                .wait(p)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Blocks at most `timeout` for the record to reach `ack`.
    pub fn wait_timeout(&self, ack: Ack, timeout: Duration) -> Result<Receipt, StoreError> {
        self.request(ack);
        let deadline = Instant::now() + timeout;
        let mut p = self.shared.lock();
        loop {
            if let Some(r) = self.shared.answer(&p, self.index, ack) {
                return r;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Timeout);
            }
            p = self
                .shared
                .changed
                .wait_timeout(p, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Tells the writer a caller waits for an anchor (before taking the progress lock: the
    /// queue lock is never taken while holding it).
    fn request(&self, ack: Ack) {
        if ack == Ack::Anchored {
            self.shared.want_anchor(self.index);
        }
    }

    /// A future that resolves when the record reached `ack`; works on any executor.
    pub fn until(self, ack: Ack) -> AckFuture {
        AckFuture { pending: self, ack }
    }
}

/// The future of [`Pending::until`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct AckFuture {
    pending: Pending,
    ack: Ack,
}

impl Future for AckFuture {
    type Output = Result<Receipt, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let shared = &self.pending.shared;
        self.pending.request(self.ack);
        let mut p = shared.lock();
        if let Some(r) = shared.answer(&p, self.pending.index, self.ack) {
            return Poll::Ready(r);
        }
        let (index, ack) = (self.pending.index, self.ack);
        if !p
            .wakers
            .iter()
            .any(|(i, a, w)| *i == index && *a == ack && w.will_wake(cx.waker()))
        {
            p.wakers.push((index, ack, cx.waker().clone()));
        }
        Poll::Pending
    }
}
