//! # fhir-types
//!
//! Typed FHIR R4 (4.0.1) resources and datatypes, generated from the official definitions, with
//! strict, bounded and lossless JSON.
//!
//! - [`Resource`] is an enum over all 146 resource types; [`ResourceType`] names them.
//! - [`resources`] holds one struct per resource and per backbone element, [`datatypes`] the
//!   complex and primitive datatypes. Fields are `snake_case` (`birth_date`), Rust keywords get a
//!   trailing underscore (`type_`), `Option` / `Vec` follow the cardinality, and choice elements
//!   (`value[x]`) are enums (`ObservationValue`).
//! - [`json::parse_resource`] and [`json::to_vec`] read and write FHIR JSON. A parse followed by
//!   a write gives back the same JSON, including primitive extensions (`_birthDate`) and the exact
//!   text of decimals.
//! - The facts authorization needs, derived from the spec: [`compartment`] membership (which
//!   patients', encounters', ... compartments hold a resource, failing closed), the R4
//!   [`search`] parameters with the element paths their expressions select, and strict literal
//!   [references](mod@reference).
//!
//! ```
//! use fhir_types::codes::ObservationStatus;
//! use fhir_types::{json, Resource, ResourceType};
//!
//! let bytes = br#"{
//!   "resourceType": "Observation",
//!   "id": "bp",
//!   "status": "final",
//!   "code": {"text": "Body weight"},
//!   "subject": {"reference": "Patient/123"},
//!   "valueQuantity": {"value": 72.50, "unit": "kg"}
//! }"#;
//! let resource = json::parse_resource(bytes)?;
//! assert_eq!(resource.resource_type(), ResourceType::Observation);
//!
//! let mut refs = Vec::new();
//! resource.visit_references(&mut |path, r| refs.push((path.to_string(), r.reference.as_ref().and_then(|v| v.value.clone()))));
//! assert_eq!(refs, [("Observation.subject".to_string(), Some("Patient/123".to_string()))]);
//!
//! if let Resource::Observation(obs) = &resource {
//!     // `status` is bound to a required value set: parsing checked membership, and the
//!     // value set's enum reads and writes the code.
//!     assert_eq!(obs.status.as_str(), Some("final"));
//!     assert_eq!(obs.status.as_str().and_then(ObservationStatus::from_code), Some(ObservationStatus::Final));
//! }
//! // The decimal keeps its text: 72.50, not 72.5.
//! assert!(json::to_string(&resource).contains(r#""value":72.50"#));
//!
//! // Strict by default: unknown elements are rejected, with the path.
//! let err = json::parse_resource(br#"{"resourceType": "Patient", "nmae": []}"#).unwrap_err();
//! assert_eq!(err.kind(), fhir_types::json::ErrorKind::UnknownElement);
//! assert_eq!(err.path(), "Patient.nmae");
//! # Ok::<(), fhir_types::ParseError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[rustfmt::skip]
mod generated;
mod generated_prelude;
pub mod json;
pub mod narrative;
mod primitive;
mod visit;

pub mod compartment;
pub mod reference;
pub mod search;

pub use generated::resource::{Resource, ResourceType};
pub use json::ParseError;

/// The complex datatypes (`Reference`, `CodeableConcept`, ...) and the primitive types
/// ([`Primitive`](datatypes::Primitive) and its aliases such as `Code` and `DateTime`).
pub mod datatypes {
    pub use crate::generated::datatypes::*;
    pub use crate::primitive::{
        Base64Binary, Boolean, Canonical, Code, Date, DateTime, Decimal, DecimalValue, FhirString,
        Id, Instant, Integer, InvalidDecimal, Markdown, Oid, PositiveInt, Primitive, Time,
        UnsignedInt, Uri, Url, Uuid, Xhtml,
    };
}

/// Enums for the value sets that FHIR binds with strength *required* to `code` elements
/// (`AdministrativeGender`, `ObservationStatus`, ...), with `Display` and `FromStr`.
///
/// The bound elements themselves stay [`Code`](crate::datatypes::Code)s (text), but parsing
/// rejects a code outside the value set, and each enum converts into a `Code`:
/// `event.action = Some(AuditEventAction::R.into())`.
pub mod codes {
    pub use crate::generated::codes::*;
    pub use crate::primitive::UnknownCode;
}

/// The 146 resources of FHIR R4, with their backbone elements (`BundleEntry`, `ObservationComponent`).
pub mod resources {
    pub use crate::generated::resources::*;
}

impl std::fmt::Display for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not an R4 resource type (the comparison is case-sensitive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownResourceType;

impl std::fmt::Display for UnknownResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a FHIR R4 resource type")
    }
}

impl std::error::Error for UnknownResourceType {}

impl std::str::FromStr for ResourceType {
    type Err = UnknownResourceType;
    fn from_str(s: &str) -> Result<Self, UnknownResourceType> {
        ResourceType::from_name(s).ok_or(UnknownResourceType)
    }
}
