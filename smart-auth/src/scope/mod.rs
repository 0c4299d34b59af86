//! SMART App Launch scopes, v1 and v2 (SMART App Launch 2.2, "Scopes and Launch Context").
//!
//! [`ScopeSet::parse`] never fails: every space-separated token either becomes a [`Scope`] or a
//! [`ScopeIssue`] that grants nothing. Tokens are matched whole: a token that merely starts with
//! a valid scope is invalid, never truncated to its valid prefix.
//!
//! ```
//! use smart_auth::scope::{Level, Permissions, ScopeSet};
//!
//! let set = ScopeSet::parse("openid fhirUser patient/Observation.rs patient/Condition.read bogus");
//! assert_eq!(set.resource_scopes().count(), 2);
//! assert_eq!(set.issues().len(), 1); // "bogus" grants nothing and is reported
//! let v1 = set.resource_scopes().nth(1).unwrap();
//! assert_eq!(v1.level(), Level::Patient);
//! assert_eq!(v1.permissions(), Permissions::READ | Permissions::SEARCH); // v1 `.read` is v2 `.rs`
//! ```

pub(crate) mod constraint;
pub(crate) mod parse;
mod set;

use std::fmt;

use fhir_types::ResourceType;

pub use set::{
    InvalidScopeHandling, LevelMixing, ScopeIssue, ScopeIssueReason, ScopePolicy, ScopeRejection,
    ScopeSet, VersionMixing,
};

/// The level of a resource scope: whose data the scope reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// `patient/`: data in the launch patient's compartment.
    Patient,
    /// `user/`: data the user (`fhirUser`) may see.
    User,
    /// `system/`: backend services, limited by the client's pre-authorised policy.
    System,
}

impl Level {
    /// The scope prefix without the slash: `patient`, `user` or `system`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Patient => "patient",
            Level::User => "user",
            Level::System => "system",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of SMART v2 permission letters (`c`, `r`, `u`, `d`, `s`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Permissions(u8);

impl Permissions {
    /// No permission.
    pub const NONE: Permissions = Permissions(0);
    /// `c`: type-level create.
    pub const CREATE: Permissions = Permissions(1);
    /// `r`: read, vread, instance history.
    pub const READ: Permissions = Permissions(2);
    /// `u`: update (also update-as-create) and patch.
    pub const UPDATE: Permissions = Permissions(4);
    /// `d`: delete.
    pub const DELETE: Permissions = Permissions(8);
    /// `s`: type and system search and history.
    pub const SEARCH: Permissions = Permissions(16);
    /// `cruds`: everything.
    pub const ALL: Permissions = Permissions(31);

    const LETTERS: [(char, Permissions); 5] = [
        ('c', Permissions::CREATE),
        ('r', Permissions::READ),
        ('u', Permissions::UPDATE),
        ('d', Permissions::DELETE),
        ('s', Permissions::SEARCH),
    ];

    /// Parses a v2 suffix: a non-empty subset of `cruds`, in that order, without repeats.
    ///
    /// `read` is not a v2 suffix (the in-order rule exists to keep it from meaning `rd`).
    pub fn from_v2(letters: &str) -> Option<Permissions> {
        let mut next = 0;
        let mut out = Permissions::NONE;
        for ch in letters.chars() {
            let pos = Self::LETTERS[next..].iter().position(|(l, _)| *l == ch)?;
            out = out | Self::LETTERS[next + pos].1;
            next += pos + 1;
        }
        (!out.is_empty()).then_some(out)
    }

    /// Whether no letter is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every letter of `other` is also in `self`.
    pub fn contains(self, other: Permissions) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether `self` and `other` share a letter.
    pub fn intersects(self, other: Permissions) -> bool {
        self.0 & other.0 != 0
    }

    /// The letters in both sets.
    pub fn intersection(self, other: Permissions) -> Permissions {
        Permissions(self.0 & other.0)
    }
}

impl std::ops::BitOr for Permissions {
    type Output = Permissions;
    fn bitor(self, rhs: Permissions) -> Permissions {
        Permissions(self.0 | rhs.0)
    }
}

impl fmt::Display for Permissions {
    /// The v2 letters in `cruds` order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (letter, p) in Self::LETTERS {
            if self.contains(p) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permissions({self})")
    }
}

/// The resource part of a resource scope: one type or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeResource {
    /// `*`: every resource type, now and in the future.
    Any,
    /// One resource type, exact case.
    Type(ResourceType),
}

impl ScopeResource {
    /// Whether the scope reaches resources of type `ty`.
    pub fn covers(self, ty: ResourceType) -> bool {
        match self {
            ScopeResource::Any => true,
            ScopeResource::Type(t) => t == ty,
        }
    }
}

impl fmt::Display for ScopeResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeResource::Any => f.write_str("*"),
            ScopeResource::Type(t) => f.write_str(t.as_str()),
        }
    }
}

/// The syntax a resource scope was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Syntax {
    /// SMART v1: `.read`, `.write`, `.*`.
    V1,
    /// SMART v2: letters from `cruds`.
    V2,
}

/// One granular constraint `param=value` of a v2 scope, taken literally.
///
/// Only constraints the crate can enforce exactly are ever constructed: a plain token, reference
/// or string search parameter of the scope's type, no modifier, chain or control parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Constraint {
    param: String,
    value: String,
}

impl Constraint {
    /// The search parameter code, e.g. `category`.
    pub fn param(&self) -> &str {
        &self.param
    }

    /// The value exactly as written, e.g. `http://terminology.hl7.org/CodeSystem/observation-category|laboratory`.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.param, self.value)
    }
}

/// A resource scope such as `patient/Observation.rs?category=laboratory`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceScope {
    level: Level,
    resource: ScopeResource,
    permissions: Permissions,
    constraints: Vec<Constraint>,
    syntax: Syntax,
}

