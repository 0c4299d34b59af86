//! The server's signing keys: ES256 (P-256) keys generated with ring, optionally kept in a file,
//! rotated on demand or by age. Retired keys stay in the JWKS until tokens they signed expire.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::clients::sha256;

/// How many keys the JWKS keeps (the active one plus retired ones still verifying tokens).
const MAX_KEYS: usize = 3;

/// Why keys could not be loaded, generated or saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be read or written.
    Io,
    /// The key file is not a key file of this server.
    Malformed,
    /// ring refused to generate or load a key.
    Crypto,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Io => "key file could not be read or written",
            Self::Malformed => "key file is malformed",
            Self::Crypto => "key generation or loading failed",
        })
    }
}

impl std::error::Error for KeyError {}

struct Key {
    kid: String,
    pkcs8: Vec<u8>,
    pair: EcdsaKeyPair,
    created_at: i64,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    alg: String,
    created_at: i64,
    pkcs8: String,
}

#[derive(Serialize, Deserialize)]
struct StoredKeys {
    keys: Vec<StoredKey>,
}

/// The signing key set; the last key is the active one.
pub struct SigningKeys {
    keys: Vec<Key>,
    file: Option<PathBuf>,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field(
                "kids",
                &self.keys.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .field("file", &self.file)
            .finish()
    }
}

impl SigningKeys {
    /// One freshly generated key, kept only in memory.
    pub fn generate(now: i64) -> Result<Self, KeyError> {
        let mut keys = Self {
            keys: Vec::new(),
            file: None,
            rng: SystemRandom::new(),
        };
        keys.push_new(now)?;
        Ok(keys)
    }

    /// Loads the keys from `path`, or generates one and writes the file (mode 0600) when it does
    /// not exist. Rotations are written back to the same file.
    pub fn load_or_create(path: &Path, now: i64) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|_| KeyError::Io)?;
            let stored: StoredKeys =
                serde_json::from_str(&text).map_err(|_| KeyError::Malformed)?;
            let mut keys = Vec::new();
            for k in stored.keys {
                if k.alg != "ES256" {
                    return Err(KeyError::Malformed);
                }
                let pkcs8 = B64.decode(k.pkcs8).map_err(|_| KeyError::Malformed)?;
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &pkcs8,
                    &rng,
                )
                .map_err(|_| KeyError::Crypto)?;
                keys.push(Key {
                    kid: thumbprint(&pair),
                    pkcs8,
                    pair,
                    created_at: k.created_at,
                });
            }
            if keys.is_empty() {
                return Err(KeyError::Malformed);
            }
            Ok(Self {
                keys,
                file: Some(path.to_owned()),
                rng,
            })
        } else {
            let mut keys = Self::generate(now)?;
            keys.file = Some(path.to_owned());
            keys.save()?;
            Ok(keys)
        }
    }

    /// Generates a new active key; the previous ones keep verifying until they fall out of the
    /// set (the set holds three keys). Returns the new key id.
    pub fn rotate(&mut self, now: i64) -> Result<String, KeyError> {
        self.push_new(now)?;
        self.save()?;
        Ok(self.active().kid.clone())
    }

    /// The key id (`kid`, the RFC 7638 thumbprint) of the active key.
    pub fn active_kid(&self) -> &str {
        &self.active().kid
    }

    /// When the active key was created.
    pub fn active_created_at(&self) -> i64 {
        self.active().created_at
    }

    /// The public JWK Set: `{"keys": [...]}`, public members only.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.keys.iter().rev().map(public_jwk).collect();
        json!({ "keys": keys })
    }

    /// Signs a JWT whose header gets `alg`, `kid` and the given `typ`.
    pub(crate) fn sign_jwt(&self, typ: &str, claims: &Value) -> Result<String, KeyError> {
        let key = self.active();
        let header = json!({ "alg": "ES256", "typ": typ, "kid": key.kid });
        let mut input = B64.encode(header.to_string());
        input.push('.');
        input.push_str(&B64.encode(claims.to_string()));
        let sig = key
            .pair
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| KeyError::Crypto)?;
        input.push('.');
        input.push_str(&B64.encode(sig.as_ref()));
        Ok(input)
    }

    /// Verifies a JWT signed by one of these keys and returns its header `typ` and claims.
    /// Only checks the signature and structure; the caller checks claims.
    pub(crate) fn verify_jwt(&self, token: &str) -> Option<(String, Value)> {
        if token.len() > 8192 {
            return None;
        }
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&B64.decode(h).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "ES256" {
            return None;
        }
        let kid = header.get("kid")?.as_str()?;
        let key = self.keys.iter().find(|k| k.kid == kid)?;
        let sig = B64.decode(s).ok()?;
        let public = signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            key.pair.public_key().as_ref(),
        );
        let input_len = h.len() + 1 + c.len();
        public.verify(&token.as_bytes()[..input_len], &sig).ok()?;
        let claims: Value = serde_json::from_slice(&B64.decode(c).ok()?).ok()?;
        let typ = header.get("typ")?.as_str()?.to_owned();
        claims.is_object().then_some((typ, claims))
    }

    fn active(&self) -> &Key {
        // never empty: every constructor pushes a key and nothing removes the last one
        &self.keys[self.keys.len() - 1]
    }

    fn push_new(&mut self, now: i64) -> Result<(), KeyError> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &self.rng)
                .map_err(|_| KeyError::Crypto)?;
        let pkcs8 = doc.as_ref().to_vec();
        let pair = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &self.rng,
        )
        .map_err(|_| KeyError::Crypto)?;
        self.keys.push(Key {
            kid: thumbprint(&pair),
            pkcs8,
            pair,
            created_at: now,
        });
        if self.keys.len() > MAX_KEYS {
            self.keys.remove(0);
        }
        Ok(())
    }

    fn save(&self) -> Result<(), KeyError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let stored = StoredKeys {
            keys: self
                .keys
                .iter()
                .map(|k| StoredKey {
                    kid: k.kid.clone(),
                    alg: "ES256".into(),
                    created_at: k.created_at,
                    pkcs8: B64.encode(&k.pkcs8),
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&stored).map_err(|_| KeyError::Io)?;
        write_private(path, text.as_bytes())
    }
}

fn coordinates(pair: &EcdsaKeyPair) -> (String, String) {
    // uncompressed point: 0x04 || x (32) || y (32)
    let point = pair.public_key().as_ref();
    (B64.encode(&point[1..33]), B64.encode(&point[33..65]))
}

/// RFC 7638 JWK thumbprint (SHA-256) of the public key.
fn thumbprint(pair: &EcdsaKeyPair) -> String {
    let (x, y) = coordinates(pair);
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    B64.encode(sha256(canonical.as_bytes()))
}

fn public_jwk(key: &Key) -> Value {
    let (x, y) = coordinates(&key.pair);
    json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": key.kid, "use": "sig", "alg": "ES256" })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|_| KeyError::Io)?;
    file.write_all(bytes).map_err(|_| KeyError::Io)
}
