//! Signed checkpoints: the tree size, root hash and time of the log, in the
//! [tlog-checkpoint](https://c2sp.org/tlog-checkpoint) body format, signed as a
//! [signed note](https://c2sp.org/signed-note) with Ed25519.
//!
//! A checkpoint only protects against truncation and rollback once a copy leaves the writer's
//! trust domain: publish it (an ATNA repository, another store, witnesses) and keep the
//! verifier key elsewhere.
//!
//! ```text
//! audit.example.org/log1
//! 4
//! 3dJhAyMXXHNGMnZ8IrLRw0LJ6SSRvYuF8zGiqqvNtEM=
//! time 2026-11-28T12:00:00Z
//!
//! — audit.example.org/log1 Az3grlP2...
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use ring::rand::SecureRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

use crate::merkle::Hash;

/// The largest signed note accepted by [`SignedCheckpoint::parse`].
pub const MAX_NOTE_LEN: usize = 16 * 1024;
const MAX_SIGNATURES: usize = 32;
const ED25519_ALG: u8 = 0x01;
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a checkpoint or key could not be parsed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note or checkpoint body is malformed; the text says where.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// A key string (`vkey`/`skey`) is malformed.
    #[error("malformed key: {0}")]
    BadKey(&'static str),
    /// A signature by a known key failed to verify.
    #[error("signature by known key {0:?} does not verify")]
    BadSignature(String),
    /// No signature from any known key is present.
    #[error("no signature from a known key")]
    NoKnownSignature,
    /// The checkpoint is of another log: its origin line is not the one expected.
    #[error("checkpoint is of log {found:?}, not {expected:?}")]
    WrongOrigin {
        /// The origin the checkpoint was checked against.
        expected: String,
        /// The origin line it carries.
        found: String,
    },
}

/// A log's state at one moment: what is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `audit.example.org/log1`. One line, no control characters.
    pub origin: String,
    /// The number of records in the tree.
    pub size: u64,
    /// The RFC 9162 root hash of those records.
    pub root: Hash,
    /// When the checkpoint was made (an extension line `time <RFC 3339>`).
    pub time: Option<DateTime<Utc>>,
}

impl Checkpoint {
    /// The checkpoint body: origin, size, base64 root, then the time extension line.
    pub fn body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        if let Some(t) = self.time {
            s.push_str("time ");
            s.push_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true));
            s.push('\n');
        }
        s
    }

    /// Requires the origin line to be `expected`. A key may sign for several logs, so a valid
    /// signature alone does not say which log a checkpoint is of (tlog-checkpoint: the origin
    /// is checked against the log the verifier expects).
    pub fn check_origin(&self, expected: &str) -> Result<(), CheckpointError> {
        if self.origin == expected {
            Ok(())
        } else {
            Err(CheckpointError::WrongOrigin {
                expected: expected.to_owned(),
                found: self.origin.clone(),
            })
        }
    }

    /// Parses a checkpoint body (the text of a note, signatures removed).
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let mut lines = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Malformed("body must end in a newline"))?
            .split('\n');
        let origin = lines
            .next()
            .filter(|o| valid_origin(o))
            .ok_or(CheckpointError::Malformed("origin"))?;
        let size_s = lines
            .next()
            .ok_or(CheckpointError::Malformed("missing size"))?;
        if size_s.is_empty()
            || !size_s.bytes().all(|b| b.is_ascii_digit())
            || (size_s.len() > 1 && size_s.starts_with('0'))
        {
            return Err(CheckpointError::Malformed("size"));
        }
        let size = size_s
            .parse()
            .map_err(|_| CheckpointError::Malformed("size"))?;
        let root_b = B64
            .decode(
                lines
                    .next()
                    .ok_or(CheckpointError::Malformed("missing root"))?,
            )
            .map_err(|_| CheckpointError::Malformed("root"))?;
        let root: Hash = root_b
            .try_into()
            .map_err(|_| CheckpointError::Malformed("root is not 32 bytes"))?;
        let mut time = None;
        for ext in lines {
            if ext.is_empty() {
                return Err(CheckpointError::Malformed("empty extension line"));
            }
            if let Some(t) = ext.strip_prefix("time ") {
                let t = DateTime::parse_from_rfc3339(t)
                    .map_err(|_| CheckpointError::Malformed("time"))?;
                time = Some(t.with_timezone(&Utc));
            }
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            time,
        })
    }
}

fn valid_origin(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && !s.chars().any(|c| c.is_control())
}

fn valid_key_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

fn key_id(name: &str, public_key: &[u8]) -> [u8; 4] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(&[0x0A, ED25519_ALG]);
    ctx.update(public_key);
    let d = ctx.finish();
    [d.as_ref()[0], d.as_ref()[1], d.as_ref()[2], d.as_ref()[3]]
}

/// A checkpoint with its signed-note text: what a log publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    note: String,
}

impl SignedCheckpoint {
    /// The complete signed note (body, blank line, signature lines).
    pub fn note(&self) -> &str {
        &self.note
    }

