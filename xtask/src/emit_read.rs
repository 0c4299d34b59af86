//! Emits a struct's JSON reading: a static table of its keys and a `read_field` that reads the
//! value of one key. The object loop itself is `fhir_types::json::object::read_object`, shared
//! by all types.

use crate::emit::Ctx;
use crate::model::{Card, Kind, Origin, Struct, Ty};
use std::cmp::Ordering;
use std::fmt::Write;

/// Must match `MAX_CHOICES` in `fhir-types/src/json/object.rs`.
const MAX_CHOICES: usize = 16;

/// One JSON key and the statement that reads its value.
struct KeyArm {
    name: String,
    /// 1-based choice element number and variant number (0 if not a choice variant).
    choice: usize,
    variant: usize,
    /// Index of the field (in `Struct::fields`) the key belongs to, if any.
    field: Option<usize>,
    /// Expression reading the value into `self`; may use `p` and `seen`, and `{twin}` for the
    /// index of the other half of a primitive.
    read: String,
    /// The other half of a primitive (`_given` for `given`), by name.
    twin: Option<String>,
}

/// The order of `Keys::keys` at run time: by length, then bytewise.
fn key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// Name of the static keys table of a struct.
fn keys_static(st: &Struct) -> String {
    let mut s = String::new();
    for (i, ch) in st.name.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            s.push('_');
        }
        s.push(ch.to_ascii_uppercase());
    }
    s + "_KEYS"
}

fn arms(ctx: &Ctx, st: &Struct) -> (Vec<KeyArm>, Vec<String>) {
    let mut arms = Vec::new();
    let mut choices = Vec::new();
    if st.origin == Origin::Resource {
        arms.push(KeyArm {
            name: "resourceType".into(),
            choice: 0,
            variant: 0,
            field: None,
            read: format!("p.expect_resource_type(\"{}\")", st.name),
            twin: None,
        });
    }
    for (fi, f) in st.fields.iter().enumerate() {
        let r = &f.rust;
        let j = &f.json;
        let plain = |name: String, read: String, twin: Option<String>| KeyArm {
            name,
            choice: 0,
            variant: 0,
            field: Some(fi),
            read,
            twin,
        };
        match &f.kind {
            Kind::Single(Ty::Prim(prim)) => {
                let rd = &prim.reader;
                let (val, elt) = match f.card {
                    Card::One => (
                        format!("prim_value(p, &mut self.{r}, {rd})"),
                        format!("prim_element(p, &mut self.{r})"),
                    ),
                    Card::Opt => (
                        format!("opt_prim_value(p, &mut self.{r}, {rd})"),
                        format!("opt_prim_element(p, &mut self.{r})"),
                    ),
                    Card::Many { .. } => (
                        format!("{{ let other = p.marked(seen, {{twin}}); values(p, &mut self.{r}, {rd}, other) }}"),
                        format!("{{ let other = p.marked(seen, {{twin}}); elements(p, &mut self.{r}, other) }}"),
                    ),
                };
                let many = matches!(f.card, Card::Many { .. });
                arms.push(plain(j.clone(), val, many.then(|| format!("_{j}"))));
                arms.push(plain(format!("_{j}"), elt, many.then(|| j.clone())));
            }
            Kind::Single(ty) => {
                let read = match ty {
                    // `Extension.url` is a uri (its fhir-type), `Element.id` a string.
                    Ty::PlainString if f.json == "url" => "uri".to_string(),
                    Ty::PlainString => "plain_string".to_string(),
                    Ty::Resource => "Resource::read".to_string(),
                    Ty::Complex(n) => format!("{n}::read"),
                    Ty::Prim(_) => unreachable!(),
                };
                let boxed = ctx.boxed.contains(&(st.name.clone(), f.rust.clone()));
                let helper = match (f.card, boxed) {
                    (Card::One, false) => "one",
                    (Card::Opt, false) => "opt",
                    (Card::Opt, true) => "opt_box",
                    (Card::Many { .. }, _) => "many",
                    (Card::One, true) => panic!("boxed required field {}", f.path),
                };
                arms.push(plain(
                    j.clone(),
                    format!("{helper}(p, &mut self.{r}, {read})"),
                    None,
                ));
            }
            Kind::Choice {
                enum_name,
                variants,
            } => {
                choices.push(j.clone());
                let c = choices.len();
                let one = if f.card == Card::One { "_one" } else { "" };
                for (vi, v) in variants.iter().enumerate() {
                    let key = format!("{j}{}", v.suffix);
                    let var = format!("{enum_name}::{}", v.suffix);
                    let arm = |name: String, read: String| KeyArm {
                        name,
                        choice: c,
                        variant: vi + 1,
                        field: Some(fi),
                        read,
                        twin: None,
                    };
                    match &v.ty {
                        Ty::Prim(prim) => {
                            let project =
                                format!("|e| match e {{ {var}(x) => Some(x), _ => None }}");
                            arms.push(arm(
                                key.clone(),
                                format!(
                                    "choice_value{one}(p, &mut self.{r}, {}, {var}, {project})",
                                    prim.reader
                                ),
                            ));
                            arms.push(arm(
                                format!("_{key}"),
                                format!("choice_element{one}(p, &mut self.{r}, {var}, {project})"),
                            ));
                        }
                        Ty::Complex(n) => arms.push(arm(
                            key,
                            format!("choice_box{one}(p, &mut self.{r}, {n}::read, {var})"),
                        )),
                        other => panic!("unexpected choice variant {other:?} in {}", f.path),
                    }
                }
            }
        }
    }
    assert!(
        choices.len() <= MAX_CHOICES,
        "{}: more than {MAX_CHOICES} choice elements",
        st.name
    );
    arms.sort_by(|a, b| key_order(&a.name, &b.name));
    for w in arms.windows(2) {
        assert_ne!(w[0].name, w[1].name, "{}: duplicate JSON key", st.name);
    }
    (arms, choices)
}

