//! Turns the StructureDefinitions into a small model of Rust types: structs, fields and choices.

use crate::codes::{required_code_binding, Codes};
use serde_json::Value;
use std::collections::BTreeMap;

/// A primitive type as generated code uses it: a FHIR primitive, or a `code` bound to an enum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prim {
    /// Rust type of the field (`DateTime`, `Primitive<codes::AdministrativeGender>`).
    pub alias: String,
    /// Reader function (`date_time`, `codes::AdministrativeGender::read`).
    pub reader: String,
    /// Writer function (`w_str`, `codes::AdministrativeGender::write`).
    pub writer: String,
}

struct PrimDef {
    fhir: &'static str,
    alias: &'static str,
    reader: &'static str,
    writer: &'static str,
}

const PRIMS: &[PrimDef] = &[
    p("base64Binary", "Base64Binary", "base64_binary", "str"),
    p("boolean", "Boolean", "boolean", "boolean"),
    p("canonical", "Canonical", "canonical", "str"),
    p("code", "Code", "code", "str"),
    p("date", "Date", "date", "str"),
    p("dateTime", "DateTime", "date_time", "str"),
    p("decimal", "Decimal", "decimal", "decimal"),
    p("id", "Id", "id", "str"),
    p("instant", "Instant", "instant", "str"),
    p("integer", "Integer", "integer", "integer"),
    p("markdown", "Markdown", "markdown", "str"),
    p("oid", "Oid", "oid", "str"),
    p("positiveInt", "PositiveInt", "positive_int", "unsigned"),
    p("string", "FhirString", "string", "str"),
    p("time", "Time", "time", "str"),
    p("unsignedInt", "UnsignedInt", "unsigned_int", "unsigned"),
    p("uri", "Uri", "uri", "str"),
    p("url", "Url", "url", "str"),
    p("uuid", "Uuid", "uuid", "str"),
    p("xhtml", "Xhtml", "xhtml", "str"),
];

const fn p(
    fhir: &'static str,
    alias: &'static str,
    reader: &'static str,
    writer: &'static str,
) -> PrimDef {
    PrimDef {
        fhir,
        alias,
        reader,
        writer,
    }
}

/// Looks up a primitive by its FHIR name.
pub fn prim(code: &str) -> Option<Prim> {
    PRIMS.iter().find(|p| p.fhir == code).map(|p| Prim {
        alias: p.alias.to_string(),
        reader: p.reader.to_string(),
        writer: format!("w_{}", p.writer),
    })
}

/// A `code` bound (required) to the value set rendered as `codes::{name}`: the field stays a
/// `Code` (text), and reading it checks membership in the value set.
pub fn code_enum(name: &str) -> Prim {
    Prim {
        alias: "Code".to_string(),
        reader: format!("codes::{name}::read_code"),
        writer: "w_str".to_string(),
    }
}

/// How many values an element holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Card {
    /// 1..1
    One,
    /// 0..1
    Opt,
    /// 0..* or 1..*
    Many { min: u32 },
}

/// The type of a single (non-choice) value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A FHIR primitive with optional `_name` sibling.
    Prim(Prim),
    /// `Element.id`, `Extension.url`: a bare JSON string without extensions.
    PlainString,
    /// A complex datatype or backbone element, by Rust type name.
    Complex(String),
    /// Any resource (`Resource` enum).
    Resource,
}

/// One variant of a choice element.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Capitalised type code (`Quantity`, `DateTime`): the JSON key suffix and the Rust variant name.
    pub suffix: String,
    /// FHIR type code.
    pub code: String,
    pub ty: Ty,
}

/// What a field holds.
#[derive(Clone, Debug)]
pub enum Kind {
    Single(Ty),
    /// A choice element; the Rust enum name and its variants.
    Choice {
        enum_name: String,
        variants: Vec<Variant>,
    },
}

/// One element of a struct.
#[derive(Clone, Debug)]
pub struct Field {
    /// JSON name (choice: without the type suffix).
    pub json: String,
    /// Rust field name.
    pub rust: String,
    /// FHIR path as in ElementDefinition.path (`Observation.value[x]`).
    pub path: String,
    pub card: Card,
    pub kind: Kind,
    pub short: String,
    pub definition: String,
    pub min: u32,
    pub max: String,
}

/// Where a struct comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Resource,
    Datatype,
    Backbone,
}

/// A generated struct.
#[derive(Clone, Debug)]
pub struct Struct {
    pub name: String,
    /// FHIR path (`Bundle.entry`) or type name.
    pub path: String,
    pub origin: Origin,
    pub short: String,
    pub definition: String,
    pub fields: Vec<Field>,
}

/// All structs of one output file (a resource with its backbone elements, or a datatype with its own).
#[derive(Clone, Debug)]
pub struct Unit {
    /// Root type name (`Patient`, `Timing`).
    pub root: String,
    pub structs: Vec<Struct>,
}

/// The whole model.
pub struct Model {
    pub datatypes: Vec<Unit>,
    pub resources: Vec<Unit>,
}

