//! Offline verification of a stored log: which record is the first bad one, and why.
//!
//! The verifier reads the bytes of a log and its checkpoint file (see [`crate::frame`]) and
//! checks, in order of strength:
//!
//! 1. every frame's length and checksum (a flipped byte, a torn write);
//! 2. that leaf indices run 0, 1, 2, … (a dropped, inserted or reordered record);
//! 3. that the Merkle root of the first `n` records equals every checkpoint's root, signed by a
//!    trusted key and, when [`VerifyOptions::origin`] is given, of that log (a record
//!    rewritten with a recomputed checksum);
//! 4. that no checkpoint, in the file or supplied from elsewhere ("anchors"), covers more
//!    records than the log holds (truncation);
//! 5. that checkpoint sizes never shrink along the file (an older note copied over or after
//!    newer ones, to hide a rewrite of the records only those covered).
//!
//! An attacker who rewrites both files and holds no signing key is caught by (3) with a
//! trusted key; one who truncates both files is caught only by an anchor published elsewhere.

use std::fmt;
use std::io::{self, BufRead, Read, Seek, SeekFrom};

use crate::checkpoint::{CheckpointError, NoteVerifier, SignedCheckpoint};
use crate::frame::{self, FrameError};
use crate::merkle::{Hash, MerkleTree};

/// What to check the log against.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Keys whose checkpoint signatures are trusted. When empty, checkpoint signatures are not
    /// checked (the report says so) and checkpoints only catch accidental damage.
    pub keys: Vec<NoteVerifier>,
    /// Checkpoints obtained from outside the log's storage (published copies, witnesses).
    pub anchors: Vec<SignedCheckpoint>,
    /// The log's origin: when set, every checkpoint and anchor must carry it (a key may sign
    /// for several logs, so its signature alone does not say which log a checkpoint is of).
    pub origin: Option<String>,
}

impl VerifyOptions {
    /// Checks one checkpoint: its signature against [`keys`](Self::keys) (when there are
    /// any), then its origin against [`origin`](Self::origin) (when set).
    fn check(&self, c: &SignedCheckpoint) -> Result<(), CheckpointError> {
        if !self.keys.is_empty() {
            c.verify(&self.keys)?;
        }
        match &self.origin {
            Some(origin) => c.checkpoint.check_origin(origin),
            None => Ok(()),
        }
    }
}

/// The result of a verification.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Records read before the first structural problem (all of them when there is none).
    pub records: u64,
    /// The Merkle root of those records.
    pub root: Hash,
    /// Checkpoints from the checkpoint file that matched.
    pub checkpoints_matched: usize,
    /// Anchors that matched.
    pub anchors_matched: usize,
    /// The largest size vouched for by a matching checkpoint or anchor. Records past it are
    /// structurally sound but nothing signed covers them yet (the last batch before a crash,
    /// or records appended by someone else).
    pub covered: u64,
    /// Whether checkpoint signatures were checked against trusted keys.
    pub signatures_checked: bool,
    /// An incomplete last frame (a crash mid-append, cut by recovery on the next open):
    /// its byte offset. Not a problem by itself unless a checkpoint covers it.
    pub torn_tail_at: Option<u64>,
    /// Every problem found, the one naming the earliest record first.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether the log verified with no problem.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problem naming the earliest bad record.
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

impl fmt::Display for VerifyReport {
    /// A summary for people: the verdict, then every problem on its own line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use base64::Engine as _;
        let verdict = if self.is_ok() { "OK" } else { "FAILED" };
        write!(
            f,
            "{verdict}: {} records, root {}, {} checkpoints and {} anchors matched",
            self.records,
            base64::engine::general_purpose::STANDARD.encode(self.root),
            self.checkpoints_matched,
            self.anchors_matched
        )?;
        if self.checkpoints_matched == 0 && self.anchors_matched == 0 && self.records > 0 {
            write!(
                f,
                " (no checkpoint vouches for these records: only their structure was checked)"
            )?;
        } else if !self.signatures_checked {
            write!(f, " (signatures NOT checked: no trusted key given)")?;
        }
        if self.covered < self.records && (self.checkpoints_matched > 0 || self.anchors_matched > 0)
        {
            write!(
                f,
                "\nrecords {}..{} are not covered by any checkpoint yet",
                self.covered, self.records
            )?;
        }
        if let Some(o) = self.torn_tail_at {
            write!(f, "\nincomplete last record at byte {o} (a crash mid-append; cut when the log is next opened)")?;
        }
        for p in &self.problems {
            write!(f, "\n{p}")?;
        }
        Ok(())
    }
}

