//! The authorization decision for a FHIR request (smart.md §12): deny by default.
//!
//! 1. Before the query, [`Authorizer::decide`] turns an [`AccessContext`](crate::AccessContext) and a [`FhirRequest`](crate::request::FhirRequest)
//!    into a [`Decision`]: allow, allow with [`Narrowing`] (the host must add the compartment and
//!    granular constraints to its query), or a [`Denial`] with one HTTP answer.
//! 2. After the query, the [`Permit`] inside an allowing decision checks what goes back: a single
//!    resource ([`Permit::check_resource`], a miss answers exactly like a missing resource), a result
//!    Bundle ([`Permit::filter_bundle`]), or a write against the stored version
//!    ([`Permit::check_write`]). Batch and transaction Bundles are decided entry by entry
//!    ([`Authorizer::decide_bundle`]). A Binary that names a `securityContext` is decided
//!    through that resource, which the host fetches ([`security_context`],
//!    [`Permit::check_resource_with_context`]).
//!
//! ```
//! # #[cfg(feature = "testing")] {
//! use smart_auth::decision::{Authorizer, Decision, DecisionPolicy};
//! use smart_auth::request::FhirRequest;
//! use smart_auth::testing::policy::context;
//!
//! let authorizer = Authorizer::new(DecisionPolicy::default());
//! let ctx = context("patient/Observation.rs", Some("123"), None);
//! let (parts, ()) = http::Request::get("/fhir/Observation?code=1234-5").body(()).unwrap().into_parts();
//! let req = FhirRequest::from_parts(&parts, "/fhir", None).unwrap();
//! match authorizer.decide(&ctx, &req) {
//!     Decision::Narrow(permit) => {
//!         let n = permit.narrowing().unwrap();
//!         assert_eq!(n.alternatives()[0].compartment().unwrap().id, "123");
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # }
//! ```

mod batch;
mod binary;
mod denial;
mod engine;
mod export;
mod membership;
mod modifier;
mod policy;
mod result;
mod search;

use std::sync::Arc;

use fhir_types::ResourceType;

use crate::request::CompartmentRef;
use crate::scope::{Constraint, Level, Permissions, ResourceScope, ScopeSet};

pub use batch::{BundleDecision, BundleKind, MAX_BUNDLE_ENTRIES};
pub use binary::security_context;
pub use denial::{Denial, DenialReason, Response};
pub use policy::{
    DecisionPolicy, DefaultUserPolicy, FhirUser, MissingContextStatus, OperationRule,
    OtherPatientSearch, PatientHistory, UngrantedIncludes, UserAccess, UserPolicy,
};
pub use result::FilterReport;

/// Decides FHIR requests under a [`DecisionPolicy`]. Cheap to clone; share one per server.
#[derive(Debug, Clone, Default)]
pub struct Authorizer {
    policy: Arc<DecisionPolicy>,
}

/// The outcome of [`Authorizer::decide`].
///
/// An allowed request is not yet an answer: the decision sees only the request, so what the
/// host fetches must still pass the [`Permit`]. A read of `Observation/obs-1` under
/// `patient/Observation.rs` is [`Allow`](Decision::Allow) whoever `obs-1` belongs to; only
/// [`Permit::check_resource`] on the fetched resource tells whether it may be returned:
///
/// ```
/// # #[cfg(feature = "testing")] {
/// use smart_auth::decision::{Authorizer, Decision};
/// use smart_auth::testing::policy::{context, request, resource};
///
/// let ctx = context("patient/Observation.rs", Some("123"), None);
/// let Decision::Allow(permit) = Authorizer::default().decide(&ctx, &request("GET Observation/obs-1")) else {
///     unreachable!()
/// };
/// let fetched = resource(r#"{"resourceType":"Observation","id":"obs-1","status":"final",
///     "code":{"text":"BP"},"subject":{"reference":"Patient/456"}}"#);
/// let denial = permit.check_resource(&fetched).unwrap_err();
/// assert!(denial.is_not_found()); // answered exactly like a missing resource
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub enum Decision {
    /// Allowed as asked; what the host fetches or writes must still pass the [`Permit`]
    /// ([`Permit::check_resource`], [`Permit::filter_bundle`], [`Permit::check_write`]).
    Allow(Permit),
    /// Allowed only with the [`Permit::narrowing`] added to the query; results pass through the
    /// [`Permit`] too.
    Narrow(Permit),
    /// Refused.
    Deny(Denial),
}

impl Decision {
    /// The permit, when allowed (narrowed or not).
    pub fn permit(&self) -> Option<&Permit> {
        match self {
            Decision::Allow(p) | Decision::Narrow(p) => Some(p),
            Decision::Deny(_) => None,
        }
    }

    /// The denial, when refused.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Decision::Deny(d) => Some(d),
            _ => None,
        }
    }

    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        !matches!(self, Decision::Deny(_))
    }

    /// `Ok(permit)` or `Err(denial)`.
    pub fn into_result(self) -> Result<Permit, Denial> {
        match self {
            Decision::Allow(p) | Decision::Narrow(p) => Ok(p),
            Decision::Deny(d) => Err(d),
        }
    }
}

