//! The search model the store executes, and its translation to SQL.
//!
//! Every value reaches SQLite as a bound parameter; only fixed fragments are formatted in.

use rusqlite::types::Value as Sql;

use super::params::Kind;

/// Date comparison prefixes (FHIR search, "prefixes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// `eq` (default): the value's range lies within the search range.
    Eq,
    /// `ne`: not `eq`.
    Ne,
    /// `gt`
    Gt,
    /// `lt`
    Lt,
    /// `ge`
    Ge,
    /// `le`
    Le,
    /// `sa`: starts after.
    Sa,
    /// `eb`: ends before.
    Eb,
    /// `ap`: approximately (ranges overlap).
    Ap,
}

/// One value a parameter may match (values of one parameter are ORed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Token `[system|]code`; `None` matches any.
    Token {
        /// The system, when given (`Some("")` for `|code`).
        system: Option<String>,
        /// The code, when given.
        code: Option<String>,
    },
    /// Reference `[Type/]id`.
    Reference {
        /// The target type, when known.
        rtype: Option<String>,
        /// The target id.
        id: String,
    },
    /// Date comparison against `[lo, hi)`.
    Date {
        /// The comparison.
        prefix: Prefix,
        /// Range start (ms).
        lo: i64,
        /// Range end (ms, exclusive).
        hi: i64,
    },
    /// Text, case-insensitive; prefix match unless `exact`.
    Text {
        /// The normalised text.
        value: String,
        /// `:exact`.
        exact: bool,
    },
}

/// A condition on a resource; a query ANDs its clauses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// `_id` is one of these.
    Id(Vec<String>),
    /// `_lastUpdated` matches one of these (date matches).
    LastUpdated(Vec<Match>),
    /// The indexed parameter `code` matches one of `values`.
    Param {
        /// The parameter code.
        code: &'static str,
        /// The parameter's kind.
        kind: Kind,
        /// ORed values.
        values: Vec<Match>,
    },
    /// The resource is in the compartment `ctype/id`.
    InCompartment {
        /// Compartment type (`Patient`).
        ctype: String,
        /// Compartment id.
        id: String,
    },
    /// At least one of these AND-groups holds (an empty list matches nothing).
    AnyOf(Vec<Vec<Clause>>),
}

/// A type-level search the store runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The searched type.
    pub resource_type: String,
    /// ANDed conditions (including the authorization narrowing).
    pub clauses: Vec<Clause>,
}

/// Renders `clauses` as a SQL condition over the current-version row aliased `c`.
pub fn where_sql(clauses: &[Clause], args: &mut Vec<Sql>) -> String {
    if clauses.is_empty() {
        return "1".into();
    }
    let parts: Vec<String> = clauses.iter().map(|c| clause_sql(c, args)).collect();
    format!("({})", parts.join(" AND "))
}

fn clause_sql(clause: &Clause, args: &mut Vec<Sql>) -> String {
    match clause {
        Clause::Id(ids) => {
            if ids.is_empty() {
                return "0".into();
            }
            let marks: Vec<String> = ids
                .iter()
                .map(|id| bind(args, Sql::Text(id.clone())))
                .collect();
            format!("c.id IN ({})", marks.join(","))
        }
        Clause::LastUpdated(values) => {
            let ors: Vec<String> = values
                .iter()
                .filter_map(|m| match m {
                    Match::Date { prefix, lo, hi } => Some(date_sql(
                        *prefix,
                        "c.updated_ms",
                        "c.updated_ms + 1",
                        *lo,
                        *hi,
                        args,
                    )),
                    _ => None,
                })
                .collect();
            any(ors)
        }
        Clause::Param { code, kind, values } => {
            let ors: Vec<String> = values.iter().map(|m| value_sql(*kind, m, args)).collect();
            args.push(Sql::Text((*code).to_owned()));
            // The code is bound after the value conditions, so number the marks explicitly.
            let code_mark = args.len();
            format!(
                "EXISTS (SELECT 1 FROM search_index s WHERE s.rtype = c.rtype AND s.id = c.id \
                 AND s.code = ?{code_mark} AND {})",
                any(ors)
            )
        }
        Clause::InCompartment { ctype, id } => {
            args.push(Sql::Text(ctype.clone()));
            let a = args.len();
            args.push(Sql::Text(id.clone()));
            let b = args.len();
            format!(
                "EXISTS (SELECT 1 FROM compartment m WHERE m.rtype = c.rtype AND m.id = c.id \
                 AND m.ctype = ?{a} AND m.cid = ?{b})"
            )
        }
        Clause::AnyOf(groups) => {
            let ors: Vec<String> = groups.iter().map(|g| where_sql(g, args)).collect();
            any(ors)
        }
    }
}

pub(super) fn any(ors: Vec<String>) -> String {
    if ors.is_empty() {
        "0".into()
    } else {
        format!("({})", ors.join(" OR "))
    }
}

pub(super) fn bind(args: &mut Vec<Sql>, v: Sql) -> String {
    args.push(v);
    format!("?{}", args.len())
}

fn value_sql(kind: Kind, m: &Match, args: &mut Vec<Sql>) -> String {
    match (kind, m) {
        (Kind::Token, Match::Token { system, code }) => {
            let mut conds = Vec::new();
            if let Some(s) = system {
                conds.push(format!("s.system = {}", bind(args, Sql::Text(s.clone()))));
            }
            if let Some(c) = code {
                conds.push(format!("s.value = {}", bind(args, Sql::Text(c.clone()))));
            }
            if conds.is_empty() {
                "1".into()
            } else {
                format!("({})", conds.join(" AND "))
            }
        }
        (Kind::Reference, Match::Reference { rtype, id }) => {
            let mut cond = format!("s.value = {}", bind(args, Sql::Text(id.clone())));
            if let Some(t) = rtype {
                cond = format!(
                    "({cond} AND s.system = {})",
                    bind(args, Sql::Text(t.clone()))
                );
            }
            cond
        }
        (Kind::Date, Match::Date { prefix, lo, hi }) => {
            date_sql(*prefix, "s.lo", "s.hi", *lo, *hi, args)
        }
        (Kind::Text, Match::Text { value, exact }) => {
            if *exact {
                format!("s.value = {}", bind(args, Sql::Text(value.clone())))
            } else {
                let escaped = value
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!(
                    "s.value LIKE {} ESCAPE '\\'",
                    bind(args, Sql::Text(format!("{escaped}%")))
                )
            }
        }
        _ => "0".into(),
    }
}

pub(super) fn date_sql(
    prefix: Prefix,
    lo: &str,
    hi: &str,
    qlo: i64,
    qhi: i64,
    args: &mut Vec<Sql>,
) -> String {
    let a = bind(args, Sql::Integer(qlo));
    let b = bind(args, Sql::Integer(qhi));
    let within = format!("({lo} >= {a} AND {hi} <= {b})");
    match prefix {
        Prefix::Eq => within,
        Prefix::Ne => format!("NOT {within}"),
        Prefix::Gt => format!("({hi} > {b})"),
        Prefix::Lt => format!("({lo} < {a})"),
        Prefix::Ge => format!("({hi} > {b} OR {within})"),
        Prefix::Le => format!("({lo} < {a} OR {within})"),
        Prefix::Sa => format!("({lo} >= {b})"),
        Prefix::Eb => format!("({hi} <= {a})"),
        Prefix::Ap => format!("({lo} < {b} AND {hi} > {a})"),
    }
}
