//! Bulk `$export` kick-off (smart.md §12.11): who may export which types, and the kick-off's
//! parameters, each decided (§12.1: an unknown parameter is refused).

use fhir_types::ResourceType;

use super::{level_index, search, Decision, Denial, DenialReason, Permit, Reach};
use crate::request::{FhirRequest, OperationLevel, Query};
use crate::scope::{Level, Permissions};

/// The kick-off parameters of the Bulk Data IG that a GET may carry besides `_type`, `_since`
/// and `_elements` (which the query model keeps apart). `patient` is defined for POST only.
const KICK_OFF_PARAMS: [&str; 6] = [
    "_outputFormat",
    "_until",
    "includeAssociatedData",
    "_typeFilter",
    "organizeOutputBy",
    "allowPartialManifests",
];

/// `system/` scopes only by default, every `_type` granted `r` or `s` without constraints;
/// Group export also needs read on the Group. Each `_typeFilter` is a search of an exported
/// type, decided like one.
pub(super) fn export(mut permit: Permit, req: &FhirRequest) -> Result<Decision, Denial> {
    let denied = || Denial::forbidden(DenialReason::ExportNotAllowed);
    let users = permit.policy.bulk_export_for_users;
    if !users {
        permit.reach[level_index(Level::User)] = Reach::Nothing;
    }
    // Compartment-limited grants never authorise export.
    permit.reach[level_index(Level::Patient)] = Reach::Nothing;
    for r in &mut permit.reach {
        if matches!(r, Reach::Compartment(..)) {
            *r = Reach::Nothing;
        }
    }
    let ty = req.resource_type();
    match (req.operation().map(|o| o.level), ty) {
        (Some(OperationLevel::System), None) => {}
        (Some(OperationLevel::Type), Some(ResourceType::Patient)) => {}
        (Some(OperationLevel::Instance), Some(ResourceType::Group)) => {
            if !permit.may_export(ResourceType::Group)
                || permit
                    .granting(ResourceType::Group, Permissions::READ)
                    .next()
                    .is_none()
            {
                return Err(denied());
            }
        }
        _ => return Err(Denial::forbidden(DenialReason::OperationNotAllowed)),
    }
    let types = &req.query().types;
    if types.is_empty() {
        if !ResourceType::ALL.iter().any(|t| permit.may_export(*t)) {
            return Err(denied());
        }
    } else if !types.iter().all(|t| permit.may_export(*t)) {
        return Err(denied());
    }
    check_parameters(&mut permit, req.query())?;
    permit.needed = Permissions::READ | Permissions::SEARCH;
    Ok(Decision::Allow(permit))
}

/// Refuses what the kick-off does not define (includes, `_has`, search parameters), decides
/// the types `includeAssociatedData` and `organizeOutputBy` add to the output, and each
/// `_typeFilter` (`Observation?category=laboratory`) as a search of its type:
/// the type exported, its parameters known, every type its chains and `_has` reach granted
/// `s` (those are added to the permit's traversed types, for the host to narrow).
fn check_parameters(permit: &mut Permit, query: &Query) -> Result<(), Denial> {
    let unsupported = || Denial::bad_request(DenialReason::UnsupportedParameter);
    if !query.includes.is_empty() || !query.has.is_empty() {
        return Err(unsupported());
    }
    let mut traversed = Vec::new();
    let mut organized = false;
    for p in &query.params {
        if !KICK_OFF_PARAMS.contains(&p.code()) || p.is_chained() || p.modifier().is_some() {
            return Err(unsupported());
        }
        if p.code() == "includeAssociatedData" {
            associated_data(permit, &p.value)?;
            continue;
        }
        if p.code() == "organizeOutputBy" {
            if std::mem::replace(&mut organized, true) {
                return Err(unsupported());
            }
            organize_output_by(permit, &p.value)?;
            continue;
        }
        if p.code() != "_typeFilter" {
            continue;
        }
        // One query per value: a second `?` would be a second filter to a host reading the
        // STU1 comma-separated form.
        let (ty, criteria) = p.value.split_once('?').ok_or_else(unsupported)?;
        let ty: ResourceType = ty.parse().map_err(|_| unsupported())?;
        if criteria.contains('?') {
            return Err(unsupported());
        }
        let criteria = Query::parse(criteria).map_err(|_| unsupported())?;
        if criteria.params.is_empty() && criteria.has.is_empty() || !criteria.includes.is_empty() {
            return Err(unsupported());
        }
        if !permit.may_export(ty) {
            return Err(Denial::forbidden(DenialReason::ExportNotAllowed));
        }
        search::check_typed_params(permit, ty, &criteria)?;
        search::check_traversals(permit, ty, &criteria)?;
        traversed.append(&mut permit.traversed);
    }
    traversed.sort();
    traversed.dedup();
    permit.traversed = traversed;
    Ok(())
}

/// `organizeOutputBy` (Bulk Data IG 2.0): one R4 type, whose instances head the output, each
/// followed by the resources that reference it. Those headers are exported too, so the client
/// must be allowed to export that type (a value that is no type name is refused, whatever its
/// length: the type is parsed, not kept).
fn organize_output_by(permit: &Permit, value: &str) -> Result<(), Denial> {
    let ty: ResourceType = value
        .parse()
        .map_err(|_| Denial::bad_request(DenialReason::UnsupportedParameter))?;
    if !permit.may_export(ty) {
        return Err(Denial::forbidden(DenialReason::ExportNotAllowed));
    }
    Ok(())
}

/// `includeAssociatedData`: the IG's two values add Provenance resources to the export, so the
/// client must be allowed to export Provenance; a server's own values (`_…`) mean nothing here.
fn associated_data(permit: &Permit, value: &str) -> Result<(), Denial> {
    for code in value.split(',') {
        if !matches!(
            code,
            "LatestProvenanceResources" | "RelevantProvenanceResources"
        ) {
            return Err(Denial::bad_request(DenialReason::UnsupportedParameter));
        }
        if !permit.may_export(ResourceType::Provenance) {
            return Err(Denial::forbidden(DenialReason::ExportNotAllowed));
        }
    }
    Ok(())
}
