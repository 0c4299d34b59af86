//! Compartment membership as FHIR R4 defines it: which Patient (Encounter, RelatedPerson,
//! Practitioner, Device) compartments hold a resource.
//!
//! Membership is decided only by the CompartmentDefinitions: a resource of type T is in the
//! compartment `Patient/P` iff T is a member type and one of the listed search parameters'
//! expressions selects a reference to `Patient/P` (SMART App Launch, scopes; smart.md §12.2).
//! The parameters' expressions were mapped to element paths at generation time
//! ([`crate::search`]), and a visitor generated per compartment and resource type reads just the
//! References at those paths ([`visit_references`]). References through any other element
//! (`Observation.focus`) never count. The resource that defines a compartment is
//! in it: `Patient/123` is in the compartment `Patient/123`.
//!
//! # Failing closed
//!
//! A reference counts only if it is a literal reference [`ReferenceTarget::parse`] understands,
//! of the compartment's type (also when `Reference.type` is given, it must agree), and local:
//! relative, or absolute with the host's own base when one is given. Contained (`#p`),
//! `urn:uuid:`, identifier-only (logical) references, other servers' URLs and unknown types make
//! nothing a member. A resource whose only patient link is such a reference is in no
//! compartment, and the decision layer must treat it as outside every compartment (deny under
//! `patient/` scopes), never as "unrestricted". Resources nested in this one (`contained`,
//! Bundle entries) are not looked into: authorize each Bundle entry on its own, and never
//! evaluate a contained resource on its own: its id is local to its container, so a contained
//! Patient with id `p1` is not `Patient/p1`.
//!
//! # `Patient.link`
//!
//! The Patient compartment lists `Patient.link` (param `link`), so a Patient whose `link.other`
//! points to `Patient/Q` is in Q's compartment. Whether to honour that is policy (smart.md §12.2
//! does not follow links by default): each [`Membership`] says [`Via`] which parameter it came,
//! so the decision layer can drop `link` memberships.
//!
//! ```
//! use fhir_types::compartment::{narrowing_params, params, CompartmentType};
//! use fhir_types::ResourceType;
//!
//! assert_eq!(params(CompartmentType::Patient, ResourceType::Observation), ["subject", "performer"]);
//! assert_eq!(narrowing_params(CompartmentType::Patient, ResourceType::Patient), ["_id", "link"]);
//! assert!(params(CompartmentType::Patient, ResourceType::Practitioner).is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use crate::datatypes::Reference;
use crate::reference::{is_valid_id, ReferenceTarget};
use crate::search::{search_param, SearchPath};
use crate::{Resource, ResourceType};

/// The five compartments FHIR R4 defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CompartmentType {
    /// Resources about one patient.
    Patient,
    /// Resources of one encounter.
    Encounter,
    /// Resources a related person is involved in.
    RelatedPerson,
    /// Resources a practitioner is involved in.
    Practitioner,
    /// Resources a device is involved in.
    Device,
}

impl CompartmentType {
    /// All five, in the order of the FHIR compartments table.
    pub const ALL: [CompartmentType; 5] = [
        CompartmentType::Patient,
        CompartmentType::Encounter,
        CompartmentType::RelatedPerson,
        CompartmentType::Practitioner,
        CompartmentType::Device,
    ];

    /// The resource type whose instances define compartments of this kind.
    pub fn resource_type(self) -> ResourceType {
        match self {
            CompartmentType::Patient => ResourceType::Patient,
            CompartmentType::Encounter => ResourceType::Encounter,
            CompartmentType::RelatedPerson => ResourceType::RelatedPerson,
            CompartmentType::Practitioner => ResourceType::Practitioner,
            CompartmentType::Device => ResourceType::Device,
        }
    }

    /// The compartment defined by instances of `resource_type`, if any.
    pub fn for_resource_type(resource_type: ResourceType) -> Option<CompartmentType> {
        CompartmentType::ALL
            .into_iter()
            .find(|c| c.resource_type() == resource_type)
    }

    /// The CompartmentDefinition code (`Patient`), as used in `[base]/Patient/123/Observation`.
    pub fn as_str(self) -> &'static str {
        self.resource_type().as_str()
    }
}

impl fmt::Display for CompartmentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`CompartmentType::from_str`]: the text names no compartment (case matters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCompartment;

impl fmt::Display for UnknownCompartment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a compartment type")
    }
}

impl std::error::Error for UnknownCompartment {}

impl FromStr for CompartmentType {
    type Err = UnknownCompartment;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CompartmentType::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(UnknownCompartment)
    }
}

/// One member type of a compartment, as generated from its CompartmentDefinition.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) resource_type: ResourceType,
    /// The CompartmentDefinition's params (`{def}` left out).
    pub(crate) params: &'static [&'static str],
    /// `params`, preceded by `_id` for the compartment's own type.
    pub(crate) narrowing: &'static [&'static str],
}

