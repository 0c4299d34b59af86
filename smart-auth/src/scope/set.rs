//! [`ScopeSet`]: the parsed, policy-checked scopes of one grant.

use std::fmt;
use std::sync::Arc;

use super::parse;
use super::{Level, Permissions, ResourceScope, Scope, ScopeResource, Syntax};

/// Why a token grants nothing (reported by [`ScopeSet::issues`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScopeIssueReason {
    /// A character outside the RFC 6749 §3.3 scope-token set (or an empty token).
    InvalidCharacter,
    /// Longer than 1 KiB.
    TooLong,
    /// Not a scope this crate knows (e.g. a mis-cased level, `email`).
    Unknown,
    /// `patient/Foo.rs`: not an R4 resource type in exact case.
    UnknownResourceType,
    /// Missing, out-of-order, repeated or unknown permission letters (`.dus`, `.rr`, `.rread`).
    InvalidPermissions,
    /// A `?param=value` list that is not well formed (empty name/value, bare `=`, v1 with `?`).
    MalformedConstraint,
    /// A constraint that cannot be enforced exactly (modifier, chain, `_has`, `_include`,
    /// unknown or unsupported parameter, constraint on `*`).
    UnsupportedConstraint,
    /// A malformed `launch/<type>?role=` scope.
    MalformedLaunch,
    /// Beyond the maximum number of scopes in one grant.
    TooMany,
    /// A SMART or OpenID scope written in its URI representation
    /// (`http://smarthealthit.org/fhir/scopes/patient/*.rs`, SMART App Launch 2.2, appendix),
    /// which is for exchanging scopes outside OAuth, not for a `scope` parameter or claim.
    /// Grants nothing unless [`ScopePolicy::accept_uri_form`] is set.
    UriForm,
}

impl ScopeIssueReason {
    /// A stable machine-readable code, e.g. `invalid_permissions`.
    pub fn code(self) -> &'static str {
        match self {
            ScopeIssueReason::InvalidCharacter => "invalid_character",
            ScopeIssueReason::TooLong => "too_long",
            ScopeIssueReason::Unknown => "unknown_scope",
            ScopeIssueReason::UnknownResourceType => "unknown_resource_type",
            ScopeIssueReason::InvalidPermissions => "invalid_permissions",
            ScopeIssueReason::MalformedConstraint => "malformed_constraint",
            ScopeIssueReason::UnsupportedConstraint => "unsupported_constraint",
            ScopeIssueReason::MalformedLaunch => "malformed_launch_scope",
            ScopeIssueReason::TooMany => "too_many_scopes",
            ScopeIssueReason::UriForm => "uri_form",
        }
    }

    /// Whether `token`, refused for this reason, was a resource scope (counts for
    /// [`InvalidScopeHandling`]): a resource-scope error, or a token too long or with a
    /// character no scope has that is written as one (`patient/…`).
    fn is_resource_scope_error(self, token: &str) -> bool {
        match self {
            ScopeIssueReason::UnknownResourceType
            | ScopeIssueReason::InvalidPermissions
            | ScopeIssueReason::MalformedConstraint
            | ScopeIssueReason::UnsupportedConstraint => true,
            ScopeIssueReason::TooLong | ScopeIssueReason::InvalidCharacter => {
                parse::has_level_prefix(token)
            }
            _ => false,
        }
    }
}

impl fmt::Display for ScopeIssueReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A token that grants nothing, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeIssue {
    /// The token (truncated to 64 bytes for reporting).
    pub token: String,
    /// Why it was refused.
    pub reason: ScopeIssueReason,
}

/// Why a whole grant is unusable under the [`ScopePolicy`]: the token carrying it must be
/// rejected (401 `invalid_token`), never partly honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScopeRejection {
    /// An invalid resource scope with [`InvalidScopeHandling::RejectToken`].
    InvalidResourceScope,
    /// v1 and v2 resource scopes together with [`VersionMixing::Reject`].
    MixedVersions,
    /// `system/` together with `patient/` or `user/` with [`LevelMixing::Reject`] (the default).
    MixedLevels,
    /// More scopes than [`ScopePolicy::max_scopes`].
    TooManyScopes,
}

impl ScopeRejection {
    /// A stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            ScopeRejection::InvalidResourceScope => "invalid_resource_scope",
            ScopeRejection::MixedVersions => "mixed_scope_versions",
            ScopeRejection::MixedLevels => "mixed_scope_levels",
            ScopeRejection::TooManyScopes => "too_many_scopes",
        }
    }
}