/// One way a result may be visible: inside this compartment (if any) and matching every
/// constraint. A [`Narrowing`] is the OR of its alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    compartment: Option<CompartmentRef>,
    constraints: Vec<Constraint>,
}

impl Alternative {
    /// The compartment the results must be in (`Patient/123`), when confined to one.
    pub fn compartment(&self) -> Option<&CompartmentRef> {
        self.compartment.as_ref()
    }

    /// Granular constraints, all of which must hold (`category=laboratory`).
    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }
}

/// What the host must add to a search (or to the match search of a conditional interaction):
/// results must satisfy at least one alternative.
///
/// A compartment alternative is applied as a compartment search (`Patient/123/Observation`), or
/// as the OR of [`fhir_types::compartment::narrowing_params`] (`subject=Patient/123` OR
/// `performer=Patient/123`); each constraint is added as the `param=value` it was written as,
/// a comma escaped (`\,`): the constraint is literal, never a search OR.
///
/// For Patient searches the CompartmentDefinition also lists `link` (`Patient?link=Patient/123`:
/// the patients whose records link to 123). By default links are not followed, so
/// [`to_query_params`](Self::to_query_params) leaves `link` out and a compartment search
/// (`Patient/123/Patient`) may return linked records that the result check then drops; with
/// [`DecisionPolicy::with_patient_links`] it is added ([`follows_patient_links`](Self::follows_patient_links)).
/// The narrowing is a first line of defence; [`Permit::filter_bundle`] checks every result
/// again, so a host that narrows imperfectly still leaks nothing (but its `total` is dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrowing {
    resource_type: Option<ResourceType>,
    alternatives: Vec<Alternative>,
    patient_links: bool,
}

impl Narrowing {
    /// The searched type the narrowing applies to.
    pub fn resource_type(&self) -> Option<ResourceType> {
        self.resource_type
    }

    /// Whether Patient records linked to the compartment patient are visible too (a Patient
    /// search under [`DecisionPolicy::with_patient_links`]): the host may then also match
    /// `link=Patient/<id>`.
    pub fn follows_patient_links(&self) -> bool {
        self.patient_links
    }

    /// The narrowing as plain search parameters: the outer list is an OR, each inner list an AND
    /// of `(param, value)` pairs to add to the query. Empty means no result may be returned.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use smart_auth::decision::Authorizer;
    /// use smart_auth::testing::policy::{context, request};
    ///
    /// let ctx = context("patient/Observation.rs?category=laboratory", Some("123"), None);
    /// let permit = Authorizer::default().decide(&ctx, &request("GET Observation")).into_result().unwrap();
    /// let or = permit.narrowing().unwrap().to_query_params();
    /// assert_eq!(or, [
    ///     vec![("subject".to_owned(), "Patient/123".to_owned()), ("category".to_owned(), "laboratory".to_owned())],
    ///     vec![("performer".to_owned(), "Patient/123".to_owned()), ("category".to_owned(), "laboratory".to_owned())],
    /// ]);
    /// # }
    /// ```
    pub fn to_query_params(&self) -> Vec<Vec<(String, String)>> {
        let mut out = Vec::new();
        for alt in &self.alternatives {
            let constraints = alt
                .constraints
                .iter()
                .map(|c| (c.param().to_owned(), search_value(c.value())));
            let Some(c) = &alt.compartment else {
                out.push(constraints.collect());
                continue;
            };
            let Some(ty) = self.resource_type else {
                continue;
            };
            let Some(kind) =
                fhir_types::compartment::CompartmentType::for_resource_type(c.resource_type)
            else {
                continue;
            };
            for param in fhir_types::compartment::narrowing_params(kind, ty) {
                let pair = match *param {
                    "link" if !self.patient_links => continue,
                    "_id" => ("_id".to_owned(), c.id.clone()),
                    p => (p.to_owned(), format!("{}/{}", c.resource_type, c.id)),
                };
                let mut and = vec![pair];
                and.extend(constraints.clone());
                out.push(and);
            }
        }
        out
    }

    /// The alternatives (OR), each a compartment and/or constraints (AND). Empty means nothing
    /// of this type is visible: the host must return no results.
    pub fn alternatives(&self) -> &[Alternative] {
        &self.alternatives
    }
}

/// A constraint's value as a search value that admits what the result check admits. The value
/// is literal there: in search syntax a bare comma is an OR, so it goes escaped; and `|` alone
/// (no system, no code) admits no code, where a store may read it as any code without a system,
/// so it goes escaped too. A scope token has no `\`.
fn search_value(value: &str) -> String {
    if value == "|" {
        return "\\|".to_owned();
    }
    value.replace(',', "\\,")
}

/// What a level of scopes reaches for this token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    Nothing,
    All,
    Compartment(ResourceType, String),
}