/// Builds the model from `profiles-types.json` and `profiles-resources.json`.
pub fn build(types: &Value, resources: &Value, codes: &Codes) -> Model {
    let mut datatypes = Vec::new();
    for sd in structure_definitions(types) {
        let kind = s(sd, "kind");
        if kind != "complex-type"
            || sd["abstract"].as_bool() == Some(true)
            || s(sd, "derivation") == "constraint"
        {
            continue;
        }
        datatypes.push(unit(sd, Origin::Datatype, codes));
    }
    let mut res = Vec::new();
    for sd in structure_definitions(resources) {
        if s(sd, "kind") != "resource" || sd["abstract"].as_bool() == Some(true) {
            continue;
        }
        res.push(unit(sd, Origin::Resource, codes));
    }
    datatypes.sort_by(|a, b| a.root.cmp(&b.root));
    res.sort_by(|a, b| a.root.cmp(&b.root));
    Model {
        datatypes,
        resources: res,
    }
}

fn structure_definitions(bundle: &Value) -> impl Iterator<Item = &Value> {
    bundle["entry"]
        .as_array()
        .expect("bundle.entry")
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "StructureDefinition")
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// Rust type name for an element path: `Bundle.entry.request` -> `BundleEntryRequest`.
pub fn path_type_name(path: &str) -> String {
    path.split('.').map(upper_first).collect()
}

pub fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// `birthDate` -> `birth_date`; Rust keywords get a trailing underscore.
pub fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    const KEYWORDS: &[&str] = &[
        "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
        "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "if", "impl", "in",
        "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
        "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
        "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
    ];
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

fn unit(sd: &Value, origin: Origin, codes: &Codes) -> Unit {
    let root = s(sd, "type").to_string();
    let elements: Vec<&Value> = sd["snapshot"]["element"]
        .as_array()
        .expect("snapshot")
        .iter()
        .collect();
    // Children of each path, in snapshot order.
    let mut children: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    let mut by_path: BTreeMap<String, &Value> = BTreeMap::new();
    for el in &elements {
        let path = s(el, "path");
        by_path.insert(path.to_string(), el);
        if let Some((parent, _)) = path.rsplit_once('.') {
            children.entry(parent.to_string()).or_default().push(el);
        }
    }
    let mut structs = Vec::new();
    let root_el = elements[0];
    let mut queue = vec![(root.clone(), root.clone(), origin, root_el)];
    while let Some((name, path, origin, el)) = queue.pop() {
        let mut fields = Vec::new();
        for child in children.get(&path).map(Vec::as_slice).unwrap_or(&[]) {
            let (field, backbone) = field(child, codes);
            if let Some(bpath) = backbone {
                queue.push((
                    path_type_name(&bpath),
                    bpath.clone(),
                    Origin::Backbone,
                    by_path[&bpath],
                ));
            }
            fields.push(field);
        }
        let (short, definition) = if name == root {
            (s(sd, "title").to_string(), s(sd, "description").to_string())
        } else {
            (s(el, "short").to_string(), s(el, "definition").to_string())
        };
        let short = if short.is_empty() {
            s(el, "short").to_string()
        } else {
            short
        };
        structs.push(Struct {
            name,
            path,
            origin,
            short,
            definition,
            fields,
        });
    }
    structs.sort_by(|a, b| (a.name != root, &a.name).cmp(&(b.name != root, &b.name)));
    Unit { root, structs }
}

/// Builds one field; also returns the path of a backbone element whose struct must be generated.
fn field(el: &Value, codes: &Codes) -> (Field, Option<String>) {
    let path = s(el, "path").to_string();
    let last = path.rsplit('.').next().expect("path").to_string();
    let min = el["min"].as_u64().expect("min") as u32;
    let max = s(el, "max").to_string();
    let base = s(&el["base"], "path");
    let card = if max != "1" {
        Card::Many { min }
    } else if min >= 1 {
        Card::One
    } else {
        Card::Opt
    };
    let types: Vec<&Value> = el["type"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut backbone = None;
    let (json, kind) = if let Some(stem) = last.strip_suffix("[x]") {
        let owner = path_type_name(path.rsplit_once('.').expect("parent").0);
        let enum_name = format!("{owner}{}", upper_first(stem));
        let variants = types
            .iter()
            .map(|t| {
                let code = s(t, "code").to_string();
                Variant {
                    suffix: upper_first(&code),
                    ty: simple_ty(&code, base),
                    code,
                }
            })
            .collect();
        (
            stem.to_string(),
            Kind::Choice {
                enum_name,
                variants,
            },
        )
    } else if let Some(reference) = el["contentReference"].as_str() {
        let target = reference.trim_start_matches('#');
        (
            last.clone(),
            Kind::Single(Ty::Complex(path_type_name(target))),
        )
    } else {
        assert_eq!(types.len(), 1, "{path}: one type");
        let code = s(types[0], "code");
        let ty = if code == "BackboneElement" || code == "Element" {
            backbone = Some(path.clone());
            Ty::Complex(path_type_name(&path))
        } else if let Some(name) = required_code_binding(el).and_then(|url| codes.resolve(&url)) {
            Ty::Prim(code_enum(name))
        } else {
            simple_ty(code, base)
        };
        (last.clone(), Kind::Single(ty))
    };
    let rust = snake(&json);
    let field = Field {
        json,
        rust,
        path,
        card,
        kind,
        short: s(el, "short").to_string(),
        definition: s(el, "definition").to_string(),
        min,
        max,
    };
    (field, backbone)
}

fn simple_ty(code: &str, base: &str) -> Ty {
    if code.starts_with("http://hl7.org/fhirpath/System.") {
        return if base == "Resource.id" {
            Ty::Prim(prim("id").expect("id"))
        } else {
            Ty::PlainString
        };
    }
    if code == "Resource" {
        return Ty::Resource;
    }
    match prim(code) {
        Some(p) => Ty::Prim(p),
        None => Ty::Complex(code.to_string()),
    }
}
