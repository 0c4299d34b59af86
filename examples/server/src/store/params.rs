//! The search parameters this server indexes, derived from R4's SearchParameter definitions
//! (`fhir_types::search`, generated from the specification): for each resource type, every
//! parameter whose type the store can evaluate (token, reference, date, string, number,
//! quantity, uri) and whose expression `fhir-types` maps exactly to elements. Any other parameter
//! (composite, special, or an expression with a filter such as
//! `telecom.where(system='phone')`) is
//! not in the table, so a search naming it is refused with a 400 instead of being ignored (an
//! ignored filter would return more than was asked for).
//!
//! A path is a dot-separated list of JSON element names from the resource root; arrays are
//! flattened at every step. Choice elements are listed once per type the parameter's kind can
//! hold (`effectiveDateTime`, `effectivePeriod`, ...; names a resource cannot have are simply
//! never present). A reference path may carry a target type (`subject>Patient`): only references
//! to that type count.

/// How a parameter's values are indexed and matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `system|code` from code, Coding, CodeableConcept, Identifier, boolean.
    Token,
    /// `Type/id` from Reference.
    Reference,
    /// A `[lo, hi)` instant range from date, dateTime, instant, Period.
    Date,
    /// Case-insensitive prefix text from string and HumanName parts.
    Text,
    /// A decimal's implicit range from decimal and integer values.
    Number,
    /// A decimal's implicit range with the unit's `system|code` from Quantity.
    Quantity,
    /// The exact text of uri, url and canonical values.
    Uri,
}

/// One search parameter of one resource type.
#[derive(Debug, Clone)]
pub struct ParamDef {
    /// The parameter code as used in a query (`subject`).
    pub code: &'static str,
    /// How values are indexed.
    pub kind: Kind,
    /// Element paths the values come from.
    pub paths: Vec<String>,
}

use std::collections::HashMap;
use std::sync::OnceLock;

use fhir_types::search::{search_params, SearchParamDef, SearchParamType, SearchPath};
use fhir_types::ResourceType;

/// The JSON type suffixes a choice element (`value[x]`) can carry that a parameter of `kind`
/// indexes.
fn choice_types(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Token => &[
            "CodeableConcept",
            "Coding",
            "Code",
            "Boolean",
            "Identifier",
            "String",
            "Uri",
            "Canonical",
            "Id",
        ],
        Kind::Reference => &["Reference"],
        Kind::Date => &["DateTime", "Period", "Instant", "Date"],
        Kind::Text => &["String", "Markdown"],
        Kind::Number => &["Decimal", "Integer", "PositiveInt", "UnsignedInt"],
        Kind::Quantity => &["Quantity", "Age", "Duration", "Distance", "Count"],
        Kind::Uri => &["Uri", "Url", "Canonical"],
    }
}

fn kind_of(t: SearchParamType) -> Option<Kind> {
    match t {
        SearchParamType::Token => Some(Kind::Token),
        SearchParamType::Reference => Some(Kind::Reference),
        SearchParamType::Date => Some(Kind::Date),
        SearchParamType::String => Some(Kind::Text),
        SearchParamType::Number => Some(Kind::Number),
        SearchParamType::Quantity => Some(Kind::Quantity),
        SearchParamType::Uri => Some(Kind::Uri),
        _ => None,
    }
}

fn capitalised(t: &str) -> String {
    let mut c = t.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The JSON paths of one ElementDefinition path (`Observation.effective[x]` →
/// `effectiveDateTime`, `effectivePeriod`, ...).
fn json_paths(p: &SearchPath, kind: Kind) -> Vec<String> {
    let mut out = vec![String::new()];
    for segment in p.path.split('.').skip(1) {
        let names: Vec<String> = match segment.strip_suffix("[x]") {
            Some(base) => match p.of_type {
                Some(t) => vec![format!("{base}{}", capitalised(t))],
                None => choice_types(kind)
                    .iter()
                    .map(|t| format!("{base}{t}"))
                    .collect(),
            },
            None => vec![segment.to_owned()],
        };
        out = out
            .iter()
            .flat_map(|prefix| {
                names.iter().map(move |n| match prefix.is_empty() {
                    true => n.clone(),
                    false => format!("{prefix}.{n}"),
                })
            })
            .collect();
    }
    match p.resolves_to {
        Some(t) => out
            .into_iter()
            .map(|x| format!("{x}>{}", t.as_str()))
            .collect(),
        None => out,
    }
}

/// The store's definition of a spec parameter, if the store can evaluate it.
fn derive(def: &SearchParamDef) -> Option<ParamDef> {
    // `_id` and `_lastUpdated` are columns of their own; other framework parameters are refused.
    if def.code.starts_with('_') || !def.exact {
        return None;
    }
    let kind = kind_of(def.param_type)?;
    let paths: Vec<String> = def.paths.iter().flat_map(|p| json_paths(p, kind)).collect();
    (!paths.is_empty()).then_some(ParamDef {
        code: def.code,
        kind,
        paths,
    })
}

fn table() -> &'static HashMap<&'static str, Vec<ParamDef>> {
    static TABLE: OnceLock<HashMap<&'static str, Vec<ParamDef>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        ResourceType::ALL
            .iter()
            .map(|t| {
                let defs = search_params(*t).iter().filter_map(derive).collect();
                (t.as_str(), defs)
            })
            .collect()
    })
}

