//! The development authorization server's events into the same audit trail as the FHIR API:
//! sign-ins, sign-outs, token issuance and every refusal (mapped by
//! [`AuthzEvent::to_audit_record`]).

use std::sync::Arc;

use crate::audit_trail::AuditTrail;
use crate::authz::{AuthzAudit, AuthzEvent};

/// Records [`AuthzEvent`]s into an [`AuditTrail`].
pub struct TrailAudit(pub Arc<AuditTrail>);

impl AuthzAudit for TrailAudit {
    fn record(&self, event: &AuthzEvent) {
        self.0.record(event.to_audit_record());
    }
}
