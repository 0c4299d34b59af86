//! [`Authorized`]: a request the decision allowed, and what the host must still do with it.

use std::sync::Arc;

use fhir_types::resources::{Bundle, BundleEntry};
use fhir_types::{Resource, ResourceType};
use smart_auth::decision::{FilterReport, Narrowing, Permit};
use smart_auth::request::FhirRequest;
use smart_auth::AccessContext;

use crate::rejection::Rejection;

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
    pub(crate) context: Arc<AccessContext>,
    request: FhirRequest,
    permit: Permit,
    realm: String,
}

impl Authorized {
    pub(crate) fn new(
        context: Arc<AccessContext>,
        request: FhirRequest,
        permit: Permit,
        realm: &str,
    ) -> Authorized {
        Authorized {
            context,
            request,
            permit,
            realm: realm.to_owned(),
        }
    }

    /// Checks a fetched resource before it is returned (read, vread, each version of an
    /// instance history, an operation's result) or overwritten (the stored version of an update,
    /// patch or delete). `Err` is the byte-identical "not found" (or, for writes, the 403).
    ///
    /// For a vread or an instance history, check the **current** version too (not found if it
    /// fails, smart.md §12.9): an old version may still name the caller's patient after the
    /// resource moved to another's compartment.
    pub fn check_resource(&self, resource: &Resource) -> Result<(), Rejection> {
        self.permit
            .check_resource(resource)
            .map_err(|d| Rejection::from_denial(&d, &self.realm))
    }

    /// [`check_resource`](Self::check_resource) for a Binary that names a `securityContext`:
    /// `context` is the current version of the resource it references
    /// ([`smart_auth::decision::security_context`] names it), whose access decides the
    /// Binary's. [`check_resource`](Self::check_resource) alone never returns such a Binary.
    pub fn check_resource_with_context(
        &self,
        resource: &Resource,
        context: Option<&Resource>,
    ) -> Result<(), Rejection> {
        self.permit
            .check_resource_with_context(resource, context)
            .map_err(|d| Rejection::from_denial(&d, &self.realm))
    }

    /// Checks a write: `new` is the content to store (for a patch, the patched result), `stored`
    /// the current version. Both must be inside the grant, so that nothing is created in, moved
    /// into or taken out of another compartment.
    pub fn check_write(
        &self,
        new: Option<&Resource>,
        stored: Option<&Resource>,
    ) -> Result<(), Rejection> {
        self.permit
            .check_write(new, stored)
            .map_err(|d| Rejection::from_denial(&d, &self.realm))
    }

    /// [`check_write`](Self::check_write) with each version paired with the resource its
    /// `securityContext` references (for a Binary that names one; `None` otherwise): a write
    /// may not point a Binary at a resource the token cannot read.
    pub fn check_write_with_context(
        &self,
        new: Option<(&Resource, Option<&Resource>)>,
        stored: Option<(&Resource, Option<&Resource>)>,
    ) -> Result<(), Rejection> {
        self.permit
            .check_write_with_context(new, stored)
            .map_err(|d| Rejection::from_denial(&d, &self.realm))
    }

    /// Whether a resource reached by this request beyond its primary results (an include, a
    /// member of `$everything`) may be returned: its own type granted `r` or `s` (`s` for a
    /// member of `$everything`, which lists the record), and inside that grant's compartment
    /// and constraints ([`Permit::may_return`](smart_auth::decision::Permit::may_return)).
    pub fn may_return(&self, resource: &Resource) -> bool {
        self.permit.may_return(resource, None)
    }

    /// [`may_return`](Self::may_return) for a Binary that names a `securityContext`, with
    /// `context` the resource it references.
    pub fn may_return_with_context(&self, resource: &Resource, context: Option<&Resource>) -> bool {
        self.permit.may_return(resource, context)
    }

    /// Filters a result Bundle in place (search, history, `$everything`): entries the token
    /// may not see are removed and `total` is dropped if anything was. A Binary that names a
    /// `securityContext` is always removed (its context is not in the Bundle to check; see
    /// [`Permit::filter_bundle_with_contexts`](smart_auth::decision::Permit::filter_bundle_with_contexts)).
    pub fn filter_bundle(&self, bundle: &mut Bundle) -> FilterReport {
        self.permit.filter_bundle(bundle)
    }

    /// [`filter_bundle`](Self::filter_bundle), with the removed entries appended to `removed`
    /// instead of dropped, so the server can free them after writing the response (freeing
    /// typed resources costs more than checking them). `bundle` is filtered in place either
    /// way.
    pub fn filter_bundle_into(
        &self,
        bundle: &mut Bundle,
        removed: &mut Vec<BundleEntry>,
    ) -> FilterReport {
        self.permit.filter_bundle_into(bundle, removed)
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

    /// The narrowing to add to the query of the requested type, if results are confined. A
    /// search across types (`_type`, `Patient/123/*`) gets only the union of its types'
    /// narrowings here: narrow each type with [`narrowing_for`](Self::narrowing_for).
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
