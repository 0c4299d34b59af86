//! Emits `generated/compartment_refs.rs`: for each compartment and member type, a walk over only
//! the element paths its CompartmentDefinition names (`Observation.subject`,
//! `Observation.performer`), reporting the References found there. No path strings are built
//! and nothing else (datatypes, extensions, other elements) is entered, so membership costs a
//! few field reads instead of a walk over the whole resource.

use crate::emit::HEADER;
use crate::facts::MemberPaths;
use crate::model::{snake, Card, Kind, Struct, Ty, Unit};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The file, from each compartment's membership paths (see `facts::generate`).
pub fn compartment_refs_file(
    units: &[&Unit],
    compartments: &[(String, Vec<MemberPaths>)],
) -> String {
    let structs: BTreeMap<&str, &Struct> = units
        .iter()
        .flat_map(|u| &u.structs)
        .map(|s| (s.name.as_str(), s))
        .collect();
    let mut out = String::from(HEADER);
    out.push_str(
        "//! The References at each compartment's membership paths, per resource type.\n\n\
         #![allow(clippy::all, unused_imports)]\n\n\
         use crate::compartment::{CompartmentType as C, Via};\n\
         use crate::generated_prelude::*;\n\n\
         /// Calls `f` with every Reference of `r` at an element path that the CompartmentDefinition\n\
         /// of `c` names for `r`'s type, and the search parameter and path selecting it (once per\n\
         /// parameter when several select the same path). Nothing else of `r` is visited.\n\
         pub(crate) fn visit(c: C, r: &Resource, f: &mut dyn FnMut(Via, &Reference)) {\n    match c {\n",
    );
    for (code, _) in compartments {
        writeln!(out, "        C::{code} => {}(r, f),", snake(code)).unwrap();
    }
    out.push_str(
        "    }\n}\n\nconst fn via(param: &'static str, path: &'static str) -> Via {\n    \
         Via::Param { param, path }\n}\n",
    );
    for (code, members) in compartments {
        writeln!(
            out,
            "\nfn {}(r: &Resource, f: &mut dyn FnMut(Via, &Reference)) {{\n    match r {{",
            snake(code)
        )
        .unwrap();
        for m in members {
            writeln!(out, "        Resource::{}(r) => {{", m.resource).unwrap();
            for (path, params) in &m.paths {
                walk(&structs, &m.resource, path, params, &mut out);
            }
            out.push_str("        }\n");
        }
        out.push_str("        _ => {}\n    }\n}\n");
    }
    out
}

/// The statements reaching the References at `path` (from `r`, the resource) and reporting each
/// once per parameter in `params`.
fn walk(
    structs: &BTreeMap<&str, &Struct>,
    resource: &str,
    path: &str,
    params: &[String],
    out: &mut String,
) {
    let fail = |why: &str| -> ! { panic!("compartment path {path}: {why}") };
    let mut segments = path.split('.');
    if segments.next() != Some(resource) {
        fail("not rooted at its resource type");
    }
    let segments: Vec<&str> = segments.collect();
    let mut st = structs[resource];
    // The value reached so far: a place (`r.subject`) until a loop or `if let` binds a reference.
    let mut place = "r".to_string();
    let mut bound = false;
    let mut open = 0;
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let (name, choice) = match seg.strip_suffix("[x]") {
            Some(name) => (name, true),
            None => (*seg, false),
        };
        let Some(field) = st.fields.iter().find(|f| f.json == name) else {
            fail(&format!("{} has no element {name}", st.name));
        };
        let next = format!("v{i}");
        let access = format!("{place}.{}", field.rust);
        match (&field.kind, choice) {
            (Kind::Single(Ty::Complex(ty)), false) => {
                if last && ty != "Reference" {
                    fail("does not end at a Reference");
                }
                if !last {
                    st = structs
                        .get(ty.as_str())
                        .unwrap_or_else(|| fail(&format!("no struct {ty}")));
                }
                match field.card {
                    Card::One => {
                        place = access;
                        bound = false;
                        continue;
                    }
                    Card::Opt => writeln!(out, "if let Some({next}) = &{access} {{").unwrap(),
                    Card::Many { .. } => writeln!(out, "for {next} in &{access} {{").unwrap(),
                }
            }
            (
                Kind::Choice {
                    enum_name,
                    variants,
                },
                true,
            ) if last => {
                let Some(v) = variants
                    .iter()
                    .find(|v| v.ty == Ty::Complex("Reference".into()))
                else {
                    fail("the choice has no Reference");
                };
                let pattern = format!("{enum_name}::{}({next})", v.suffix);
                match field.card {
                    Card::One => writeln!(out, "if let {pattern} = &{access} {{").unwrap(),
                    Card::Opt => writeln!(out, "if let Some({pattern}) = &{access} {{").unwrap(),
                    Card::Many { .. } => fail("a repeating choice"),
                }
            }
            _ => fail(&format!("cannot walk through {seg}")),
        }
        open += 1;
        place = next;
        bound = true;
    }
    let value = if bound { place } else { format!("&{place}") };
    for p in params {
        writeln!(out, "f(via({p:?}, {path:?}), {value});").unwrap();
    }
    for _ in 0..open {
        out.push_str("}\n");
    }
}