/// A verification failure, naming the first bad record where it can be located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// The index of the first record that is bad (or may be: see [`exact`](Self::exact)).
    pub first_bad_record: Option<u64>,
    /// Whether `first_bad_record` is certainly the first bad one; otherwise the damage lies in
    /// `first_bad_record..=last_possible`.
    pub exact: bool,
    /// For an inexact location, the last record that may be the first bad one.
    pub last_possible: Option<u64>,
    /// Byte offset in the log file, when known.
    pub offset: Option<u64>,
}

/// The kinds of [`Problem`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file does not start with the log header.
    BadHeader,
    /// A frame's checksum or length is wrong: the record was altered or overwritten.
    DamagedRecord,
    /// The frame at this position carries a later index: records were deleted.
    MissingRecord {
        /// The index found in its place.
        found: u64,
    },
    /// The frame at this position carries an earlier or repeated index: a record was inserted
    /// or records were reordered.
    UnexpectedRecord {
        /// The index found.
        found: u64,
    },
    /// The root of the first `size` records differs from a checkpoint's: a record in the range
    /// was altered (with its checksum recomputed), inserted or removed.
    RootMismatch {
        /// The checkpoint's tree size.
        checkpoint_size: u64,
        /// Whether the checkpoint was an external anchor.
        anchor: bool,
    },
    /// A checkpoint covers more records than the log holds: the log was truncated.
    Truncated {
        /// The checkpoint's tree size.
        checkpoint_size: u64,
        /// Whether the checkpoint was an external anchor.
        anchor: bool,
    },
    /// A checkpoint is damaged or its signature does not verify.
    BadCheckpoint {
        /// Its position in the checkpoint file (0-based), or in the anchors.
        position: usize,
        /// Why.
        error: CheckpointError,
    },
    /// The checkpoint file is damaged before its end, or missing (no file, or no checkpoint in
    /// it) beside a non-empty log when no anchor is given either.
    DamagedCheckpointFile,
    /// A checkpoint covers fewer records than one before it in the file. A store only appends
    /// growing sizes: a note was copied to the end (or notes were reordered), as someone
    /// hiding a rewrite of the records it no longer covers would.
    CheckpointOutOfOrder {
        /// Its position in the checkpoint file (0-based).
        position: usize,
        /// Its tree size.
        size: u64,
        /// The largest tree size of a checkpoint before it.
        earlier: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            ProblemKind::BadHeader => "the file is not an audit log (bad header)".to_owned(),
            ProblemKind::DamagedRecord => "record is damaged or was modified (checksum mismatch)".to_owned(),
            ProblemKind::MissingRecord { found } => {
                format!("record is missing (deleted or moved): found record {found} in its place")
            }
            ProblemKind::UnexpectedRecord { found } => {
                format!("unexpected record {found} in this position (inserted or reordered)")
            }
            ProblemKind::RootMismatch { checkpoint_size, anchor } => format!(
                "Merkle root of the first {checkpoint_size} records differs from the {} checkpoint (a record was modified)",
                if *anchor { "anchored" } else { "signed" }
            ),
            ProblemKind::Truncated { checkpoint_size, anchor } => format!(
                "log was truncated: {} checkpoint covers {checkpoint_size} records",
                if *anchor { "an anchored" } else { "a signed" }
            ),
            ProblemKind::BadCheckpoint { position, error } => format!("checkpoint {position} is invalid: {error}"),
            ProblemKind::DamagedCheckpointFile => "the checkpoint file is damaged".to_owned(),
            ProblemKind::CheckpointOutOfOrder { position, size, earlier } => format!(
                "checkpoint {position} covers {size} records, fewer than the {earlier} of an earlier one (checkpoints reordered or replaced)"
            ),
        };
        match (self.first_bad_record, self.exact, self.last_possible) {
            (Some(i), true, _) => write!(f, "first bad record: {i}: {what}")?,
            (Some(i), false, Some(j)) => write!(f, "first bad record in {i}..={j}: {what}")?,
            (Some(i), false, None) => write!(f, "first bad record at or after {i}: {what}")?,
            (None, ..) => write!(f, "{what}")?,
        }
        if let Some(o) = self.offset {
            write!(f, " (byte offset {o})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

/// A structural scan of a log: the records' tree and where reading stopped.
#[derive(Debug, Default)]
pub(crate) struct LogScan {
    pub tree: MerkleTree,
    /// Byte offset of each record frame.
    pub offsets: Vec<u64>,
    /// End of the last good frame.
    pub valid_end: u64,
    /// Why the scan stopped before the end of the bytes.
    pub stop: Option<(ProblemKind, u64)>,
    /// Whether the stop is an incomplete frame reaching end-of-file.
    pub torn: bool,
    /// Zero bytes after the last good frame up to the end (preallocated space, not damage).
    pub preallocated: u64,
}

/// Reads from `r` until `buf` holds `n` bytes or the input ends.
fn fill(r: &mut impl BufRead, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    if let Some(more) = n.checked_sub(buf.len()).filter(|m| *m > 0) {
        Read::take(&mut *r, more as u64).read_to_end(buf)?;
    }
    Ok(())
}

/// Reads `r` to its end if it holds nothing but zero bytes, and says how many; `None` (and
/// the rest unread) at the first other byte.
fn zeros_to_end(r: &mut impl BufRead) -> io::Result<Option<u64>> {
    let mut n = 0u64;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(Some(n));
        }
        if !frame::is_preallocated(chunk) {
            return Ok(None);
        }
        let len = chunk.len();
        n += len as u64;
        r.consume(len);
    }
}

