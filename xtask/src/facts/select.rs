//! Maps a parsed search-parameter expression, for one resource type, to the element paths it
//! selects, using the StructureDefinition snapshots of the resources and datatypes.
//!
//! Paths are in ElementDefinition.path form from the resource root: `Observation.subject`,
//! `MedicationRequest.reported[x]`; through a datatype the datatype's element names continue the
//! path (`Observation.note.author[x]`), and a recursive element (`contentReference`) keeps its own
//! name (`Consent.provision.provision`).

use std::collections::HashMap;

use serde_json::Value;

use super::fhirpath::Expr;

/// One element of a StructureDefinition snapshot.
#[derive(Debug, Clone)]
pub struct Elem {
    /// Type codes (`Reference`, `CodeableConcept`, `BackboneElement`, ...).
    pub types: Vec<String>,
    /// `#Consent.provision` for recursive elements.
    pub content_ref: Option<String>,
}

/// Every element of every base resource and datatype definition, by path.
#[derive(Default)]
pub struct ElementIndex {
    elems: HashMap<String, Elem>,
}

impl ElementIndex {
    /// Adds the snapshots of the base definitions (not constraint profiles) in a Bundle.
    pub fn add_bundle(&mut self, bundle: &Value) {
        let entries = bundle["entry"].as_array().into_iter().flatten();
        for sd in entries.map(|e| &e["resource"]) {
            if sd["resourceType"] != "StructureDefinition" || sd["derivation"] == "constraint" {
                continue;
            }
            for el in sd["snapshot"]["element"].as_array().into_iter().flatten() {
                let Some(path) = el["path"].as_str() else {
                    continue;
                };
                let types = el["type"].as_array().into_iter().flatten();
                let elem = Elem {
                    types: types
                        .filter_map(|t| t["code"].as_str().map(String::from))
                        .collect(),
                    content_ref: el["contentReference"].as_str().map(String::from),
                };
                self.elems.insert(path.to_string(), elem);
            }
        }
    }

    /// The element at a definition path (`Reference`, `Observation.subject`).
    pub fn get(&self, path: &str) -> Option<&Elem> {
        self.elems.get(path)
    }
}

/// One selected element: where it is, and how the expression narrowed it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Selected {
    /// `Observation.subject`, `MedicationRequest.medication[x]`.
    pub path: String,
    /// The type a choice element in the path was narrowed to (`as Reference`).
    pub of_type: Option<String>,
    /// `where(resolve() is T)`: only references to this resource type count.
    pub resolves_to: Option<String>,
    /// Types of the selected element itself.
    pub types: Vec<String>,
}

/// What an expression selects for one resource type.
#[derive(Debug, Default)]
pub struct Selection {
    /// Selected elements, in expression order, without duplicates.
    pub selected: Vec<Selected>,
    /// Why the paths are not exactly the expression's selection (empty when exact).
    pub inexact: Vec<String>,
}

#[derive(Clone)]
struct Cursor {
    sel: Selected,
    /// Where the children of this element are defined; `None` for primitives and un-cast choices.
    def: Option<String>,
}

/// Evaluates `expr` for `resource` (a resource type name).
pub fn select(index: &ElementIndex, resource: &str, expr: &Expr) -> Selection {
    let mut eval = Eval {
        index,
        resource,
        inexact: Vec::new(),
    };
    let mut out = Selection::default();
    for c in eval.eval(expr) {
        if !out.selected.contains(&c.sel) {
            out.selected.push(c.sel);
        }
    }
    out.inexact = eval.inexact;
    out
}

struct Eval<'a> {
    index: &'a ElementIndex,
    resource: &'a str,
    inexact: Vec<String>,
}

