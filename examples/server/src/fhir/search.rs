//! FHIR search parameters (from the query string or a `_search` form body) to the store's model.
//!
//! Strict: an unknown parameter, modifier or prefix is an error rather than silently ignored
//! (an ignored criterion widens the result; SMART digest §12.7).

use crate::store::index;
use crate::store::params::{self, Kind};
use crate::store::query::{Clause, Match, Prefix};
use crate::store::time::instant_range;

/// Default page size.
pub const DEFAULT_COUNT: usize = 50;
/// Largest page size honoured (larger `_count`s are reduced to it).
pub const MAX_COUNT: usize = 200;
/// Largest `_offset` accepted.
pub const MAX_OFFSET: usize = 100_000;
/// Most values in one comma-separated parameter.
const MAX_VALUES: usize = 100;

/// `_include` / `_revinclude`: `source_type:param[:target_type]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The type holding the reference.
    pub source_type: String,
    /// The reference parameter.
    pub code: &'static str,
    /// Restricts the target type.
    pub target: Option<String>,
}

/// A parsed search request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchSpec {
    /// ANDed criteria.
    pub clauses: Vec<Clause>,
    /// `_include`s.
    pub includes: Vec<Include>,
    /// `_revinclude`s.
    pub revincludes: Vec<Include>,
    /// Page size.
    pub count: usize,
    /// Page start.
    pub offset: usize,
    /// `_summary=count`: only the total.
    pub summary_count: bool,
    /// The criteria as given (minus paging), for `self`/`next` links.
    pub link_params: Vec<(String, String)>,
}

/// A search the server will not run. The static text goes into the OperationOutcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchError(pub &'static str);

/// Parses the search parameters of a search on `rtype`.
pub fn parse(rtype: &str, pairs: &[(String, String)]) -> Result<SearchSpec, SearchError> {
    let mut spec = SearchSpec {
        count: DEFAULT_COUNT,
        ..SearchSpec::default()
    };
    for (name, value) in pairs {
        let (code, modifier) = match name.split_once(':') {
            Some((c, m)) => (c, Some(m)),
            None => (name.as_str(), None),
        };
        let keep_in_links = !matches!(code, "_count" | "_offset");
        match (code, modifier) {
            ("_count", None) => {
                let n: usize = value.parse().map_err(|_| SearchError("Invalid _count"))?;
                spec.count = n.min(MAX_COUNT);
            }
            ("_offset", None) => {
                let n: usize = value.parse().map_err(|_| SearchError("Invalid _offset"))?;
                if n > MAX_OFFSET {
                    return Err(SearchError("Invalid _offset"));
                }
                spec.offset = n;
            }
            ("_summary", None) => match value.as_str() {
                "count" => spec.summary_count = true,
                "false" => {}
                _ => return Err(SearchError("Unsupported _summary value")),
            },
            ("_format", None) => match value.as_str() {
                "json" | "application/json" | "application/fhir+json" => {}
                _ => return Err(SearchError("Unsupported _format")),
            },
            ("_total", None) => match value.as_str() {
                "none" | "estimate" | "accurate" => {}
                _ => return Err(SearchError("Invalid _total")),
            },
            ("_include", None) => spec.includes.push(include(value, Some(rtype))?),
            ("_revinclude", None) => spec.revincludes.push(include(value, None)?),
            ("_id", None) => {
                let ids = split(value)?;
                if ids.iter().any(|i| !crate::store::index::valid_id(i)) {
                    // No resource can have a malformed id: match nothing.
                    spec.clauses.push(Clause::Id(Vec::new()));
                } else {
                    spec.clauses
                        .push(Clause::Id(ids.into_iter().map(str::to_owned).collect()));
                }
            }
            ("_lastUpdated", None) => {
                let values = split(value)?
                    .into_iter()
                    .map(date_match)
                    .collect::<Result<_, _>>()?;
                spec.clauses.push(Clause::LastUpdated(values));
            }
            _ => {
                let def = params::param(rtype, code)
                    .ok_or(SearchError("Unsupported search parameter"))?;
                let values = split(value)?
                    .into_iter()
                    .map(|v| value_match(def.kind, def.code, modifier, v))
                    .collect::<Result<_, _>>()?;
                spec.clauses.push(Clause::Param {
                    code: def.code,
                    kind: def.kind,
                    values,
                });
            }
        }
        if keep_in_links {
            spec.link_params.push((name.clone(), value.clone()));
        }
    }
    Ok(spec)
}