/// Whether `frame`, a frame that does not decode (as much of its extent as the input held),
/// is a write torn over preallocated space: nothing but zeros follows the extent its length
/// field claims.
fn torn_in_place(frame: &[u8], rest: &mut impl BufRead) -> io::Result<bool> {
    let Some(len) = frame.get(..4) else {
        return Ok(false);
    };
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if len == 0 || len > crate::model::MAX_RECORD_LEN {
        return Ok(false);
    }
    Ok(zeros_to_end(rest)?.is_some())
}

/// Scans a log (header included) frame by frame: memory holds one frame, the tree and the
/// offsets, never the log. An empty input is an empty log.
pub(crate) fn scan_log(mut r: impl BufRead + Seek) -> io::Result<LogScan> {
    let mut scan = LogScan::default();
    let mut buf = Vec::new();
    fill(&mut r, &mut buf, frame::LOG_MAGIC.len())?;
    if buf.is_empty() {
        return Ok(scan);
    }
    if buf.len() < frame::LOG_MAGIC.len() {
        // A crash while creating the file leaves a prefix of the header.
        scan.torn = frame::LOG_MAGIC.starts_with(&buf);
        scan.stop = Some((ProblemKind::BadHeader, 0));
        return Ok(scan);
    }
    if buf != frame::LOG_MAGIC {
        scan.stop = Some((ProblemKind::BadHeader, 0));
        return Ok(scan);
    }
    let mut pos = 8u64;
    scan.valid_end = 8;
    let mut read_again = None;
    loop {
        // The frame's header, then as much of its extent as its length field claims (when
        // that is a length a frame may have) and the input holds.
        buf.clear();
        fill(&mut r, &mut buf, 12)?;
        if buf.is_empty() {
            return Ok(scan);
        }
        if let Some(len) = buf.get(..4).filter(|_| buf.len() == 12) {
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if len <= crate::model::MAX_RECORD_LEN {
                fill(&mut r, &mut buf, frame::RECORD_OVERHEAD + len)?;
            }
        }
        if frame::is_preallocated(&buf) {
            if let Some(n) = zeros_to_end(&mut r)? {
                scan.preallocated = buf.len() as u64 + n;
                return Ok(scan);
            }
        }
        let expected = scan.tree.size();
        match frame::decode_record(&buf) {
            Ok(f) if f.index == expected => {
                scan.tree.push(f.leaf);
                scan.offsets.push(pos);
                pos += f.len as u64;
                scan.valid_end = pos;
            }
            Ok(f) => {
                let kind = if f.index > expected {
                    ProblemKind::MissingRecord { found: f.index }
                } else {
                    ProblemKind::UnexpectedRecord { found: f.index }
                };
                scan.stop = Some((kind, pos));
                return Ok(scan);
            }
            Err(e) => {
                let torn = e == FrameError::Incomplete || torn_in_place(&buf, &mut r)?;
                if !torn && read_again != Some(pos) {
                    // A store writing meanwhile (over the zeros) shows a reader parts of its
                    // frames at different times; a file at rest reads the same again.
                    read_again = Some(pos);
                    r.seek(SeekFrom::Start(pos))?;
                    continue;
                }
                scan.torn = torn;
                scan.stop = Some((ProblemKind::DamagedRecord, pos));
                return Ok(scan);
            }
        }
    }
}