impl Eval<'_> {
    fn note(&mut self, why: String) {
        if !self.inexact.contains(&why) {
            self.inexact.push(why);
        }
    }

    fn eval(&mut self, expr: &Expr) -> Vec<Cursor> {
        match expr {
            Expr::Ident(name) => self.root(name),
            Expr::Member(base, name) => {
                let cursors = self.eval(base);
                cursors
                    .into_iter()
                    .filter_map(|c| self.step(c, name))
                    .collect()
            }
            Expr::Call(Some(base), name, args) => {
                let cursors = self.eval(base);
                self.call(cursors, name, args)
            }
            Expr::Call(None, name, _) => {
                self.note(format!("`{name}()` without a focus"));
                Vec::new()
            }
            Expr::Index(base, _) => {
                self.note("an `[index]` is not applied: all repetitions are selected".into());
                self.eval(base)
            }
            Expr::As(base, ty) => {
                let cursors = self.eval(base);
                cursors
                    .into_iter()
                    .filter_map(|c| self.cast(c, ty))
                    .collect()
            }
            Expr::Is(base, ty) => {
                self.note(format!("the type test `is {ty}` yields a boolean"));
                self.eval(base)
            }
            Expr::Union(a, b) => {
                let mut out = self.eval(a);
                out.extend(self.eval(b));
                out
            }
            Expr::Binary(op, a, b) => {
                self.note(format!("the operator `{op}` yields a boolean"));
                let mut out = self.eval(a);
                out.extend(self.eval(b));
                out
            }
            Expr::Literal(_) => Vec::new(),
        }
    }

    fn root(&mut self, name: &str) -> Vec<Cursor> {
        if name == self.resource || name == "Resource" || name == "DomainResource" {
            let sel = Selected {
                path: self.resource.to_string(),
                of_type: None,
                resolves_to: None,
                types: vec![self.resource.to_string()],
            };
            return vec![Cursor {
                sel,
                def: Some(self.resource.to_string()),
            }];
        }
        if self.index.get(name).is_some() {
            // A union term rooted at another type selects nothing for this one.
            return Vec::new();
        }
        // Not a type name: FHIRPath evaluates it on the resource itself (`name | alias`).
        let here = self.root(self.resource);
        here.into_iter()
            .filter_map(|c| self.step(c, name))
            .collect()
    }

    fn step(&mut self, c: Cursor, name: &str) -> Option<Cursor> {
        let Some(def) = c.def else {
            self.note(format!(
                "`.{name}` below `{}` (a primitive or an un-cast choice)",
                c.sel.path
            ));
            return None;
        };
        let plain = format!("{def}.{name}");
        let choice = format!("{plain}[x]");
        let (key, suffix) = if self.index.get(&plain).is_some() {
            (plain, "")
        } else if self.index.get(&choice).is_some() {
            (choice, "[x]")
        } else {
            self.note(format!("unknown element `{plain}`"));
            return None;
        };
        let elem = self.index.get(&key)?.clone();
        let def = match (&elem.content_ref, elem.types.as_slice()) {
            (Some(r), _) => Some(r.trim_start_matches('#').to_string()),
            (None, [t]) if t == "BackboneElement" || t == "Element" => Some(key.clone()),
            (None, [t]) => self.index.get(t).map(|_| t.clone()),
            _ => None,
        };
        let types = match &elem.content_ref {
            Some(_) => vec!["BackboneElement".to_string()],
            None => elem.types,
        };
        let sel = Selected {
            path: format!("{}.{name}{suffix}", c.sel.path),
            of_type: c.sel.of_type,
            resolves_to: None,
            types,
        };
        Some(Cursor { sel, def })
    }

    fn cast(&mut self, mut c: Cursor, ty: &str) -> Option<Cursor> {
        if !c.sel.types.iter().any(|t| t == ty) {
            // FHIRPath: a cast to a type the element cannot have selects nothing.
            return None;
        }
        if c.sel.types.len() > 1 {
            c.sel.of_type = Some(ty.to_string());
            c.sel.types = vec![ty.to_string()];
            c.def = self.index.get(ty).map(|_| ty.to_string());
        }
        Some(c)
    }

    fn call(&mut self, cursors: Vec<Cursor>, name: &str, args: &[Expr]) -> Vec<Cursor> {
        match (name, args) {
            ("where", [Expr::Is(inner, ty)]) if matches!(&**inner, Expr::Call(None, f, a) if f == "resolve" && a.is_empty()) =>
            {
                let mut out = Vec::new();
                for mut c in cursors {
                    if c.sel.types.iter().any(|t| t == "Reference") {
                        c.sel.resolves_to = Some(ty.clone());
                        out.push(c);
                    } else {
                        self.note(format!("`resolve()` on `{}`, not a Reference", c.sel.path));
                    }
                }
                out
            }
            ("as" | "ofType", [Expr::Ident(ty)]) => cursors
                .into_iter()
                .filter_map(|c| self.cast(c, ty))
                .collect(),
            ("where", _) => {
                self.note(
                    "a `where(...)` filter is not applied: all candidates are selected".into(),
                );
                cursors
            }
            _ => {
                self.note(format!("`{name}()` is not applied"));
                cursors
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fhirpath::parse;
    use super::*;

    fn index() -> ElementIndex {
        let mut i = ElementIndex::default();
        let el = |p: &str, t: &[&str]| {
            let types: Vec<Value> = t.iter().map(|c| serde_json::json!({ "code": c })).collect();
            serde_json::json!({ "path": p, "type": types })
        };
        let bundle = serde_json::json!({ "entry": [
            { "resource": { "resourceType": "StructureDefinition", "snapshot": { "element": [
                el("Obs", &[]), el("Other", &[]), el("Obs.subject", &["Reference"]),
                el("Obs.value[x]", &["Quantity", "Reference"]),
                el("Obs.part", &["BackboneElement"]), el("Obs.part.who", &["Reference"]),
                el("Obs.note", &["Annotation"]),
                { "path": "Obs.part.part", "contentReference": "#Obs.part" },
            ]}}},
            { "resource": { "resourceType": "StructureDefinition", "snapshot": { "element": [
                el("Annotation", &[]), el("Annotation.author[x]", &["Reference", "string"]),
            ]}}},
        ]});
        i.add_bundle(&bundle);
        i
    }

    fn paths(src: &str) -> (Vec<String>, bool) {
        let s = select(&index(), "Obs", &parse(src).unwrap());
        let p = s.selected.iter().map(|s| {
            let mut p = s.path.clone();
            if let Some(t) = &s.of_type {
                p += &format!(" as {t}");
            }
            if let Some(t) = &s.resolves_to {
                p += &format!(" is {t}");
            }
            p
        });
        (p.collect(), s.inexact.is_empty())
    }

    #[test]
    fn maps_paths_casts_and_resolve_filters() {
        assert_eq!(paths("Obs.subject"), (vec!["Obs.subject".into()], true));
        assert_eq!(
            paths("Other.x | Obs.subject"),
            (vec!["Obs.subject".into()], true)
        );
        assert_eq!(
            paths("subject | Obs.note"),
            (vec!["Obs.subject".into(), "Obs.note".into()], true)
        );
        assert_eq!(
            paths("(Obs.value as Reference)"),
            (vec!["Obs.value[x] as Reference".into()], true)
        );
        assert_eq!(
            paths("Obs.value.as(Quantity)"),
            (vec!["Obs.value[x] as Quantity".into()], true)
        );
        assert_eq!(paths("(Obs.value as string)"), (vec![], true));
        assert_eq!(
            paths("Obs.subject.where(resolve() is Patient)"),
            (vec!["Obs.subject is Patient".into()], true)
        );
        assert_eq!(paths("Obs.part.who"), (vec!["Obs.part.who".into()], true));
        assert_eq!(
            paths("Obs.part.part.who"),
            (vec!["Obs.part.part.who".into()], true)
        );
        assert_eq!(
            paths("Obs.note.author"),
            (vec!["Obs.note.author[x]".into()], true)
        );
    }

    #[test]
    fn reports_what_it_cannot_map_exactly() {
        assert_eq!(
            paths("Obs.part[0].who"),
            (vec!["Obs.part.who".into()], false)
        );
        assert_eq!(
            paths("Obs.part.where(x='y').who"),
            (vec!["Obs.part.who".into()], false)
        );
        assert_eq!(
            paths("Obs.subject.exists()"),
            (vec!["Obs.subject".into()], false)
        );
        assert_eq!(paths("Obs.nope"), (vec![], false));
        assert!(!paths("Obs.note.where(resolve() is Patient)").1);
        assert!(paths("Obs.value.where(resolve() is Patient)").1);
    }
}
