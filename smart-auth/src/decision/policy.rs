//! The decision's settings: every choice real servers make differently, with the safe default
//! (smart.md §13), plus the host hooks for `user/` scopes and operations.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use fhir_types::codes::LinkType;
use fhir_types::ResourceType;

use crate::context::AccessContext;

/// What to answer for a search that names another patient (smart.md §9).
///
/// A search names a patient through a value that is an id or a reference: `patient=Q`,
/// `subject=Patient/Q`, `subject:Patient=Q`, `subject:below=Q`, `Patient?_id=Q`, a compartment
/// `Patient/Q/...`. A value of another kind names none, whatever it looks like, and the search
/// is narrowed to the compartment like any criterion: `:missing` (a boolean), `:identifier` (a
/// token on `Reference.identifier`, with or without a system), `:text` (text), another type
/// (`subject:Group=Q`), and on `Patient?_id` the token modifiers `:not`, `:in`, `:not-in`,
/// `:text`, `:of-type`. A modifier FHIR does not define for the parameter's type (`subject:not`,
/// `subject:exact`, a mis-cased type or one the reference cannot point at, `code:exact`) is
/// refused as [`DenialReason::UnsupportedParameter`].
///
/// [`DenialReason::UnsupportedParameter`]: crate::decision::DenialReason::UnsupportedParameter
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtherPatientSearch {
    /// 403 for every value, existing or not (default).
    #[default]
    Forbidden,
    /// An empty 200 searchset for every value.
    EmptyResult,
}

/// Type and system `_history` under `patient/` scopes, and under `user/` scopes of a Patient
/// `fhirUser` (enforced like `patient/`), unless the token also has `system/` reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PatientHistory {
    /// Allowed; every entry filtered (default).
    #[default]
    Filter,
    /// Refused with 403.
    Refuse,
}

/// Includes whose target type the token may not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UngrantedIncludes {
    /// Allowed; such resources are dropped from the result (default).
    #[default]
    Drop,
    /// Refused up front with 403.
    Refuse,
}

/// The status for a token whose `patient/` or `user/` scopes lack their context claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingContextStatus {
    /// 401 `invalid_token` (default).
    #[default]
    Unauthorized,
    /// 403.
    Forbidden,
}

/// What a `user/` scope reaches for one user, as decided by a [`UserPolicy`]. A compartment
/// whose id is not a FHIR id naming a resource (empty, `.`, `..`, longer than 64, a path) reaches
/// nothing, like [`Deny`](UserAccess::Deny).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserAccess {
    /// Nothing: `user/` scopes grant no data (the safe default for non-patient users).
    Deny,
    /// Data in the Patient compartment of this patient id.
    PatientCompartment(String),
    /// Data in this compartment, e.g. (`Practitioner`, `123`).
    Compartment(ResourceType, String),
    /// Everything the scopes name (for roles the host trusts fully).
    Unrestricted,
}

/// The `fhirUser` of a token, resolved against the server's base: `Practitioner/123`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirUser {
    /// The user's resource type (Patient, Practitioner, PractitionerRole, RelatedPerson, Person).
    pub resource_type: ResourceType,
    /// The user's resource id.
    pub id: String,
}

/// The host's rule for `user/` scopes, keyed by `fhirUser` (smart.md §12.3).
pub trait UserPolicy: Send + Sync {
    /// What `user/` scopes reach for this user. Called once per decision.
    fn access(&self, user: &FhirUser, context: &AccessContext) -> UserAccess;
}

/// The default [`UserPolicy`]: a Patient user reaches their own compartment; every other user
/// reaches nothing until the host says otherwise (never "admin" by default).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultUserPolicy;

impl UserPolicy for DefaultUserPolicy {
    fn access(&self, user: &FhirUser, _context: &AccessContext) -> UserAccess {
        match user.resource_type {
            ResourceType::Patient => UserAccess::PatientCompartment(user.id.clone()),
            _ => UserAccess::Deny,
        }
    }
}

