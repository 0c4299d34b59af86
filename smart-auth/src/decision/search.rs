//! Search decisions (smart.md §12.5–§12.7): narrowing, other-patient refusal, chains, `_has`,
//! includes and bounds.

use fhir_types::search::{search_param, system_search_param, SearchParamDef, SearchParamType};
use fhir_types::ResourceType;

use super::engine::{insufficient, narrowing};
use super::modifier;
use super::{
    level_index, Denial, DenialReason, Narrowing, OtherPatientSearch, Permit, Reach, Response,
    UngrantedIncludes,
};
use crate::request::{CompartmentRef, FhirRequest, Include, Query, SearchParam};
use crate::scope::{Level, Permissions, ScopeResource};

/// Parameters every resource supports (FHIR R4 search.html, "Parameters for all resources").
const COMMON_PARAMS: [&str; 6] = [
    "_id",
    "_lastUpdated",
    "_tag",
    "_profile",
    "_security",
    "_source",
];

/// Control or search parameters that cannot be narrowed reliably: always refused.
const REFUSED_PARAMS: [&str; 7] = [
    "_filter",
    "_query",
    "_contained",
    "_containedType",
    "_list",
    "_text",
    "_content",
];

pub(super) fn decide(mut permit: Permit, req: &FhirRequest) -> Result<Permit, Denial> {
    let query = req.query();
    match (req.resource_type(), req.compartment()) {
        (Some(ty), compartment) => {
            if permit.granting(ty, Permissions::SEARCH).next().is_none() {
                return Err(insufficient(&permit, Some(ty), Permissions::SEARCH));
            }
            if let Some(c) = compartment {
                confine_to(&mut permit, c)?;
            }
            permit.resource_type = Some(ty);
            permit.needed = Permissions::SEARCH;
            permit.narrowing = narrowing(&permit, ty, Permissions::SEARCH);
            check_typed_params(&permit, ty, query)?;
            check_traversals(&mut permit, ty, query)?;
            check_includes(&permit, query)?;
        }
        (None, compartment) => {
            let types: Vec<ResourceType> = query.types.clone();
            if types.is_empty() {
                permit = require_all_types(permit, Permissions::SEARCH)?;
            } else {
                for ty in &types {
                    if permit.granting(*ty, Permissions::SEARCH).next().is_none() {
                        return Err(insufficient(&permit, Some(*ty), Permissions::SEARCH));
                    }
                }
                permit.needed = Permissions::SEARCH;
            }
            permit.narrowing = typeless_narrowing(&permit, &types);
            if let Some(c) = compartment {
                confine_to(&mut permit, c)?;
            }
            // Without a type only the common parameters mean the same thing everywhere.
            for p in &query.params {
                let ok = COMMON_PARAMS.contains(&p.code()) && !p.is_chained();
                let ok = ok || (!types.is_empty() && types.iter().all(|t| known(*t, p)));
                if !ok {
                    return Err(Denial::bad_request(DenialReason::UnsupportedParameter));
                }
                if types.is_empty() {
                    // With `_type`, `check_params` checks the modifier on each type.
                    let def = system_search_param(p.code())
                        .ok_or_else(|| Denial::bad_request(DenialReason::UnsupportedParameter))?;
                    modifier::check(def, p.modifier(), &p.value)?;
                }
            }
            if !query.has.is_empty() {
                return Err(Denial::bad_request(DenialReason::UnsupportedParameter));
            }
            let params = Query {
                includes: Vec::new(),
                has: Vec::new(),
                ..query.clone()
            };
            // Chains evaluate criteria on other types here too: each of those needs `s`.
            let mut traversed = Vec::new();
            for ty in &types {
                check_params(&permit, *ty, &params)?;
                check_traversals(&mut permit, *ty, &params)?;
                traversed.append(&mut permit.traversed);
            }
            traversed.sort();
            traversed.dedup();
            permit.traversed = traversed;
            check_includes(&permit, query)?;
        }
    }
    Ok(permit)
}

/// For a request over several types: the union of the per-type narrowings (`None` when every
/// type is unrestricted). Hosts apply [`Permit::narrowing_for`] per type.
pub(super) fn typeless_narrowing(permit: &Permit, types: &[ResourceType]) -> Option<Narrowing> {
    let all: &[ResourceType] = &ResourceType::ALL;
    let types = if types.is_empty() { all } else { types };
    let mut alternatives = Vec::new();
    for ty in types {
        if let Some(n) = narrowing(permit, *ty, permit.needed) {
            for alt in n.alternatives {
                if !alternatives.contains(&alt) {
                    alternatives.push(alt);
                }
            }
        }
    }
    (!alternatives.is_empty()).then_some(Narrowing {
        resource_type: None,
        alternatives,
        patient_links: false,
    })
}

