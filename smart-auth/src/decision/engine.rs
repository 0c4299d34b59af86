//! [`Authorizer::decide`]: the pre-query decision for every interaction.

use std::sync::Arc;

use fhir_types::ResourceType;

use super::{
    level_index, search, Alternative, Authorizer, Decision, DecisionPolicy, Denial, DenialReason,
    Narrowing, Permit, Reach, Response,
};
use super::{MissingContextStatus, OperationRule, PatientHistory, UserAccess};
use crate::context::AccessContext;
use crate::request::{
    CompartmentRef, FhirRequest, Interaction, OperationLevel, Query, SearchParam,
};
use crate::scope::{Level, Permissions, Syntax};
use crate::validator::claims::is_fhir_id;

impl Authorizer {
    /// An authorizer with these settings.
    pub fn new(policy: DecisionPolicy) -> Authorizer {
        Authorizer {
            policy: Arc::new(policy),
        }
    }

    /// The settings.
    pub fn policy(&self) -> &DecisionPolicy {
        &self.policy
    }

    /// Decides a request before it runs. Deny by default: an interaction, type, operation or
    /// parameter this function does not know is refused.
    pub fn decide(&self, ctx: &AccessContext, req: &FhirRequest) -> Decision {
        match self.permit(ctx) {
            Ok(base) => decide_with(base, req),
            Err(denial) => Decision::Deny(denial),
        }
    }

    /// The permit skeleton for this token: scopes and what each level reaches. Fails closed on
    /// a rejected scope set or a missing launch context.
    pub(crate) fn permit(&self, ctx: &AccessContext) -> Result<Permit, Denial> {
        let scopes = ctx.scopes();
        let invalid = |reason| {
            let response = match self.policy.missing_context {
                MissingContextStatus::Unauthorized => Response::InvalidToken,
                MissingContextStatus::Forbidden => Response::Forbidden,
            };
            Denial::new(reason, response)
        };
        if scopes.rejection().is_some() {
            return Err(Denial::new(
                DenialReason::ScopesRejected,
                Response::InvalidToken,
            ));
        }
        let patient = if scopes.has_level(Level::Patient) {
            match ctx.launch().patient {
                Some(p) if is_fhir_id(p) => Reach::Compartment(ResourceType::Patient, p.to_owned()),
                _ => return Err(invalid(DenialReason::MissingPatientContext)),
            }
        } else {
            Reach::Nothing
        };
        let user = if scopes.has_level(Level::User) {
            let Some(url) = ctx.fhir_user() else {
                return Err(invalid(DenialReason::MissingFhirUser));
            };
            let Some(user) = self.policy.resolve_fhir_user(url) else {
                return Err(invalid(DenialReason::MissingFhirUser));
            };
            // The host's answer is held to the rule for a `patient` claim: an id that names no
            // resource (empty, `..`, a path) reaches nothing.
            match self.policy.user_policy.access(&user, ctx) {
                UserAccess::PatientCompartment(id) if is_fhir_id(&id) => {
                    Reach::Compartment(ResourceType::Patient, id)
                }
                UserAccess::Compartment(ty, id) if is_fhir_id(&id) => Reach::Compartment(ty, id),
                UserAccess::Unrestricted => Reach::All,
                _ => Reach::Nothing,
            }
        } else {
            Reach::Nothing
        };
        let system = if scopes.has_level(Level::System) {
            Reach::All
        } else {
            Reach::Nothing
        };
        Ok(Permit {
            scopes: scopes.clone(),
            reach: [patient, user, system],
            policy: self.policy.clone(),
            resource_type: None,
            id: None,
            needed: Permissions::NONE,
            narrowing: None,
            confine: None,
            count: None,
            traversed: Vec::new(),
            members: Permissions::NONE,
        })
    }
}

