//! FHIR REST paths (relative to the base) to the interaction they name.

use crate::store::index::valid_id;

/// A FHIR REST path below the base, with types and ids already checked for form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `` (the base): batch or transaction.
    Base,
    /// `metadata`
    Metadata,
    /// `.well-known/smart-configuration`
    SmartConfiguration,
    /// `_history`
    SystemHistory,
    /// `[type]`: search (GET) or create (POST).
    Type(String),
    /// `[type]/_search` (POST)
    TypeSearch(String),
    /// `[type]/_history`
    TypeHistory(String),
    /// `[type]/[id]`: read, update, patch, delete.
    Instance(String, String),
    /// `[type]/[id]/_history`
    InstanceHistory(String, String),
    /// `[type]/[id]/_history/[vid]`
    Version(String, String, i64),
    /// `[type]/[id]/[type]`: compartment search.
    Compartment {
        /// Compartment type (`Patient`).
        ctype: String,
        /// Compartment id.
        id: String,
        /// The searched type.
        rtype: String,
    },
    /// `[type]/[id]/$[op]`
    InstanceOperation(String, String, String),
    /// `[type]/$[op]`
    TypeOperation(String, String),
}

impl Route {
    /// The resource type and id the route acts on, where it names them.
    pub fn target(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Route::Instance(t, i)
            | Route::InstanceHistory(t, i)
            | Route::Version(t, i, _)
            | Route::InstanceOperation(t, i, _) => (Some(t), Some(i)),
            Route::Type(t)
            | Route::TypeSearch(t)
            | Route::TypeHistory(t)
            | Route::TypeOperation(t, _) => (Some(t), None),
            Route::Compartment { rtype, .. } => (Some(rtype), None),
            Route::Base | Route::Metadata | Route::SmartConfiguration | Route::SystemHistory => {
                (None, None)
            }
        }
    }
}

/// Why a path does not name anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// The resource type is not one of FHIR R4's.
    UnknownType,
    /// The id (or version) is not well-formed: no resource can have it.
    BadId,
    /// No such FHIR path.
    NoSuchPath,
}

/// Whether `t` is a FHIR R4 resource type.
pub fn is_resource_type(t: &str) -> bool {
    t.parse::<fhir_types::ResourceType>().is_ok()
}

fn operation(segment: &str) -> Option<String> {
    let name = segment.strip_prefix('$')?;
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| name.to_owned())
}

/// Parses `path` (below the base, no leading slash, no query).
pub fn parse(path: &str) -> Result<Route, RouteError> {
    let path = path.strip_suffix('/').unwrap_or(path);
    if path.is_empty() {
        return Ok(Route::Base);
    }
    let segs: Vec<&str> = path.split('/').collect();
    if segs.len() > 4 {
        return Err(RouteError::NoSuchPath);
    }
    match segs.as_slice() {
        ["metadata"] => return Ok(Route::Metadata),
        [".well-known", "smart-configuration"] => return Ok(Route::SmartConfiguration),
        ["_history"] => return Ok(Route::SystemHistory),
        _ => {}
    }
    let rtype = segs[0];
    if !is_resource_type(rtype) {
        return Err(RouteError::UnknownType);
    }
    let t = || rtype.to_owned();
    let id = |s: &str| {
        if valid_id(s) {
            Ok(s.to_owned())
        } else {
            Err(RouteError::BadId)
        }
    };
    Ok(match segs.as_slice() {
        [_] => Route::Type(t()),
        [_, "_search"] => Route::TypeSearch(t()),
        [_, "_history"] => Route::TypeHistory(t()),
        [_, op] if op.starts_with('$') => {
            Route::TypeOperation(t(), operation(op).ok_or(RouteError::NoSuchPath)?)
        }
        [_, i] => Route::Instance(t(), id(i)?),
        [_, i, "_history"] => Route::InstanceHistory(t(), id(i)?),
        [_, i, op] if op.starts_with('$') => {
            Route::InstanceOperation(t(), id(i)?, operation(op).ok_or(RouteError::NoSuchPath)?)
        }
        [_, i, other] if is_resource_type(other) => Route::Compartment {
            ctype: t(),
            id: id(i)?,
            rtype: (*other).to_owned(),
        },
        [_, i, "_history", v] => {
            let i = id(i)?;
            let v: i64 = v.parse().map_err(|_| RouteError::BadId)?;
            if v < 1 || v > i64::from(u32::MAX) {
                return Err(RouteError::BadId);
            }
            Route::Version(t(), i, v)
        }
        [_, _, _] => return Err(RouteError::UnknownType),
        _ => return Err(RouteError::NoSuchPath),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let s = |x: &str| x.to_owned();
        assert_eq!(parse(""), Ok(Route::Base));
        assert_eq!(parse("metadata"), Ok(Route::Metadata));
        assert_eq!(parse("Patient"), Ok(Route::Type(s("Patient"))));
        assert_eq!(
            parse("Patient/1"),
            Ok(Route::Instance(s("Patient"), s("1")))
        );
        assert_eq!(
            parse("Patient/1/_history/2"),
            Ok(Route::Version(s("Patient"), s("1"), 2))
        );
        assert_eq!(
            parse("Patient/1/$everything"),
            Ok(Route::InstanceOperation(
                s("Patient"),
                s("1"),
                s("everything")
            ))
        );
        assert_eq!(
            parse("Patient/1/Observation"),
            Ok(Route::Compartment {
                ctype: s("Patient"),
                id: s("1"),
                rtype: s("Observation")
            })
        );
        assert_eq!(parse("Nope/1"), Err(RouteError::UnknownType));
        assert_eq!(parse("patient/1"), Err(RouteError::UnknownType));
        assert_eq!(parse("Patient/a%20b"), Err(RouteError::BadId));
        assert_eq!(parse("Patient/1/_history/x"), Err(RouteError::BadId));
        assert_eq!(parse("Patient/1/_history/0"), Err(RouteError::BadId));
        assert_eq!(parse("Patient/1/Nope"), Err(RouteError::UnknownType));
        assert_eq!(parse("a/b/c/d/e"), Err(RouteError::NoSuchPath));
    }
}