impl fmt::Display for ScopeRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What to do with an invalid resource scope (smart.md §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidScopeHandling {
    /// It grants nothing; the others still count (default).
    #[default]
    Ignore,
    /// The whole grant is rejected.
    RejectToken,
}

/// What to do with v1 and v2 resource scopes in one grant (smart.md §1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VersionMixing {
    /// Map v1 to v2 and take the union (default).
    #[default]
    Normalize,
    /// Reject the grant.
    Reject,
}

/// What to do with `system/` scopes next to `patient/` or `user/` scopes (smart.md §1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LevelMixing {
    /// Reject the grant (default): a `system/` scope would silently lift the compartment.
    #[default]
    Reject,
    /// Keep every scope; each is enforced with its own level.
    Allow,
}

/// How scope strings are read. The default is the safe one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScopePolicy {
    /// Invalid resource scopes: ignore (default) or reject the grant.
    pub invalid_resource_scope: InvalidScopeHandling,
    /// v1 + v2 together: normalise (default) or reject.
    pub version_mixing: VersionMixing,
    /// `system/` with `patient/`/`user/`: reject (default) or allow.
    pub level_mixing: LevelMixing,
    /// Also split on commas (compatibility with some identity providers); default off.
    pub comma_separators: bool,
    /// Most tokens in one grant (default 256); more rejects the grant. Access tokens are held
    /// to the validator's own bound of 256 scope tokens before any policy applies, so a
    /// higher value only widens scope strings parsed here directly (e.g. by an authorization
    /// server).
    pub max_scopes: usize,
    /// Also read scopes in their URI representation (the scope prefixed with
    /// `http://smarthealthit.org/fhir/scopes/`, [`Scope::from_uri`]), for authorization servers
    /// that write them into tokens; default off: they are reported as
    /// [`ScopeIssueReason::UriForm`] and grant nothing.
    pub accept_uri_form: bool,
}