/// The narrowing for results of type `ty` needing `needed`: `None` when one granting scope is
/// unrestricted, otherwise the OR of the granting scopes' compartments and constraints.
pub(crate) fn narrowing(
    permit: &Permit,
    ty: ResourceType,
    needed: Permissions,
) -> Option<Narrowing> {
    let mut alternatives: Vec<Alternative> = Vec::new();
    let writes = Permissions::CREATE | Permissions::UPDATE | Permissions::DELETE;
    for (scope, reach) in permit.granting(ty, needed) {
        let compartment = match reach {
            Reach::All => None,
            // A shared type is read whole under a `patient/` grant (as `Permit::allows` has
            // it), not narrowed to a compartment it cannot be in.
            Reach::Compartment(cty, _)
                if !needed.intersects(writes) && permit.is_shared(*cty, ty) =>
            {
                None
            }
            Reach::Compartment(cty, id) => Some(CompartmentRef {
                resource_type: *cty,
                id: id.clone(),
            }),
            Reach::Nothing => continue,
        };
        let alt = Alternative {
            compartment,
            constraints: scope.constraints().to_vec(),
        };
        if alt.compartment.is_none() && alt.constraints.is_empty() {
            return None;
        }
        if !alternatives.contains(&alt) {
            alternatives.push(alt);
        }
    }
    Some(Narrowing {
        resource_type: Some(ty),
        alternatives,
        patient_links: ty == ResourceType::Patient && permit.follows_patient_links(),
    })
}

/// A `scope` value for `WWW-Authenticate` naming what would have been needed.
/// The scope that would grant `needed` on `ty`, in the syntax of the token's resource scopes:
/// a client granted only v1 scopes is named the v1 scope it could ask for.
fn needed_scope(permit: &Permit, ty: Option<ResourceType>, needed: Permissions) -> String {
    let level = [Level::Patient, Level::User, Level::System]
        .into_iter()
        .find(|l| permit.scopes.has_level(*l))
        .unwrap_or(Level::Patient);
    let ty = ty.map_or("*", |t| t.as_str());
    let mut resource_scopes = permit.scopes.resource_scopes().peekable();
    let v1 = resource_scopes.peek().is_some() && resource_scopes.all(|s| s.syntax() == Syntax::V1);
    if !v1 {
        return format!("{level}/{ty}.{needed}");
    }
    let read = Permissions::READ | Permissions::SEARCH;
    let write = Permissions::CREATE | Permissions::UPDATE | Permissions::DELETE;
    let suffix = match (needed.intersects(read), needed.intersects(write)) {
        (true, false) => "read",
        (false, true) => "write",
        _ => "*",
    };
    format!("{level}/{ty}.{suffix}")
}

pub(crate) fn insufficient(
    permit: &Permit,
    ty: Option<ResourceType>,
    needed: Permissions,
) -> Denial {
    Denial::forbidden(DenialReason::InsufficientScope).with_scope(needed_scope(permit, ty, needed))
}

/// Requires `needed` on `ty`, then fills in the permit for results of that type.
fn require(mut permit: Permit, ty: ResourceType, needed: Permissions) -> Result<Permit, Denial> {
    if permit.granting(ty, needed).next().is_none() {
        return Err(insufficient(&permit, Some(ty), needed));
    }
    permit.resource_type = Some(ty);
    permit.needed = needed;
    Ok(permit)
}

/// [`require`], then the narrowing for a search (or match criteria) over `ty`.
fn require_narrowed(
    permit: Permit,
    ty: ResourceType,
    needed: Permissions,
) -> Result<Permit, Denial> {
    let mut permit = require(permit, ty, needed)?;
    permit.narrowing = narrowing(&permit, ty, needed);
    Ok(permit)
}

/// Whether some granting scope's reach can hold the instance `ty/id` of a compartment type.
fn may_hold_instance(permit: &Permit, ty: ResourceType, id: &str, needed: Permissions) -> bool {
    permit.granting(ty, needed).any(|(_, reach)| match reach {
        Reach::Compartment(cty, cid) if *cty == ty => cid == id,
        _ => true,
    })
}

fn finish(permit: Permit) -> Decision {
    if permit.narrowing.is_some() || permit.confine.is_some() {
        Decision::Narrow(permit)
    } else {
        Decision::Allow(permit)
    }
}

pub(crate) fn decide_with(mut permit: Permit, req: &FhirRequest) -> Decision {
    permit.id = req.id().map(str::to_owned);
    // Every page is bounded: searches, history, `$everything`, a host's search-like operations.
    permit.count = req.query().count.map(|c| c.min(permit.policy.max_count));
    match decide_inner(permit, req) {
        Ok(d) => d,
        Err(denial) => Decision::Deny(denial),
    }
}

