//! Authorization-server events as `fhir-audit` records, so that the example server writes them
//! to the same tamper-evident log (and AuditEvents) as every FHIR request.

use chrono::{DateTime, Utc};
use fhir_audit::{AuditRecord, Client, Event, Outcome, SecurityAlert, User};

use super::audit::{AuthzEvent, AuthzEventKind};

impl AuthzEvent {
    /// This event as a `fhir-audit` record: sign-in and sign-out as `Login`/`Logout`, token
    /// issuance as `TokenIssued` (ITI-71), authorization decisions, introspection and EHR
    /// launches as `Authentication`, refresh-token reuse as a security alert (use of a restricted
    /// function), registration and key rotation as security-configuration alerts, revocation as
    /// a change of security attributes. Refusals carry the OAuth error as their reason; failed
    /// sign-ins and client authentication are `Unauthenticated`, the rest `Denied`.
    pub fn to_audit_record(&self) -> AuditRecord {
        let recorded: DateTime<Utc> = DateTime::from_timestamp(self.at, 0).unwrap_or_default();
        let alert = |alert, description: &str| Event::SecurityAlert {
            alert,
            description: Some(description.to_owned()),
        };
        let (event, description) = match self.kind {
            AuthzEventKind::Login => (Event::Login, None),
            AuthzEventKind::Logout => (Event::Logout, None),
            AuthzEventKind::Token => (
                Event::TokenIssued {
                    grant_type: self.grant_type.clone(),
                },
                None,
            ),
            AuthzEventKind::Authorize => (Event::Authentication, Some("authorization request")),
            AuthzEventKind::Introspection => (Event::Authentication, Some("token introspection")),
            AuthzEventKind::Launch => (Event::Authentication, Some("EHR launch")),
            AuthzEventKind::RefreshReuse => (
                alert(
                    SecurityAlert::UseOfRestrictedFunction,
                    "refresh token reused: grant revoked",
                ),
                None,
            ),
            AuthzEventKind::Revocation => (
                alert(
                    SecurityAlert::UserSecurityAttributesChanged,
                    "token revocation",
                ),
                None,
            ),
            AuthzEventKind::Registration => (
                alert(SecurityAlert::SecurityConfiguration, "client registration"),
                None,
            ),
            AuthzEventKind::KeyRotation => (
                alert(SecurityAlert::SecurityConfiguration, "signing key rotated"),
                None,
            ),
        };
        let mut record = AuditRecord::new(recorded, event);
        if !self.success {
            let reason = self.reason.clone().unwrap_or_else(|| "refused".into());
            let unauthenticated =
                matches!(self.kind, AuthzEventKind::Login) || reason == "invalid_client";
            record = record.outcome(if unauthenticated {
                Outcome::Unauthenticated { reason }
            } else {
                Outcome::Denied { reason }
            });
        }
        if let Some(username) = &self.user {
            let mut user = User::new(username.clone());
            if let Some(issuer) = &self.issuer {
                user = user.issuer(issuer.clone());
            }
            if let Some(fhir_user) = &self.fhir_user {
                user = user.fhir_user(fhir_user.clone());
            }
            record = record.user(user);
        }
        if let Some(client_id) = &self.client_id {
            record = record.client(Client::new(client_id.clone()));
        }
        if let Some(patient) = &self.patient {
            record = record.patient(patient.clone());
        }
        let text: Vec<String> = description
            .map(str::to_owned)
            .into_iter()
            .chain(self.scope.as_ref().map(|s| format!("scope: {s}")))
            .collect();
        if !text.is_empty() {
            record = record.query_description(text.join("; "));
        }
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_refusal_becomes_a_denied_token_record() {
        let mut event = AuthzEvent::new(1_800_000_000, AuthzEventKind::Token, false);
        event.client_id = Some("app".into());
        event.grant_type = Some("refresh_token".into());
        event.reason = Some("invalid_grant".into());
        let record = event.to_audit_record();
        assert_eq!(
            record.event,
            Event::TokenIssued {
                grant_type: Some("refresh_token".into())
            }
        );
        assert_eq!(
            record.outcome,
            Outcome::Denied {
                reason: "invalid_grant".into()
            }
        );
        assert_eq!(record.client.unwrap().client_id.as_deref(), Some("app"));
        assert_eq!(record.recorded.timestamp(), 1_800_000_000);
    }

    #[test]
    fn failed_login_is_unauthenticated_with_the_user() {
        let mut event = AuthzEvent::new(1_800_000_000, AuthzEventKind::Login, false);
        event.user = Some("patient".into());
        event.reason = Some("bad_credentials".into());
        let record = event.to_audit_record();
        assert_eq!(record.event, Event::Login);
        assert_eq!(
            record.outcome,
            Outcome::Unauthenticated {
                reason: "bad_credentials".into()
            }
        );
        assert_eq!(record.user.unwrap().id, "patient");
    }

    #[test]
    fn granted_token_keeps_patient_and_scope() {
        let mut event = AuthzEvent::new(1_800_000_000, AuthzEventKind::Token, true);
        event.patient = Some("example".into());
        event.scope = Some("patient/*.rs".into());
        event.fhir_user = Some("Patient/example".into());
        event.user = Some("patient".into());
        let record = event.to_audit_record();
        assert!(record.outcome.is_success());
        assert_eq!(record.patients, vec!["example".to_owned()]);
        assert_eq!(
            record.query_description.as_deref(),
            Some("scope: patient/*.rs")
        );
        assert_eq!(
            record.user.unwrap().fhir_user.as_deref(),
            Some("Patient/example")
        );
    }
}
