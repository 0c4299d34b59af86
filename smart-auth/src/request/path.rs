//! Strict path classification: method + path segments → interaction.

use fhir_types::ResourceType;
use http::Method;

use super::{
    Allow, CompartmentRef, FhirRequest, Interaction, Operation, OperationLevel, Query, RequestError,
};

/// The compartment types of FHIR R4 (compartmentdefinition.html).
const COMPARTMENT_TYPES: [ResourceType; 5] = [
    ResourceType::Patient,
    ResourceType::Encounter,
    ResourceType::RelatedPerson,
    ResourceType::Practitioner,
    ResourceType::Device,
];

/// The path shapes that take a fixed set of methods (R4 http.html).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// The base and operations: `POST` runs a batch or an operation.
    BaseOrOperation,
    /// A type: `POST` creates; `PUT`, `PATCH` and `DELETE` are conditional.
    Type,
    /// An instance.
    Instance,
    /// History, a version, a compartment search, a bulk `$export` kick-off.
    ReadOnly,
}

impl Shape {
    pub(super) fn methods(self) -> &'static str {
        match self {
            Shape::BaseOrOperation => "GET, HEAD, POST",
            Shape::Type => "GET, HEAD, POST, PUT, PATCH, DELETE",
            Shape::Instance => "GET, HEAD, PUT, PATCH, DELETE",
            Shape::ReadOnly => "GET, HEAD",
        }
    }
}

/// What the shape of `segs` takes, for a method it does not; `None` for a shape FHIR does not
/// define.
fn allowed(segs: &[&str]) -> Option<Allow> {
    let compartment = |ty: &str| {
        ty.parse::<ResourceType>()
            .is_ok_and(|t| COMPARTMENT_TYPES.contains(&t))
    };
    let shape = match segs {
        [.., "$export"] => Shape::ReadOnly,
        [] => Shape::BaseOrOperation,
        [_] => Shape::Type,
        [_, _] => Shape::Instance,
        [_, _, op] if op.starts_with('$') => Shape::BaseOrOperation,
        [_, _, "_history"] | [_, _, "_history", _] => Shape::ReadOnly,
        [ty, _, _] if compartment(ty) => Shape::ReadOnly,
        _ => return None,
    };
    Some(Allow(shape))
}

/// Whether `id` is a FHIR R4 `id`: `[A-Za-z0-9\-.]{1,64}`.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn resource_type(seg: &str) -> Result<ResourceType, RequestError> {
    seg.parse().map_err(|_| RequestError::UnknownResourceType)
}

fn id(seg: &str) -> Result<String, RequestError> {
    // `.` and `..` pass the id character set but are path tricks, never ids.
    if seg == "." || seg == ".." || !is_valid_id(seg) {
        return Err(RequestError::InvalidId);
    }
    Ok(seg.to_owned())
}

fn operation(seg: &str, level: OperationLevel) -> Result<Option<Operation>, RequestError> {
    let Some(name) = seg.strip_prefix('$') else {
        return Ok(None);
    };
    let ok = (1..=64).contains(&name.len())
        && name.as_bytes()[0].is_ascii_alphabetic()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(RequestError::InvalidPath);
    }
    Ok(Some(Operation {
        name: name.to_owned(),
        level,
    }))
}

fn strip_base<'a>(path: &'a str, base: &str) -> Result<&'a str, RequestError> {
    let base = base.trim_end_matches('/');
    let rest = path.strip_prefix(base).ok_or(RequestError::NotUnderBase)?;
    if rest.is_empty() || rest == "/" {
        return Ok("");
    }
    rest.strip_prefix('/').ok_or(RequestError::NotUnderBase)
}

pub(super) fn is_post_search(method: &Method, req: &FhirRequest) -> bool {
    method == Method::POST
        && matches!(
            req.interaction,
            Interaction::SearchType | Interaction::SearchSystem
        )
}