/// Whether `frame`, a checkpoint frame that does not decode (as much of its extent as the
/// input held), is an append torn by a power loss: the file's new size reached the disk but
/// not all of its data, so the frame ends in zeros and nothing but zeros follows it.
fn torn_append(frame: &[u8], rest: &mut impl BufRead) -> io::Result<bool> {
    let Some(len) = frame.get(..4) else {
        return Ok(false);
    };
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if len > crate::checkpoint::MAX_NOTE_LEN || frame.last() != Some(&0) {
        return Ok(false);
    }
    Ok(zeros_to_end(rest)?.is_some())
}

/// A checkpoint file read frame by frame: the last note, whether the file is damaged before
/// its end and, when asked for, each note's size and root once its signature was checked (not
/// the notes themselves).
#[derive(Debug, Default)]
pub(crate) struct CheckpointScan {
    /// Per note, in file order: its size and root, or why it is invalid (when asked for).
    pub checked: Vec<Result<(u64, Hash), CheckpointError>>,
    /// The last note as parsed (its signature not checked here).
    pub last: Option<Result<SignedCheckpoint, CheckpointError>>,
    /// The largest size any parsed note claims (signatures not checked). A store appends
    /// checkpoints in growing size, so one larger than the last means the file was tampered
    /// with (an older note appended, notes reordered).
    pub max_size: u64,
    pub valid_end: u64,
    pub damaged: bool,
    pub torn: bool,
}

/// Scans a checkpoint file. With `options`, also checks each note as they say (signature,
/// origin) and lists the results; without, keeps only the last note.
pub(crate) fn scan_checkpoints(
    mut r: impl BufRead,
    options: Option<&VerifyOptions>,
) -> io::Result<CheckpointScan> {
    let mut scan = CheckpointScan::default();
    let mut buf = Vec::new();
    fill(&mut r, &mut buf, frame::CHECKPOINT_MAGIC.len())?;
    if buf.is_empty() {
        return Ok(scan);
    }
    if buf != frame::CHECKPOINT_MAGIC {
        scan.torn = buf.len() < 8 && frame::CHECKPOINT_MAGIC.starts_with(&buf);
        scan.damaged = !scan.torn;
        return Ok(scan);
    }
    let mut pos = 8u64;
    scan.valid_end = 8;
    loop {
        buf.clear();
        fill(&mut r, &mut buf, 4)?;
        if buf.is_empty() {
            return Ok(scan);
        }
        if buf.len() == 4 {
            let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if len <= crate::checkpoint::MAX_NOTE_LEN {
                fill(&mut r, &mut buf, 4 + len + 16)?;
            }
        }
        match frame::decode_checkpoint(&buf) {
            Ok((note, len)) => {
                let parsed = std::str::from_utf8(note)
                    .map_err(|_| CheckpointError::Malformed("note is not UTF-8"))
                    .and_then(SignedCheckpoint::parse);
                if let Ok(c) = &parsed {
                    scan.max_size = scan.max_size.max(c.checkpoint.size);
                }
                if let Some(options) = options {
                    scan.checked
                        .push(parsed.as_ref().map_err(Clone::clone).and_then(|c| {
                            options.check(c)?;
                            Ok((c.checkpoint.size, c.checkpoint.root))
                        }));
                }
                scan.last = Some(parsed);
                pos += len as u64;
                scan.valid_end = pos;
            }
            Err(e) => {
                scan.torn = e == FrameError::Incomplete || torn_append(&buf, &mut r)?;
                scan.damaged = !scan.torn;
                return Ok(scan);
            }
        }
    }
}

/// Verifies a log and its checkpoint file, both given as bytes.
pub fn verify_log(log: &[u8], checkpoints: &[u8], options: &VerifyOptions) -> VerifyReport {
    let scans = scan_checkpoints(checkpoints, Some(options))
        .and_then(|cps| Ok((scan_log(io::Cursor::new(log))?, cps)));
    match scans {
        Ok((scan, cps)) => verify_scans(&scan, &cps, options),
        // Reading from a byte slice does not fail.
        Err(_) => unreachable!("reading a byte slice failed"),
    }
}