/// Emits `read` (inside the struct's `impl`) and returns the items that go after the `impl`:
/// the `ReadFields` impl and the keys table.
pub fn read_fn(ctx: &Ctx, st: &Struct, out: &mut String) -> String {
    let (arms, choices) = arms(ctx, st);
    let index = |name: &str| {
        arms.iter()
            .position(|a| a.name == name)
            .expect("key of the struct")
    };
    let words = arms.len().div_ceil(64).max(1);
    let table = keys_static(st);
    out.push_str("    pub(crate) fn read(p: &mut Parser<'_>) -> Result<Self, ParseError> {\n");
    out.push_str("        let mut r = Self::default();\n");
    writeln!(out, "        let mut seen = [0u64; {words}];").unwrap();
    writeln!(out, "        read_object(p, &{table}, &mut seen, &mut r)?;").unwrap();
    for f in &st.fields {
        if let (Kind::Single(Ty::Prim(_)), Card::Many { .. }) = (&f.kind, f.card) {
            writeln!(
                out,
                "        check_list(p, &r.{}, \"{}\")?;",
                f.rust, f.json
            )
            .unwrap();
        }
    }
    if st.name == "Extension" {
        // ext-1, Extension's own invariant: a value or nested extensions, not both.
        out.push_str("        check_ext1(p, r.value.is_some(), !r.extension.is_empty())?;\n");
    }
    out.push_str("        Ok(r)\n    }\n\n");

    let mut after = String::new();
    writeln!(after, "impl ReadFields for {} {{", st.name).unwrap();
    after.push_str("    fn read_field(&mut self, p: &mut Parser<'_>, key: usize, seen: &[u64]) -> Result<(), ParseError> {\n");
    after.push_str("        let _ = seen;\n        match key {\n");
    for (i, a) in arms.iter().enumerate() {
        let read = match &a.twin {
            Some(t) => a.read.replace("{twin}", &index(t).to_string()),
            None => a.read.clone(),
        };
        writeln!(after, "            {i} => {read},").unwrap();
    }
    after.push_str("            _ => Ok(()),\n        }\n    }\n}\n\n");

    // The table.
    writeln!(after, "static {table}: Keys = Keys {{\n    keys: &[").unwrap();
    for a in &arms {
        if a.choice == 0 {
            writeln!(after, "        Key::plain(\"{}\"),", a.name).unwrap();
        } else {
            writeln!(
                after,
                "        Key::choice(\"{}\", {}, {}),",
                a.name, a.choice, a.variant
            )
            .unwrap();
        }
    }
    after.push_str("    ],\n    choices: &[");
    let names: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
    after.push_str(&names.join(", "));
    after.push_str("],\n    required: &[\n");
    for (fi, f) in st.fields.iter().enumerate() {
        let required = match f.card {
            Card::One => true,
            Card::Many { min } => min > 0,
            Card::Opt => false,
        };
        if !required {
            continue;
        }
        let keys: Vec<String> = arms
            .iter()
            .enumerate()
            .filter(|(_, a)| a.field == Some(fi))
            .map(|(i, _)| i.to_string())
            .collect();
        let name = match f.kind {
            Kind::Choice { .. } => format!("{}[x]", f.json),
            _ => f.json.clone(),
        };
        writeln!(
            after,
            "        Required {{ name: \"{name}\", keys: &[{}] }},",
            keys.join(", ")
        )
        .unwrap();
    }
    after.push_str("    ],\n};\n\n");
    after
}