pub(super) fn classify(
    method: &Method,
    path: &str,
    base: &str,
    raw_query: &str,
) -> Result<FhirRequest, RequestError> {
    if path.contains(['%', ';', '\\']) {
        return Err(RequestError::InvalidPath);
    }
    let rest = strip_base(path, base)?;
    let segs: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    if segs.len() > 4 || segs.iter().any(|s| s.is_empty() || *s == "." || *s == "..") {
        return Err(RequestError::InvalidPath);
    }
    let query = Query::parse(raw_query)?;
    let mut req = FhirRequest {
        interaction: Interaction::Capabilities,
        resource_type: None,
        id: None,
        version: None,
        compartment: None,
        operation: None,
        query,
        if_none_exist: None,
    };
    let m = method.clone();
    let get = m == Method::GET || m == Method::HEAD;
    let post = m == Method::POST;
    let op_method = get || post;
    // A bulk export kick-off by POST carries its parameters (`_type`, `_typeFilter`) in a
    // Parameters body this model does not read; GET is the form servers SHALL take (Bulk Data).
    let not_allowed =
        || allowed(&segs).map_or(RequestError::InvalidPath, RequestError::MethodNotAllowed);
    if post && segs.last().is_some_and(|s| *s == "$export") {
        return Err(not_allowed());
    }
    req.interaction = match segs.as_slice() {
        [] if get => Interaction::SearchSystem,
        [] if post => {
            if !req.query.is_empty() {
                return Err(RequestError::InvalidQuery);
            }
            Interaction::BatchOrTransaction
        }
        ["metadata"] if get => Interaction::Capabilities,
        ["_history"] if get => Interaction::HistorySystem,
        ["_search"] if post => Interaction::SearchSystem,
        [op] if op.starts_with('$') && op_method => {
            req.operation = operation(op, OperationLevel::System)?;
            Interaction::Operation
        }
        [ty] => {
            req.resource_type = Some(resource_type(ty)?);
            let conditional = |i| {
                if req.query.params.is_empty() && req.query.has.is_empty() {
                    Err(RequestError::MissingCriteria)
                } else {
                    Ok(i)
                }
            };
            match m {
                _ if get => Interaction::SearchType,
                Method::POST => Interaction::Create,
                Method::PUT => conditional(Interaction::ConditionalUpdate)?,
                Method::PATCH => conditional(Interaction::ConditionalPatch)?,
                Method::DELETE => conditional(Interaction::ConditionalDelete)?,
                _ => return Err(not_allowed()),
            }
        }
        [ty, "_search"] if post => {
            req.resource_type = Some(resource_type(ty)?);
            Interaction::SearchType
        }
        [ty, "_history"] if get => {
            req.resource_type = Some(resource_type(ty)?);
            Interaction::HistoryType
        }
        [ty, op] if op.starts_with('$') && op_method => {
            req.resource_type = Some(resource_type(ty)?);
            req.operation = operation(op, OperationLevel::Type)?;
            Interaction::Operation
        }
        [ty, rid] => {
            req.resource_type = Some(resource_type(ty)?);
            req.id = Some(id(rid)?);
            match m {
                _ if get => Interaction::Read,
                Method::PUT => Interaction::Update,
                Method::PATCH => Interaction::Patch,
                Method::DELETE => Interaction::Delete,
                _ => return Err(not_allowed()),
            }
        }
        [ty, rid, "_history"] if get => {
            req.resource_type = Some(resource_type(ty)?);
            req.id = Some(id(rid)?);
            Interaction::HistoryInstance
        }
        [ty, rid, op] if op.starts_with('$') && op_method => {
            req.resource_type = Some(resource_type(ty)?);
            req.id = Some(id(rid)?);
            req.operation = operation(op, OperationLevel::Instance)?;
            Interaction::Operation
        }
        [cty, cid, target] if get => {
            let cty = resource_type(cty)?;
            if !COMPARTMENT_TYPES.contains(&cty) {
                return Err(RequestError::InvalidPath);
            }
            req.compartment = Some(CompartmentRef {
                resource_type: cty,
                id: id(cid)?,
            });
            req.resource_type = if *target == "*" {
                None
            } else {
                Some(resource_type(target)?)
            };
            Interaction::SearchCompartment
        }
        [ty, rid, "_history", vid] if get => {
            req.resource_type = Some(resource_type(ty)?);
            req.id = Some(id(rid)?);
            req.version = Some(id(vid).map_err(|_| RequestError::InvalidId)?);
            Interaction::VRead
        }
        _ => {
            // Distinguish an unknown type (404) from a bad shape for a known type.
            if let Some(first) = segs
                .first()
                .filter(|s| !s.starts_with(['$', '_']) && **s != "metadata")
            {
                resource_type(first)?;
            }
            return Err(not_allowed());
        }
    };
    Ok(req)
}
