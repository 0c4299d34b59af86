//! The facts as plain data, built and checked from the definitions before rendering.

use std::collections::BTreeMap;

use serde_json::Value;

use super::fhirpath;
use super::select::{self, ElementIndex, Selected};

/// One search parameter as it applies to one resource type.
#[derive(Debug, Clone)]
pub struct Param {
    pub code: String,
    /// SearchParameter.type (`reference`, `token`, ...).
    pub param_type: String,
    pub targets: Vec<String>,
    pub expression: Option<String>,
    pub url: Option<String>,
    /// The SearchParameter's id when its expression serves several resource types.
    pub shared_id: Option<String>,
    pub selected: Vec<Selected>,
    /// Why `selected` is not exactly what the expression selects; empty when it is.
    pub inexact: Vec<String>,
}

/// A resource type that can be in a compartment.
#[derive(Debug)]
pub struct Member {
    pub resource: String,
    /// The CompartmentDefinition's params, without `{def}`.
    pub params: Vec<String>,
    /// Search parameters that restrict a search of this type to one compartment.
    pub narrowing: Vec<String>,
}

/// The element paths that put one member type in a compartment: `(path, params selecting it)`.
#[derive(Debug)]
pub struct MemberPaths {
    pub resource: String,
    pub paths: Vec<(String, Vec<String>)>,
}

/// One CompartmentDefinition.
#[derive(Debug)]
pub struct Compartment {
    /// `Patient`, `Encounter`, `RelatedPerson`, `Practitioner`, `Device`.
    pub code: String,
    pub members: Vec<Member>,
}

/// Everything the renderer writes.
pub struct Facts {
    /// The 146 concrete resource types, sorted.
    pub resource_types: Vec<String>,
    /// Per resource type, its parameters sorted by code.
    pub params: BTreeMap<String, Vec<Param>>,
    /// Parameters of a search across all types (`GET [base]?...`), sorted by code.
    pub system: Vec<Param>,
    pub compartments: Vec<Compartment>,
}

/// Parameters every resource has that R4 defines in search.html rather than as SearchParameters.
const SPECIAL_COMMON: [(&str, &str); 2] = [("_has", "string"), ("_list", "string")];

impl Facts {
    pub fn build(
        resources: &Value,
        search_params: &Value,
        compartments: &[Value],
        index: &ElementIndex,
    ) -> Result<Facts, String> {
        let mut domain = BTreeMap::new();
        for sd in entries(resources) {
            if sd["resourceType"] == "StructureDefinition"
                && sd["kind"] == "resource"
                && sd["abstract"] != true
            {
                let name = str_of(&sd["type"])?;
                let is_domain = sd["baseDefinition"]
                    .as_str()
                    .is_some_and(|b| b.ends_with("/DomainResource"));
                domain.insert(name, is_domain);
            }
        }
        let resource_types: Vec<String> = domain.keys().cloned().collect();
        let mut params: BTreeMap<String, Vec<Param>> = resource_types
            .iter()
            .map(|t| (t.clone(), Vec::new()))
            .collect();
        let mut system = Vec::new();

        for sp in entries(search_params) {
            let expr = sp["expression"]
                .as_str()
                .map(|src| (src, fhirpath::parse(src)));
            for base in sp["base"].as_array().into_iter().flatten() {
                let base = str_of(base)?;
                let applies: Vec<&String> = match base.as_str() {
                    "Resource" => resource_types.iter().collect(),
                    "DomainResource" => resource_types.iter().filter(|t| domain[*t]).collect(),
                    t if domain.contains_key(t) => {
                        resource_types.iter().filter(|x| *x == t).collect()
                    }
                    t => return Err(format!("SearchParameter {}: unknown base {t}", sp["id"])),
                };
                for rt in applies {
                    params
                        .get_mut(rt)
                        .expect("known type")
                        .push(param(sp, rt, &expr, index)?);
                }
                if base == "Resource" {
                    system.push(param(sp, "Resource", &expr, index)?);
                }
            }
        }
        for (rt, list) in params.iter_mut() {
            for (code, ty) in SPECIAL_COMMON {
                list.push(special(code, ty));
            }
            sort_unique(list).map_err(|c| format!("{rt}: two search parameters named {c}"))?;
        }
        system.push(special("_type", "token"));
        sort_unique(&mut system).map_err(|c| format!("two system search parameters named {c}"))?;

        let compartments = compartments
            .iter()
            .map(|cd| compartment(cd, &params))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Facts {
            resource_types,
            params,
            system,
            compartments,
        })
    }

    /// Per compartment (code), per member type: the element paths whose references put a resource
    /// of that type in the compartment, each with the parameters that select it, in
    /// CompartmentDefinition order. Paths filtered by `where(resolve() is T)` to another type are
    /// left out: a reference there can never point into the compartment.
    pub fn membership_paths(&self) -> Vec<(String, Vec<MemberPaths>)> {
        self.compartments
            .iter()
            .map(|c| {
                let members =
                    c.members
                        .iter()
                        .filter_map(|m| {
                            let mut paths: Vec<(String, Vec<String>)> = Vec::new();
                            for code in &m.params {
                                let def = self.params[&m.resource]
                                    .iter()
                                    .find(|p| &p.code == code)
                                    .expect("compartment() checked every parameter");
                                let usable = def.selected.iter().filter(|s| {
                                    s.resolves_to.as_deref().is_none_or(|t| t == c.code)
                                });
                                for s in usable {
                                    match paths.iter_mut().find(|(p, _)| *p == s.path) {
                                        Some((_, params)) => params.push(code.clone()),
                                        None => paths.push((s.path.clone(), vec![code.clone()])),
                                    }
                                }
                            }
                            (!paths.is_empty()).then(|| MemberPaths {
                                resource: m.resource.clone(),
                                paths,
                            })
                        })
                        .collect();
                (c.code.clone(), members)
            })
            .collect()
    }

    /// One line per parameter whose expression is not mapped exactly, for the report; then
    /// one line naming the parameters that have no expression at all.
    pub fn inexact(&self) -> Vec<String> {
        let all = self
            .params
            .iter()
            .flat_map(|(rt, list)| list.iter().map(move |p| (rt.as_str(), p)));
        let all: Vec<_> = all
            .chain(self.system.iter().map(|p| ("(system)", p)))
            .collect();
        let mut lines: Vec<String> = all
            .iter()
            .filter(|(_, p)| !p.inexact.is_empty())
            .filter_map(|(rt, p)| {
                let expr = p.expression.as_deref()?;
                Some(format!(
                    "{rt} {} `{}`: {}",
                    p.code,
                    short(expr),
                    p.inexact.join("; ")
                ))
            })
            .collect();
        let mut bare: Vec<&str> = all
            .iter()
            .filter(|(_, p)| p.expression.is_none())
            .map(|(_, p)| p.code.as_str())
            .collect();
        bare.sort_unstable();
        bare.dedup();
        lines.push(format!(
            "without an expression, so without paths: {}",
            bare.join(", ")
        ));
        lines
    }
}

