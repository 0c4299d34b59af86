//! SMART v1 and v2 scopes.
//!
//! (Interface placeholder: the scope-grammar work replaces the internals, keeping `parse`.)

/// A set of granted scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet {
    raw: Vec<String>,
}

impl ScopeSet {
    /// Parses a space-separated `scope` string as granted by an authorization server.
    pub fn parse(scope: &str) -> ScopeSet {
        ScopeSet { raw: scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect() }
    }
}
