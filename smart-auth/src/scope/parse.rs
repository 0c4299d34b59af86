//! The grammar of one scope token (smart.md §1.2–§1.6). Whole-token matching only.

use fhir_types::ResourceType;

use super::constraint;
use super::{
    Constraint, Level, Permissions, ResourceScope, Scope, ScopeIssueReason, ScopeResource, Syntax,
};

/// Longest scope token considered at all (smart.md §3.4: 1 KiB per scope).
pub(crate) const MAX_TOKEN_LEN: usize = 1024;
/// Most constraints one granular scope may carry.
const MAX_CONSTRAINTS: usize = 8;

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// Splits `s` at every byte `separator` accepts, which must be ASCII (so every piece is a
/// `str`). Byte by byte: the tokens are short, and a `char` searcher per token cost more than
/// parsing the token.
pub(crate) fn split_ascii(s: &str, separator: impl Fn(u8) -> bool) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(&separator) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `s.split_once(separator)` for an ASCII separator, byte by byte (see [`split_ascii`]).
pub(crate) fn split_once_ascii(s: &str, separator: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == separator)?;
    Some((&s[..i], &s[i + 1..]))
}

/// The prefixes of resource scopes.
const LEVEL_PREFIXES: [(&str, Level); 3] = [
    ("patient/", Level::Patient),
    ("user/", Level::User),
    ("system/", Level::System),
];

/// Whether `token` is written as a resource scope (whatever else is wrong with it).
pub(crate) fn has_level_prefix(token: &str) -> bool {
    LEVEL_PREFIXES.iter().any(|(p, _)| token.starts_with(p))
}

/// Parses one token (already split on spaces).
pub(crate) fn scope(token: &str) -> Result<Scope, ScopeIssueReason> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(ScopeIssueReason::TooLong);
    }
    // Folded without an early exit, so it vectorises (most tokens are valid).
    if token.is_empty() || !token.bytes().fold(true, |ok, b| ok & is_scope_char(b)) {
        return Err(ScopeIssueReason::InvalidCharacter);
    }
    let fixed = match token {
        "openid" => Some(Scope::OpenId),
        "fhirUser" => Some(Scope::FhirUser),
        "profile" => Some(Scope::Profile),
        "launch" => Some(Scope::Launch),
        "launch/patient" => Some(Scope::LaunchPatient),
        "launch/encounter" => Some(Scope::LaunchEncounter),
        "offline_access" => Some(Scope::OfflineAccess),
        "online_access" => Some(Scope::OnlineAccess),
        _ => None,
    };
    if let Some(s) = fixed {
        return Ok(s);
    }
    if let Some(rest) = token.strip_prefix("launch/") {
        return launch_context(rest);
    }
    for (prefix, level) in LEVEL_PREFIXES {
        if let Some(rest) = token.strip_prefix(prefix) {
            return resource_scope(level, rest).map(Scope::Resource);
        }
    }
    if is_uri_form(token) {
        // A SMART or OpenID scope in its URI representation: meaningful, but not the form an
        // OAuth `scope` carries (see `Scope::from_uri`). Never an extension scope: these
        // namespaces are not the issuer's own.
        return Err(ScopeIssueReason::UriForm);
    }
    if token.starts_with("__") || is_uri(token) {
        return Ok(Scope::Extension(token.to_owned()));
    }
    Err(ScopeIssueReason::Unknown)
}

/// SMART App Launch 2.2, "Appendix: URI representation of scopes": the prefix of SMART scopes.
pub(crate) const SMART_URI_PREFIX: &str = "http://smarthealthit.org/fhir/scopes/";
/// The same appendix: the prefix of OpenID Connect scopes.
pub(crate) const OPENID_URI_PREFIX: &str = "http://openid.net/specs/openid-connect-core-1_0#";

/// Whether `token` starts with one of the two URI prefixes (any case, also `https`: a variant
/// spelling is refused as the same thing rather than taken for an extension scope).
fn is_uri_form(token: &str) -> bool {
    let rest = token
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .map(|_| &token[8..])
        .or_else(|| {
            token
                .get(..7)
                .filter(|s| s.eq_ignore_ascii_case("http://"))
                .map(|_| &token[7..])
        });
    let Some(rest) = rest else { return false };
    [SMART_URI_PREFIX, OPENID_URI_PREFIX].iter().any(|p| {
        let p = &p["http://".len()..];
        rest.get(..p.len())
            .is_some_and(|r| r.eq_ignore_ascii_case(p))
    })
}

/// The URI prefix of a scope's URI representation: OpenID Connect's for the scopes OpenID
/// Connect defines, SMART's for the others; `None` for extension scopes (no such form).
pub(crate) fn uri_prefix(scope: &Scope) -> Option<&'static str> {
    match scope {
        Scope::OpenId | Scope::Profile | Scope::OfflineAccess => Some(OPENID_URI_PREFIX),
        Scope::Extension(_) => None,
        _ => Some(SMART_URI_PREFIX),
    }
}