impl Default for ScopePolicy {
    fn default() -> Self {
        ScopePolicy {
            invalid_resource_scope: InvalidScopeHandling::Ignore,
            version_mixing: VersionMixing::Normalize,
            level_mixing: LevelMixing::Reject,
            comma_separators: false,
            max_scopes: 256,
            accept_uri_form: false,
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Inner {
    scopes: Vec<Scope>,
    issues: Vec<ScopeIssue>,
    rejection: Option<ScopeRejection>,
}

/// The scopes of one grant, parsed and checked against a [`ScopePolicy`].
///
/// Cheap to clone (shared). When [`rejection`](Self::rejection) is set the set grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet {
    inner: Arc<Inner>,
}

impl ScopeSet {
    /// Parses a space-separated `scope` string with the default [`ScopePolicy`]. Never fails:
    /// invalid tokens grant nothing and are listed by [`issues`](Self::issues).
    pub fn parse(scope: &str) -> ScopeSet {
        ScopeSet::parse_with(scope, &ScopePolicy::default())
    }

    /// Parses a `scope` string with an explicit policy.
    pub fn parse_with(scope: &str, policy: &ScopePolicy) -> ScopeSet {
        let commas = policy.comma_separators;
        let tokens = parse::split_ascii(scope, move |b| b == b' ' || (commas && b == b','));
        // Room for a usual grant; counting the tokens first cost more than growing.
        ScopeSet::collect(tokens, policy, 8)
    }

    /// Builds a set from already separated tokens (e.g. a JSON `scp` array); empty tokens are
    /// skipped, and a token containing a space is invalid.
    pub fn from_tokens<'a, I: IntoIterator<Item = &'a str>>(
        tokens: I,
        policy: &ScopePolicy,
    ) -> ScopeSet {
        ScopeSet::collect(tokens, policy, 0)
    }

    /// [`ScopeSet::from_tokens`] with room for `capacity` scopes up front.
    fn collect<'a, I: IntoIterator<Item = &'a str>>(
        tokens: I,
        policy: &ScopePolicy,
        capacity: usize,
    ) -> ScopeSet {
        let mut inner = Inner {
            scopes: Vec::with_capacity(capacity),
            ..Inner::default()
        };
        let mut count = 0usize;
        for token in tokens.into_iter().filter(|t| !t.is_empty()) {
            count += 1;
            if count > policy.max_scopes {
                inner.rejection = Some(ScopeRejection::TooManyScopes);
                break;
            }
            let parsed = match parse::scope(token) {
                Err(ScopeIssueReason::UriForm) if policy.accept_uri_form => Scope::from_uri(token),
                other => other,
            };
            match parsed {
                Ok(scope) => {
                    if !inner.scopes.contains(&scope) {
                        inner.scopes.push(scope);
                    }
                }
                Err(reason) => {
                    if reason.is_resource_scope_error(token)
                        && policy.invalid_resource_scope == InvalidScopeHandling::RejectToken
                    {
                        inner
                            .rejection
                            .get_or_insert(ScopeRejection::InvalidResourceScope);
                    }
                    inner.issues.push(ScopeIssue {
                        token: truncate(token),
                        reason,
                    });
                }
            }
        }
        ScopeSet::finish(inner, policy)
    }

    fn finish(mut inner: Inner, policy: &ScopePolicy) -> ScopeSet {
        let resource = || inner.scopes.iter().filter_map(as_resource);
        let has = |f: &dyn Fn(&ResourceScope) -> bool| resource().any(f);
        if policy.version_mixing == VersionMixing::Reject
            && has(&|r| r.syntax == Syntax::V1)
            && has(&|r| r.syntax == Syntax::V2)
        {
            inner.rejection.get_or_insert(ScopeRejection::MixedVersions);
        }
        if policy.level_mixing == LevelMixing::Reject
            && has(&|r| r.level == Level::System)
            && has(&|r| r.level != Level::System)
        {
            inner.rejection.get_or_insert(ScopeRejection::MixedLevels);
        }
        ScopeSet {
            inner: Arc::new(inner),
        }
    }

    /// Every valid scope, in the order granted (duplicates removed). Empty when rejected.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        let usable = self.inner.rejection.is_none();
        self.inner.scopes.iter().filter(move |_| usable)
    }

    /// The valid resource scopes. Empty when rejected.
    pub fn resource_scopes(&self) -> impl Iterator<Item = &ResourceScope> {
        self.iter().filter_map(as_resource)
    }

    /// The tokens that grant nothing, and why.
    pub fn issues(&self) -> &[ScopeIssue] {
        &self.inner.issues
    }

    /// Set when the grant as a whole is unusable under the policy.
    pub fn rejection(&self) -> Option<ScopeRejection> {
        self.inner.rejection
    }

    /// Whether `scope` is in the set exactly (e.g. `Scope::OpenId`).
    pub fn contains(&self, scope: &Scope) -> bool {
        self.iter().any(|s| s == scope)
    }

    /// Whether any valid resource scope has this level.
    pub fn has_level(&self, level: Level) -> bool {
        self.resource_scopes().any(|r| r.level == level)
    }

    /// Whether any scope grants one of `needed` on `ty` at `level`, ignoring constraints.
    pub fn grants(&self, level: Level, ty: fhir_types::ResourceType, needed: Permissions) -> bool {
        self.resource_scopes().any(|r| r.grants(level, ty, needed))
    }

    /// The canonical form: v1 written as v2, identical (level, type, constraints) merged, scopes
    /// made redundant by a wider unconstrained scope removed, sorted. Grants exactly the same.
    pub fn normalize(&self) -> ScopeSet {
        let mut merged: Vec<ResourceScope> = Vec::new();
        for r in self.resource_scopes() {
            let r = r.to_v2();
            match merged.iter_mut().find(|m| {
                m.level == r.level && m.resource == r.resource && m.constraints == r.constraints
            }) {
                Some(m) => m.permissions = m.permissions | r.permissions,
                None => merged.push(r),
            }
        }
        let kept: Vec<ResourceScope> = merged
            .iter()
            .filter(|r| !merged.iter().any(|w| *w != **r && subsumes(w, r)))
            .cloned()
            .collect();
        let mut scopes: Vec<Scope> = self
            .iter()
            .filter(|s| as_resource(s).is_none())
            .cloned()
            .collect();
        scopes.extend(kept.into_iter().map(Scope::Resource));
        scopes.sort();
        scopes.dedup();
        ScopeSet {
            inner: Arc::new(Inner {
                scopes,
                issues: Vec::new(),
                rejection: self.inner.rejection,
            }),
        }
    }

    /// Down-scoping: what both sets grant (e.g. requested ∩ pre-authorised). Never wider than
    /// either side: types meet (`*` ∩ `Observation` = `Observation`), letters intersect and
    /// constraints add up. A rejected side yields a rejected result, and so does a result of
    /// more scopes than the default [`ScopePolicy::max_scopes`] (each pair of constrained scopes
    /// of one type meets in its own: two grants of 256 could make 65,536).
    pub fn intersect(&self, other: &ScopeSet) -> ScopeSet {
        let max = ScopePolicy::default().max_scopes;
        let mut scopes: Vec<Scope> = Vec::new();
        let mut rejection = self.inner.rejection.or(other.inner.rejection);
        'pairs: for s in self.iter() {
            match s {
                Scope::Resource(a) => {
                    for b in other.resource_scopes().filter(|b| b.level == a.level) {
                        let resource = match (a.resource, b.resource) {
                            (ScopeResource::Any, r) | (r, ScopeResource::Any) => r,
                            (x, y) if x == y => x,
                            _ => continue,
                        };
                        let permissions = a.permissions.intersection(b.permissions);
                        if permissions.is_empty() {
                            continue;
                        }
                        let mut constraints = a.constraints.clone();
                        constraints.extend(b.constraints.iter().cloned());
                        constraints.sort();
                        constraints.dedup();
                        if resource == ScopeResource::Any && !constraints.is_empty() {
                            continue;
                        }
                        let syntax = if a.syntax == Syntax::V1 && b.syntax == Syntax::V1 {
                            Syntax::V1
                        } else {
                            Syntax::V2
                        };
                        let r = ResourceScope {
                            level: a.level,
                            resource,
                            permissions,
                            constraints,
                            syntax,
                        };
                        let r = Scope::Resource(r);
                        if !scopes.contains(&r) {
                            if scopes.len() >= max {
                                rejection.get_or_insert(ScopeRejection::TooManyScopes);
                                scopes.clear();
                                break 'pairs;
                            }
                            scopes.push(r);
                        }
                    }
                }
                other_scope if other.contains(other_scope) && !scopes.contains(other_scope) => {
                    scopes.push(other_scope.clone())
                }
                _ => {}
            }
        }
        ScopeSet {
            inner: Arc::new(Inner {
                scopes,
                issues: Vec::new(),
                rejection,
            }),
        }
    }

