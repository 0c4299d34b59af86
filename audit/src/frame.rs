//! The on-disk framing of log records and checkpoints, shared by the file store, recovery and
//! the verifier. Pure functions over bytes: no I/O here.
//!
//! A log file starts with [`LOG_MAGIC`] and holds one frame per record:
//!
//! ```text
//! u32 LE payload length | u64 LE leaf index | payload | 16-byte checksum
//! checksum = SHA-256(length || index || leaf_hash(payload))[..16]
//! ```
//!
//! The file may end with zero bytes after the last frame: space the writer preallocates (see
//! [`crate::store::file`]) so that a commit's `fdatasync` need not also write the inode's new
//! size. Readers take a run of zeros reaching the end of the file as the end of the log; any
//! other byte in it makes the first frame there damaged (no frame starts with a zero length).
//!
//! The checksum makes a torn or overwritten frame detectable; tamper evidence against someone
//! who recomputes it comes from the Merkle root and signed checkpoints. A checkpoint file
//! starts with [`CHECKPOINT_MAGIC`] and holds frames `u32 LE length | note | checksum` with
//! `checksum = SHA-256(length || note)[..16]`. It is appended to without preallocation; a last
//! frame that ends in zeros, with only zeros after it, is an append whose data a power loss did
//! not write: a torn tail, like an incomplete frame.

use crate::merkle::{leaf_hash, Hash};
use crate::model::MAX_RECORD_LEN;

/// First bytes of a log file.
pub const LOG_MAGIC: &[u8; 8] = b"SFAULOG1";
/// First bytes of a checkpoint file.
pub const CHECKPOINT_MAGIC: &[u8; 8] = b"SFAUCKP1";
/// Bytes of a record frame besides the payload.
pub const RECORD_OVERHEAD: usize = 4 + 8 + 16;
const CHECKSUM_LEN: usize = 16;

/// Appends the frame of record `index` with `payload` (whose leaf hash is `leaf`) to `out`.
pub fn encode_record(index: u64, payload: &[u8], leaf: &Hash, out: &mut Vec<u8>) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&record_checksum(len, index, leaf));
}

fn record_checksum(len: u32, index: u64, leaf: &Hash) -> [u8; CHECKSUM_LEN] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&len.to_le_bytes());
    ctx.update(&index.to_le_bytes());
    ctx.update(leaf);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&ctx.finish().as_ref()[..CHECKSUM_LEN]);
    out
}

/// One decoded record frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFrame<'a> {
    /// The leaf index written in the frame.
    pub index: u64,
    /// The record bytes.
    pub payload: &'a [u8],
    /// `leaf_hash(payload)`.
    pub leaf: Hash,
    /// Total frame length in bytes.
    pub len: usize,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The bytes end inside the frame (a torn write, or a truncated file).
    Incomplete,
    /// The length field exceeds the record limit.
    TooLong,
    /// The checksum does not match.
    Checksum,
}

/// Whether `buf` is all zeros: a preallocated tail, not a frame.
pub fn is_preallocated(buf: &[u8]) -> bool {
    buf.iter().all(|&b| b == 0)
}

/// Decodes the record frame at the start of `buf`.
pub fn decode_record(buf: &[u8]) -> Result<RecordFrame<'_>, FrameError> {
    if buf.len() < 12 {
        return Err(FrameError::Incomplete);
    }
    let len = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes"));
    if len as usize > MAX_RECORD_LEN {
        return Err(FrameError::TooLong);
    }
    let index = u64::from_le_bytes(buf[4..12].try_into().expect("8 bytes"));
    let total = RECORD_OVERHEAD + len as usize;
    if buf.len() < total {
        return Err(FrameError::Incomplete);
    }
    let payload = &buf[12..12 + len as usize];
    let leaf = leaf_hash(payload);
    if buf[12 + len as usize..total] != record_checksum(len, index, &leaf) {
        return Err(FrameError::Checksum);
    }
    Ok(RecordFrame {
        index,
        payload,
        leaf,
        len: total,
    })
}

/// Appends a checkpoint frame holding `note` to `out`.
pub fn encode_checkpoint(note: &[u8], out: &mut Vec<u8>) {
    let len = note.len() as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(note);
    out.extend_from_slice(&checkpoint_checksum(len, note));
}

fn checkpoint_checksum(len: u32, note: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&len.to_le_bytes());
    ctx.update(note);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&ctx.finish().as_ref()[..CHECKSUM_LEN]);
    out
}

/// Decodes the checkpoint frame at the start of `buf`: the note bytes and the frame length.
pub fn decode_checkpoint(buf: &[u8]) -> Result<(&[u8], usize), FrameError> {
    if buf.len() < 4 {
        return Err(FrameError::Incomplete);
    }
    let len = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
    if len > crate::checkpoint::MAX_NOTE_LEN {
        return Err(FrameError::TooLong);
    }
    let total = 4 + len + CHECKSUM_LEN;
    if buf.len() < total {
        return Err(FrameError::Incomplete);
    }
    let note = &buf[4..4 + len];
    if buf[4 + len..total] != checkpoint_checksum(len as u32, note) {
        return Err(FrameError::Checksum);
    }
    Ok((note, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_frames_round_trip_and_detect_damage() {
        let mut buf = Vec::new();
        encode_record(7, b"hello", &leaf_hash(b"hello"), &mut buf);
        let f = decode_record(&buf).unwrap();
        assert_eq!((f.index, f.payload, f.len), (7, &b"hello"[..], buf.len()));
        for cut in 0..buf.len() {
            assert_eq!(
                decode_record(&buf[..cut]),
                Err(FrameError::Incomplete),
                "cut at {cut}"
            );
        }
        for i in 0..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x01;
            assert!(decode_record(&bad).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn checkpoint_frames_round_trip() {
        let mut buf = Vec::new();
        encode_checkpoint(b"note\n", &mut buf);
        assert_eq!(
            decode_checkpoint(&buf).unwrap(),
            (&b"note\n"[..], buf.len())
        );
        buf[5] ^= 1;
        assert_eq!(decode_checkpoint(&buf), Err(FrameError::Checksum));
    }
}
