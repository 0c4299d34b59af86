//! The search parameters FHIR R4 defines for each resource type, generated from
//! `search-parameters.json`, so a request's query can be checked against the spec.
//!
//! Each definition carries the element paths its FHIRPath expression selects for that resource
//! type, in ElementDefinition.path form (`Observation.subject`, `MedicationRequest.medication[x]`),
//! the same form [`Resource::visit_references`](crate::Resource::visit_references) reports. A few
//! expressions use FHIRPath the generator does not map exactly (`where(type='…')` filters on
//! non-reference elements, `[0]`, boolean tests); those definitions have `exact == false` and
//! their paths over-approximate. No compartment depends on one: the generator refuses that.
//!
//! ```
//! use fhir_types::search::{search_param, SearchParamType};
//! use fhir_types::ResourceType;
//!
//! let subject = search_param(ResourceType::Observation, "subject").unwrap();
//! assert_eq!(subject.param_type, SearchParamType::Reference);
//! assert!(subject.targets.contains(&ResourceType::Patient));
//! assert_eq!(subject.paths[0].path, "Observation.subject");
//!
//! assert!(search_param(ResourceType::Observation, "_lastUpdated").is_some());
//! assert!(search_param(ResourceType::Observation, "no-such-param").is_none());
//! ```

use std::fmt;

use crate::ResourceType;

/// SearchParameter.type: how a parameter's value is matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SearchParamType {
    /// `number`
    Number,
    /// `date`
    Date,
    /// `string`
    String,
    /// `token`
    Token,
    /// `reference`
    Reference,
    /// `composite`
    Composite,
    /// `quantity`
    Quantity,
    /// `uri`
    Uri,
    /// `special`
    Special,
}

impl SearchParamType {
    /// The FHIR code (`reference`).
    pub fn as_str(self) -> &'static str {
        match self {
            SearchParamType::Number => "number",
            SearchParamType::Date => "date",
            SearchParamType::String => "string",
            SearchParamType::Token => "token",
            SearchParamType::Reference => "reference",
            SearchParamType::Composite => "composite",
            SearchParamType::Quantity => "quantity",
            SearchParamType::Uri => "uri",
            SearchParamType::Special => "special",
        }
    }
}

impl fmt::Display for SearchParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One element a search parameter's expression selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchPath {
    /// ElementDefinition.path from the resource root: `Observation.subject`,
    /// `CarePlan.activity.detail.performer`, `MedicationRequest.medication[x]`.
    pub path: &'static str,
    /// When the expression narrows a choice element in the path to one type
    /// (`(MedicationRequest.medication as Reference)`), that type.
    pub of_type: Option<&'static str>,
    /// `where(resolve() is Patient)`: only references to this type are selected.
    pub resolves_to: Option<ResourceType>,
}

/// A search parameter of one resource type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchParamDef {
    /// The name used in a query (`subject`, `_lastUpdated`).
    pub code: &'static str,
    /// How values are matched.
    pub param_type: SearchParamType,
    /// For reference parameters, the resource types it may point to.
    pub targets: &'static [ResourceType],
    /// The FHIRPath expression as published (it may cover several resource types); `None` for
    /// parameters the search framework defines without one (`_content`, `_has`, `_list`, ...).
    pub expression: Option<&'static str>,
    /// The elements the expression selects for this resource type.
    pub paths: &'static [SearchPath],
    /// Whether `paths` are exactly what the expression selects. When `false` they select more
    /// (a filter or index was not applied) or nothing (no expression).
    pub exact: bool,
    /// The SearchParameter's canonical URL; `None` for the framework parameters `_has`, `_list`, `_type`.
    pub url: Option<&'static str>,
}

impl SearchParamDef {
    /// Whether this is a reference parameter that may point to `resource_type`: the check for
    /// "does this query name a Patient?" (`subject=Patient/…`, `subject:Patient=…`).
    pub fn may_reference(&self, resource_type: ResourceType) -> bool {
        self.param_type == SearchParamType::Reference && self.targets.contains(&resource_type)
    }
}

/// The elements of a HumanName or an Address that a string parameter on one matches (R4:
/// `name` and `address` match "any of the string fields" of it). Its codes (`use`, `type`),
/// `period` and element ids are not its text.
pub const STRING_PARTS: &[&str] = &[
    "text",
    "family",
    "given",
    "prefix",
    "suffix",
    "line",
    "city",
    "district",
    "state",
    "postalCode",
    "country",
];

/// Every search parameter of `resource_type`, including the ones all resources share
/// (`_id`, `_lastUpdated`, `_tag`, `_profile`, `_security`, `_source`, `_query`, `_content`,
/// `_list`, `_has`, and `_text` for DomainResources), sorted by code.
pub fn search_params(resource_type: ResourceType) -> &'static [SearchParamDef] {
    crate::generated::search_params::for_type(resource_type)
}

/// The search parameter `code` of `resource_type`, if R4 defines one. Modifiers and chains are
/// not part of the code: look up `subject`, not `subject:Patient` or `subject.name`.
pub fn search_param(resource_type: ResourceType, code: &str) -> Option<&'static SearchParamDef> {
    let params = search_params(resource_type);
    params
        .binary_search_by(|p| p.code.cmp(code))
        .ok()
        .map(|i| &params[i])
}

/// The parameters of a search across all types (`GET [base]?…`): the `Resource` ones and `_type`.
/// Their paths are rooted at `Resource` (`Resource.meta.tag`).
pub fn system_search_params() -> &'static [SearchParamDef] {
    crate::generated::search_params::SYSTEM
}

/// The system search parameter `code`, if any.
pub fn system_search_param(code: &str) -> Option<&'static SearchParamDef> {
    let params = system_search_params();
    params
        .binary_search_by(|p| p.code.cmp(code))
        .ok()
        .map(|i| &params[i])
}
