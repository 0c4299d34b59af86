//! An in-memory Merkle log.

use std::sync::{Arc, Mutex, MutexGuard};

use super::{Ack, AuditSink, Receipt, StoreError};
use crate::checkpoint::{Checkpoint, NoteSigner, SignedCheckpoint};
use crate::clock::Clock;
use crate::frame;
use crate::merkle::{leaf_hash, ConsistencyProof, Hash, InclusionProof, MerkleTree};
use crate::model::{AuditRecord, RecordError, MAX_RECORD_LEN};

/// An append-only in-memory log with the same hashing, proofs and checkpoints as the file
/// store. Everything is lost with the process, so as a sink it acknowledges records as
/// [`Ack::Buffered`]; hosts needing durability use [`FileStore`](super::file::FileStore).
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    signing: Option<Signing>,
}

struct Signing {
    origin: String,
    signer: NoteSigner,
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct Inner {
    records: Vec<Vec<u8>>,
    tree: MerkleTree,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store without a checkpoint key.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that signs checkpoints for `origin` with `signer`, timed by `clock`.
    pub fn with_signer(
        origin: impl Into<String>,
        signer: NoteSigner,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Mutex::default(),
            signing: Some(Signing {
                origin: origin.into(),
                signer,
                clock,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the tree half-updated: push is the last step.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a record; returns its index.
    pub fn append(&self, record: &AuditRecord) -> Result<u64, RecordError> {
        self.append_bytes(record.to_log_bytes()?)
    }

    /// Appends raw record bytes; returns their index.
    pub fn append_bytes(&self, bytes: Vec<u8>) -> Result<u64, RecordError> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLarge);
        }
        let mut inner = self.lock();
        let leaf = leaf_hash(&bytes);
        inner.records.push(bytes);
        Ok(inner.tree.push(leaf))
    }

    /// The number of records.
    pub fn size(&self) -> u64 {
        self.lock().tree.size()
    }

    /// The current root hash.
    pub fn root(&self) -> Hash {
        self.lock().tree.root()
    }

    /// The root when the log had `size` records.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        self.lock().tree.root_at(size)
    }

    /// The raw bytes of record `index`.
    pub fn get_bytes(&self, index: u64) -> Option<Vec<u8>> {
        self.lock()
            .records
            .get(usize::try_from(index).ok()?)
            .cloned()
    }

    /// Every record, decoded.
    pub fn records(&self) -> Result<Vec<AuditRecord>, RecordError> {
        self.lock()
            .records
            .iter()
            .map(|b| AuditRecord::from_log_bytes(b))
            .collect()
    }

    /// The inclusion proof of record `index` in the tree of `size` records.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<InclusionProof> {
        self.lock().tree.inclusion_proof(index, size)
    }

    /// The consistency proof between sizes `first` and `second`.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Option<ConsistencyProof> {
        self.lock().tree.consistency_proof(first, second)
    }

    /// A signed checkpoint of the current tree, if the store has a signer.
    pub fn checkpoint(&self) -> Option<Result<SignedCheckpoint, StoreError>> {
        let s = self.signing.as_ref()?;
        let (size, root) = {
            let inner = self.lock();
            (inner.tree.size(), inner.tree.root())
        };
        let cp = Checkpoint {
            origin: s.origin.clone(),
            size,
            root,
            time: Some(s.clock.now()),
        };
        Some(s.signer.sign(&cp).map_err(StoreError::from))
    }

    /// The log in the file format of [`FileStore`](super::file::FileStore), for export and for
    /// [`verify_log`](crate::verify_log).
    pub fn to_log_file_bytes(&self) -> Vec<u8> {
        let inner = self.lock();
        let mut out = frame::LOG_MAGIC.to_vec();
        for (i, r) in inner.records.iter().enumerate() {
            frame::encode_record(
                i as u64,
                r,
                &inner.tree.leaf(i as u64).expect("leaf exists"),
                &mut out,
            );
        }
        out
    }
}

impl AuditSink for MemoryStore {
    /// Appends; the receipt says [`Ack::Buffered`]: memory is not durable, and a host asking
    /// for more can tell from the receipt.
    fn record(&self, record: &AuditRecord, _ack: Ack) -> Result<Receipt, StoreError> {
        let bytes = record.to_log_bytes()?;
        let leaf = leaf_hash(&bytes);
        let index = self.append_bytes(bytes)?;
        Ok(Receipt {
            index: Some(index),
            leaf: Some(leaf),
            level: Ack::Buffered,
        })
    }
}