fn decide_inner(permit: Permit, req: &FhirRequest) -> Result<Decision, Denial> {
    use Interaction as I;
    let ty = req.resource_type();
    let id = req.id();
    match (req.interaction(), ty) {
        (I::Capabilities, _) => Ok(Decision::Allow(permit)),
        (I::Read | I::VRead | I::HistoryInstance, Some(ty)) => {
            // One instance, checked when fetched: criteria, includes and `_type` would be work
            // this decision never looked at (a host honouring `_include` on a read).
            no_criteria(req)?;
            let permit = require(permit, ty, Permissions::READ)?;
            // Another patient's record may be linked to the launch patient: decided on the
            // fetched resource (a miss answers like a missing resource either way).
            let linked = ty == ResourceType::Patient && permit.follows_patient_links();
            if !linked && !may_hold_instance(&permit, ty, id.unwrap_or_default(), Permissions::READ)
            {
                return Err(Denial::not_found());
            }
            // Reads of one instance are checked on the fetched resource, not narrowed.
            Ok(Decision::Allow(Permit {
                narrowing: None,
                ..permit
            }))
        }
        (I::SearchType | I::SearchCompartment, _) | (I::SearchSystem, None) => {
            search::decide(permit, req).map(finish)
        }
        (I::HistoryType, Some(ty)) => {
            no_criteria(req)?;
            let permit = require_narrowed(permit, ty, Permissions::SEARCH)?;
            history_policy(&permit)?;
            Ok(finish(permit))
        }
        (I::HistorySystem, None) => {
            no_criteria(req)?;
            let permit = search::require_all_types(permit, Permissions::SEARCH)?;
            history_policy(&permit)?;
            Ok(finish(permit))
        }
        (
            I::Create
            | I::Update
            | I::Patch
            | I::Delete
            | I::ConditionalUpdate
            | I::ConditionalPatch
            | I::ConditionalDelete,
            Some(ty),
        ) => write(permit, req, ty).map(finish),
        (I::BatchOrTransaction, None) => {
            // Each entry is decided on its own by `Authorizer::decide_bundle`.
            Ok(Decision::Allow(permit))
        }
        (I::Operation, _) => operation(permit, req),
        _ => Err(Denial::bad_request(DenialReason::UnsupportedParameter)),
    }
}

/// For requests whose query holds no criteria: reads and vreads (`_summary` and `_elements`
/// only shape the answer, §12.7), history, which takes `_count`, `_since` and `_at` (R4
/// http.html, history), and writes of one instance or plain creates. Beyond those and
/// the result controls every request may carry, search parameters (`_list` and a host's own
/// such as `_cascade` among them), `_has`, includes and `_type` would be criteria the decision
/// does not check here, so they are refused.
fn no_criteria(req: &FhirRequest) -> Result<(), Denial> {
    let q = req.query();
    if q.params.is_empty() && q.has.is_empty() && q.includes.is_empty() && q.types.is_empty() {
        Ok(())
    } else {
        Err(Denial::bad_request(DenialReason::UnsupportedParameter))
    }
}

/// Type and system history under `PatientHistory::Refuse`: refused when the token reaches a
/// patient's compartment, through `patient/` scopes or a `user/` grant whose `fhirUser` is
/// a Patient (enforced like `patient/`, smart.md §12.3), and has no `system/` reach.
fn history_policy(permit: &Permit) -> Result<(), Denial> {
    let patient_user = matches!(
        &permit.reach[level_index(Level::User)],
        Reach::Compartment(ResourceType::Patient, _)
    );
    let patient_only = (permit.reach[level_index(Level::Patient)] != Reach::Nothing
        || patient_user)
        && permit.reach[level_index(Level::System)] == Reach::Nothing;
    if patient_only && permit.policy.patient_history == PatientHistory::Refuse {
        return Err(Denial::forbidden(DenialReason::InsufficientScope));
    }
    Ok(())
}

fn write(permit: Permit, req: &FhirRequest, ty: ResourceType) -> Result<Permit, Denial> {
    use Interaction as I;
    if ty == ResourceType::AuditEvent {
        return Err(Denial::forbidden(DenialReason::AuditEventReadOnly));
    }
    let letter = match req.interaction() {
        I::Create => Permissions::CREATE,
        I::Update | I::Patch | I::ConditionalUpdate | I::ConditionalPatch => Permissions::UPDATE,
        _ => Permissions::DELETE,
    };
    let conditional = matches!(
        req.interaction(),
        I::ConditionalUpdate | I::ConditionalPatch | I::ConditionalDelete
    );
    let criteria = if conditional {
        Some(req.query())
    } else {
        no_criteria(req)?;
        req.if_none_exist()
    };
    if conditional && permit.policy.conditional_requires_search {
        require(permit.clone(), ty, Permissions::SEARCH)?;
    }
    let mut permit = require_narrowed(permit, ty, letter)?;
    if let (Some(id), false) = (req.id(), conditional) {
        // A write to an instance no granting compartment can hold touches another patient.
        if !may_hold_instance(&permit, ty, id, letter) {
            return Err(Denial::forbidden(DenialReason::WriteOutOfScope));
        }
    }
    if let Some(q) = criteria {
        // The match search runs narrowed like any search and may not name other patients.
        search::check_typed_params(&permit, ty, q)?;
        search::check_traversals(&mut permit, ty, q)?;
    } else {
        permit.narrowing = None;
    }
    Ok(permit)
}

