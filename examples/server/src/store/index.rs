//! Extracting search-index rows from a resource's JSON.

use serde_json::Value;

use super::number::decimal_range;
use super::params::{self, Kind};
use super::time::{instant_range, period_range};

/// One value of one search parameter of a stored resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRow {
    /// The parameter code.
    pub code: &'static str,
    /// Token: the system (or empty); Reference: the target type.
    pub system: String,
    /// Token: the code; Reference: the target id; Text: the normalised text.
    pub value: String,
    /// Date: range start (ms since the epoch, inclusive).
    pub lo: Option<i64>,
    /// Date: range end (ms since the epoch, exclusive).
    pub hi: Option<i64>,
    /// Number and Quantity: the value (Quantity: `system` and `value` are the unit's system
    /// and code, or its unit text with no system).
    pub number: Option<NumberValue>,
}

/// A number or quantity value as stored: its decimal text and a Quantity's comparator.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NumberValue {
    /// The decimal's exact text.
    pub text: String,
    /// `<`/`<=`: the true value may be anything below.
    pub open_below: bool,
    /// `>`/`>=`: the true value may be anything above.
    pub open_above: bool,
}

impl NumberValue {
    /// The `[lo, hi)` range the value stands for (see [`super::number`]).
    pub fn range(&self) -> Option<(f64, f64)> {
        let (lo, hi) = decimal_range(&self.text)?;
        Some((
            if self.open_below {
                f64::NEG_INFINITY
            } else {
                lo
            },
            if self.open_above { f64::INFINITY } else { hi },
        ))
    }
}

/// A literal reference resolved against this server: `(type, id)`.
///
/// Relative (`Patient/1`, `Patient/1/_history/2`) and absolute references to `base` resolve;
/// contained (`#x`), logical, and other servers' references do not.
pub fn resolve_reference(reference: &str, base: &str) -> Option<(String, String)> {
    // Byte checks throughout: these strings are short, and a substring search or a `split`
    // iterator cost more than the rest (they run for every reference indexed or audited).
    let rel = match reference.strip_prefix(base) {
        Some(rest) => rest.strip_prefix('/')?,
        None if reference.as_bytes().windows(3).any(|w| w == b"://")
            || reference.starts_with("urn:") =>
        {
            return None
        }
        None => reference,
    };
    let (rtype, rest) = rel.split_once('/')?;
    // `Type/id` or `Type/id/_history/version`, nothing more.
    let id = match rest.split_once('/') {
        None => rest,
        Some((id, history)) => match history.strip_prefix("_history/") {
            Some(version) if !version.contains('/') => id,
            _ => return None,
        },
    };
    let type_ok = rtype.len() <= 64
        && rtype.starts_with(|c: char| c.is_ascii_uppercase())
        && rtype.bytes().all(|b| b.is_ascii_alphanumeric());
    (type_ok && valid_id(id)).then(|| (rtype.to_owned(), id.to_owned()))
}

/// FHIR `id`: 1-64 of `[A-Za-z0-9\-\.]`.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Every index row of `resource` (a JSON object of type `resource_type`).
pub fn rows(resource_type: &str, resource: &Value, base: &str) -> Vec<IndexRow> {
    let mut out = Vec::new();
    for def in params::params(resource_type) {
        for path in &def.paths {
            let (path, target) = match path.split_once('>') {
                Some((p, t)) => (p, Some(t)),
                None => (path.as_str(), None),
            };
            let mut values = Vec::new();
            collect(resource, path, &mut values);
            for v in values {
                index_value(def.code, def.kind, target, v, base, &mut out);
            }
        }
    }
    out.sort_by(|a, b| {
        (a.code, &a.system, &a.value, a.lo, a.hi, &a.number)
            .cmp(&(b.code, &b.system, &b.value, b.lo, b.hi, &b.number))
    });
    out.dedup();
    out
}

