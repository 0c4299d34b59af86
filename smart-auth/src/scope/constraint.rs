//! Granular scope constraints (`?param=value`): which ones can be enforced exactly, and whether
//! a resource (as FHIR JSON) satisfies one.
//!
//! Only token, reference and string parameters whose R4 expression is a plain element path
//! (optionally `(path as Type)` / `path.as(Type)`, joined by `|`) are enforceable. Anything else
//! (`where()`, `resolve()`, extensions, composite or date parameters) is refused when the scope
//! is parsed, so a constrained scope never silently becomes an unconstrained one.

use fhir_types::search::{search_param, SearchParamDef, SearchParamType, STRING_PARTS};
use fhir_types::ResourceType;
use serde_json::Value;

use super::Constraint;

/// One element path from the resource root, as JSON keys; the last key may be a choice element
/// narrowed to one type (`value[x]` as `CodeableConcept` is the key `valueCodeableConcept`).
struct ElementPath {
    steps: Vec<String>,
    resolves_to: Option<ResourceType>,
}

/// The JSON paths of a parameter's definition; `None` unless every path is exact and plain.
fn paths(ty: ResourceType, def: &SearchParamDef) -> Option<Vec<ElementPath>> {
    if !def.exact || def.paths.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for p in def.paths {
        let mut parts = p.path.split('.');
        if parts.next() != Some(ty.as_str()) {
            return None;
        }
        let parts: Vec<&str> = parts.collect();
        let mut steps = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            match part.strip_suffix("[x]") {
                Some(name) if i + 1 == parts.len() => {
                    let of = p.of_type?;
                    let mut chars = of.chars();
                    let first = chars.next()?;
                    steps.push(format!("{name}{}{}", first.to_uppercase(), chars.as_str()));
                }
                Some(_) => return None,
                None => steps.push((*part).to_owned()),
            }
        }
        if steps.is_empty() {
            return None;
        }
        out.push(ElementPath {
            steps,
            resolves_to: p.resolves_to,
        });
    }
    Some(out)
}

/// Whether `param` on `ty` can be enforced exactly by [`matches`].
pub(crate) fn is_enforceable(ty: ResourceType, param: &str) -> bool {
    let Some(def) = search_param(ty, param) else {
        return false;
    };
    matches!(
        def.param_type,
        SearchParamType::Token | SearchParamType::Reference | SearchParamType::String
    ) && paths(ty, def).is_some()
}

/// Whether the resource (`json`, of type `ty`) satisfies the constraint. Fails closed: an
/// unknown or unenforceable parameter never matches. `base` is this server's FHIR base: an
/// absolute reference names a local resource only on exactly that base.
pub(crate) fn matches(
    ty: ResourceType,
    constraint: &Constraint,
    json: &Value,
    base: Option<&str>,
) -> bool {
    let Some(def) = search_param(ty, constraint.param()) else {
        return false;
    };
    let Some(paths) = paths(ty, def) else {
        return false;
    };
    let value = constraint.value();
    paths.iter().any(|path| {
        let mut found = false;
        walk(json, path, 0, &mut |node| {
            found = found
                || match def.param_type {
                    SearchParamType::Token => token_matches(node, value),
                    SearchParamType::Reference => {
                        reference_matches(node, value, path.resolves_to, base)
                    }
                    SearchParamType::String => string_matches(node, value),
                    _ => false,
                }
        });
        found
    })
}

fn walk(node: &Value, path: &ElementPath, depth: usize, f: &mut dyn FnMut(&Value)) {
    if let Value::Array(items) = node {
        items.iter().for_each(|item| walk(item, path, depth, f));
        return;
    }
    if depth == path.steps.len() {
        f(node);
        return;
    }
    let Value::Object(map) = node else { return };
    if let Some(child) = map.get(path.steps[depth].as_str()) {
        walk(child, path, depth + 1, f);
    }
}

/// Token search semantics: `code`, `system|code`, `|code` (no system), `system|` (any code).
fn token_matches(node: &Value, value: &str) -> bool {
    let (system, code) = match value.split_once('|') {
        Some((s, c)) => (Some(s), c),
        None => (None, value),
    };
    let pair = |sys: Option<&str>, c: Option<&str>| -> bool {
        let system_ok = match system {
            None => true,
            Some("") => sys.is_none(),
            Some(s) => sys == Some(s),
        };
        system_ok && (code.is_empty() && system.is_some_and(|s| !s.is_empty()) || c == Some(code))
    };
    match node {
        Value::String(s) => pair(None, Some(s)),
        Value::Bool(b) => pair(None, Some(if *b { "true" } else { "false" })),
        Value::Object(map) => {
            if let Some(Value::Array(codings)) = map.get("coding") {
                return codings.iter().any(|c| token_matches(c, value));
            }
            let sys = map.get("system").and_then(Value::as_str);
            let c = map
                .get("code")
                .or_else(|| map.get("value"))
                .and_then(Value::as_str);
            pair(sys, c)
        }
        _ => false,
    }
}

