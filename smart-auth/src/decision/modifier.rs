//! The search modifiers FHIR R4 defines for each parameter type (search.html, modifiers). A host
//! that does not know a modifier may ignore it and answer more than was asked (threats.md): every
//! other modifier is refused.

use fhir_types::search::{SearchParamDef, SearchParamType};
use fhir_types::ResourceType;

use super::{Denial, DenialReason};

/// Refuses a modifier FHIR R4 does not define for `def`'s type, and a `:missing` that is not
/// `true` or `false`, as [`DenialReason::UnsupportedParameter`].
pub(super) fn check(
    def: &SearchParamDef,
    modifier: Option<&str>,
    value: &str,
) -> Result<(), Denial> {
    if defined(def, modifier, value) {
        Ok(())
    } else {
        Err(Denial::bad_request(DenialReason::UnsupportedParameter))
    }
}

fn defined(def: &SearchParamDef, modifier: Option<&str>, value: &str) -> bool {
    use SearchParamType as T;
    let Some(m) = modifier else {
        return true;
    };
    if m == "missing" {
        return matches!(value, "true" | "false");
    }
    match def.param_type {
        T::String => matches!(m, "exact" | "contains"),
        T::Token => matches!(
            m,
            "text" | "not" | "above" | "below" | "in" | "not-in" | "of-type"
        ),
        // `:text` is R5 (`Reference.display`); it names no patient (see `may_name_patient`).
        T::Reference => matches!(m, "identifier" | "text" | "above" | "below") || is_target(def, m),
        T::Uri => matches!(m, "above" | "below"),
        // Date, number, quantity, composite and the one special parameter (`Location.near`)
        // define only `:missing`; a type added later defines nothing until it is listed here.
        _ => false,
    }
}

/// `subject:Patient`: a type the reference may point at (types are case-sensitive).
fn is_target(def: &SearchParamDef, m: &str) -> bool {
    m.parse::<ResourceType>()
        .is_ok_and(|t| def.targets.is_empty() || def.targets.contains(&t))
}
