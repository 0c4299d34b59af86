//! Binaries that name a `securityContext` (R4): readable and writable only through the
//! resource it references (smart.md §12.13). A Binary is in no compartment, so the read
//! narrowing can never admit one; the context is fetched here and must pass the caller's own
//! checks for its type, then smart-auth's `*_with_context` checks decide the Binary.

use std::sync::Arc;

use fhir_types::Resource;
use smart_auth::decision::security_context;

use super::PermitAccess;
use crate::fhir::access::Access;
use crate::store::index::resolve_reference;
use crate::store::Tx;

/// What a check on a Binary needs.
pub(super) enum BinaryCheck {
    /// Not a Binary naming a security context: the ordinary checks decide.
    Ordinary,
    /// A Binary naming one, with its context when the caller may read it (else `None`, and
    /// smart-auth then refuses the Binary).
    Context(Option<Arc<Resource>>),
}

impl PermitAccess {
    /// Whether `body` is a Binary naming a security context.
    pub(super) fn names_context(&self, body: &str) -> bool {
        self.parsed
            .parse(body.as_bytes())
            .is_some_and(|r| matches!(&*r, Resource::Binary(b) if b.security_context.is_some()))
    }

    /// The security context of `binary`, if it names one: the current, live version of the
    /// resource its literal reference points at on this server, when the caller may read that
    /// resource (smart-auth checks again that the reference names exactly this resource).
    pub(super) fn binary_context(&self, tx: &Tx<'_>, binary: &Resource) -> BinaryCheck {
        let Resource::Binary(b) = binary else {
            return BinaryCheck::Ordinary;
        };
        if b.security_context.is_none() {
            return BinaryCheck::Ordinary;
        }
        let context = security_context(binary)
            .and_then(|r| resolve_reference(r, tx.base()))
            // A Binary's context is never another Binary: no chain to follow (nor loop).
            .filter(|(rtype, _)| rtype != "Binary")
            .and_then(|(rtype, id)| {
                let body = tx.current(&rtype, &id).ok()??.body?;
                // The caller's own read checks for the context's type (narrowing on the index
                // and the typed check), as if it had asked for it.
                self.may_read(tx, &rtype, &id, &body)
                    .then(|| self.parsed.parse(body.as_bytes()))?
            });
        BinaryCheck::Context(context)
    }
}