/// Reference semantics: `Type/id` matches that literal reference (also versioned, or absolute
/// on exactly `base`); a bare `id` matches any local `Type/id`. Contained, logical and other
/// servers' references never match (like compartment membership, smart.md §12.2).
fn reference_matches(
    node: &Value,
    value: &str,
    resolves_to: Option<ResourceType>,
    base: Option<&str>,
) -> bool {
    let Some(reference) = node.get("reference").and_then(Value::as_str) else {
        return false;
    };
    let (Some(reference), Some(value)) = (local(reference, base), local(value, base)) else {
        return false;
    };
    let unversioned = match reference.find("/_history/") {
        Some(i) => &reference[..i],
        None => reference,
    };
    let Some((rtype, id)) = unversioned.split_once('/') else {
        return false;
    };
    if id.is_empty() || id.contains('/') || resolves_to.is_some_and(|t| t.as_str() != rtype) {
        return false;
    }
    if value.contains('/') {
        unversioned == value
    } else {
        id == value
    }
}

/// A reference relative to this server: as written, or with exactly `base/` removed from an
/// absolute one; `None` for another server's.
fn local<'a>(reference: &'a str, base: Option<&str>) -> Option<&'a str> {
    if !reference.contains("://") {
        return Some(reference);
    }
    reference.strip_prefix(base?)?.strip_prefix('/')
}

/// String semantics: case-insensitive "starts with" on the string, or on any text part of a
/// HumanName or Address ([`STRING_PARTS`]: `name=official` must not grant every patient with
/// an official name).
fn string_matches(node: &Value, value: &str) -> bool {
    let needle = value.to_lowercase();
    let starts = |s: &str| s.to_lowercase().starts_with(&needle);
    match node {
        Value::String(s) => starts(s),
        Value::Object(map) => {
            STRING_PARTS
                .iter()
                .filter_map(|part| map.get(*part))
                .any(|v| match v {
                    Value::String(s) => starts(s),
                    Value::Array(items) => items.iter().filter_map(Value::as_str).any(starts),
                    _ => false,
                })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(param: &str, value: &str) -> Constraint {
        Constraint {
            param: param.into(),
            value: value.into(),
        }
    }

    #[test]
    fn token_on_codeable_concept() {
        let obs = json!({"resourceType":"Observation","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}]});
        let ty = ResourceType::Observation;
        assert!(matches(ty, &c("category", "laboratory"), &obs, None));
        assert!(matches(
            ty,
            &c(
                "category",
                "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
            ),
            &obs,
            None
        ));
        assert!(matches(
            ty,
            &c(
                "category",
                "http://terminology.hl7.org/CodeSystem/observation-category|"
            ),
            &obs,
            None
        ));
        assert!(!matches(ty, &c("category", "|laboratory"), &obs, None));
        assert!(!matches(ty, &c("category", "vital-signs"), &obs, None));
        assert!(!matches(ty, &c("category", "other|laboratory"), &obs, None));
    }

    #[test]
    fn reference_and_string() {
        let obs =
            json!({"resourceType":"Observation","subject":{"reference":"Patient/1/_history/2"}});
        let ty = ResourceType::Observation;
        assert!(matches(ty, &c("subject", "Patient/1"), &obs, None));
        assert!(matches(ty, &c("subject", "1"), &obs, None));
        assert!(!matches(ty, &c("subject", "Patient/11"), &obs, None));
        assert!(!matches(ty, &c("subject", "11"), &obs, None));
        let p = json!({"resourceType":"Patient","name":[{"family":"Chalmers","given":["Peter"]}]});
        assert!(matches(
            ResourceType::Patient,
            &c("family", "chal"),
            &p,
            None
        ));
        assert!(!matches(
            ResourceType::Patient,
            &c("family", "peter"),
            &p,
            None
        ));
    }

    #[test]
    fn a_name_or_address_matches_by_its_text_parts_only() {
        let p = json!({"resourceType":"Patient",
            "name":[{"id":"n1","use":"official","family":"Chalmers","given":["Peter","James"]}],
            "address":[{"use":"home","type":"both","line":["534 Erewhon St"],"city":"Pleasantville"}]});
        let ty = ResourceType::Patient;
        assert!(matches(ty, &c("name", "jam"), &p, None));
        assert!(matches(ty, &c("name", "chal"), &p, None));
        assert!(matches(ty, &c("address", "534"), &p, None));
        assert!(matches(ty, &c("address", "pleas"), &p, None));
        // Codes and ids are not the name's or address's text.
        assert!(!matches(ty, &c("name", "official"), &p, None));
        assert!(!matches(ty, &c("name", "n1"), &p, None));
        assert!(!matches(ty, &c("address", "home"), &p, None));
        assert!(!matches(ty, &c("address", "both"), &p, None));
    }

    #[test]
    fn enforceable_parameters() {
        assert!(is_enforceable(ResourceType::Observation, "category"));
        assert!(is_enforceable(ResourceType::Observation, "code"));
        assert!(is_enforceable(ResourceType::Condition, "category"));
        assert!(!is_enforceable(ResourceType::Observation, "date"));
        assert!(!is_enforceable(ResourceType::Observation, "nonsense"));
    }
}