/// Requires a `*` grant of `needed` (a type-less request reaches every type).
pub(super) fn require_all_types(mut permit: Permit, needed: Permissions) -> Result<Permit, Denial> {
    let any = permit.scopes.resource_scopes().any(|s| {
        s.resource() == ScopeResource::Any
            && s.permissions().intersects(needed)
            && permit.reach[level_index(s.level())] != Reach::Nothing
    });
    if !any {
        return Err(insufficient(&permit, None, needed));
    }
    permit.needed = needed;
    permit.narrowing = typeless_narrowing(&permit, &[]);
    Ok(permit)
}

/// `Patient/Q/Observation`: every result must be in `Patient/Q`, and `Q` must be reachable.
fn confine_to(permit: &mut Permit, c: &CompartmentRef) -> Result<(), Denial> {
    let reachable = permit.reach.iter().any(|r| match r {
        Reach::All => true,
        Reach::Compartment(ty, id) => *ty != c.resource_type || *id == c.id,
        Reach::Nothing => false,
    });
    if !reachable || naming_other(permit, c.resource_type, &c.id) {
        return Err(other_patient(permit));
    }
    permit.confine = Some(c.clone());
    Ok(())
}

fn other_patient(permit: &Permit) -> Denial {
    match permit.policy.other_patient_search {
        OtherPatientSearch::Forbidden => Denial::forbidden(DenialReason::OtherPatient),
        OtherPatientSearch::EmptyResult => {
            Denial::new(DenialReason::OtherPatient, Response::EmptySearch)
        }
    }
}

/// Whether naming `ty/id` steps outside every compartment-limited level that grants access
/// (levels with unrestricted reach never make it "other").
fn naming_other(permit: &Permit, ty: ResourceType, id: &str) -> bool {
    let mut confined = false;
    for reach in &permit.reach {
        match reach {
            Reach::All => return false,
            Reach::Compartment(cty, cid) if *cty == ty => {
                if cid == id {
                    return false;
                }
                confined = true;
            }
            _ => {}
        }
    }
    confined
}

/// Whether some search of `ty` takes `p` (a common parameter or one of the type's).
pub(super) fn known(ty: ResourceType, p: &SearchParam) -> bool {
    COMMON_PARAMS.contains(&p.code()) || search_param(ty, p.code()).is_some()
}

/// Whether a parameter's value may name a patient, by its modifier (FHIR R4 search.html): only
/// ids and references do (no modifier, `:Patient`, `:above`, `:below`). A boolean
/// (`:missing`), a token (`:identifier`), text (`:text`), another type (`subject:Group`) or a
/// negation (`Patient?_id:not`) names no patient to search for: the narrowing confines what it
/// matches like any criterion. Every modifier here is one [`modifier::check`] let through.
fn may_name_patient(ty: ResourceType, p: &SearchParam, def: Option<&SearchParamDef>) -> bool {
    let Some(def) = def.filter(|_| !p.is_chained()) else {
        return false;
    };
    let modifier = p.modifier();
    if ty == ResourceType::Patient && p.code() == "_id" {
        // A token: these modifiers exclude an id or match something other than one.
        return !matches!(
            modifier,
            Some("missing" | "not" | "in" | "not-in" | "text" | "of-type")
        );
    }
    match modifier {
        None | Some("above" | "below" | "Patient") => def.may_reference(ResourceType::Patient),
        Some(_) => false,
    }
}

/// Whether a value that may name a patient names one other than the reachable ones:
/// `Patient?_id=Q`, or `Patient/Q`, `<base>/Patient/Q` or a bare `Q` (also versioned;
/// comma-separated alternatives each count).
fn names_other_patient(permit: &Permit, ty: ResourceType, p: &SearchParam) -> bool {
    if ty == ResourceType::Patient && p.code() == "_id" {
        return p
            .value
            .split(',')
            .any(|id| naming_other(permit, ResourceType::Patient, id));
    }
    p.value.split(',').any(|v| {
        let v = v.split("/_history/").next().unwrap_or(v);
        let id = match v.rsplit_once("Patient/") {
            Some((prefix, id)) if prefix.is_empty() || prefix.ends_with('/') => id,
            _ if !v.contains('/') => v,
            _ => return false,
        };
        naming_other(permit, ResourceType::Patient, id)
    })
}