/// The clause a granular scope constraint `code=value` stands for in a search on `rtype`, read
/// as smart-auth's result check reads it (`Permit::check_resource`): the value literally, one
/// value (a comma is part of it, not an OR), a token `|` as "no system and the empty code". `None` for one the store cannot express at least as
/// strictly (another parameter type, an absolute or malformed reference): the caller then
/// grants nothing through it. The store may admit less than the check (a token `system|` needs
/// a code here), never more, so counts never include what the check would drop.
pub fn constraint_clause(rtype: &str, code: &str, value: &str) -> Option<Clause> {
    let def = params::param(rtype, code)?;
    let m = match def.kind {
        Kind::Token => match value.split_once('|') {
            Some((system, code)) => Match::Token {
                system: Some(system.to_owned()),
                code: (system.is_empty() || !code.is_empty()).then(|| code.to_owned()),
            },
            None => Match::Token {
                system: None,
                code: Some(value.to_owned()),
            },
        },
        Kind::Reference => match value.split_once('/') {
            Some((t, id)) if super::route::is_resource_type(t) && index::valid_id(id) => {
                Match::Reference {
                    rtype: Some(t.to_owned()),
                    id: id.to_owned(),
                }
            }
            None if index::valid_id(value) => Match::Reference {
                rtype: None,
                id: value.to_owned(),
            },
            _ => return None,
        },
        Kind::Text => Match::Text {
            value: index::normalise_text(value),
            exact: false,
        },
        _ => return None,
    };
    Some(Clause::Param {
        code: def.code,
        kind: def.kind,
        values: vec![m],
    })
}

fn split(value: &str) -> Result<Vec<&str>, SearchError> {
    // FHIR escapes a literal comma as `\,`; we do not support it (rejected, not misread).
    if value.contains('\\') {
        return Err(SearchError("Escaped search values are not supported"));
    }
    let values: Vec<&str> = value.split(',').collect();
    if values.len() > MAX_VALUES || values.iter().any(|v| v.is_empty()) {
        return Err(SearchError("Invalid search value"));
    }
    Ok(values)
}

fn include(value: &str, required_source: Option<&str>) -> Result<Include, SearchError> {
    let mut parts = value.split(':');
    let (source, code, target) = (parts.next(), parts.next(), parts.next());
    let (Some(source), Some(code)) = (source, code) else {
        return Err(SearchError("Invalid _include or _revinclude"));
    };
    if parts.next().is_some() || required_source.is_some_and(|s| s != source) {
        return Err(SearchError("Invalid _include or _revinclude"));
    }
    let def = params::param(source, code)
        .filter(|d| d.kind == Kind::Reference)
        .ok_or(SearchError("Unsupported _include or _revinclude"))?;
    if target.is_some_and(|t| !super::route::is_resource_type(t)) {
        return Err(SearchError("Invalid _include or _revinclude"));
    }
    Ok(Include {
        source_type: source.to_owned(),
        code: def.code,
        target: target.map(str::to_owned),
    })
}

/// A value's comparison prefix (`eq` when it has none) and the rest of it.
fn prefixed(v: &str) -> (Prefix, &str) {
    let prefixes = [
        ("eq", Prefix::Eq),
        ("ne", Prefix::Ne),
        ("gt", Prefix::Gt),
        ("lt", Prefix::Lt),
        ("ge", Prefix::Ge),
        ("le", Prefix::Le),
        ("sa", Prefix::Sa),
        ("eb", Prefix::Eb),
        ("ap", Prefix::Ap),
    ];
    prefixes
        .iter()
        .find_map(|(p, k)| v.strip_prefix(p).map(|r| (*k, r)))
        .unwrap_or((Prefix::Eq, v))
}

fn date_match(v: &str) -> Result<Match, SearchError> {
    let (prefix, rest) = prefixed(v);
    let (lo, hi) = instant_range(rest).ok_or(SearchError("Invalid date"))?;
    Ok(Match::Date { prefix, lo, hi })
}

/// `[prefix]number` (number), `[prefix]number[|system|code]` (quantity; `number||code`
/// matches the unit's code or text in any system).
fn number_match(kind: Kind, v: &str) -> Result<Match, SearchError> {
    let invalid = SearchError("Invalid number or quantity");
    let (prefix, rest) = prefixed(v);
    let mut parts = rest.split('|');
    let value = parts.next().unwrap_or_default();
    let (system, unit) = match (kind, parts.next(), parts.next(), parts.next()) {
        (_, None, _, _) => (None, None),
        (Kind::Quantity, Some(system), Some(code), None) if !code.is_empty() => (
            (!system.is_empty()).then(|| system.to_owned()),
            Some(code.to_owned()),
        ),
        _ => return Err(invalid),
    };
    if crate::store::number::decimal_range(value).is_none() {
        return Err(invalid);
    }
    Ok(Match::Number {
        prefix,
        value: value.to_owned(),
        system,
        unit,
    })
}