/// The parameters indexed for `resource_type` (empty for unknown types; every type also
/// supports `_id` and `_lastUpdated`).
pub fn params(resource_type: &str) -> &'static [ParamDef] {
    table().get(resource_type).map_or(&[], Vec::as_slice)
}

/// The definition of `code` on `resource_type`, if this server indexes it.
pub fn param(resource_type: &str, code: &str) -> Option<&'static ParamDef> {
    params(resource_type).iter().find(|d| d.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(t: &str, code: &str) -> Vec<String> {
        param(t, code).map(|d| d.paths.clone()).unwrap_or_default()
    }

    #[test]
    fn derived_from_the_specification() {
        assert_eq!(paths("Observation", "patient"), ["subject>Patient"]);
        assert_eq!(paths("Observation", "subject"), ["subject"]);
        let date = paths("Observation", "date");
        assert!(date.contains(&"effectiveDateTime".to_owned()), "{date:?}");
        assert!(date.contains(&"effectivePeriod".to_owned()), "{date:?}");
        assert_eq!(paths("Patient", "family"), ["name.family"]);
        assert_eq!(param("Patient", "name").unwrap().kind, Kind::Text);
        assert_eq!(paths("Patient", "link"), ["link.other"]);
        assert_eq!(
            paths("MedicationRequest", "medication"),
            ["medicationReference"]
        );
        let who = paths("AuditEvent", "patient");
        assert!(who.contains(&"agent.who>Patient".to_owned()), "{who:?}");
        assert!(who.contains(&"entity.what>Patient".to_owned()), "{who:?}");
        // Types the old hand-written table did not know.
        assert_eq!(param("Goal", "patient").unwrap().kind, Kind::Reference);
        assert_eq!(param("CareTeam", "status").unwrap().kind, Kind::Token);
        // R4's expression names SampledData too; it has no `value`, so it indexes nothing.
        assert_eq!(
            paths("Observation", "value-quantity"),
            ["valueQuantity", "valueSampledData"]
        );
        assert_eq!(
            paths("Observation", "component-value-quantity"),
            ["component.valueQuantity", "component.valueSampledData"]
        );
        assert_eq!(
            param("RiskAssessment", "probability").unwrap().kind,
            Kind::Number
        );
        assert!(paths("RiskAssessment", "probability")
            .contains(&"prediction.probabilityDecimal".to_owned()));
    }

    #[test]
    fn every_patient_compartment_parameter_is_an_indexed_reference() {
        use fhir_types::compartment::{members, params as cparams, CompartmentType};
        for t in members(CompartmentType::Patient) {
            for code in cparams(CompartmentType::Patient, *t) {
                // `{def}` stands for the Patient itself, which the store adds by id.
                if *code == "{def}" {
                    continue;
                }
                let def = param(t.as_str(), code);
                assert!(
                    def.is_some_and(|d| d.kind == Kind::Reference),
                    "{}.{code}",
                    t.as_str()
                );
            }
        }
    }

    #[test]
    fn parameters_the_store_cannot_evaluate_are_absent() {
        // composite, uri, special; filtered expressions; framework ones.
        for (t, code) in [
            ("Observation", "code-value-quantity"),
            ("Location", "near"),
            ("Patient", "phone"),
            ("Patient", "email"),
            ("Patient", "_id"),
            ("Patient", "_has"),
            ("Nope", "code"),
        ] {
            assert!(param(t, code).is_none(), "{t}.{code}");
        }
    }
}