/// Parses the URI representation of one scope: exactly its canonical prefix, then a valid token.
pub(crate) fn scope_from_uri(uri: &str) -> Result<Scope, ScopeIssueReason> {
    let (prefix, short) = if let Some(short) = uri.strip_prefix(SMART_URI_PREFIX) {
        (SMART_URI_PREFIX, short)
    } else if let Some(short) = uri.strip_prefix(OPENID_URI_PREFIX) {
        (OPENID_URI_PREFIX, short)
    } else {
        return Err(ScopeIssueReason::Unknown);
    };
    if uri.len() > MAX_TOKEN_LEN {
        return Err(ScopeIssueReason::TooLong);
    }
    let scope = scope(short)?;
    if uri_prefix(&scope) != Some(prefix) {
        return Err(ScopeIssueReason::Unknown);
    }
    Ok(scope)
}

/// An absolute URI (`scheme:...`), the form extension scopes must take.
fn is_uri(token: &str) -> bool {
    match token.split_once(':') {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme.len() > 1
                && scheme.as_bytes()[0].is_ascii_alphabetic()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        }
        None => false,
    }
}

/// `launch/<type>[?role=<uri>]`: type all lower case, at most one role.
fn launch_context(rest: &str) -> Result<Scope, ScopeIssueReason> {
    let (ty, role) = match rest.split_once('?') {
        None => (rest, None),
        Some((ty, query)) => {
            let role = query
                .strip_prefix("role=")
                .ok_or(ScopeIssueReason::MalformedLaunch)?;
            if role.is_empty() || role.contains(['&', '?', '=']) || !is_uri(role) {
                return Err(ScopeIssueReason::MalformedLaunch);
            }
            (ty, Some(role.to_owned()))
        }
    };
    if ty.is_empty() || !ty.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(ScopeIssueReason::MalformedLaunch);
    }
    let known = ResourceType::ALL
        .iter()
        .any(|t| t.as_str().eq_ignore_ascii_case(ty));
    if !known {
        return Err(ScopeIssueReason::UnknownResourceType);
    }
    Ok(Scope::LaunchContext {
        resource: ty.to_owned(),
        role,
    })
}

/// `<type or *>.<permissions>[?constraints]` after the level prefix.
fn resource_scope(level: Level, rest: &str) -> Result<ResourceScope, ScopeIssueReason> {
    let (head, query) = match split_once_ascii(rest, b'?') {
        Some((head, query)) => (head, Some(query)),
        None => (rest, None),
    };
    let (ty, suffix) = split_once_ascii(head, b'.').ok_or(ScopeIssueReason::InvalidPermissions)?;
    let resource = if ty == "*" {
        ScopeResource::Any
    } else {
        ScopeResource::Type(
            ty.parse()
                .map_err(|_| ScopeIssueReason::UnknownResourceType)?,
        )
    };
    let (permissions, syntax) = match suffix {
        "read" => (Permissions::READ | Permissions::SEARCH, Syntax::V1),
        "write" => (
            Permissions::CREATE | Permissions::UPDATE | Permissions::DELETE,
            Syntax::V1,
        ),
        "*" => (Permissions::ALL, Syntax::V1),
        letters => (
            Permissions::from_v2(letters).ok_or(ScopeIssueReason::InvalidPermissions)?,
            Syntax::V2,
        ),
    };
    let constraints = match query {
        None => Vec::new(),
        Some(_) if syntax == Syntax::V1 => return Err(ScopeIssueReason::MalformedConstraint),
        Some(query) => constraints(resource, query)?,
    };
    Ok(ResourceScope {
        level,
        resource,
        permissions,
        constraints,
        syntax,
    })
}

/// `param=value(&param=value)*`, each one enforceable exactly or the scope is refused.
fn constraints(resource: ScopeResource, query: &str) -> Result<Vec<Constraint>, ScopeIssueReason> {
    let ScopeResource::Type(ty) = resource else {
        // A constraint on `*` cannot be checked against every type's parameters.
        return Err(ScopeIssueReason::UnsupportedConstraint);
    };
    let mut out: Vec<Constraint> = Vec::new();
    for pair in query.split('&') {
        if out.len() == MAX_CONSTRAINTS {
            return Err(ScopeIssueReason::UnsupportedConstraint);
        }
        let (param, value) = pair
            .split_once('=')
            .ok_or(ScopeIssueReason::MalformedConstraint)?;
        if param.is_empty() || value.is_empty() || value.contains('=') {
            return Err(ScopeIssueReason::MalformedConstraint);
        }
        // Modifiers, chains, `_has`, `_include`, `_filter` and every other control parameter.
        if param.contains([':', '.']) || param.starts_with('_') {
            return Err(ScopeIssueReason::UnsupportedConstraint);
        }
        if !constraint::is_enforceable(ty, param) {
            return Err(ScopeIssueReason::UnsupportedConstraint);
        }
        let c = Constraint {
            param: param.to_owned(),
            value: value.to_owned(),
        };
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out.sort();
    Ok(out)
}
