//! Literal references: which resource a `Reference.reference` string points to.
//!
//! Only literal references to a resource by type and id are understood, as FHIR R4 defines them
//! (references.html, "Literal references"): relative `Patient/123`, versioned
//! `Patient/123/_history/2`, and absolute `https://example.org/fhir/Patient/123`. Everything else
//! (contained `#p1`, `urn:uuid:`/`urn:oid:` bundle-local references, canonical URLs, identifier-only
//! logical references, query strings, unknown or miscased types, ids outside `[A-Za-z0-9\-\.]{1,64}`)
//! parses to `None`. Authorization code must treat `None` as "points nowhere it can trust".
//!
//! An absolute reference names the server it lives on in [`ReferenceTarget::base`]; only the host
//! knows its own base, so [`ReferenceTarget::is_local`] asks for it instead of guessing.
//!
//! ```
//! use fhir_types::reference::ReferenceTarget;
//! use fhir_types::ResourceType;
//!
//! let t = ReferenceTarget::parse("Patient/123/_history/2").unwrap();
//! assert_eq!((t.resource_type, t.id.as_str(), t.version.as_deref()), (ResourceType::Patient, "123", Some("2")));
//! assert!(t.is_local(None));
//!
//! let t = ReferenceTarget::parse("https://other.example/fhir/Patient/123").unwrap();
//! assert_eq!(t.base.as_deref(), Some("https://other.example/fhir"));
//! assert!(!t.is_local(Some("https://ehr.example/fhir")));
//!
//! assert!(ReferenceTarget::parse("#contained").is_none());
//! assert!(ReferenceTarget::parse("urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0").is_none());
//! assert!(ReferenceTarget::parse("patient/123").is_none());
//! ```

use std::fmt;

use crate::{Resource, ResourceType};

/// Longest reference string considered; longer input is not a reference we can trust.
const MAX_LEN: usize = 4096;

/// The resource a literal reference points to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReferenceTarget {
    /// The type named in the reference.
    pub resource_type: ResourceType,
    /// The logical id.
    pub id: String,
    /// The version after `/_history/`, if any. Authorization compares type and id only.
    pub version: Option<String>,
    /// For an absolute reference, the service base URL before `/Type/id`, without a trailing `/`
    /// (`https://example.org/fhir`); `None` for a relative reference.
    pub base: Option<String>,
}

impl ReferenceTarget {
    /// Parses a literal reference; `None` for anything that is not a plain reference to a
    /// resource by type and id (see the [module docs](self)).
    pub fn parse(reference: &str) -> Option<ReferenceTarget> {
        if reference.is_empty() || reference.len() > MAX_LEN {
            return None;
        }
        let (base, rest) = match split_base(reference) {
            Some((base, rest)) => (Some(base), rest),
            None => (None, reference),
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let (ty, id, version) = match parts.as_slice() {
            [ty, id] => (*ty, *id, None),
            [ty, id, "_history", v] => (*ty, *id, Some(*v)),
            _ => return None,
        };
        if !is_valid_id(id) || !version.is_none_or(is_valid_id) {
            return None;
        }
        Some(ReferenceTarget {
            resource_type: ty.parse().ok()?,
            id: id.to_string(),
            version: version.map(String::from),
            base: base.map(String::from),
        })
    }

    /// Whether the reference points into the server whose service base URL is `own_base`:
    /// relative references always do; absolute ones only when their base equals `own_base`
    /// (compared exactly, ignoring one trailing `/`). With `own_base` `None`, absolute
    /// references are never local: fail closed.
    pub fn is_local(&self, own_base: Option<&str>) -> bool {
        match (&self.base, own_base) {
            (None, _) => true,
            (Some(base), Some(own)) => base == own.strip_suffix('/').unwrap_or(own),
            (Some(_), None) => false,
        }
    }

    /// Whether this points to the resource `resource_type`/`id` (any version).
    pub fn points_to(&self, resource_type: ResourceType, id: &str) -> bool {
        self.resource_type == resource_type && self.id == id
    }
}

impl fmt::Display for ReferenceTarget {
    /// The reference in its literal form: `[base/]Type/id[/_history/version]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(base) = &self.base {
            write!(f, "{base}/")?;
        }
        write!(f, "{}/{}", self.resource_type.as_str(), self.id)?;
        if let Some(v) = &self.version {
            write!(f, "/_history/{v}")?;
        }
        Ok(())
    }
}

/// Every literal reference `resource` holds, with its element path (`Observation.subject`), in
/// document order; the resources nested in it (`contained`, Bundle entries) are not entered.
/// References [`ReferenceTarget::parse`] does not understand (contained `#x`, `urn:uuid:`,
/// identifier-only) are left out: they name no resource a server can look up by type and id.
pub fn references(resource: &Resource) -> Vec<(String, ReferenceTarget)> {
    let mut out = Vec::new();
    resource.visit_references(&mut |path, r| {
        let literal = r.reference.as_ref().and_then(|p| p.value.as_deref());
        if let Some(target) = literal.and_then(ReferenceTarget::parse) {
            out.push((path.to_string(), target));
        }
    });
    out
}

/// Whether `id` is a valid FHIR resource id: `[A-Za-z0-9\-\.]{1,64}`.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Splits `http(s)://host/path/Type/id[/_history/v]` into the base and `Type/id[...]`.
/// The base must be a plain URL: a host, then non-empty path segments without `.`/`..`,
/// from the characters FHIR's reference pattern allows (no `?`, `#`, `\`, whitespace).
fn split_base(reference: &str) -> Option<(&str, &str)> {
    let after_scheme = reference
        .strip_prefix("https://")
        .or_else(|| reference.strip_prefix("http://"))?;
    let scheme_len = reference.len() - after_scheme.len();
    // The type segment is the second (or fourth, with `_history`) from the end.
    let segments: Vec<&str> = after_scheme.split('/').collect();
    let tail = if segments.len() >= 4 && segments[segments.len() - 2] == "_history" {
        4
    } else {
        2
    };
    if segments.len() <= tail {
        return None;
    }
    let base_segments = &segments[..segments.len() - tail];
    let ok_char =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'%' | b'$');
    let ok_segment = |s: &&str| !s.is_empty() && *s != "." && *s != ".." && s.bytes().all(ok_char);
    if !base_segments.iter().all(ok_segment) {
        return None;
    }
    let base_len = scheme_len + base_segments.iter().map(|s| s.len() + 1).sum::<usize>() - 1;
    Some((&reference[..base_len], &reference[base_len + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_bases() {
        assert_eq!(
            split_base("https://a.b/fhir/Patient/1"),
            Some(("https://a.b/fhir", "Patient/1"))
        );
        assert_eq!(
            split_base("http://a.b/Patient/1/_history/2"),
            Some(("http://a.b", "Patient/1/_history/2"))
        );
        assert_eq!(
            split_base("https://a.b:8080/r4/fhir/Patient/1"),
            Some(("https://a.b:8080/r4/fhir", "Patient/1"))
        );
        assert_eq!(split_base("https://Patient/1"), None);
        assert_eq!(split_base("https://a.b//Patient/1"), None);
        assert_eq!(split_base("https://a.b/../Patient/1"), None);
        assert_eq!(split_base("https://a.b/x?y/Patient/1"), None);
        assert_eq!(split_base("Patient/1"), None);
    }
}