fn operation(permit: Permit, req: &FhirRequest) -> Result<Decision, Denial> {
    let Some(op) = req.operation() else {
        return Err(Denial::forbidden(DenialReason::OperationNotAllowed));
    };
    let ty = req.resource_type();
    let read_like = |permit: Permit, needed: Permissions| -> Result<Decision, Denial> {
        match (op.level, ty, req.id()) {
            (OperationLevel::Instance, Some(ty), Some(id)) => {
                let permit = require(permit, ty, needed)?;
                if !may_hold_instance(&permit, ty, id, needed) {
                    return Err(if needed == Permissions::READ {
                        Denial::not_found()
                    } else {
                        Denial::forbidden(DenialReason::WriteOutOfScope)
                    });
                }
                Ok(Decision::Allow(Permit {
                    narrowing: None,
                    ..permit
                }))
            }
            // A read-like operation on a type searches it; an update-like one has no
            // instance to check, and `s` never authorises a write.
            (OperationLevel::Type, Some(ty), None) if needed == Permissions::READ => {
                Ok(finish(require_narrowed(permit, ty, Permissions::SEARCH)?))
            }
            _ => Err(Denial::forbidden(DenialReason::OperationNotAllowed)),
        }
    };
    // A host operation's own parameters are the plain ones no search of the type takes.
    let host_own =
        |p: &SearchParam| !p.code().starts_with('_') && !ty.is_some_and(|t| search::known(t, p));
    match op.name.as_str() {
        "everything" => everything(permit, req),
        "export" => super::export::export(permit, req),
        // R4 `$meta`, `$meta-add` and `$meta-delete` take nothing in the query.
        "meta" => no_criteria(req).and_then(|()| read_like(permit, Permissions::READ)),
        "meta-add" | "meta-delete" => {
            no_criteria(req).and_then(|()| read_like(permit, Permissions::UPDATE))
        }
        // At instance level the stored resource is validated against (`mode=update|delete`),
        // so its existence shows: decided as a read of that instance.
        "validate" if op.level == OperationLevel::Instance => {
            validate_params(req.query()).and_then(|_| read_like(permit, Permissions::READ))
        }
        "validate" => validate_type(permit, req),
        name => {
            match permit.policy.operations.get(name).copied() {
                Some(OperationRule::AsRead) => own_params_only(req, host_own)
                    .and_then(|()| read_like(permit, Permissions::READ)),
                Some(OperationRule::AsSearch) => match ty {
                    Some(ty) => {
                        let mut permit = require_narrowed(permit, ty, Permissions::SEARCH)?;
                        search::check_operation_query(&mut permit, Some(ty), req.query())?;
                        // On an instance it runs on that instance: one out of reach is missing.
                        if let Some(id) = req.id() {
                            if !may_hold_instance(&permit, ty, id, Permissions::SEARCH) {
                                return Err(Denial::not_found());
                            }
                        }
                        Ok(finish(permit))
                    }
                    None => {
                        let mut permit = search::require_all_types(permit, Permissions::SEARCH)?;
                        search::check_operation_query(&mut permit, None, req.query())?;
                        Ok(finish(permit))
                    }
                },
                Some(OperationRule::AsUpdate) => own_params_only(req, host_own)
                    .and_then(|()| read_like(permit, Permissions::UPDATE)),
                Some(OperationRule::NoDataAccess) => Ok(Decision::Allow(permit)),
                Some(OperationRule::Deny) | None => {
                    Err(Denial::forbidden(DenialReason::OperationNotAllowed))
                }
            }
        }
    }
}

