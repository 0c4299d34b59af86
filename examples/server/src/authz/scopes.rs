//! Just enough SMART scope grammar for an authorization server: which requested scope a client's
//! registered ceiling covers, and which resource type a scope names. Enforcement at the resource
//! server is smart-auth's job.

/// A SMART resource scope split into its parts (`patient/Observation.rs?category=x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceScope<'a> {
    pub level: &'a str,
    pub resource_type: &'a str,
    /// Permission letters in `cruds` form (v1 suffixes mapped).
    pub permissions: String,
    pub constraint: Option<&'a str>,
}

/// Parses `level/Type.perm[?constraint]`; `None` for any other scope.
pub(crate) fn parse_resource_scope(scope: &str) -> Option<ResourceScope<'_>> {
    let (body, constraint) = match scope.split_once('?') {
        Some((b, c)) => (b, Some(c)),
        None => (scope, None),
    };
    let (level, rest) = body.split_once('/')?;
    if !matches!(level, "patient" | "user" | "system") {
        return None;
    }
    let (resource_type, perm) = rest.split_once('.')?;
    let valid_type = resource_type == "*"
        || (resource_type.starts_with(|c: char| c.is_ascii_uppercase())
            && resource_type.chars().all(|c| c.is_ascii_alphanumeric()));
    if !valid_type {
        return None;
    }
    let permissions = match perm {
        "read" => "rs".to_owned(),
        "write" => "cud".to_owned(),
        "*" => "cruds".to_owned(),
        letters => {
            // a non-empty, in-order subset of "cruds"
            let mut last = None;
            for c in letters.chars() {
                let pos = "cruds".find(c)?;
                if last.is_some_and(|l| pos <= l) {
                    return None;
                }
                last = Some(pos);
            }
            if letters.is_empty() {
                return None;
            }
            letters.to_owned()
        }
    };
    if constraint.is_some() && (perm == "read" || perm == "write" || perm == "*") {
        return None;
    }
    Some(ResourceScope {
        level,
        resource_type,
        permissions,
        constraint,
    })
}

/// Whether a registered (allowed) scope covers a requested scope: equal, or a resource scope of
/// the same level whose type is `*` or the same and whose permissions include the requested ones.
/// A constrained allowed scope covers only itself.
pub(crate) fn covers(allowed: &str, requested: &str) -> bool {
    if allowed == requested {
        return true;
    }
    let (Some(a), Some(r)) = (
        parse_resource_scope(allowed),
        parse_resource_scope(requested),
    ) else {
        return false;
    };
    a.constraint.is_none()
        && a.level == r.level
        && (a.resource_type == "*" || a.resource_type == r.resource_type)
        && r.permissions.chars().all(|c| a.permissions.contains(c))
}

/// Whether `scope` is a `system/` resource scope.
pub(crate) fn is_system(scope: &str) -> bool {
    parse_resource_scope(scope).is_some_and(|s| s.level == "system")
}

/// Whether `scope` is a `patient/` resource scope.
pub(crate) fn is_patient_level(scope: &str) -> bool {
    parse_resource_scope(scope).is_some_and(|s| s.level == "patient")
}

/// The resource type a scope names (`*` included), for the consent page.
pub(crate) fn resource_type(scope: &str) -> Option<&str> {
    parse_resource_scope(scope).map(|s| s.resource_type)
}

/// The space-separated form of a scope list.
pub(crate) fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage() {
        assert!(covers("patient/*.rs", "patient/Observation.rs"));
        assert!(covers("patient/*.rs", "patient/Observation.r"));
        assert!(covers("patient/*.read", "patient/Observation.s"));
        assert!(!covers("patient/*.rs", "patient/Observation.cruds"));
        assert!(!covers("patient/*.rs", "user/Observation.rs"));
        assert!(!covers("patient/Observation.rs", "patient/Condition.rs"));
        assert!(!covers("patient/*.rs", "patient/Observation.sr"));
        assert!(!covers("patient/*.rs", "patient/*.rsx"));
        assert!(covers("launch/patient", "launch/patient"));
        assert!(!covers("launch", "launch/patient"));
        assert!(covers(
            "patient/*.rs",
            "patient/Observation.rs?category=laboratory"
        ));
        assert!(!covers(
            "patient/Observation.rs?category=a",
            "patient/Observation.rs"
        ));
    }

    #[test]
    fn levels_and_types() {
        assert!(is_system("system/Patient.rs"));
        assert!(!is_system("patient/Patient.rs"));
        assert!(is_patient_level("patient/*.read"));
        assert_eq!(resource_type("user/Observation.rs"), Some("Observation"));
        assert_eq!(resource_type("openid"), None);
        assert_eq!(resource_type("patient/observation.rs"), None);
    }
}
