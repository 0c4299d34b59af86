//! The audit hook: every grant and every refusal of the authorization server is reported here.
//!
//! The example server connects this hook to `fhir-audit`; tests use [`MemoryAudit`]. Events never
//! carry secrets: no passwords, codes, tokens, assertions or client secrets.

use std::sync::Mutex;

use serde::Serialize;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AuthzEventKind {
    /// A user signed in (or failed to).
    Login,
    /// A user signed out.
    Logout,
    /// An authorization request was answered with a code, or refused.
    Authorize,
    /// The token endpoint issued tokens, or refused to.
    Token,
    /// A refresh token was presented twice: the whole grant was revoked.
    RefreshReuse,
    /// A token was revoked (RFC 7009), or a revocation request was refused.
    Revocation,
    /// A token was introspected (RFC 7662), or an introspection request was refused.
    Introspection,
    /// A client registered dynamically (RFC 7591), or was refused.
    Registration,
    /// An EHR launch context was created.
    Launch,
    /// The signing key was rotated.
    KeyRotation,
}

/// One audited action of the authorization server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AuthzEvent {
    /// When it happened, in seconds since the Unix epoch.
    pub at: i64,
    /// What happened.
    pub kind: AuthzEventKind,
    /// Whether the action succeeded.
    pub success: bool,
    /// The OAuth client involved, when known.
    pub client_id: Option<String>,
    /// The user involved: the demo user's login name (the `sub` of their tokens), when known.
    pub user: Option<String>,
    /// Who issued that name: this server's issuer URL (the `iss` of the user's tokens), set
    /// whenever a user is named.
    pub issuer: Option<String>,
    /// The user's FHIR resource (`fhirUser`) as an absolute URL, as in their tokens, when known.
    pub fhir_user: Option<String>,
    /// The patient in context, when there is one.
    pub patient: Option<String>,
    /// The OAuth grant type, for token events.
    pub grant_type: Option<String>,
    /// The scope granted (on success) or requested (on failure).
    pub scope: Option<String>,
    /// On failure: the OAuth error code or a stable reason (e.g. `invalid_grant`, `bad_password`).
    pub reason: Option<String>,
}

impl AuthzEvent {
    pub(crate) fn new(at: i64, kind: AuthzEventKind, success: bool) -> Self {
        Self {
            at,
            kind,
            success,
            client_id: None,
            user: None,
            issuer: None,
            fhir_user: None,
            patient: None,
            grant_type: None,
            scope: None,
            reason: None,
        }
    }
}

/// Receives every [`AuthzEvent`]. Implementations must not block for long: they run on the
/// request path.
pub trait AuthzAudit: Send + Sync + 'static {
    /// Records one event.
    fn record(&self, event: &AuthzEvent);
}

impl<F> AuthzAudit for F
where
    F: Fn(&AuthzEvent) + Send + Sync + 'static,
{
    fn record(&self, event: &AuthzEvent) {
        self(event)
    }
}

/// Keeps events in memory, for tests and for inspection.
#[derive(Debug, Default)]
pub struct MemoryAudit {
    events: Mutex<Vec<AuthzEvent>>,
}

impl MemoryAudit {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every event recorded so far, oldest first.
    pub fn events(&self) -> Vec<AuthzEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl AuthzAudit for MemoryAudit {
    fn record(&self, event: &AuthzEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event.clone());
        }
    }
}

/// Writes each event as one JSON line to standard error.
#[derive(Debug, Default, Clone, Copy)]
pub struct StderrAudit;

impl AuthzAudit for StderrAudit {
    fn record(&self, event: &AuthzEvent) {
        if let Ok(line) = serde_json::to_string(event) {
            eprintln!("authz-audit {line}");
        }
    }
}