/// [`check_params`] for a query on one type (a type or compartment search, conditional match
/// criteria): `_type` names the types of a system search only, so here a host could honour
/// it (searching types this decision never looked at) while the decision ignored it.
pub(super) fn check_typed_params(
    permit: &Permit,
    ty: ResourceType,
    query: &Query,
) -> Result<(), Denial> {
    if !query.types.is_empty() {
        return Err(Denial::bad_request(DenialReason::UnsupportedParameter));
    }
    check_params(permit, ty, query)
}

/// The query of a host operation run as a search of `ty`, or of every type at system level
/// ([`OperationRule::AsSearch`](super::OperationRule::AsSearch)): decided as a search's,
/// chains, `_has` and includes included (traversed types granted `s`, for the host to
/// narrow). Without a type there is nothing to decide a chain or `_has` on: refused, as in a
/// system search without `_type`. A plain parameter that no search takes and that is not a
/// control (`_…`) is the operation's own (`$lastn`'s `max`): the host's to read.
pub(super) fn check_operation_query(
    permit: &mut Permit,
    ty: Option<ResourceType>,
    query: &Query,
) -> Result<(), Denial> {
    let searched = |p: &&SearchParam| {
        p.is_chained() || p.code().starts_with('_') || ty.is_some_and(|t| known(t, p))
    };
    let searched = Query {
        params: query.params.iter().filter(searched).cloned().collect(),
        ..query.clone()
    };
    match ty {
        Some(ty) => {
            check_typed_params(permit, ty, &searched)?;
            check_traversals(permit, ty, &searched)?;
        }
        None => {
            if !searched.has.is_empty() {
                return Err(Denial::bad_request(DenialReason::UnsupportedParameter));
            }
            for p in &searched.params {
                let def = system_search_param(p.code())
                    .filter(|_| COMMON_PARAMS.contains(&p.code()) && !p.is_chained())
                    .ok_or_else(|| Denial::bad_request(DenialReason::UnsupportedParameter))?;
                modifier::check(def, p.modifier(), &p.value)?;
            }
        }
    }
    check_includes(permit, &searched)
}

/// Parameter checks shared by searches and conditional match criteria.
pub(super) fn check_params(permit: &Permit, ty: ResourceType, query: &Query) -> Result<(), Denial> {
    for p in &query.params {
        let code = p.code();
        // One lookup per parameter: this runs for every search.
        let def = search_param(ty, code);
        if REFUSED_PARAMS.contains(&code) || (def.is_none() && !COMMON_PARAMS.contains(&code)) {
            return Err(Denial::bad_request(DenialReason::UnsupportedParameter));
        }
        if let (Some(def), false) = (def, p.is_chained()) {
            // A chain's links are checked in `check_traversals`.
            modifier::check(def, p.modifier(), &p.value)?;
        }
        if may_name_patient(ty, p, def) && names_other_patient(permit, ty, p) {
            return Err(other_patient(permit));
        }
    }
    Ok(())
}

/// The types a reference parameter may point at.
fn reference_targets(
    ty: ResourceType,
    code: &str,
    type_modifier: Option<&str>,
) -> Result<Vec<ResourceType>, Denial> {
    let refused = || Denial::forbidden(DenialReason::ChainNotGranted);
    let def = search_param(ty, code)
        .ok_or_else(|| Denial::bad_request(DenialReason::UnsupportedParameter))?;
    if def.param_type != SearchParamType::Reference {
        return Err(Denial::bad_request(DenialReason::UnsupportedParameter));
    }
    match type_modifier {
        Some(m) => {
            let t: ResourceType = m
                .parse()
                .map_err(|_| Denial::bad_request(DenialReason::UnsupportedParameter))?;
            if !def.targets.is_empty() && !def.targets.contains(&t) {
                return Err(Denial::bad_request(DenialReason::UnsupportedParameter));
            }
            Ok(vec![t])
        }
        None if def.targets.is_empty() => Err(refused()),
        None => Ok(def.targets.to_vec()),
    }
}

