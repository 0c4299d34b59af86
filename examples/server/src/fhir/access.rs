//! What the authorization decision lets the handlers do, in the store's terms.
//!
//! The facade decides before a handler runs; handlers then ask this for the narrowing to put
//! into every query and for the check of every resource they return or overwrite.

use serde_json::Value;

use crate::store::query::Clause;

/// The caller's rights for one request, as the handlers use them.
pub trait Access: Sync {
    /// The clauses that restrict a search (or history) on `rtype` to what the caller may see,
    /// or `None` if the caller may not search `rtype` at all.
    fn narrowing(&self, rtype: &str) -> Option<Vec<Clause>>;

    /// Whether the caller may see this stored resource (checked on everything returned).
    fn may_read(&self, rtype: &str, id: &str, body: &Value) -> bool;

    /// Whether the caller may write `body` as `rtype` (the new content of a create, update or
    /// patch; the stored version is checked with [`Access::may_read`]).
    fn may_write(&self, rtype: &str, body: &Value) -> bool;
}

/// Full access: for the server's own work (loading data at start) and for the benchmark-only
/// mode that switches security off.
pub struct Unrestricted;

impl Access for Unrestricted {
    fn narrowing(&self, _rtype: &str) -> Option<Vec<Clause>> {
        Some(Vec::new())
    }

    fn may_read(&self, _rtype: &str, _id: &str, _body: &Value) -> bool {
        true
    }

    fn may_write(&self, _rtype: &str, _body: &Value) -> bool {
        true
    }
}