/// The values at a dotted path, flattening arrays at every step.
pub fn collect<'a>(value: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect(v, path, out)),
        Value::Object(map) => match path.split_once('.') {
            Some((head, rest)) => {
                if let Some(v) = map.get(head) {
                    collect(v, rest, out);
                }
            }
            None => match map.get(path) {
                Some(Value::Array(items)) => out.extend(items.iter()),
                Some(v) => out.push(v),
                None => {}
            },
        },
        _ => {}
    }
}

fn index_value(
    code: &'static str,
    kind: Kind,
    target: Option<&str>,
    v: &Value,
    base: &str,
    out: &mut Vec<IndexRow>,
) {
    let row = |system: &str, value: &str, lo: Option<i64>, hi: Option<i64>| IndexRow {
        code,
        system: system.to_owned(),
        value: value.to_owned(),
        lo,
        hi,
        number: None,
    };
    match kind {
        Kind::Token => match v {
            Value::String(s) => out.push(row("", s, None, None)),
            Value::Bool(b) => out.push(row("", if *b { "true" } else { "false" }, None, None)),
            Value::Object(map) => {
                if let Some(Value::Array(codings)) = map.get("coding") {
                    for c in codings {
                        index_value(code, kind, target, c, base, out);
                    }
                }
                let system = map.get("system").and_then(Value::as_str).unwrap_or("");
                let value = map
                    .get("code")
                    .or_else(|| map.get("value"))
                    .and_then(Value::as_str);
                if let Some(value) = value {
                    out.push(row(system, value, None, None));
                }
            }
            _ => {}
        },
        Kind::Reference => {
            let reference = v.get("reference").and_then(Value::as_str);
            if let Some((rtype, id)) = reference.and_then(|r| resolve_reference(r, base)) {
                if target.is_none_or(|t| t == rtype) {
                    out.push(row(&rtype, &id, None, None));
                }
            }
        }
        Kind::Date => {
            let range = match v {
                Value::String(s) => instant_range(s),
                Value::Object(_) => period_range(v),
                _ => None,
            };
            if let Some((lo, hi)) = range {
                out.push(row("", "", Some(lo), Some(hi)));
            }
        }
        Kind::Text => match v {
            Value::String(s) => out.push(row("", &normalise_text(s), None, None)),
            // HumanName and Address: string search matches any of their parts.
            Value::Object(map) => {
                for part in fhir_types::search::STRING_PARTS {
                    let mut values = Vec::new();
                    if let Some(p) = map.get(*part) {
                        collect_strings(p, &mut values);
                    }
                    for s in values {
                        out.push(row("", &normalise_text(s), None, None));
                    }
                }
            }
            _ => {}
        },
        Kind::Uri => {
            if let Value::String(s) = v {
                out.push(row("", s, None, None));
            }
        }
        Kind::Number => {
            if let Some(text) = number_text(v) {
                out.push(IndexRow {
                    number: Some(NumberValue {
                        text,
                        open_below: false,
                        open_above: false,
                    }),
                    ..row("", "", None, None)
                });
            }
        }
        Kind::Quantity => {
            let Some(text) = v.get("value").and_then(number_text) else {
                return;
            };
            let comparator = v.get("comparator").and_then(Value::as_str);
            let number = NumberValue {
                text,
                open_below: matches!(comparator, Some("<" | "<=")),
                open_above: matches!(comparator, Some(">" | ">=")),
            };
            let text_of = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
            let mut units = vec![(text_of("system"), text_of("code"))];
            // `value||unit` searches match the unit text as well as the code.
            if !text_of("unit").is_empty() {
                units.push(("", text_of("unit")));
            }
            for (system, unit) in units {
                out.push(IndexRow {
                    number: Some(number.clone()),
                    ..row(system, unit, None, None)
                });
            }
        }
    }
}