impl<F> UserPolicy for F
where
    F: Fn(&FhirUser, &AccessContext) -> UserAccess + Send + Sync,
{
    fn access(&self, user: &FhirUser, context: &AccessContext) -> UserAccess {
        self(user, context)
    }
}

/// How a host-registered operation is authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperationRule {
    /// Like a read of the instance (or a search of the type at type level): `r`/`s` + checks.
    /// The query may hold result controls and the operation's own parameters (plain ones, not
    /// starting with `_` and without a modifier, that no search of the type takes); criteria,
    /// chains, includes, `_has` and `_type` are 400 `unsupported_parameter`, as on a read
    /// (smart.md §12.1): they would select resources no check saw.
    AsRead,
    /// Like a search of the type, its criteria, chains, `_has` and includes decided as a
    /// search's (parameters no search takes and not starting with `_` are the operation's own,
    /// for the host); invoked on an instance, that instance must also be one a granting
    /// compartment can hold (otherwise it is not found, as a read of it would be).
    AsSearch,
    /// Like an update of the instance (instance level only: refused at type or system level).
    /// Its query is held to what [`AsRead`](Self::AsRead)'s may hold.
    AsUpdate,
    /// Touches no stored data (e.g. a terminology lookup); allowed for any valid token.
    NoDataAccess,
    /// Always refused.
    Deny,
}

/// Settings of the [`Authorizer`](super::Authorizer). `Default` is the safe configuration.
#[derive(Clone)]
#[non_exhaustive]
pub struct DecisionPolicy {
    /// This server's absolute FHIR base (e.g. `https://ehr.example/fhir`): absolute references
    /// and `fhirUser` URLs match only with exactly this base. `None`: only relative ones match.
    pub base_url: Option<String>,
    /// Types outside every patient compartment readable under `patient/` scopes (default none).
    pub shared_types: Vec<ResourceType>,
    /// The `Patient.link` types followed for compartment-confined grants (default none:
    /// links are not followed, smart.md §12.2). See [`with_patient_links`](Self::with_patient_links).
    pub follow_patient_links: Vec<LinkType>,
    /// Searches naming another patient.
    pub other_patient_search: OtherPatientSearch,
    /// Type/system history under `patient/` scopes (or `user/` ones of a Patient user).
    pub patient_history: PatientHistory,
    /// Includes of types the token cannot read.
    pub ungranted_includes: UngrantedIncludes,
    /// Tokens missing their launch patient or `fhirUser`.
    pub missing_context: MissingContextStatus,
    /// Conditional update/delete/patch also need `s` on the type (default true).
    pub conditional_requires_search: bool,
    /// Bulk `$export` with `user/` scopes (default false: `system/` only).
    pub bulk_export_for_users: bool,
    /// Largest `_count` (default 1000); larger requests are clamped.
    pub max_count: u32,
    /// Most `_include`/`_revinclude` parameters in one search (default 10).
    pub max_includes: usize,
    /// Host rules for operations beyond the built-in ones, keyed by name without `$` (a key
    /// with `$` never matches; [`with_operation`](Self::with_operation) takes either).
    pub operations: BTreeMap<String, OperationRule>,
    /// The rule for `user/` scopes.
    pub user_policy: Arc<dyn UserPolicy>,
}

impl Default for DecisionPolicy {
    fn default() -> Self {
        DecisionPolicy {
            base_url: None,
            shared_types: Vec::new(),
            follow_patient_links: Vec::new(),
            other_patient_search: OtherPatientSearch::default(),
            patient_history: PatientHistory::default(),
            ungranted_includes: UngrantedIncludes::default(),
            missing_context: MissingContextStatus::default(),
            conditional_requires_search: true,
            bulk_export_for_users: false,
            max_count: 1000,
            max_includes: 10,
            operations: BTreeMap::new(),
            user_policy: Arc::new(DefaultUserPolicy),
        }
    }
}

