//! Batch and transaction Bundles (smart.md §12.8): every entry decided as the equivalent
//! standalone request; a transaction is refused whole if any entry is.

use fhir_types::resources::{Bundle, BundleEntry};
use http::Method;

use super::engine::decide_with;
use super::{Authorizer, Decision, Denial, DenialReason, Response};
use crate::context::AccessContext;
use crate::request::{FhirRequest, Interaction};

/// Most entries in one batch or transaction (threats.md §4).
pub const MAX_BUNDLE_ENTRIES: usize = 1000;

/// `batch` or `transaction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleKind {
    /// Entries succeed or fail on their own.
    Batch,
    /// All entries or none.
    Transaction,
}

/// The per-entry decisions of a batch or transaction, in entry order.
#[derive(Debug, Clone)]
pub struct BundleDecision {
    /// Batch or transaction.
    pub kind: BundleKind,
    /// One decision per entry. For creates and updates (conditional too), the entry's resource
    /// has already passed [`Permit::check_write`](super::Permit::check_write) as the new
    /// content; the host still checks the stored version with the entry's permit. A patch
    /// entry's resource is the patch, not the new content: the host checks the patched result
    /// and the stored version, as for a standalone patch.
    pub entries: Vec<Decision>,
}

impl Authorizer {
    /// Decides a Bundle posted to the base. The Bundle must be `batch` or `transaction` and
    /// hold at most [`MAX_BUNDLE_ENTRIES`] entries, each with a `request` (else 400). For a
    /// transaction, any refused entry refuses the whole Bundle before anything is written.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use smart_auth::decision::{Authorizer, BundleKind};
    /// use smart_auth::testing::policy::{context, resource};
    ///
    /// let ctx = context("patient/Patient.r patient/Observation.rs", Some("123"), None);
    /// let fhir_types::Resource::Bundle(batch) = resource(r#"{"resourceType":"Bundle","type":"batch","entry":[
    ///     {"request":{"method":"GET","url":"Observation?code=8867-4"}},
    ///     {"request":{"method":"GET","url":"Patient/456"}},
    ///     {"request":{"method":"DELETE","url":"Observation/1"}}]}"#) else { unreachable!() };
    /// let decided = Authorizer::default().decide_bundle(&ctx, &batch).expect("a valid batch");
    /// assert_eq!(decided.kind, BundleKind::Batch);
    /// let answers: Vec<_> = decided.entries.iter().map(|d| match d.denial() {
    ///     None => 200,
    ///     Some(denial) => denial.status().as_u16(),
    /// }).collect();
    /// // Run narrowed; another patient's record reads as missing; no `d` was granted.
    /// assert_eq!(answers, [200, 404, 403]);
    ///
    /// // The same entries as a transaction: refused whole, before anything is written.
    /// let fhir_types::Resource::Bundle(tx) = resource(r#"{"resourceType":"Bundle","type":"transaction","entry":[
    ///     {"request":{"method":"GET","url":"Observation?code=8867-4"}},
    ///     {"request":{"method":"DELETE","url":"Observation/1"}}]}"#) else { unreachable!() };
    /// assert_eq!(Authorizer::default().decide_bundle(&ctx, &tx).unwrap_err().status(), 403);
    /// # }
    /// ```
    pub fn decide_bundle(
        &self,
        ctx: &AccessContext,
        bundle: &Bundle,
    ) -> Result<BundleDecision, Denial> {
        let invalid = || Denial::bad_request(DenialReason::InvalidBundle);
        let kind = match bundle.type_.as_str() {
            Some("batch") => BundleKind::Batch,
            Some("transaction") => BundleKind::Transaction,
            _ => return Err(invalid()),
        };
        if bundle.entry.len() > MAX_BUNDLE_ENTRIES {
            return Err(invalid());
        }
        let base = self.permit(ctx)?;
        let entries: Vec<Decision> = bundle.entry.iter().map(|e| entry(&base, e)).collect();
        if kind == BundleKind::Transaction {
            if let Some(d) = entries.iter().find_map(Decision::denial) {
                return Err(match d.response() {
                    // Indistinguishable from a transaction failing on a missing resource.
                    Response::NotFound => Denial::not_found(),
                    Response::BadRequest => d.clone(),
                    _ => Denial::forbidden(DenialReason::TransactionEntryDenied),
                });
            }
        }
        Ok(BundleDecision { kind, entries })
    }
}

fn entry(base: &super::Permit, e: &BundleEntry) -> Decision {
    let invalid = || Decision::Deny(Denial::bad_request(DenialReason::InvalidBundle));
    let Some(request) = &e.request else {
        return invalid();
    };
    let (Some(method), Some(url)) = (request.method.as_str(), request.url.as_str()) else {
        return invalid();
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return invalid();
    };
    let if_none_exist = request.if_none_exist.as_ref().and_then(|v| v.as_str());
    let req = match FhirRequest::from_entry(&method, url, if_none_exist) {
        Ok(r) => r,
        Err(_) => return invalid(),
    };
    if req.interaction() == Interaction::BatchOrTransaction {
        // No nested batches: each would need its own atomicity.
        return invalid();
    }
    let decision = decide_with(base.clone(), &req);
    let Some(permit) = decision.permit() else {
        return decision;
    };
    match (req.interaction(), &e.resource) {
        (Interaction::Create | Interaction::Update | Interaction::ConditionalUpdate, Some(new)) => {
            match permit.check_write(Some(new), None) {
                Ok(()) => decision,
                Err(d) => Decision::Deny(d),
            }
        }
        (Interaction::Create | Interaction::Update | Interaction::ConditionalUpdate, None) => {
            invalid()
        }
        _ => decision,
    }
}