/// The exact text of a JSON number (kept as written by the server's parser, see
/// [`crate::fhir::json`]), if `v` is one whose range is defined.
fn number_text(v: &Value) -> Option<String> {
    let text = match crate::fhir::json::raw_number(v) {
        Some(raw) => raw.to_owned(),
        None if v.is_number() => v.to_string(),
        None => return None,
    };
    decimal_range(&text).map(|_| text)
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// Case-folded text for string search (FHIR: case- and accent-insensitive; we fold case).
/// Not trimmed: smart-auth's check of a string scope constraint matches the text as it is,
/// and the store's narrowing for one may not admit more (` Zed` does not start with `zed`).
pub fn normalise_text(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BASE: &str = "http://localhost:8080/fhir";

    #[test]
    fn references_resolve_only_to_this_server() {
        assert_eq!(
            resolve_reference("Patient/1", BASE),
            Some(("Patient".into(), "1".into()))
        );
        assert_eq!(
            resolve_reference("Patient/1/_history/3", BASE),
            Some(("Patient".into(), "1".into()))
        );
        assert_eq!(
            resolve_reference("http://localhost:8080/fhir/Patient/1", BASE),
            Some(("Patient".into(), "1".into()))
        );
        assert_eq!(resolve_reference("http://other/fhir/Patient/1", BASE), None);
        assert_eq!(resolve_reference("#contained", BASE), None);
        assert_eq!(resolve_reference("Patient/1/extra", BASE), None);
        assert_eq!(resolve_reference("patient/1", BASE), None);
        assert_eq!(resolve_reference("urn:uuid:abc", BASE), None);
        // The edges of the `Type/id[/_history/version]` shape, and what no id holds.
        for (reference, resolved) in [
            ("Patient/1/_history/", true),
            ("Patient/1/_history/a:b", true),
            ("Patient/1/_history", false),
            ("Patient/1/_history/2/x", false),
            ("Patient/1/history/2", false),
            ("Patient/1/", false),
            ("Patient//1", false),
            ("Patient/", false),
            ("Patient", false),
            ("Patient/a:b", false),
            ("Patient/a%2Fb", false),
            ("Pat-ient/1", false),
            ("Patiënt/1", false),
            ("x://y/Patient/1", false),
            ("Patient/x://y", false),
            ("http://localhost:8080/fhirPatient/1", false),
            ("http://localhost:8080/fhir/Patient/1/_history/2", true),
        ] {
            let expected = resolved.then(|| ("Patient".to_owned(), "1".to_owned()));
            assert_eq!(resolve_reference(reference, BASE), expected, "{reference}");
        }
    }

    #[test]
    fn observation_rows() {
        let obs = json!({
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]},
            "subject": {"reference": "Patient/p1"},
            "performer": [{"reference": "Practitioner/d1"}],
            "effectiveDateTime": "2024-01-02"
        });
        let rows = rows("Observation", &obs, BASE);
        let has = |code: &str, sys: &str, val: &str| {
            rows.iter()
                .any(|r| r.code == code && r.system == sys && r.value == val)
        };
        assert!(has("code", "http://loinc.org", "1234-5"));
        assert!(has("status", "", "final"));
        assert!(has("subject", "Patient", "p1"));
        assert!(has("patient", "Patient", "p1"));
        assert!(has("performer", "Practitioner", "d1"));
        assert!(rows.iter().any(|r| r.code == "date" && r.lo.is_some()));
    }

    #[test]
    fn names_and_addresses_are_searched_by_their_parts() {
        let p = json!({"resourceType": "Patient",
            "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
            "address": [{"line": ["534 Erewhon St"], "city": "PleasantVille"}]});
        let rows = rows("Patient", &p, BASE);
        let has = |code: &str, val: &str| rows.iter().any(|r| r.code == code && r.value == val);
        assert!(has("name", "chalmers") && has("name", "james"));
        assert!(has("family", "chalmers") && !has("family", "peter"));
        assert!(has("address", "pleasantville") && has("address-city", "pleasantville"));
    }

    #[test]
    fn patient_target_filter_skips_other_types() {
        let obs = json!({"resourceType": "Observation", "subject": {"reference": "Group/g"}});
        let rows = rows("Observation", &obs, BASE);
        assert!(rows.iter().any(|r| r.code == "subject"));
        assert!(!rows.iter().any(|r| r.code == "patient"));
    }
}
