//! The development authorization server's events into the same audit trail as the FHIR API:
//! sign-ins, sign-outs, token issuance and every refusal (IHE BALP / ITI-71 style records).

use std::sync::Arc;

use chrono::TimeZone;
use fhir_audit::{AuditRecord, Client, Event, Outcome, SecurityAlert, Severity, User};

use crate::audit_trail::AuditTrail;
use crate::authz::{AuthzAudit, AuthzEvent, AuthzEventKind};

/// Records [`AuthzEvent`]s into an [`AuditTrail`].
pub struct TrailAudit(pub Arc<AuditTrail>);

/// The audit record of one authorization-server event.
pub fn record_of(e: &AuthzEvent) -> AuditRecord {
    let when = chrono::Utc
        .timestamp_opt(e.at, 0)
        .single()
        .unwrap_or_else(chrono::Utc::now);
    let event = match e.kind {
        AuthzEventKind::Login => Event::Login,
        AuthzEventKind::Logout => Event::Logout,
        AuthzEventKind::Token => Event::TokenIssued {
            grant_type: e.grant_type.clone(),
        },
        AuthzEventKind::RefreshReuse => Event::SecurityAlert {
            alert: SecurityAlert::UseOfRestrictedFunction,
            description: Some("refresh token reused: grant revoked".into()),
        },
        AuthzEventKind::KeyRotation => Event::SecurityAlert {
            alert: SecurityAlert::SecurityConfiguration,
            description: Some("signing key rotated".into()),
        },
        AuthzEventKind::Registration => Event::SecurityAlert {
            alert: SecurityAlert::SecurityConfiguration,
            description: Some("client registration".into()),
        },
        _ => Event::Authentication,
    };
    let outcome = if e.success {
        Outcome::Success
    } else {
        let reason = e.reason.clone().unwrap_or_else(|| "refused".into());
        match e.kind {
            AuthzEventKind::Login | AuthzEventKind::Token | AuthzEventKind::Authorize => {
                Outcome::Unauthenticated { reason }
            }
            _ => Outcome::Failed {
                severity: Severity::Minor,
                reason,
                http_status: None,
            },
        }
    };
    let mut r = AuditRecord::new(when, event).outcome(outcome);
    if let Some(u) = &e.user {
        let mut user = User::new(u.clone());
        if let Some(f) = &e.fhir_user {
            user = user.fhir_user(f.clone());
        }
        r = r.user(user);
    }
    if let Some(c) = &e.client_id {
        r = r.client(Client::new(c.clone()));
    }
    if let Some(p) = &e.patient {
        r = r.patient(p.clone());
    }
    r
}

impl AuthzAudit for TrailAudit {
    fn record(&self, event: &AuthzEvent) {
        self.0.record(&record_of(event));
    }
}