/// Verifies a scanned log against its scanned checkpoint file (scanned with `options`) and
/// `options.anchors`.
pub(crate) fn verify_scans(
    scan: &LogScan,
    cps: &CheckpointScan,
    options: &VerifyOptions,
) -> VerifyReport {
    let size = scan.tree.size();
    let mut problems: Vec<Problem> = Vec::new();

    let mut torn_tail_at = None;
    if let Some((kind, offset)) = &scan.stop {
        if scan.torn {
            torn_tail_at = Some(*offset);
        } else {
            let exact = !matches!(kind, ProblemKind::BadHeader);
            problems.push(Problem {
                kind: kind.clone(),
                first_bad_record: exact.then_some(size),
                exact,
                last_possible: None,
                offset: Some(*offset),
            });
        }
    }
    // A store writes a checkpoint (of the empty tree) before its first record: records with
    // no checkpoint beside them, and no anchor given, had their checkpoint file removed,
    // emptied or cut to its header, as `FileStore::open` (which refuses them) knows.
    // Then no record is vouched for: any of them may be the first bad one.
    let missing = cps.last.is_none() && size > 0 && options.anchors.is_empty();
    if cps.damaged || missing {
        problems.push(Problem {
            kind: ProblemKind::DamagedCheckpointFile,
            first_bad_record: missing.then_some(0),
            exact: false,
            last_possible: missing.then(|| size - 1),
            offset: None,
        });
    }

    let mut checkpoints_matched = 0;
    let mut last_good = 0u64;
    let mut largest = 0u64;
    for (position, checked) in cps.checked.iter().enumerate() {
        if let Ok((cs, _)) = checked {
            if *cs < largest {
                problems.push(Problem {
                    kind: ProblemKind::CheckpointOutOfOrder {
                        position,
                        size: *cs,
                        earlier: largest,
                    },
                    first_bad_record: None,
                    exact: false,
                    last_possible: None,
                    offset: None,
                });
            }
            largest = largest.max(*cs);
        }
        match checked {
            Err(error) => problems.push(Problem {
                kind: ProblemKind::BadCheckpoint {
                    position,
                    error: error.clone(),
                },
                first_bad_record: None,
                exact: false,
                last_possible: None,
                offset: None,
            }),
            Ok((cs, root)) => match check_against(scan, *cs, root, last_good, false) {
                Some(p) => problems.push(p),
                None => {
                    checkpoints_matched += 1;
                    last_good = last_good.max(*cs);
                }
            },
        }
    }

    let mut anchors_matched = 0;
    for (position, anchor) in options.anchors.iter().enumerate() {
        if let Err(error) = options.check(anchor) {
            problems.push(Problem {
                kind: ProblemKind::BadCheckpoint { position, error },
                first_bad_record: None,
                exact: false,
                last_possible: None,
                offset: None,
            });
            continue;
        }
        let cs = anchor.checkpoint.size;
        match check_against(scan, cs, &anchor.checkpoint.root, last_good.min(cs), true) {
            Some(p) => problems.push(p),
            None => {
                anchors_matched += 1;
                last_good = last_good.max(cs);
            }
        }
    }
    if let Some(off) = torn_tail_at {
        // An incomplete frame is a crash artefact only if no checkpoint vouched for it.
        let covered = problems
            .iter()
            .any(|p| matches!(p.kind, ProblemKind::Truncated { .. }));
        if covered {
            problems.push(Problem {
                kind: ProblemKind::DamagedRecord,
                first_bad_record: Some(size),
                exact: true,
                last_possible: None,
                offset: Some(off),
            });
        }
    }

    problems.sort_by_key(|p| {
        (
            p.first_bad_record.unwrap_or(u64::MAX),
            p.last_possible.unwrap_or(0),
            !p.exact,
        )
    });
    VerifyReport {
        records: size,
        root: scan.tree.root(),
        checkpoints_matched,
        anchors_matched,
        covered: last_good,
        signatures_checked: !options.keys.is_empty(),
        torn_tail_at,
        problems,
    }
}

/// Checks one checkpoint against the scanned records; `last_good` is the largest size known to
/// match, which bounds where the first bad record can be.
fn check_against(
    scan: &LogScan,
    cs: u64,
    root: &Hash,
    last_good: u64,
    anchor: bool,
) -> Option<Problem> {
    match scan.tree.root_at(cs) {
        None => Some(Problem {
            kind: ProblemKind::Truncated {
                checkpoint_size: cs,
                anchor,
            },
            first_bad_record: Some(scan.tree.size()),
            exact: true,
            last_possible: None,
            offset: Some(scan.valid_end),
        }),
        Some(r) if r != *root => {
            let first = if last_good < cs { last_good } else { 0 };
            let last = cs - 1;
            Some(Problem {
                kind: ProblemKind::RootMismatch {
                    checkpoint_size: cs,
                    anchor,
                },
                first_bad_record: Some(first),
                exact: first == last,
                last_possible: Some(last),
                offset: scan.offsets.get(first as usize).copied(),
            })
        }
        Some(_) => None,
    }
}