    /// Whether everything `self` grants is also granted by `other` (e.g. a refresh request
    /// against the original grant). Conservative: may answer `false` for exotic equivalents,
    /// never `true` wrongly. A rejected `self` is no subset: it grants nothing under this
    /// policy, but its string could grant much under another.
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        if self.rejection().is_some() {
            return false;
        }
        if other.rejection().is_some() {
            return self.iter().next().is_none();
        }
        self.iter().all(|s| match s {
            Scope::Resource(a) => {
                // Every letter must be covered by one scope at least as wide.
                [
                    Permissions::CREATE,
                    Permissions::READ,
                    Permissions::UPDATE,
                    Permissions::DELETE,
                    Permissions::SEARCH,
                ]
                .into_iter()
                .filter(|p| a.permissions.contains(*p))
                .all(|p| {
                    other.resource_scopes().any(|b| {
                        b.level == a.level
                            && (b.resource == ScopeResource::Any || b.resource == a.resource)
                            && b.permissions.contains(p)
                            && b.constraints.iter().all(|c| a.constraints.contains(c))
                    })
                })
            }
            s => other.contains(s),
        })
    }
}

/// `w` grants everything `r` grants (same level, wider type, more letters, fewer constraints).
fn subsumes(w: &ResourceScope, r: &ResourceScope) -> bool {
    w.level == r.level
        && (w.resource == ScopeResource::Any || w.resource == r.resource)
        && w.permissions.contains(r.permissions)
        && w.constraints.iter().all(|c| r.constraints.contains(c))
}

fn as_resource(s: &Scope) -> Option<&ResourceScope> {
    match s {
        Scope::Resource(r) => Some(r),
        _ => None,
    }
}

fn truncate(token: &str) -> String {
    let mut end = token.len().min(64);
    while !token.is_char_boundary(end) {
        end -= 1;
    }
    token[..end].to_owned()
}

impl fmt::Display for ScopeSet {
    /// The valid scopes, space-separated, in grant order (nothing when rejected).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}