fn value_match(
    kind: Kind,
    code: &str,
    modifier: Option<&str>,
    v: &str,
) -> Result<Match, SearchError> {
    let unsupported = SearchError("Unsupported search modifier");
    match kind {
        Kind::Token => {
            if modifier.is_some() {
                return Err(unsupported);
            }
            Ok(match v.split_once('|') {
                Some((s, c)) => Match::Token {
                    system: Some(s.to_owned()),
                    code: (!c.is_empty()).then(|| c.to_owned()),
                },
                None => Match::Token {
                    system: None,
                    code: Some(v.to_owned()),
                },
            })
        }
        Kind::Date => {
            if modifier.is_some() {
                return Err(unsupported);
            }
            date_match(v)
        }
        Kind::Number | Kind::Quantity => {
            if modifier.is_some() {
                return Err(unsupported);
            }
            number_match(kind, v)
        }
        Kind::Text => {
            let exact = match modifier {
                None => false,
                Some("exact") => true,
                Some(_) => return Err(unsupported),
            };
            Ok(Match::Text {
                value: crate::store::index::normalise_text(v),
                exact,
            })
        }
        Kind::Uri => {
            let below = match modifier {
                None => false,
                Some("below") => true,
                // `:above` (the stored uri a prefix of the value) is not evaluated.
                Some(_) => return Err(unsupported),
            };
            Ok(Match::Uri {
                value: v.to_owned(),
                below,
            })
        }
        Kind::Reference => {
            // `patient` parameters only ever target Patient.
            let implied = (code == "patient").then_some("Patient");
            let typed = match modifier {
                None => None,
                Some(t) if super::route::is_resource_type(t) => Some(t),
                Some(_) => return Err(unsupported),
            };
            let (rtype, id) = match v.split_once('/') {
                Some((t, i)) if super::route::is_resource_type(t) && !i.contains('/') => {
                    (Some(t), i)
                }
                Some(_) => return Err(SearchError("Invalid reference")),
                None => (typed.or(implied), v),
            };
            if typed.is_some_and(|t| Some(t) != rtype) || implied.is_some_and(|t| Some(t) != rtype)
            {
                return Err(SearchError("Invalid reference"));
            }
            Ok(Match::Reference {
                rtype: rtype.map(str::to_owned),
                id: id.to_owned(),
            })
        }
    }
}

/// Percent-decodes a query string (or form body) into pairs.
pub fn pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &str) -> Result<SearchSpec, SearchError> {
        parse("Observation", &pairs(q))
    }

    #[test]
    fn parameters() {
        let s = p("patient=123&code=http://loinc.org|8867-4,1234-5&_count=5&_offset=10").unwrap();
        assert_eq!(s.count, 5);
        assert_eq!(s.offset, 10);
        assert_eq!(s.clauses.len(), 2);
        assert_eq!(
            s.clauses[0],
            Clause::Param {
                code: "patient",
                kind: Kind::Reference,
                values: vec![Match::Reference {
                    rtype: Some("Patient".into()),
                    id: "123".into()
                }]
            }
        );
        assert_eq!(s.link_params.len(), 2);
        assert!(p("_count=100000").unwrap().count == MAX_COUNT);
    }

    #[test]
    fn strictness() {
        assert!(p("unknown=1").is_err());
        assert!(p("code:text=x").is_err());
        assert!(p("date=yesterday").is_err());
        assert!(p("patient=Group/1").is_err());
        assert!(p("subject:Patient=Group/1").is_err());
        assert!(
            p("_include=Patient:link").is_err(),
            "include source must be the searched type"
        );
        assert!(
            p("_include=Observation:code").is_err(),
            "only reference params"
        );
        assert!(p("_summary=true").is_err());
        assert!(p("_sort=date").is_err());
        assert!(p("code=a\\,b").is_err());
        assert!(p("code=").is_err());
        assert!(p("_offset=999999999").is_err());
        assert!(p("_include=Observation:subject:Patient").is_ok());
        assert!(p("_revinclude=Provenance:target").is_ok());
        assert!(p("date=ge2024-01-01&date=lt2025").is_ok());
    }
}