    /// Parses a signed note without checking signatures; use [`verify`](Self::verify) before
    /// trusting it.
    pub fn parse(note: &str) -> Result<Self, CheckpointError> {
        if note.len() > MAX_NOTE_LEN {
            return Err(CheckpointError::Malformed("note too large"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or(CheckpointError::Malformed("no signature block"))?;
        let body = &note[..split + 1];
        let sigs = &note[split + 2..];
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(CheckpointError::Malformed("signature block"));
        }
        for line in sigs[..sigs.len() - 1].split('\n') {
            parse_sig_line(line)?;
        }
        Ok(Self {
            checkpoint: Checkpoint::parse_body(body)?,
            note: note.to_owned(),
        })
    }

    /// Verifies the note per signed-note: signatures by unknown keys are ignored, any failing
    /// signature by a known key rejects the note, and at least one known key must sign.
    pub fn verify(&self, keys: &[NoteVerifier]) -> Result<(), CheckpointError> {
        let split = self
            .note
            .rfind("\n\n")
            .ok_or(CheckpointError::Malformed("no signature block"))?;
        let body = &self.note[..split + 1];
        let mut verified = false;
        for line in self.note[split + 2..].lines().take(MAX_SIGNATURES + 1) {
            let (name, id, sig) = parse_sig_line(line)?;
            for key in keys.iter().filter(|k| k.name == name && k.id == id) {
                UnparsedPublicKey::new(&signature::ED25519, &key.public_key)
                    .verify(body.as_bytes(), &sig)
                    .map_err(|_| CheckpointError::BadSignature(key.name.clone()))?;
                verified = true;
            }
        }
        if verified {
            Ok(())
        } else {
            Err(CheckpointError::NoKnownSignature)
        }
    }
}

fn parse_sig_line(line: &str) -> Result<(&str, [u8; 4], Vec<u8>), CheckpointError> {
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or(CheckpointError::Malformed("signature line"))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or(CheckpointError::Malformed("signature line"))?;
    let raw = B64
        .decode(b64)
        .map_err(|_| CheckpointError::Malformed("signature base64"))?;
    if !valid_key_name(name) || raw.len() < 5 {
        return Err(CheckpointError::Malformed("signature line"));
    }
    Ok((name, [raw[0], raw[1], raw[2], raw[3]], raw[4..].to_vec()))
}

/// An Ed25519 note signer: the log's checkpoint key.
///
/// Keys are exchanged in the Go `note` package's text forms: `PRIVATE+KEY+<name>+<id>+<base64>`
/// for the signer (keep it secret, e.g. a file only the server can read) and
/// `<name>+<id>+<base64>` for the verifier key that auditors hold.
pub struct NoteSigner {
    name: String,
    id: [u8; 4],
    key_pair: Ed25519KeyPair,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// Generates a new key named `name` and returns it in `skey` form (see
    /// [`from_skey`](Self::from_skey)). Randomness comes from the caller.
    pub fn generate_skey(name: &str, rng: &dyn SecureRandom) -> Result<String, CheckpointError> {
        if !valid_key_name(name) {
            return Err(CheckpointError::BadKey("key name"));
        }
        let mut seed = [0u8; 32];
        rng.fill(&mut seed)
            .map_err(|_| CheckpointError::BadKey("randomness unavailable"))?;
        let signer = Self::from_seed(name, &seed)?;
        let mut raw = vec![ED25519_ALG];
        raw.extend_from_slice(&seed);
        Ok(format!(
            "PRIVATE+KEY+{}+{}+{}",
            name,
            hex8(signer.id),
            B64.encode(raw)
        ))
    }

    /// Reads a signer from its `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>` form.
    pub fn from_skey(skey: &str) -> Result<Self, CheckpointError> {
        let rest = skey
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(CheckpointError::BadKey("skey prefix"))?;
        let mut parts = rest.splitn(3, '+');
        let (name, id, b64) = (parts.next(), parts.next(), parts.next());
        let (Some(b64), Some(id), Some(name)) = (b64, id, name) else {
            return Err(CheckpointError::BadKey("skey fields"));
        };
        let raw = B64
            .decode(b64)
            .map_err(|_| CheckpointError::BadKey("skey base64"))?;
        if raw.len() != 33 || raw[0] != ED25519_ALG {
            return Err(CheckpointError::BadKey("not an Ed25519 key"));
        }
        let signer = Self::from_seed(name, raw[1..].try_into().expect("32 bytes"))?;
        if hex8(signer.id) != id {
            return Err(CheckpointError::BadKey("key id does not match"));
        }
        Ok(signer)
    }

    /// A signer from a raw 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, CheckpointError> {
        if !valid_key_name(name) {
            return Err(CheckpointError::BadKey("key name"));
        }
        let key_pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| CheckpointError::BadKey("seed"))?;
        let id = key_id(name, key_pair.public_key().as_ref());
        Ok(Self {
            name: name.to_owned(),
            id,
            key_pair,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            public_key: self.key_pair.public_key().as_ref().to_vec(),
        }
    }

    /// Signs a checkpoint.
    pub fn sign(&self, checkpoint: &Checkpoint) -> Result<SignedCheckpoint, CheckpointError> {
        if !valid_origin(&checkpoint.origin) {
            return Err(CheckpointError::Malformed("origin"));
        }
        let body = checkpoint.body();
        let sig = self.key_pair.sign(body.as_bytes());
        let mut raw = self.id.to_vec();
        raw.extend_from_slice(sig.as_ref());
        let note = format!("{body}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(raw));
        Ok(SignedCheckpoint {
            checkpoint: checkpoint.clone(),
            note,
        })
    }
}

/// An Ed25519 note verifier key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    public_key: Vec<u8>,
}

impl NoteVerifier {
    /// Reads a verifier key in `<name>+<id>+<base64(0x01 || public key)>` form.
    pub fn from_vkey(vkey: &str) -> Result<Self, CheckpointError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (name, id, b64) = (parts.next(), parts.next(), parts.next());
        let (Some(b64), Some(id), Some(name)) = (b64, id, name) else {
            return Err(CheckpointError::BadKey("vkey fields"));
        };
        let raw = B64
            .decode(b64)
            .map_err(|_| CheckpointError::BadKey("vkey base64"))?;
        if raw.len() != 33 || raw[0] != ED25519_ALG || !valid_key_name(name) {
            return Err(CheckpointError::BadKey("not an Ed25519 verifier key"));
        }
        let public_key = raw[1..].to_vec();
        let computed = key_id(name, &public_key);
        if hex8(computed) != id {
            return Err(CheckpointError::BadKey("key id does not match"));
        }
        Ok(Self {
            name: name.to_owned(),
            id: computed,
            public_key,
        })
    }