/// `[type]/$validate` (R4 defines no system level): it reads no data (smart.md §12.10), but the
/// type must be granted (any letter). `mode=update|delete` compares the body with the stored
/// resource it names, which shows whether that exists: in the URL it needs `r` on the type. A
/// mode in a Parameters body is not seen here, so the permit is that of a read of the type: the
/// host passes the stored resource through [`Permit::check_resource`] before comparing, and
/// answers as if none were stored when it fails. Other parameters are refused (§12.1).
fn validate_type(permit: Permit, req: &FhirRequest) -> Result<Decision, Denial> {
    let (Some(OperationLevel::Type), Some(ty)) =
        (req.operation().map(|o| o.level), req.resource_type())
    else {
        return Err(Denial::forbidden(DenialReason::OperationNotAllowed));
    };
    let compares = validate_params(req.query())?;
    if permit.granting(ty, Permissions::ALL).next().is_none() {
        // Validating is mostly done before a create: that is the scope named.
        return Err(insufficient(&permit, Some(ty), Permissions::CREATE));
    }
    let needed = if compares {
        Permissions::READ
    } else {
        Permissions::ALL
    };
    let mut permit = require(permit, ty, needed)?;
    permit.needed = Permissions::READ;
    Ok(Decision::Allow(permit))
}

/// The query of `$validate` (R4): at most one `mode` (`create`, `update`, `delete` or
/// `profile`) and one `profile`, besides result controls. `Ok(true)` when the mode compares
/// the body with the stored resource (`update`, `delete`).
fn validate_params(q: &Query) -> Result<bool, Denial> {
    let unsupported = || Denial::bad_request(DenialReason::UnsupportedParameter);
    if !(q.has.is_empty() && q.includes.is_empty() && q.types.is_empty()) {
        return Err(unsupported());
    }
    let (mut modes, mut profiles) = (0, 0);
    let mut compares = false;
    for p in &q.params {
        if p.is_chained() || p.modifier().is_some() {
            return Err(unsupported());
        }
        match (p.code(), p.value.as_str()) {
            ("mode", "create" | "profile") => modes += 1,
            ("mode", "update" | "delete") => {
                modes += 1;
                compares = true;
            }
            ("profile", _) => profiles += 1,
            _ => return Err(unsupported()),
        }
    }
    if modes > 1 || profiles > 1 {
        return Err(unsupported());
    }
    Ok(compares)
}

/// The query of an operation decided as a read or update (smart.md §12.1): result controls
/// and plain parameters `own` says are the operation's. Criteria, includes, `_has` and `_type`
/// would be work this decision never looked at, as on a read.
fn own_params_only(req: &FhirRequest, own: impl Fn(&SearchParam) -> bool) -> Result<(), Denial> {
    let q = req.query();
    let own = |p: &SearchParam| !p.is_chained() && p.modifier().is_none() && own(p);
    if q.has.is_empty() && q.includes.is_empty() && q.types.is_empty() && q.params.iter().all(own) {
        Ok(())
    } else {
        Err(Denial::bad_request(DenialReason::UnsupportedParameter))
    }
}

/// `Patient/[id]/$everything`: the compartment patient only, with R4's parameters only;
/// results confined to it.
fn everything(permit: Permit, req: &FhirRequest) -> Result<Decision, Denial> {
    let (Some(ResourceType::Patient), Some(id)) = (req.resource_type(), req.id()) else {
        return Err(Denial::forbidden(DenialReason::OperationNotAllowed));
    };
    // R4 defines `start`, `end`, `_since`, `_type` and `_count`; anything else would be
    // criteria or includes this decision never looked at.
    let q = req.query();
    let own = |p: &crate::request::SearchParam| {
        matches!(p.code(), "start" | "end") && !p.is_chained() && p.modifier().is_none()
    };
    if !(q.has.is_empty() && q.includes.is_empty() && q.params.iter().all(own)) {
        return Err(Denial::bad_request(DenialReason::UnsupportedParameter));
    }
    let mut permit = require(permit, ResourceType::Patient, Permissions::READ)?;
    if !may_hold_instance(&permit, ResourceType::Patient, id, Permissions::READ) {
        return Err(Denial::not_found());
    }
    // The patient is checked as the read that authorised the operation; the rest of the
    // record is listed, which takes `s` on each type (smart.md §12.10).
    permit.needed = Permissions::READ;
    permit.members = Permissions::SEARCH;
    permit.narrowing = None;
    permit.confine = Some(CompartmentRef {
        resource_type: ResourceType::Patient,
        id: id.to_owned(),
    });
    Ok(Decision::Narrow(permit))
}
