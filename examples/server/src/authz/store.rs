//! In-memory grant state: pending authorization requests, sessions, codes, grants, refresh
//! tokens, issued access tokens, EHR launches and the client-assertion replay cache.
//!
//! Codes and refresh tokens are stored as SHA-256 digests only. Every map is bounded: expired
//! entries are purged on insert, and a full map refuses new entries rather than growing.

use std::collections::HashMap;

use serde_json::Value;

use super::clients::sha256;

/// Upper bound on the entries of any one map.
const MAX_ENTRIES: usize = 100_000;

/// The launch context granted with a token.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GrantContext {
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub fhir_context: Vec<Value>,
    pub need_patient_banner: bool,
}

/// A validated authorization request waiting for sign-in and consent.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub scopes: Vec<String>,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub launch: Option<Launch>,
    pub expires_at: i64,
    /// Set once a user signed in for this request: (session id digest, username).
    pub signed_in: Option<([u8; 32], String)>,
    /// Anti-CSRF value for the login and consent forms.
    pub csrf: String,
}

/// A sign-in session (cookie value stored as its digest).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub username: String,
    pub expires_at: i64,
    pub auth_time: i64,
}

/// An EHR launch: the context an EHR hands to one app.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Launch {
    pub client_id: String,
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub fhir_context: Vec<Value>,
    pub expires_at: i64,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub(crate) struct Code {
    pub grant_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub expires_at: i64,
    pub used: bool,
}

/// One authorization: what a user consented to for one client.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub client_id: String,
    pub username: Option<String>,
    pub fhir_user: Option<String>,
    pub scopes: Vec<String>,
    pub context: GrantContext,
    /// `online_access` grants end with this session.
    pub session: Option<[u8; 32]>,
    pub auth_time: i64,
    pub revoked: bool,
    pub expires_at: i64,
}

/// A refresh token (stored by digest).
#[derive(Debug, Clone)]
pub(crate) struct Refresh {
    pub grant_id: String,
    pub expires_at: i64,
    pub used: bool,
    /// The DPoP key thumbprint the refresh token is bound to (RFC 9449 §5), if any.
    pub jkt: Option<String>,
}

/// An issued access token (by `jti`).
#[derive(Debug, Clone)]
pub(crate) struct Access {
    pub grant_id: Option<String>,
    pub client_id: String,
    pub expires_at: i64,
    pub revoked: bool,
}

/// All of it.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub pending: HashMap<String, Pending>,
    pub sessions: HashMap<[u8; 32], Session>,
    pub launches: HashMap<String, Launch>,
    pub codes: HashMap<[u8; 32], Code>,
    pub grants: HashMap<String, Grant>,
    pub refresh: HashMap<[u8; 32], Refresh>,
    pub access: HashMap<String, Access>,
}

/// A map full even after purging expired entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

fn insert_bounded<K: std::hash::Hash + Eq, V>(
    map: &mut HashMap<K, V>,
    key: K,
    value: V,
    now: i64,
    expires: impl Fn(&V) -> i64,
) -> Result<(), Full> {
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, v| expires(v) > now);
        if map.len() >= MAX_ENTRIES {
            return Err(Full);
        }
    }
    map.insert(key, value);
    Ok(())
}

impl Store {
    pub fn add_pending(&mut self, id: String, p: Pending, now: i64) -> Result<(), Full> {
        insert_bounded(&mut self.pending, id, p, now, |p| p.expires_at)
    }

    pub fn add_session(&mut self, digest: [u8; 32], s: Session, now: i64) -> Result<(), Full> {
        insert_bounded(&mut self.sessions, digest, s, now, |s| s.expires_at)
    }

    pub fn add_launch(&mut self, id: String, l: Launch, now: i64) -> Result<(), Full> {
        insert_bounded(&mut self.launches, id, l, now, |l| l.expires_at)
    }

    pub fn add_code(&mut self, code: &str, c: Code, now: i64) -> Result<(), Full> {
        // used codes are kept until they expire so that a replay is recognised
        insert_bounded(&mut self.codes, sha256(code.as_bytes()), c, now, |c| {
            c.expires_at
        })
    }

    pub fn add_grant(&mut self, id: String, g: Grant, now: i64) -> Result<(), Full> {
        insert_bounded(&mut self.grants, id, g, now, |g| {
            if g.revoked {
                0
            } else {
                g.expires_at
            }
        })
    }

    pub fn add_refresh(&mut self, token: &str, r: Refresh, now: i64) -> Result<(), Full> {
        insert_bounded(&mut self.refresh, sha256(token.as_bytes()), r, now, |r| {
            r.expires_at
        })
    }

    pub fn add_access(&mut self, jti: String, a: Access, now: i64) -> Result<(), Full> {
        insert_bounded(&mut self.access, jti, a, now, |a| a.expires_at)
    }

    /// Revokes a grant and everything issued under it.
    pub fn revoke_grant(&mut self, grant_id: &str) {
        if let Some(g) = self.grants.get_mut(grant_id) {
            g.revoked = true;
        }
        for a in self.access.values_mut() {
            if a.grant_id.as_deref() == Some(grant_id) {
                a.revoked = true;
            }
        }
        self.refresh.retain(|_, r| r.grant_id != grant_id);
    }

    /// The session behind a cookie value, if it is still valid.
    pub fn session(&self, cookie: &str, now: i64) -> Option<([u8; 32], &Session)> {
        let digest = sha256(cookie.as_bytes());
        self.sessions
            .get(&digest)
            .filter(|s| s.expires_at > now)
            .map(|s| (digest, s))
    }

    /// Ends a session and every `online_access` grant bound to it.
    pub fn end_session(&mut self, digest: &[u8; 32]) -> Option<Session> {
        let session = self.sessions.remove(digest)?;
        let bound: Vec<String> = self
            .grants
            .iter()
            .filter(|(_, g)| g.session.as_ref() == Some(digest))
            .map(|(id, _)| id.clone())
            .collect();
        for id in bound {
            self.revoke_grant(&id);
        }
        Some(session)
    }

    /// Whether the access token `jti` is known, unexpired and not revoked.
    pub fn access_active(&self, jti: &str, now: i64) -> bool {
        self.access
            .get(jti)
            .is_some_and(|a| !a.revoked && a.expires_at > now)
    }
}