fn member(compartment: CompartmentType, resource_type: ResourceType) -> Option<&'static Member> {
    let (table, _) = crate::generated::compartments::table(compartment);
    table.iter().find(|m| m.resource_type == resource_type)
}

/// The resource types that can be in a compartment (R4: 66 for Patient), including the
/// compartment's own type.
pub fn members(compartment: CompartmentType) -> &'static [ResourceType] {
    crate::generated::compartments::table(compartment).1
}

/// The search parameters whose references put a resource of `resource_type` in a compartment,
/// in CompartmentDefinition order: `(Patient, Observation)` → `["subject", "performer"]`.
/// Empty when the type is never in such a compartment by reference.
pub fn params(
    compartment: CompartmentType,
    resource_type: ResourceType,
) -> &'static [&'static str] {
    member(compartment, resource_type).map_or(&[], |m| m.params)
}

/// The search parameters that restrict a search of `resource_type` to one compartment: a
/// resource is inside when any one of them matches (`subject=Patient/P` OR
/// `performer=Patient/P`). These are [`params`], preceded by `_id` for the compartment's own
/// type: `(Patient, Patient)` → `["_id", "link"]`. Empty when no search can stay inside.
pub fn narrowing_params(
    compartment: CompartmentType,
    resource_type: ResourceType,
) -> &'static [&'static str] {
    member(compartment, resource_type).map_or(&[], |m| m.narrowing)
}

/// Why a resource is in a compartment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Via {
    /// It defines the compartment: `Patient/123` in the compartment `Patient/123`.
    Itself,
    /// A reference at `path`, selected by the CompartmentDefinition's search parameter `param`.
    Param {
        /// The search parameter code (`subject`, `link`).
        param: &'static str,
        /// The element path of the reference (`Observation.subject`).
        path: &'static str,
    },
}

/// One compartment a resource is in, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Membership {
    /// The kind of compartment.
    pub compartment: CompartmentType,
    /// The id of the resource defining it (`123` for `Patient/123`).
    pub id: String,
    /// What put the resource there.
    pub via: Via,
}

/// The two parts of a `Reference` membership looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReferenceParts<'a> {
    /// `Reference.reference`, the literal reference.
    pub reference: Option<&'a str>,
    /// `Reference.type`, the declared target type.
    pub type_: Option<&'a str>,
}

impl<'a> From<&'a Reference> for ReferenceParts<'a> {
    fn from(r: &'a Reference) -> Self {
        ReferenceParts {
            reference: r.reference.as_ref().and_then(|p| p.value.as_deref()),
            type_: r.type_.as_ref().and_then(|p| p.value.as_deref()),
        }
    }
}

/// Decides, reference by reference, membership of one resource type in one kind of compartment.
struct Matcher<'b> {
    compartment: CompartmentType,
    rules: Vec<(&'static str, &'static SearchPath)>,
    own_base: Option<&'b str>,
}

impl<'b> Matcher<'b> {
    fn new(
        compartment: CompartmentType,
        resource_type: ResourceType,
        own_base: Option<&'b str>,
    ) -> Self {
        let target = compartment.resource_type();
        let mut rules = Vec::new();
        for &param in params(compartment, resource_type) {
            let paths = search_param(resource_type, param).map_or(&[][..], |d| d.paths);
            for p in paths
                .iter()
                .filter(|p| p.resolves_to.is_none_or(|t| t == target))
            {
                rules.push((param, p));
            }
        }
        Matcher {
            compartment,
            rules,
            own_base,
        }
    }

    fn check(&self, path: &str, reference: ReferenceParts<'_>, out: &mut Vec<Membership>) {
        let mut rules = self.rules.iter().filter(|(_, p)| p.path == path).peekable();
        if rules.peek().is_none() {
            return;
        }
        let Some(id) = member_id(self.compartment, reference, self.own_base) else {
            return;
        };
        for (param, p) in rules {
            out.push(Membership {
                compartment: self.compartment,
                id: id.clone(),
                via: Via::Param {
                    param,
                    path: p.path,
                },
            });
        }
    }
}

/// The id of the compartment of kind `compartment` that `reference` puts a resource in: a
/// literal, local reference of the compartment's type, whose declared type (if any) agrees.
fn member_id(
    compartment: CompartmentType,
    reference: ReferenceParts<'_>,
    own_base: Option<&str>,
) -> Option<String> {
    let target = reference.reference.and_then(ReferenceTarget::parse)?;
    let declared_agrees = reference
        .type_
        .is_none_or(|t| t == target.resource_type.as_str());
    (declared_agrees
        && target.resource_type == compartment.resource_type()
        && target.is_local(own_base))
    .then_some(target.id)
}

