//! Where a history's `next` link continues (a [`SeqWindow`]), sealed for the link.
//!
//! The window is made of write sequence numbers of the whole server: in the clear, their gaps
//! would count the writes to resources the caller may not see (other patients' activity). So
//! a cursor is sealed (ChaCha20-Poly1305 under a key drawn when the server starts, the nonce
//! derived from the window, so one window always has one cursor): it tells a client nothing,
//! and one it altered is refused. Cursors do not outlive the server process.

use std::sync::OnceLock;

use base64::Engine;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::store::SeqWindow;

/// The sealing key and the key deriving each cursor's nonce.
struct Keys {
    seal: LessSafeKey,
    nonce: hmac::Key,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut bytes = [0u8; 64];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system random source works");
        let (seal, nonce) = bytes.split_at(32);
        Keys {
            seal: LessSafeKey::new(
                UnboundKey::new(&CHACHA20_POLY1305, seal).expect("a 32-byte key"),
            ),
            nonce: hmac::Key::new(hmac::HMAC_SHA256, nonce),
        }
    })
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `window` as an opaque cursor.
pub fn seal(window: SeqWindow) -> String {
    let mut plain = Vec::with_capacity(16 + NONCE_LEN + aead::MAX_TAG_LEN);
    plain.extend_from_slice(&window.newest.to_be_bytes());
    plain.extend_from_slice(&window.older_than.unwrap_or(-1).to_be_bytes());
    let keys = keys();
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&hmac::sign(&keys.nonce, &plain).as_ref()[..NONCE_LEN]);
    keys.seal
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut plain,
        )
        .expect("sealing 16 bytes");
    let mut out = nonce.to_vec();
    out.append(&mut plain);
    B64.encode(out)
}

/// The window a cursor [`seal`] made; `None` for anything else.
pub fn open(cursor: &str) -> Option<SeqWindow> {
    let mut bytes = B64.decode(cursor).ok()?;
    if bytes.len() != NONCE_LEN + 16 + CHACHA20_POLY1305.tag_len() {
        return None;
    }
    let mut sealed = bytes.split_off(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
    let plain = keys()
        .seal
        .open_in_place(nonce, Aad::empty(), &mut sealed)
        .ok()?;
    let number = |at: usize| i64::from_be_bytes(plain[at..at + 8].try_into().expect("8 bytes"));
    let older = number(8);
    Some(SeqWindow {
        newest: number(0),
        older_than: (older >= 0).then_some(older),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_to_its_window_and_tells_nothing_else() {
        for window in [
            SeqWindow {
                newest: 41,
                older_than: Some(37),
            },
            SeqWindow {
                newest: 0,
                older_than: None,
            },
        ] {
            let cursor = seal(window);
            assert_eq!(open(&cursor), Some(window));
            assert_eq!(seal(window), cursor, "one window, one cursor");
        }
        let other = seal(SeqWindow {
            newest: 42,
            older_than: Some(37),
        });
        assert_ne!(
            other,
            seal(SeqWindow {
                newest: 41,
                older_than: Some(37)
            })
        );
    }

    #[test]
    fn altered_or_foreign_cursors_are_refused() {
        let cursor = seal(SeqWindow {
            newest: 41,
            older_than: Some(37),
        });
        let mut bytes = B64.decode(&cursor).unwrap();
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            assert_eq!(open(&B64.encode(&bytes)), None, "byte {i}");
            bytes[i] ^= 1;
        }
        for foreign in ["", "41.37", "41", &cursor[1..], &format!("{cursor}A")] {
            assert_eq!(open(foreign), None, "{foreign}");
        }
    }
}
