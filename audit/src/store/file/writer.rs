//! The group-commit writer thread: one write and one `fdatasync` per batch of records, then
//! one signed checkpoint (and its `fdatasync`) per batch.

use std::fs::File;
use std::io::Write;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pending::Shared;
use crate::checkpoint::{Checkpoint, NoteSigner};
use crate::clock::Clock;
use crate::frame;
use crate::merkle::leaf_hash;

pub(super) struct Job {
    pub payload: Vec<u8>,
}

pub(super) struct Writer {
    pub rx: Receiver<Job>,
    pub shared: Arc<Shared>,
    pub log: File,
    pub checkpoints: File,
    pub signer: NoteSigner,
    pub origin: String,
    pub clock: Arc<dyn Clock>,
    pub max_batch: usize,
    pub linger: Duration,
    pub next_index: u64,
    /// End of the log file.
    pub offset: u64,
}

impl Writer {
    pub fn run(mut self) {
        let mut batch: Vec<Vec<u8>> = Vec::with_capacity(self.max_batch);
        let mut buf = Vec::new();
        while let Some(()) = self.collect(&mut batch) {
            if let Err(e) = self.commit(&batch, &mut buf) {
                let msg = e.to_string();
                self.shared.update(|p| p.failed = Some(msg));
                break;
            }
            batch.clear();
        }
        self.shared.update(|p| p.closed = true);
    }

    /// Blocks for the first job, then takes what is queued (lingering up to `linger` for
    /// more) until the batch is full. `None` once every sender is gone and the queue is empty.
    fn collect(&mut self, batch: &mut Vec<Vec<u8>>) -> Option<()> {
        batch.push(self.rx.recv().ok()?.payload);
        let start = Instant::now();
        while batch.len() < self.max_batch {
            match self.rx.try_recv() {
                Ok(j) => batch.push(j.payload),
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    let left = self.linger.saturating_sub(start.elapsed());
                    if left.is_zero() {
                        break;
                    }
                    match self.rx.recv_timeout(left) {
                        Ok(j) => batch.push(j.payload),
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                    }
                }
            }
        }
        Some(())
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
        self.log.write_all(buf)?;
        self.log.sync_data()?;
        self.offset += buf.len() as u64;
        let end = first + batch.len() as u64;
        self.next_index = end;
        let (size, root) = {
            let mut tree = self.shared.tree.write().unwrap_or_else(|e| e.into_inner());
            for l in leaves {
                tree.push(l);
            }
            (tree.size(), tree.root())
        };
        self.shared
            .offsets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .extend(frame_offsets);
        self.shared.update(|p| p.durable = end);

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
        self.checkpoints.sync_data()?;
        *self
            .shared
            .latest
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(signed);
        self.shared.update(|p| p.anchored = end);
        Ok(())
    }
}
