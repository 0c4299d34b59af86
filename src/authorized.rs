//! [`Authorized`]: a request the decision allowed, and what the host must still do with it.

use fhir_types::ResourceType;
use smart_auth::decision::{Narrowing, Permit};
use smart_auth::request::FhirRequest;
use smart_auth::AccessContext;

/// A request the decision allowed. It carries:
///
/// - the validated [`AccessContext`] and the classified [`FhirRequest`]: dispatch on the
///   request's type and id, never on a second parse of the URL, so that what was authorized is
///   what runs;
/// - the [`Permit`]: the [`narrowing`](Self::narrowing) the host must add to its queries (every
///   data path: matches, includes, counts, paging, conditional matches), and the checks every
///   returned or overwritten resource must pass;
/// - the facts for the audit record ([`crate::audit`]).
#[derive(Debug, Clone)]
pub struct Authorized {
    context: AccessContext,
    request: FhirRequest,
    permit: Permit,
}

impl Authorized {
    pub(crate) fn new(context: AccessContext, request: FhirRequest, permit: Permit) -> Authorized {
        Authorized {
            context,
            request,
            permit,
        }
    }

    /// What the token proved.
    pub fn context(&self) -> &AccessContext {
        &self.context
    }

    /// The classified request.
    pub fn request(&self) -> &FhirRequest {
        &self.request
    }

    /// The permit: narrowing and result checks.
    pub fn permit(&self) -> &Permit {
        &self.permit
    }

    /// The narrowing to add to the query of the requested type, if results are confined.
    pub fn narrowing(&self) -> Option<&Narrowing> {
        self.permit.narrowing()
    }

    /// The narrowing for another type the request reaches (includes, `$everything`, `_type`):
    /// `None` means unrestricted.
    pub fn narrowing_for(&self, ty: ResourceType) -> Option<Narrowing> {
        self.permit.narrowing_for(ty)
    }

    /// Whether any scope lets the token read resources of `ty` at all (includes of types the
    /// token was never granted are dropped, never returned).
    pub fn may_read_type(&self, ty: ResourceType) -> bool {
        self.permit.may_read(ty)
    }
}