fn entries(bundle: &Value) -> impl Iterator<Item = &Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["resource"])
}

fn str_of(v: &Value) -> Result<String, String> {
    v.as_str()
        .map(String::from)
        .ok_or_else(|| format!("expected a string, found {v}"))
}

/// Shortens the long multi-type union expressions for the report.
fn short(expr: &str) -> String {
    if expr.len() <= 90 {
        expr.to_string()
    } else {
        let cut = (0..=87)
            .rev()
            .find(|&i| expr.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}...", &expr[..cut])
    }
}

fn param(
    sp: &Value,
    rt: &str,
    expr: &Option<(&str, Result<fhirpath::Expr, String>)>,
    index: &ElementIndex,
) -> Result<Param, String> {
    let (selected, inexact) = match expr {
        None => (
            Vec::new(),
            vec!["no FHIRPath expression: the server's own rules apply".to_string()],
        ),
        Some((_, Err(e))) => (Vec::new(), vec![format!("not parsed: {e}")]),
        Some((_, Ok(e))) => {
            let s = select::select(index, rt, e);
            let mut inexact = s.inexact;
            if s.selected.is_empty() && inexact.is_empty() {
                inexact.push(format!("selects no element of {rt}"));
            }
            (s.selected, inexact)
        }
    };
    let targets = sp["target"].as_array().into_iter().flatten().map(str_of);
    let bases = sp["base"].as_array().map_or(0, Vec::len);
    let shared = bases > 1 || sp["base"][0] == "Resource" || sp["base"][0] == "DomainResource";
    Ok(Param {
        code: str_of(&sp["code"])?,
        param_type: str_of(&sp["type"])?,
        targets: targets.collect::<Result<_, _>>()?,
        expression: expr.as_ref().map(|(src, _)| src.to_string()),
        url: sp["url"].as_str().map(String::from),
        shared_id: sp["id"].as_str().filter(|_| shared).map(String::from),
        selected,
        inexact,
    })
}

fn special(code: &str, ty: &str) -> Param {
    Param {
        code: code.to_string(),
        param_type: ty.to_string(),
        targets: Vec::new(),
        expression: None,
        url: None,
        shared_id: None,
        selected: Vec::new(),
        inexact: vec!["defined by the search framework, no expression".to_string()],
    }
}

fn sort_unique(list: &mut [Param]) -> Result<(), String> {
    list.sort_by(|a, b| a.code.cmp(&b.code));
    match list.windows(2).find(|w| w[0].code == w[1].code) {
        Some(w) => Err(w[0].code.clone()),
        None => Ok(()),
    }
}

