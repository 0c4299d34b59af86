//! Conditional update, patch and delete (FHIR R4 http.html §3.1.0.4.3, §3.1.0.7.1, §3.1.0.6.1):
//! `PUT|PATCH|DELETE [type]?[criteria]`.
//!
//! The match search is [`searching::matches`]: narrowed to what the caller may see, in the query
//! and again on each match, so a resource outside the caller's compartment is never counted,
//! changed or revealed. Such a resource is simply not there: "no match" (create for an update),
//! never a `412` that would tell the caller it exists.

use http::StatusCode;
use secure_fhir::response::IssueCode;
use serde_json::Value;

use super::outcome::{Done, Fail, Outcome};
use super::rest::{self, Env, Op};
use super::searching;
use crate::store::Tx;

/// The answer when the criteria match several resources the caller can see.
const MANY: Fail = Fail::new(
    StatusCode::PRECONDITION_FAILED,
    IssueCode::Conflict,
    "The search criteria matched more than one resource",
);

/// `PUT [type]?criteria`: no match creates (a `412` under `If-Match`; at the body's id if it has one and no resource has
/// it, as update-as-create does; `409` if one does), one match is updated (a body id naming
/// another resource is a `400`), several are a `412`.
pub fn update(tx: &Tx<'_>, env: &Env<'_>, op: &Op<'_>, t: &str) -> Outcome {
    let body = op.body.ok_or(Fail::bad_request("A body is required"))?;
    rest::validate(t, body)?;
    let found = searching::matches(tx, env, t, op.query, 2)?;
    let body_id = body.get("id").and_then(Value::as_str);
    let id = match (found.as_slice(), body_id) {
        ([], None) => {
            // Nothing is current, so an `If-Match` cannot hold (as for `PUT [type]/[id]`).
            rest::check_preconditions(op, None)?;
            return rest::create(tx, env, op, t);
        }
        ([], Some(id)) => {
            // Update-as-create at the body's id, but never an update of a resource the criteria
            // did not match (R5 makes this explicit: 409). One outside the caller's reach is a
            // 403, as for `PUT [type]/[id]`.
            if let Some(stored) = tx.current(t, id)?.filter(|c| !c.deleted) {
                return Err(match stored.json() {
                    Some(b) if env.access.may_write(tx, t, id, &b) => Fail::new(
                        StatusCode::CONFLICT,
                        IssueCode::Conflict,
                        "A resource with the body's id exists and does not match the criteria",
                    ),
                    _ => Fail::FORBIDDEN,
                });
            }
            id.to_owned()
        }
        ([one], Some(id)) if id != one.id => {
            return Err(Fail::bad_request(
                "The body's id is not the id of the matching resource",
            ))
        }
        ([one], _) => one.id.clone(),
        _ => return Err(MANY),
    };
    let mut body = body.clone();
    if let Some(o) = body.as_object_mut() {
        o.insert("id".into(), Value::String(id.clone()));
    }
    rest::write_version(tx, env, op, t, &id, body)
}

/// `PATCH [type]?criteria`: one match is patched; none is a `404`, several a `412`.
pub fn patch(tx: &Tx<'_>, env: &Env<'_>, op: &Op<'_>, t: &str) -> Outcome {
    let doc = op.body.ok_or(Fail::bad_request("A body is required"))?;
    let found = searching::matches(tx, env, t, op.query, 2)?;
    let one = match found.as_slice() {
        [] => return Err(Fail::NOT_FOUND),
        [one] => one,
        _ => return Err(MANY),
    };
    let stored = one.json().ok_or(Fail::NOT_FOUND)?;
    let patched = rest::patched(tx, env, one, &stored, doc)?;
    rest::write_version(tx, env, op, t, &one.id, patched)
}

/// `DELETE [type]?criteria`: one match is deleted, none is the `204` of deleting nothing,
/// several are a `412` (this server does not delete several resources at once).
pub fn delete(tx: &Tx<'_>, env: &Env<'_>, op: &Op<'_>, t: &str) -> Outcome {
    let found = searching::matches(tx, env, t, op.query, 2)?;
    match found.as_slice() {
        [] => Ok(Done::empty(StatusCode::NO_CONTENT)),
        [one] => rest::delete(tx, env, op, t, &one.id),
        _ => Err(MANY),
    }
}
