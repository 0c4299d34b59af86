//! Binary resources authorized through `Binary.securityContext` (R4; smart.md §12.13, threats.md
//! §16): a Binary is in no compartment, so a Binary that names a security context is as
//! accessible as that context resource, and nothing else decides it.
//!
//! The checks stay sans-IO: the host asks [`security_context`] which resource to fetch, fetches
//! its current version, and hands it to [`Permit::check_resource_with_context`],
//! [`Permit::allows_with_context`], [`Permit::filter_bundle_with_contexts`] or
//! [`Permit::check_write_with_context`]. Every other check
//! denies such a Binary (fail closed), and so does a context that is missing, is not the one
//! referenced, or is named only by identifier.

use fhir_types::{Resource, ResourceType};

use super::membership::points_to;
use super::Permit;
use crate::scope::Permissions;

/// The literal reference of a Binary's `securityContext`: the resource the host must fetch
/// (its current version) for the `*_with_context` checks. `None` when `resource` is not a
/// Binary or names no context by literal reference (a context named only by identifier
/// cannot be fetched, and such a Binary is always denied).
///
/// ```
/// use fhir_types::json::parse_resource;
/// use smart_auth::decision::security_context;
///
/// let binary = parse_resource(br#"{"resourceType":"Binary","id":"b1","contentType":"application/pdf",
///     "securityContext":{"reference":"DocumentReference/d1"}}"#).unwrap();
/// assert_eq!(security_context(&binary), Some("DocumentReference/d1"));
/// ```
pub fn security_context(resource: &Resource) -> Option<&str> {
    match resource {
        Resource::Binary(b) => b.security_context.as_ref()?.reference.as_ref()?.as_str(),
        _ => None,
    }
}

/// Whether `resource` is a Binary that names a security context in any form: its access is
/// then decided through that context only.
pub(super) fn names_security_context(resource: &Resource) -> bool {
    matches!(resource, Resource::Binary(b) if b.security_context.is_some())
}

impl Permit {
    /// [`allows`](Self::allows) for a resource whose access may be decided by another: a
    /// Binary naming a `securityContext`, with `context` the resource it references. Such a
    /// Binary is visible when a scope granting one of `needed` on Binary reaches `context`
    /// and the token may read `context` itself. Other resources ignore `context`.
    pub fn allows_with_context(
        &self,
        resource: &Resource,
        context: Option<&Resource>,
        needed: Permissions,
    ) -> bool {
        self.allows_context_inner(resource, context, needed, false)
    }

    pub(super) fn allows_context_inner(
        &self,
        resource: &Resource,
        context: Option<&Resource>,
        needed: Permissions,
        write: bool,
    ) -> bool {
        if !names_security_context(resource) {
            return self.allows_inner(resource, needed, write);
        }
        let Some(context) = context else {
            return false;
        };
        // The Binary grant reaches the context (its compartment, for `patient/` scopes), and
        // the context is readable in its own right: reading or writing the Binary discloses
        // what the context protects. A context that is itself such a Binary is never readable.
        self.is_security_context(resource, context)
            && self.allows_reaching(
                &self.type_grants(ResourceType::Binary),
                resource,
                context,
                needed,
                write,
            )
            && self.allows(context, Permissions::READ)
    }

    /// Whether `context` is the resource `binary`'s `securityContext` references.
    pub(super) fn is_security_context(&self, binary: &Resource, context: &Resource) -> bool {
        let (Some(reference), Some(id)) = (security_context(binary), context.id()) else {
            return false;
        };
        points_to(reference, context.resource_type(), id, self.base())
    }
}