/// Proof that a request was allowed, and the checks its results must pass.
#[derive(Debug, Clone)]
pub struct Permit {
    pub(crate) scopes: ScopeSet,
    pub(crate) reach: [Reach; 3],
    pub(crate) policy: Arc<DecisionPolicy>,
    pub(crate) resource_type: Option<ResourceType>,
    pub(crate) id: Option<String>,
    pub(crate) needed: Permissions,
    pub(crate) narrowing: Option<Narrowing>,
    pub(crate) confine: Option<CompartmentRef>,
    pub(crate) count: Option<u32>,
    pub(crate) traversed: Vec<ResourceType>,
    /// What the results other than the requested instance need on their type, for a request
    /// on one instance that lists others (`$everything`: `s`, smart.md §12.10); `NONE` for
    /// every other request.
    pub(crate) members: Permissions,
}

pub(crate) fn level_index(level: Level) -> usize {
    match level {
        Level::Patient => 0,
        Level::User => 1,
        Level::System => 2,
    }
}

impl Permit {
    /// The narrowing to add to the query, if the results are confined at all. For a request
    /// across types (system search or history, `Patient/123/*`) it is the union of the types'
    /// narrowings, wider than some of them: narrow each type with
    /// [`narrowing_for`](Self::narrowing_for).
    pub fn narrowing(&self) -> Option<&Narrowing> {
        self.narrowing.as_ref()
    }

    /// The narrowing for another type reached by this request (a `_type` of a system search, a
    /// type traversed by a chain or `_has`): the host must confine those resources too.
    /// `None` means unrestricted; a narrowing with a compartment that cannot hold the type
    /// means nothing of it is visible.
    ///
    /// For `$everything` it is the narrowing of the scopes granting `s` on `ty` (smart.md
    /// §12.10): with none, it has no alternatives and nothing of `ty` may be listed.
    pub fn narrowing_for(&self, ty: ResourceType) -> Option<Narrowing> {
        // `$everything`'s own type is the patient's, checked as the read that authorised it.
        let needed = if self.members.is_empty() || self.resource_type != Some(ty) {
            self.reached()
        } else {
            self.needed
        };
        engine::narrowing(self, ty, needed)
    }

    /// What a resource reached beyond the primary results needs on its type: `r` or `s` for
    /// an include (smart.md §12.6), `s` for a member of `$everything` (§12.10).
    pub(crate) fn reached(&self) -> Permissions {
        if self.members.is_empty() {
            Permissions::READ | Permissions::SEARCH
        } else {
            self.members
        }
    }

    /// Types traversed by chains and `_has` (each granted `s`; narrow them with
    /// [`narrowing_for`](Self::narrowing_for)).
    pub fn traversed_types(&self) -> &[ResourceType] {
        &self.traversed
    }

    /// The `_count` to use: the requested one clamped to the policy maximum.
    pub fn count(&self) -> Option<u32> {
        self.count
    }

    /// The compartment every result must be in, beyond the scopes (compartment search,
    /// `$everything`).
    pub fn confined_to(&self) -> Option<&CompartmentRef> {
        self.confine.as_ref()
    }

    /// Whether some scope grants `r` on `ty` at a level that reaches anything: a type-level
    /// answer only. A conditional create may return the body of an existing match only if the
    /// token could read **that resource** (CVE-2026-113876): check the match with
    /// [`allows`](Self::allows)`(match, Permissions::READ)`, since the match search is narrowed
    /// by the scopes granting `c`, which may reach resources no `r` scope does (a granular
    /// `r`, another level's compartment).
    pub fn may_read(&self, ty: ResourceType) -> bool {
        self.granting(ty, Permissions::READ).next().is_some()
    }

    /// For bulk export: whether resources of `ty` may be exported under this permit.
    pub fn may_export(&self, ty: ResourceType) -> bool {
        self.scopes.resource_scopes().any(|s| {
            s.level() != Level::Patient
                && s.constraints().is_empty()
                && s.resource().covers(ty)
                && s.permissions()
                    .intersects(Permissions::READ | Permissions::SEARCH)
                && self.reach[level_index(s.level())] == Reach::All
        })
    }

    /// Whether `Patient.link` is followed for a compartment-confined grant of this permit.
    pub(crate) fn follows_patient_links(&self) -> bool {
        !self.policy.follow_patient_links.is_empty()
            && self
                .reach
                .iter()
                .any(|r| matches!(r, Reach::Compartment(ResourceType::Patient, _)))
    }

    /// The scopes granting `needed` on `ty` whose level reaches something.
    pub(crate) fn granting(
        &self,
        ty: ResourceType,
        needed: Permissions,
    ) -> impl Iterator<Item = (&ResourceScope, &Reach)> {
        self.scopes.resource_scopes().filter_map(move |s| {
            let reach = &self.reach[level_index(s.level())];
            (*reach != Reach::Nothing
                && s.resource().covers(ty)
                && s.permissions().intersects(needed))
            .then_some((s, reach))
        })
    }
}