impl fmt::Debug for DecisionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecisionPolicy")
            .field("base_url", &self.base_url)
            .field("shared_types", &self.shared_types)
            .field("follow_patient_links", &self.follow_patient_links)
            .field("other_patient_search", &self.other_patient_search)
            .field("patient_history", &self.patient_history)
            .field("ungranted_includes", &self.ungranted_includes)
            .field("missing_context", &self.missing_context)
            .field(
                "conditional_requires_search",
                &self.conditional_requires_search,
            )
            .field("bulk_export_for_users", &self.bulk_export_for_users)
            .field("max_count", &self.max_count)
            .field("max_includes", &self.max_includes)
            .field("operations", &self.operations)
            .finish_non_exhaustive()
    }
}

impl DecisionPolicy {
    /// Sets [`base_url`](Self::base_url) (trailing slashes removed).
    pub fn with_base_url(mut self, base: impl Into<String>) -> Self {
        let base: String = base.into();
        self.base_url = Some(base.trim_end_matches('/').to_owned());
        self
    }

    /// Follows `Patient.link` of these types, as the Patient CompartmentDefinition does (its
    /// parameter `link`): the compartment of `Patient/A` then also holds every **Patient
    /// resource** whose `link.other` of one of these types points at `Patient/A` (relative, or
    /// absolute on [`base_url`](Self::base_url); `link.other.type`, if given, must be `Patient`).
    ///
    /// What this grants, and what it never does:
    /// - it is one-way: a token for `A` may read a record `B` that declares itself linked to
    ///   `A`, never a record `A` itself links to (`A` naming `B` proves nothing about `B`);
    /// - only the linked Patient resource is reached (read, search, `_include`), never the
    ///   linked patient's other data: an Observation of `B` references `B`, not `A`;
    /// - reads only: a linked record is never writable through the link, and while links are
    ///   followed a compartment-confined grant may not create or change `Patient.link` at all
    ///   (a link edit would widen another token's compartment; threats.md §8);
    /// - compartment searches (`Patient/A/Patient`) and `$everything` never follow links, and
    ///   a search naming `B` (`Patient?_id=B`) is still refused as another patient.
    ///
    /// An empty list (the default) follows nothing.
    pub fn with_patient_links(mut self, types: impl IntoIterator<Item = LinkType>) -> Self {
        self.follow_patient_links = types.into_iter().collect();
        self
    }

    /// Sets the [`UserPolicy`].
    pub fn with_user_policy(mut self, policy: impl UserPolicy + 'static) -> Self {
        self.user_policy = Arc::new(policy);
        self
    }

    /// Registers a rule for an operation, named with or without its `$` (`summary` or
    /// `$summary`).
    pub fn with_operation(mut self, name: impl Into<String>, rule: OperationRule) -> Self {
        let name: String = name.into();
        let name = name.strip_prefix('$').map(str::to_owned).unwrap_or(name);
        self.operations.insert(name, rule);
        self
    }

    /// Resolves a `fhirUser` URL (relative, or absolute on exactly this base) to type and id.
    pub fn resolve_fhir_user(&self, url: &str) -> Option<FhirUser> {
        let relative = match (url.contains("://"), &self.base_url) {
            (false, _) => url,
            (true, Some(base)) => url.strip_prefix(base.as_str())?.strip_prefix('/')?,
            (true, None) => return None,
        };
        let (ty, id) = relative.split_once('/')?;
        let resource_type: ResourceType = ty.parse().ok()?;
        let allowed = [
            ResourceType::Patient,
            ResourceType::Practitioner,
            ResourceType::PractitionerRole,
            ResourceType::RelatedPerson,
            ResourceType::Person,
        ];
        (allowed.contains(&resource_type) && crate::request::is_valid_id(id)).then(|| FhirUser {
            resource_type,
            id: id.to_owned(),
        })
    }
}