impl ResourceScope {
    /// Builds a v2 scope without constraints (for authorization servers and tests).
    pub fn new(level: Level, resource: ScopeResource, permissions: Permissions) -> ResourceScope {
        ResourceScope {
            level,
            resource,
            permissions,
            constraints: Vec::new(),
            syntax: Syntax::V2,
        }
    }

    /// `patient`, `user` or `system`.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The type or `*`.
    pub fn resource(&self) -> ScopeResource {
        self.resource
    }

    /// The granted letters (v1 scopes mapped: `.read` = `rs`, `.write` = `cud`, `.*` = `cruds`).
    pub fn permissions(&self) -> Permissions {
        self.permissions
    }

    /// The granular constraints, all of which must hold (empty: unconstrained).
    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    /// The syntax the scope was written in.
    pub fn syntax(&self) -> Syntax {
        self.syntax
    }

    /// Whether this scope grants any of `needed` on resources of type `ty` at `level`.
    pub fn grants(&self, level: Level, ty: ResourceType, needed: Permissions) -> bool {
        self.level == level && self.resource.covers(ty) && self.permissions.intersects(needed)
    }

    /// The same grant written in v2 syntax.
    pub fn to_v2(&self) -> ResourceScope {
        ResourceScope {
            syntax: Syntax::V2,
            ..self.clone()
        }
    }

    fn v1_suffix(&self) -> Option<&'static str> {
        match self.permissions {
            p if p == Permissions::READ | Permissions::SEARCH => Some("read"),
            p if p == Permissions::CREATE | Permissions::UPDATE | Permissions::DELETE => {
                Some("write")
            }
            Permissions::ALL => Some("*"),
            _ => None,
        }
    }
}

impl fmt::Display for ResourceScope {
    /// The scope as a token; v1 scopes keep their v1 form when it expresses the same grant.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}.", self.level, self.resource)?;
        match (self.syntax, self.v1_suffix()) {
            (Syntax::V1, Some(suffix)) if self.constraints.is_empty() => f.write_str(suffix)?,
            _ => write!(f, "{}", self.permissions)?,
        }
        for (i, c) in self.constraints.iter().enumerate() {
            write!(f, "{}{c}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

/// One valid scope token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Scope {
    /// A resource scope (`patient/…`, `user/…`, `system/…`).
    Resource(ResourceScope),
    /// `openid`.
    OpenId,
    /// `fhirUser`.
    FhirUser,
    /// `profile` (legacy OIDC).
    Profile,
    /// `launch` (EHR launch).
    Launch,
    /// `launch/patient`.
    LaunchPatient,
    /// `launch/encounter`.
    LaunchEncounter,
    /// `launch/<type>[?role=<uri>]` for other context (type in lower case).
    LaunchContext {
        /// The lower-case type name, e.g. `imagingstudy`.
        resource: String,
        /// The role URI, when given.
        role: Option<String>,
    },
    /// `offline_access`.
    OfflineAccess,
    /// `online_access`.
    OnlineAccess,
    /// A full-URI or `__`-prefixed extension scope; grants no FHIR data.
    Extension(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Resource(r) => r.fmt(f),
            Scope::OpenId => f.write_str("openid"),
            Scope::FhirUser => f.write_str("fhirUser"),
            Scope::Profile => f.write_str("profile"),
            Scope::Launch => f.write_str("launch"),
            Scope::LaunchPatient => f.write_str("launch/patient"),
            Scope::LaunchEncounter => f.write_str("launch/encounter"),
            Scope::LaunchContext {
                resource,
                role: None,
            } => write!(f, "launch/{resource}"),
            Scope::LaunchContext {
                resource,
                role: Some(role),
            } => {
                write!(f, "launch/{resource}?role={role}")
            }
            Scope::OfflineAccess => f.write_str("offline_access"),
            Scope::OnlineAccess => f.write_str("online_access"),
            Scope::Extension(s) => f.write_str(s),
        }
    }
}

impl Scope {
    /// The scope in its URI representation (SMART App Launch 2.2, "Appendix: URI representation
    /// of scopes"), for exchanging scopes outside OAuth: the scope prefixed with
    /// `http://smarthealthit.org/fhir/scopes/`, or for `openid`, `profile` and `offline_access`
    /// with `http://openid.net/specs/openid-connect-core-1_0#`. `None` for extension scopes,
    /// which have no such form.
    ///
    /// ```
    /// use smart_auth::scope::Scope;
    ///
    /// let s: Scope = "patient/*.rs".parse().unwrap();
    /// assert_eq!(s.to_uri().unwrap(), "http://smarthealthit.org/fhir/scopes/patient/*.rs");
    /// assert_eq!(Scope::from_uri("http://smarthealthit.org/fhir/scopes/patient/*.rs"), Ok(s));
    /// // In a `scope` string the URI form grants nothing (reported as `uri_form`).
    /// assert!("http://smarthealthit.org/fhir/scopes/patient/*.rs".parse::<Scope>().is_err());
    /// ```
    pub fn to_uri(&self) -> Option<String> {
        parse::uri_prefix(self).map(|prefix| format!("{prefix}{self}"))
    }

    /// Parses the URI representation of one scope (see [`to_uri`](Self::to_uri)): the
    /// canonical prefix exactly, then a valid scope token.
    pub fn from_uri(uri: &str) -> Result<Scope, ScopeIssueReason> {
        parse::scope_from_uri(uri)
    }
}

impl std::str::FromStr for Scope {
    type Err = ScopeIssueReason;

    /// Parses exactly one scope token.
    fn from_str(token: &str) -> Result<Scope, ScopeIssueReason> {
        parse::scope(token)
    }
}
