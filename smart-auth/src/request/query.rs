//! The parsed query of a FHIR search (FHIR R4 search.html): parameters with modifiers and chains,
//! reverse chains (`_has`), includes, and the result controls.

use std::fmt;

use fhir_types::ResourceType;

use super::RequestError;

/// Most parameters in one query (threats.md §4).
pub const MAX_PARAMETERS: usize = 100;
/// Longest query string, in bytes, before decoding.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// Deepest chain (`a.b.c`) or `_has` nesting accepted.
pub const MAX_CHAIN_DEPTH: usize = 4;

/// One link of a parameter name: `subject:Patient` in `subject:Patient.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamLink {
    /// The parameter code, e.g. `subject`.
    pub code: String,
    /// The modifier after `:`, e.g. `Patient` (a type in a chain), `exact`, `missing`.
    pub modifier: Option<String>,
}

/// A search parameter, possibly chained: `subject:Patient.name:exact=Peter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchParam {
    /// The links; more than one means a chain. The last link's modifier is the search modifier.
    pub links: Vec<ParamLink>,
    /// The decoded value (comma-separated alternatives are not split).
    pub value: String,
}

impl SearchParam {
    /// The first (or only) parameter code.
    pub fn code(&self) -> &str {
        &self.links[0].code
    }

    /// Whether the parameter is chained (`subject.name`).
    pub fn is_chained(&self) -> bool {
        self.links.len() > 1
    }

    /// The modifier of the last link.
    pub fn modifier(&self) -> Option<&str> {
        self.links.last().and_then(|l| l.modifier.as_deref())
    }
}

/// A reverse chain: `_has:Observation:patient:code=1234` (nested `_has` gives several steps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReverseChain {
    /// `(type, reference parameter)` per `_has` step, outermost first.
    pub steps: Vec<(ResourceType, String)>,
    /// The criterion on the innermost type.
    pub param: SearchParam,
}

/// `_include` / `_revinclude`, with `:iterate` and wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// `_revinclude` rather than `_include`.
    pub reverse: bool,
    /// `:iterate` (or the R3 `:recurse`).
    pub iterate: bool,
    /// The source type; `None` for `_include=*`.
    pub source: Option<ResourceType>,
    /// The reference parameter; `None` for `*`.
    pub param: Option<String>,
    /// The target type restriction (`Observation:subject:Patient`).
    pub target: Option<ResourceType>,
}

/// `_summary` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    /// `true`.
    True,
    /// `text`.
    Text,
    /// `data`.
    Data,
    /// `count`.
    Count,
    /// `false`.
    False,
}

/// A parsed query. Parameters keep their order; result controls are pulled out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Query {
    /// Search parameters (including `_id`, `_lastUpdated` and unknown control parameters such
    /// as `_filter`, which the decision refuses).
    pub params: Vec<SearchParam>,
    /// Reverse chains.
    pub has: Vec<ReverseChain>,
    /// Includes and reverse includes.
    pub includes: Vec<Include>,
    /// `_type` for system search.
    pub types: Vec<ResourceType>,
    /// `_count`.
    pub count: Option<u32>,
    /// `_summary`.
    pub summary: Option<Summary>,
    /// `_elements`.
    pub elements: Vec<String>,
    /// Other result parameters kept verbatim: `_sort`, `_total`, `_since`, `_at`, `_offset`,
    /// `_format`, `_pretty`, and `_cursor` (where a host's paging link continues: a position
    /// in what the request's own criteria select, never a criterion).
    pub controls: Vec<(String, String)>,
}

impl Query {
    /// Parses an `application/x-www-form-urlencoded` query (URL query or `POST _search` body).
    pub fn parse(raw: &str) -> Result<Query, RequestError> {
        let mut query = Query::default();
        query.extend(raw)?;
        Ok(query)
    }

    /// Whether no parameter at all was given.
    pub fn is_empty(&self) -> bool {
        *self == Query::default()
    }