/// Calls `f` with every `Reference` of `resource` at an element path that the
/// CompartmentDefinition of `compartment` names for its type, and why: the search parameter and
/// path selecting it ([`Via::Param`], once per parameter when several select one path). For
/// `(Patient, Observation)` these are the References at `Observation.subject` and
/// `Observation.performer`. Paths a `where(resolve() is T)` filter confines to another type are
/// left out; `Patient.link` is included (see [`Via`]). Only those elements are read: the walk is
/// generated per compartment and type, so it costs a few field reads, not a visit of the whole
/// resource like [`Resource::visit_references`]. Whether a reported Reference points into a
/// compartment is the caller's check (see [`memberships`]).
///
/// ```
/// use fhir_types::compartment::{visit_references, CompartmentType, Via};
/// use fhir_types::json::parse_resource;
///
/// let obs = parse_resource(br#"{"resourceType": "Observation", "status": "final",
///     "code": {"text": "pulse"}, "subject": {"reference": "Patient/123"},
///     "focus": [{"reference": "Patient/456"}]}"#).unwrap();
/// let mut found = Vec::new();
/// visit_references(CompartmentType::Patient, &obs, &mut |via, r| {
///     found.push((via, r.reference.as_ref().and_then(|v| v.value.clone())));
/// });
/// let via = Via::Param { param: "subject", path: "Observation.subject" };
/// assert_eq!(found, [(via, Some("Patient/123".to_string()))]);
/// ```
pub fn visit_references(
    compartment: CompartmentType,
    resource: &Resource,
    f: &mut dyn FnMut(Via, &Reference),
) {
    crate::generated::compartment_refs::visit(compartment, resource, f);
}

/// The memberships of a resource described by its type, its id and its references (element
/// path and reference), for hosts that hold resources in another form than [`Resource`].
/// `own_base` is the host's service base URL: absolute references count only when they carry it.
pub fn memberships_of<'a>(
    compartment: CompartmentType,
    resource_type: ResourceType,
    own_id: Option<&str>,
    references: impl IntoIterator<Item = (&'a str, ReferenceParts<'a>)>,
    own_base: Option<&str>,
) -> Vec<Membership> {
    let matcher = Matcher::new(compartment, resource_type, own_base);
    let mut out = itself(compartment, resource_type, own_id);
    for (path, reference) in references {
        matcher.check(path, reference, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn itself(
    compartment: CompartmentType,
    resource_type: ResourceType,
    own_id: Option<&str>,
) -> Vec<Membership> {
    match own_id {
        Some(id) if resource_type == compartment.resource_type() && is_valid_id(id) => {
            vec![Membership {
                compartment,
                id: id.to_string(),
                via: Via::Itself,
            }]
        }
        _ => Vec::new(),
    }
}

/// The compartments of kind `compartment` that hold `resource`, and why (sorted, no duplicates).
/// `own_base`: see [`memberships_of`].
pub fn memberships(
    compartment: CompartmentType,
    resource: &Resource,
    own_base: Option<&str>,
) -> Vec<Membership> {
    let mut out = itself(compartment, resource.resource_type(), resource.id());
    visit_references(compartment, resource, &mut |via, r| {
        if let Some(id) = member_id(compartment, r.into(), own_base) {
            out.push(Membership {
                compartment,
                id,
                via,
            });
        }
    });
    out.sort();
    out.dedup();
    out
}

/// The ids of the compartments of kind `compartment` holding `resource`, counting relative
/// references only: `{"123"}` for an Observation with `subject` `Patient/123`, and for `Patient/123`.
pub fn compartment_ids(compartment: CompartmentType, resource: &Resource) -> BTreeSet<String> {
    memberships(compartment, resource, None)
        .into_iter()
        .map(|m| m.id)
        .collect()
}

/// Like [`compartment_ids`], also counting absolute references into `own_base`.
pub fn compartment_ids_at(
    compartment: CompartmentType,
    resource: &Resource,
    own_base: &str,
) -> BTreeSet<String> {
    memberships(compartment, resource, Some(own_base))
        .into_iter()
        .map(|m| m.id)
        .collect()
}

/// [`compartment_ids`] for all five kinds of compartment (kinds holding nothing are left out).
pub fn all_compartment_ids(resource: &Resource) -> BTreeMap<CompartmentType, BTreeSet<String>> {
    CompartmentType::ALL
        .into_iter()
        .map(|c| (c, compartment_ids(c, resource)))
        .filter(|(_, ids)| !ids.is_empty())
        .collect()
}

/// Whether `resource` is in the compartment `compartment`/`id` (relative references only).
pub fn in_compartment(compartment: CompartmentType, id: &str, resource: &Resource) -> bool {
    memberships(compartment, resource, None)
        .iter()
        .any(|m| m.id == id)
}