    /// The key in `vkey` form, for auditors.
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![ED25519_ALG];
        raw.extend_from_slice(&self.public_key);
        format!("{}+{}+{}", self.name, hex8(self.id), B64.encode(raw))
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn hex8(id: [u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str, seed: u8) -> NoteSigner {
        NoteSigner::from_seed(name, &[seed; 32]).unwrap()
    }

    fn cp() -> Checkpoint {
        Checkpoint {
            origin: "audit.example.org/log1".into(),
            size: 42,
            root: [7; 32],
            time: Some(
                DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
                    .unwrap()
                    .into(),
            ),
        }
    }

    #[test]
    fn sign_parse_verify_round_trip() {
        let s = signer("audit.example.org/log1", 1);
        let signed = s.sign(&cp()).unwrap();
        assert!(signed.note().starts_with("audit.example.org/log1\n42\n"));
        assert!(signed
            .note()
            .contains("\ntime 2026-11-28T12:00:00Z\n\n\u{2014} audit.example.org/log1 "));
        let parsed = SignedCheckpoint::parse(signed.note()).unwrap();
        assert_eq!(parsed.checkpoint, cp());
        parsed.verify(&[s.verifier()]).unwrap();
    }

    #[test]
    fn unknown_keys_are_ignored_and_a_known_key_is_required() {
        let s = signer("log", 1);
        let other = signer("other", 2);
        let signed = s.sign(&cp()).unwrap();
        assert_eq!(
            signed.verify(&[other.verifier()]),
            Err(CheckpointError::NoKnownSignature)
        );
        signed.verify(&[other.verifier(), s.verifier()]).unwrap();
        // Same name, different key: the id differs, so it counts as unknown.
        assert_eq!(
            signed.verify(&[signer("log", 3).verifier()]),
            Err(CheckpointError::NoKnownSignature)
        );
    }

    #[test]
    fn any_change_to_the_body_breaks_the_signature() {
        let s = signer("log", 1);
        let note = s.sign(&cp()).unwrap().note().replace("\n42\n", "\n43\n");
        let parsed = SignedCheckpoint::parse(&note).unwrap();
        assert_eq!(parsed.checkpoint.size, 43);
        assert!(matches!(
            parsed.verify(&[s.verifier()]),
            Err(CheckpointError::BadSignature(_))
        ));
    }

    #[test]
    fn key_strings_round_trip() {
        let rng = ring::rand::SystemRandom::new();
        let skey = NoteSigner::generate_skey("audit.example.org", &rng).unwrap();
        let s = NoteSigner::from_skey(&skey).unwrap();
        let vkey = s.verifier().to_vkey();
        assert!(vkey.starts_with("audit.example.org+"));
        assert_eq!(NoteVerifier::from_vkey(&vkey).unwrap(), s.verifier());
        // A different last character (a random key ends in '0' one time in 64).
        let last = if vkey.ends_with('0') { '1' } else { '0' };
        let tampered = format!("{}{last}", &vkey[..vkey.len() - 1]);
        assert!(NoteVerifier::from_vkey(&tampered).is_err());
        assert!(NoteSigner::from_skey("PRIVATE+KEY+x+00000000+AA==").is_err());
    }

    #[test]
    fn malformed_bodies_are_rejected() {
        for body in [
            "",
            "o\n",
            "o\n01\nAAAA\n",
            "o\n1\nAAAA\n",
            "o\n-1\n",
            "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
        ] {
            assert!(Checkpoint::parse_body(body).is_err(), "{body:?}");
        }
        assert!(SignedCheckpoint::parse("o\n1\nAAAA\n").is_err());
    }
}