    /// Parameters with this (first) code.
    pub fn params_named<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a SearchParam> + 'a {
        self.params.iter().filter(move |p| p.code() == code)
    }

    pub(crate) fn extend(&mut self, raw: &str) -> Result<(), RequestError> {
        if raw.len() > MAX_QUERY_BYTES {
            return Err(RequestError::QueryTooLong);
        }
        let mut n = self.params.len() + self.has.len() + self.includes.len() + self.controls.len();
        for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            n += 1;
            if n > MAX_PARAMETERS {
                return Err(RequestError::TooManyParameters);
            }
            self.add(&name, &value)?;
        }
        Ok(())
    }

    fn add(&mut self, name: &str, value: &str) -> Result<(), RequestError> {
        let bad = || RequestError::InvalidQuery;
        if name.is_empty() || name.chars().any(|c| c.is_control() || c == ' ') {
            return Err(bad());
        }
        match name {
            "_count" => {
                let n: u32 = value.parse().map_err(|_| bad())?;
                set_once(&mut self.count, n)?
            }
            "_summary" => {
                let s = match value {
                    "true" => Summary::True,
                    "text" => Summary::Text,
                    "data" => Summary::Data,
                    "count" => Summary::Count,
                    "false" => Summary::False,
                    _ => return Err(bad()),
                };
                set_once(&mut self.summary, s)?
            }
            "_elements" => self.elements.extend(value.split(',').map(str::to_owned)),
            "_type" => {
                for t in value.split(',') {
                    self.types.push(t.parse().map_err(|_| bad())?);
                }
            }
            "_sort" if !is_sort_list(value) => return Err(bad()),
            "_sort" | "_total" | "_since" | "_at" | "_offset" | "_cursor" | "_format"
            | "_pretty" => self.controls.push((name.to_owned(), value.to_owned())),
            _ if name.starts_with("_include") || name.starts_with("_revinclude") => {
                self.includes.push(include(name, value)?)
            }
            _ if name.starts_with("_has:") => self.has.push(reverse_chain(name, value)?),
            _ => self.params.push(param(name, value)?),
        }
        Ok(())
    }
}

/// Whether `value` is an R4 `_sort` list: search parameter names, each optionally after one
/// `-`. No chains or modifiers: a sort by `subject.name` would order the results by data
/// behind references the decision never checked.
fn is_sort_list(value: &str) -> bool {
    value.split(',').all(|rule| {
        let name = rule.strip_prefix('-').unwrap_or(rule);
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && !name.starts_with('-')
    })
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), RequestError> {
    if slot.is_some() {
        return Err(RequestError::InvalidQuery);
    }
    *slot = Some(value);
    Ok(())
}

fn param(name: &str, value: &str) -> Result<SearchParam, RequestError> {
    let mut links = Vec::new();
    for part in name.split('.') {
        if links.len() == MAX_CHAIN_DEPTH {
            return Err(RequestError::InvalidQuery);
        }
        let (code, modifier) = match part.split_once(':') {
            Some((c, m)) => (c, Some(m)),
            None => (part, None),
        };
        if code.is_empty() || modifier.is_some_and(|m| m.is_empty() || m.contains(':')) {
            return Err(RequestError::InvalidQuery);
        }
        links.push(ParamLink {
            code: code.to_owned(),
            modifier: modifier.map(str::to_owned),
        });
    }
    Ok(SearchParam {
        links,
        value: value.to_owned(),
    })
}

fn reverse_chain(name: &str, value: &str) -> Result<ReverseChain, RequestError> {
    let mut steps = Vec::new();
    let mut rest = name;
    while let Some(r) = rest.strip_prefix("_has:") {
        if steps.len() == MAX_CHAIN_DEPTH {
            return Err(RequestError::InvalidQuery);
        }
        let mut parts = r.splitn(3, ':');
        let (Some(ty), Some(reference), Some(tail)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(RequestError::InvalidQuery);
        };
        let ty: ResourceType = ty.parse().map_err(|_| RequestError::InvalidQuery)?;
        if reference.is_empty() {
            return Err(RequestError::InvalidQuery);
        }
        steps.push((ty, reference.to_owned()));
        rest = tail;
    }
    Ok(ReverseChain {
        steps,
        param: param(rest, value)?,
    })
}

fn include(name: &str, value: &str) -> Result<Include, RequestError> {
    let (reverse, modifier) = if let Some(m) = name.strip_prefix("_revinclude") {
        (true, m)
    } else {
        (false, name.strip_prefix("_include").unwrap_or(name))
    };
    let iterate = match modifier {
        "" => false,
        ":iterate" | ":recurse" => true,
        _ => return Err(RequestError::InvalidQuery),
    };
    let bad = || RequestError::InvalidQuery;
    if value == "*" {
        return Ok(Include {
            reverse,
            iterate,
            source: None,
            param: None,
            target: None,
        });
    }
    let mut parts = value.split(':');
    let source = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let param = parts.next().filter(|p| !p.is_empty()).ok_or_else(bad)?;
    let target = parts
        .next()
        .map(|t| t.parse().map_err(|_| bad()))
        .transpose()?;
    if parts.next().is_some() {
        return Err(bad());
    }
    let param = (param != "*").then(|| param.to_owned());
    Ok(Include {
        reverse,
        iterate,
        source: Some(source),
        param,
        target,
    })
}

impl fmt::Display for SearchParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.links.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&l.code)?;
            if let Some(m) = &l.modifier {
                write!(f, ":{m}")?;
            }
        }
        Ok(())
    }
}