/// Chains and `_has`: every traversed type must be granted `s` (smart.md §12.7).
pub(super) fn check_traversals(
    permit: &mut Permit,
    ty: ResourceType,
    query: &Query,
) -> Result<(), Denial> {
    let mut traversed: Vec<ResourceType> = Vec::new();
    for p in query.params.iter().filter(|p| p.is_chained()) {
        let mut current = vec![ty];
        for (i, link) in p.links.iter().enumerate() {
            if i + 1 == p.links.len() {
                // The criterion: each type that defines it must define its modifier.
                let mut defs = current
                    .iter()
                    .filter_map(|t| search_param(*t, &link.code))
                    .peekable();
                if defs.peek().is_none() {
                    return Err(Denial::bad_request(DenialReason::UnsupportedParameter));
                }
                for def in defs {
                    modifier::check(def, link.modifier.as_deref(), &p.value)?;
                }
                let criterion = SearchParam {
                    links: vec![link.clone()],
                    value: p.value.clone(),
                };
                names_other_at(permit, &current, &criterion)?;
                break;
            }
            let mut next = Vec::new();
            for t in &current {
                next.extend(reference_targets(*t, &link.code, link.modifier.as_deref())?);
            }
            next.sort();
            next.dedup();
            traversed.extend(next.iter().copied());
            current = next;
        }
    }
    for has in &query.has {
        for (source, reference) in &has.steps {
            reference_targets(*source, reference, None).or_else(|e| {
                // `_has` names the reference on the source type; its targets need not be unique.
                search_param(*source, reference)
                    .filter(|d| d.param_type == SearchParamType::Reference)
                    .map(|_| Vec::new())
                    .ok_or(e)
            })?;
            traversed.push(*source);
        }
        let (innermost, _) = has
            .steps
            .last()
            .ok_or_else(|| Denial::bad_request(DenialReason::UnsupportedParameter))?;
        let def = search_param(*innermost, has.param.code())
            .filter(|_| !has.param.is_chained())
            .ok_or_else(|| Denial::bad_request(DenialReason::UnsupportedParameter))?;
        modifier::check(def, has.param.modifier(), &has.param.value)?;
        names_other_at(permit, &[*innermost], &has.param)?;
    }
    traversed.sort();
    traversed.dedup();
    for t in &traversed {
        if permit.granting(*t, Permissions::SEARCH).next().is_none() {
            return Err(
                Denial::forbidden(DenialReason::ChainNotGranted).with_scope(format!(
                    "{}/{}.s",
                    first_level(permit),
                    t
                )),
            );
        }
    }
    permit.traversed = traversed;
    Ok(())
}

/// A chain's or `_has`'s criterion, evaluated on `types`, that names another patient by id or
/// reference (`subject:Patient._id=456`, `_has:Observation:patient:subject=Patient/456`)
/// names them as plainly as `subject=Patient/456` does: refused the same way (smart.md §9).
fn names_other_at(
    permit: &Permit,
    types: &[ResourceType],
    criterion: &SearchParam,
) -> Result<(), Denial> {
    let names = types.iter().any(|t| {
        may_name_patient(*t, criterion, search_param(*t, criterion.code()))
            && names_other_patient(permit, *t, criterion)
    });
    if names {
        return Err(other_patient(permit));
    }
    Ok(())
}

fn first_level(permit: &Permit) -> Level {
    [Level::Patient, Level::User, Level::System]
        .into_iter()
        .find(|l| permit.scopes.has_level(*l))
        .unwrap_or(Level::Patient)
}

/// Includes: bounded; each included type must exist as a reference; ungranted ones are dropped
/// from results or refused up front, per policy (smart.md §12.6).
fn check_includes(permit: &Permit, query: &Query) -> Result<(), Denial> {
    if query.includes.len() > permit.policy.max_includes {
        return Err(Denial::bad_request(DenialReason::TooManyIncludes));
    }
    for inc in &query.includes {
        if permit.policy.ungranted_includes == UngrantedIncludes::Drop {
            // Only the shape is checked; results are filtered per resource.
            included_types(inc, false)?;
            continue;
        }
        let included = included_types(inc, true)?;
        {
            let readable = |t: &ResourceType| {
                permit
                    .granting(*t, Permissions::READ | Permissions::SEARCH)
                    .next()
                    .is_some()
            };
            let ok = match &included {
                Some(types) => types.iter().all(readable),
                None => false,
            };
            if !ok {
                return Err(Denial::forbidden(DenialReason::IncludeNotGranted));
            }
        }
    }
    Ok(())
}

/// The types an include may add; `None` when unknowable up front (wildcards).
fn included_types(inc: &Include, want: bool) -> Result<Option<Vec<ResourceType>>, Denial> {
    let (Some(source), Some(param)) = (inc.source, inc.param.as_deref()) else {
        return Ok(None);
    };
    let def = search_param(source, param)
        .ok_or_else(|| Denial::bad_request(DenialReason::UnsupportedParameter))?;
    if def.param_type != SearchParamType::Reference {
        return Err(Denial::bad_request(DenialReason::UnsupportedParameter));
    }
    if !want {
        return Ok(None);
    }
    if inc.reverse {
        return Ok(Some(vec![source]));
    }
    Ok(match inc.target {
        Some(t) => Some(vec![t]),
        None if def.targets.is_empty() => None,
        None => Some(def.targets.to_vec()),
    })
}
