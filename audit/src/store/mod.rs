//! Where records go: the [`AuditSink`] trait, acknowledgement levels, and the stores.
//!
//! - [`MemoryStore`]: an in-memory log with proofs and checkpoints, for tests and small hosts.
//! - [`file::FileStore`]: the durable log file with group commit and crash recovery (the one
//!   module of the crate that does file I/O).
//! - [`SyslogSink`](crate::syslog::SyslogSink): RFC 5424 over RFC 6587 octet counting, for ATNA
//!   repositories.
//!
//! Hosts add their own sinks (a database, a message bus, a FHIR `AuditEvent` feed) by
//! implementing [`AuditSink`]; [`Fanout`] sends each record to several.

pub mod file;
mod memory;

pub use memory::MemoryStore;

use crate::checkpoint::CheckpointError;
use crate::merkle::Hash;
use crate::model::{AuditRecord, RecordError};
use crate::verify::Problem;

/// How far a record must have got before a call returns (audit.md §8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ack {
    /// Accepted into the sink's queue; lost if the process dies now.
    Buffered,
    /// Written and flushed to stable storage (`fdatasync`).
    Durable,
    /// Durable and covered by a persisted signed checkpoint.
    Anchored,
}

/// What a sink confirms for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The record's leaf index in a Merkle log (`None` for sinks that are not logs).
    pub index: Option<u64>,
    /// The record's leaf hash, for logs.
    pub leaf: Option<Hash>,
    /// The level reached.
    pub level: Ack,
}

/// Why a sink or store did not take a record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record could not be encoded.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The queue is full and the caller asked not to wait (back-pressure).
    #[error("audit queue is full")]
    QueueFull,
    /// The requested level was not reached in time.
    #[error("audit acknowledgement timed out")]
    Timeout,
    /// The store was closed.
    #[error("audit store is closed")]
    Closed,
    /// An I/O error; the durable store stops accepting records after one (fail closed).
    #[error("audit storage failed: {0}")]
    Io(String),
    /// The log or checkpoint path is not a regular file (a device, a FIFO, a directory); it
    /// is not opened.
    #[error("audit log is not a regular file")]
    NotRegularFile,
    /// Another [`FileStore`](file::FileStore) has the log open for writing (in this process or
    /// another); a second writer would write over its records.
    #[error("audit log is open in another writer")]
    InUse,
    /// The stored log does not verify; it is not opened.
    #[error("audit log does not verify: {0}")]
    Tampered(Problem),
    /// The log holds fewer records than its last checkpoint (a restore from an older backup, or
    /// truncation); signing would contradict an earlier checkpoint.
    #[error("audit log has {records} records but its last checkpoint covers {checkpoint_size}")]
    Rollback {
        /// Records in the log.
        records: u64,
        /// Size of the last checkpoint.
        checkpoint_size: u64,
    },
    /// A checkpoint could not be made or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The sink rejected the record for its own reason.
    #[error("audit sink failed: {0}")]
    Sink(String),
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e.to_string())
    }
}

/// A destination for audit records. Implementations must be callable from many threads.
///
/// `record` returns once the record reached `ack` for this sink, or with the reason it did not.
/// Sinks that cannot make a record durable answer the highest level they can and say so in
/// the [`Receipt`]; a host that needs durability checks `receipt.level`.
pub trait AuditSink: Send + Sync {
    /// Hands one record to the sink.
    fn record(&self, record: &AuditRecord, ack: Ack) -> Result<Receipt, StoreError>;
}

impl<S: AuditSink + ?Sized> AuditSink for std::sync::Arc<S> {
    fn record(&self, record: &AuditRecord, ack: Ack) -> Result<Receipt, StoreError> {
        (**self).record(record, ack)
    }
}

/// Sends every record to each of its sinks, in order; fails on the first failure, so a host
/// never believes a record logged that one sink lost. The receipt is the first sink's.
pub struct Fanout {
    sinks: Vec<Box<dyn AuditSink>>,
}

impl Fanout {
    /// A fan-out over `sinks` (the first is the primary, usually the durable log).
    pub fn new(sinks: Vec<Box<dyn AuditSink>>) -> Self {
        Self { sinks }
    }
}

impl AuditSink for Fanout {
    fn record(&self, record: &AuditRecord, ack: Ack) -> Result<Receipt, StoreError> {
        let mut first = None;
        for s in &self.sinks {
            let r = s.record(record, ack)?;
            first.get_or_insert(r);
        }
        first.ok_or_else(|| StoreError::Sink("fan-out has no sinks".into()))
    }
}