/// Reads one CompartmentDefinition and checks that every membership parameter is an exactly
/// mapped reference parameter whose paths hold References the compartment type can satisfy.
fn compartment(cd: &Value, params: &BTreeMap<String, Vec<Param>>) -> Result<Compartment, String> {
    let code = str_of(&cd["code"])?;
    let mut members = Vec::new();
    for entry in cd["resource"].as_array().into_iter().flatten() {
        let rt = str_of(&entry["code"])?;
        let listed: Vec<String> = entry["param"]
            .as_array()
            .into_iter()
            .flatten()
            .map(str_of)
            .collect::<Result<_, _>>()?;
        if listed.is_empty() && rt != code {
            continue;
        }
        let type_params = params
            .get(&rt)
            .ok_or_else(|| format!("{code} compartment: unknown type {rt}"))?;
        let mut member_params = Vec::new();
        for p in listed.iter().filter(|p| *p != "{def}") {
            let def = type_params
                .iter()
                .find(|d| &d.code == p)
                .ok_or_else(|| format!("{code} compartment: {rt} has no search parameter {p}"))?;
            check_membership_param(&code, &rt, def)?;
            member_params.push(p.clone());
        }
        // The resource that defines a compartment is in it (the compartment's identity is its id).
        let mut narrowing = Vec::new();
        if rt == code {
            narrowing.push("_id".to_string());
        }
        narrowing.extend(member_params.iter().cloned());
        members.push(Member {
            resource: rt,
            params: member_params,
            narrowing,
        });
    }
    if !members.iter().any(|m| m.resource == code) {
        members.push(Member {
            resource: code.clone(),
            params: Vec::new(),
            narrowing: vec!["_id".to_string()],
        });
        members.sort_by(|a, b| a.resource.cmp(&b.resource));
    }
    Ok(Compartment { code, members })
}

fn check_membership_param(compartment: &str, rt: &str, def: &Param) -> Result<(), String> {
    let fail = |why: String| {
        Err(format!(
            "{compartment} compartment, {rt}.{}: {why}",
            def.code
        ))
    };
    if def.param_type != "reference" {
        return fail(format!("type {} is not reference", def.param_type));
    }
    if !def.inexact.is_empty() {
        return fail(format!(
            "expression not mapped exactly: {}",
            def.inexact.join("; ")
        ));
    }
    if !def.targets.iter().any(|t| t == compartment) {
        return fail("the compartment type is not a target".to_string());
    }
    let usable = def
        .selected
        .iter()
        .filter(|s| s.resolves_to.as_deref().is_none_or(|t| t == compartment));
    let mut any = false;
    for s in usable {
        if !s.types.iter().any(|t| t == "Reference") {
            return fail(format!("{} is not a Reference", s.path));
        }
        any = true;
    }
    if !any {
        return fail("no path can refer to the compartment type".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(resolves_to: Option<&str>, types: &[&str]) -> Param {
        Param {
            code: "subject".into(),
            param_type: "reference".into(),
            targets: vec!["Patient".into(), "Group".into()],
            expression: Some("Observation.subject".into()),
            url: None,
            shared_id: None,
            selected: vec![Selected {
                path: "Observation.subject".into(),
                of_type: None,
                resolves_to: resolves_to.map(String::from),
                types: types.iter().map(|t| t.to_string()).collect(),
            }],
            inexact: Vec::new(),
        }
    }

    #[test]
    fn compartments_rest_only_on_exact_reference_paths() {
        assert!(
            check_membership_param("Patient", "Observation", &subject(None, &["Reference"]))
                .is_ok()
        );
        assert!(check_membership_param(
            "Patient",
            "Observation",
            &subject(Some("Patient"), &["Reference"])
        )
        .is_ok());

        let mut inexact = subject(None, &["Reference"]);
        inexact
            .inexact
            .push("a `where(...)` filter is not applied".into());
        let refused = [
            ("inexact expression", inexact),
            (
                "not a reference parameter",
                Param {
                    param_type: "token".into(),
                    ..subject(None, &["Reference"])
                },
            ),
            (
                "compartment type not a target",
                Param {
                    targets: vec!["Group".into()],
                    ..subject(None, &["Reference"])
                },
            ),
            (
                "path holds no Reference",
                subject(None, &["CodeableConcept"]),
            ),
            (
                "filtered to another type",
                subject(Some("Group"), &["Reference"]),
            ),
            (
                "no path",
                Param {
                    selected: Vec::new(),
                    ..subject(None, &["Reference"])
                },
            ),
        ];
        for (why, p) in refused {
            assert!(
                check_membership_param("Patient", "Observation", &p).is_err(),
                "{why}"
            );
        }
    }
}
