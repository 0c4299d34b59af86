//! Code enums for the value sets that `code` elements are bound to with strength `required`.

use crate::docs::{doc_lines, escape};
use crate::emit::HEADER;
use crate::model::{snake, upper_first};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// One code of an enum.
pub struct Code {
    pub variant: String,
    pub code: String,
    pub display: String,
    pub definition: String,
}

/// One value set rendered as an enum.
pub struct CodeEnum {
    pub name: String,
    pub url: String,
    pub title: String,
    pub description: String,
    pub codes: Vec<Code>,
}

/// The enums, by value set URL (without version).
pub struct Codes {
    pub by_url: BTreeMap<String, CodeEnum>,
}

impl Codes {
    /// The enum name for a binding's value set, if it is enumerable.
    pub fn resolve(&self, value_set: &str) -> Option<&str> {
        let url = value_set.split('|').next().unwrap_or("");
        self.by_url.get(url).map(|e| e.name.as_str())
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// The value set URLs bound `required` to an element of type `code` (only), in the base definitions.
fn required_code_bindings(bundles: &[&Value]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for b in bundles {
        for e in b["entry"].as_array().into_iter().flatten() {
            let sd = &e["resource"];
            if sd["resourceType"] != "StructureDefinition" || s(sd, "derivation") == "constraint" {
                continue;
            }
            for el in sd["snapshot"]["element"].as_array().into_iter().flatten() {
                if let Some(url) = required_code_binding(el) {
                    out.insert(url);
                }
            }
        }
    }
    out
}

/// The value set of an element whose only type is `code` and whose binding is required.
pub fn required_code_binding(el: &Value) -> Option<String> {
    let types = el["type"].as_array()?;
    if types.len() != 1 || types[0]["code"] != "code" || el["binding"]["strength"] != "required" {
        return None;
    }
    Some(
        s(&el["binding"], "valueSet")
            .split('|')
            .next()
            .unwrap_or("")
            .to_string(),
    )
}

/// Builds enums for every required `code` binding whose value set lists its codes outright
/// (includes of whole FHIR code systems or of explicit concepts; no filters or imports).
pub fn load(valuesets: &Value, structure_bundles: &[&Value]) -> Codes {
    let mut sets = BTreeMap::new();
    let mut systems = BTreeMap::new();
    for e in valuesets["entry"].as_array().expect("entries") {
        let r = &e["resource"];
        match s(r, "resourceType") {
            "ValueSet" => sets.insert(s(r, "url").to_string(), r),
            "CodeSystem" => systems.insert(s(r, "url").to_string(), r),
            _ => None,
        };
    }
    let mut by_url = BTreeMap::new();
    let mut names = BTreeSet::new();
    for url in required_code_bindings(structure_bundles) {
        let Some(vs) = sets.get(&url) else { continue };
        let Some(codes) = expand(vs, &systems) else {
            continue;
        };
        let mut name = upper_first(&sanitize(s(vs, "name")));
        if names.contains(&name) {
            // Two value sets share a name: fall back to the URL's last segment.
            let tail = url.rsplit('/').next().unwrap_or("");
            name = tail
                .split(|c: char| !c.is_ascii_alphanumeric())
                .map(upper_first)
                .collect();
        }
        while !names.insert(name.clone()) {
            name.push('2');
        }
        let mut used = BTreeSet::new();
        let codes = codes
            .into_iter()
            .filter(|c| used.insert(c.0.clone()))
            .map(|(code, display, definition)| Code {
                variant: String::new(),
                code,
                display,
                definition,
            })
            .collect::<Vec<_>>();
        let mut e = CodeEnum {
            name,
            url: url.clone(),
            title: s(vs, "title").to_string(),
            description: s(vs, "description").to_string(),
            codes,
        };
        name_variants(&mut e);
        by_url.insert(url, e);
    }
    Codes { by_url }
}

type Concept = (String, String, String);

fn expand(vs: &Value, systems: &BTreeMap<String, &Value>) -> Option<Vec<Concept>> {
    let compose = &vs["compose"];
    if compose.get("exclude").is_some() {
        return None;
    }
    let mut out = Vec::new();
    for inc in compose["include"].as_array()? {
        if inc.get("valueSet").is_some() || inc.get("filter").is_some() {
            return None;
        }
        let system = systems.get(s(inc, "system"));
        if let Some(concepts) = inc["concept"].as_array() {
            for c in concepts {
                let code = s(c, "code").to_string();
                let (mut display, mut definition) = (s(c, "display").to_string(), String::new());
                if let Some(cs) = system {
                    if let Some(found) = find_concept(&cs["concept"], &code) {
                        if display.is_empty() {
                            display = s(found, "display").to_string();
                        }
                        definition = s(found, "definition").to_string();
                    }
                }
                out.push((code, display, definition));
            }
            continue;
        }
        let cs = system?;
        if s(cs, "content") != "complete" {
            return None;
        }
        flatten(&cs["concept"], &mut out);
    }
    (!out.is_empty()).then_some(out)
}

fn find_concept<'a>(concepts: &'a Value, code: &str) -> Option<&'a Value> {
    for c in concepts.as_array()? {
        if c["code"] == code {
            return Some(c);
        }
        if let Some(found) = find_concept(&c["concept"], code) {
            return Some(found);
        }
    }
    None
}

fn flatten(concepts: &Value, out: &mut Vec<Concept>) {
    for c in concepts.as_array().into_iter().flatten() {
        out.push((
            s(c, "code").to_string(),
            s(c, "display").to_string(),
            s(c, "definition").to_string(),
        ));
        flatten(&c["concept"], out);
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// A Rust variant name for a code: `entered-in-error` -> `EnteredInError`, `<=` -> `LessOrEqual`,
/// `4.0.1` -> `V4_0_1`; clashes get a numeric suffix.
fn name_variants(e: &mut CodeEnum) {
    let mut taken = BTreeSet::new();
    for c in &mut e.codes {
        let mut v = match c.code.as_str() {
            "<" => "LessThan".to_string(),
            "<=" => "LessOrEqual".to_string(),
            ">" => "GreaterThan".to_string(),
            ">=" => "GreaterOrEqual".to_string(),
            "=" => "Equal".to_string(),
            "!=" => "NotEqual".to_string(),
            "*" => "Any".to_string(),
            code => {
                let mut out = String::new();
                let mut prev_digit = false;
                for part in code
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|p| !p.is_empty())
                {
                    let digit = part.starts_with(|c: char| c.is_ascii_digit());
                    if digit && prev_digit {
                        out.push('_');
                    }
                    out.push_str(&upper_first(part));
                    prev_digit = part.ends_with(|c: char| c.is_ascii_digit());
                }
                if out.is_empty() {
                    out = upper_first(&sanitize(&c.display.replace(' ', "_")));
                }
                if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
                    out.insert(0, 'V');
                }
                out
            }
        };
        if v == "Self" {
            v.push('_');
        }
        let base = v.clone();
        let mut n = 2;
        while !taken.insert(v.clone()) {
            v = format!("{base}{n}");
            n += 1;
        }
        c.variant = v;
    }
}

/// Module file name of an enum.
pub fn module_name(e: &CodeEnum) -> String {
    let s = snake(&e.name);
    format!("vs_{}", s.trim_end_matches('_'))
}

/// `generated/codes/<enum>.rs`.
pub fn enum_file(e: &CodeEnum) -> String {
    let mut out = String::from(HEADER);
    out.push_str(
        "#![allow(clippy::all, non_camel_case_types)]\n\nuse crate::generated_prelude::*;\n\n",
    );
    let title = if e.title.is_empty() {
        e.name.clone()
    } else {
        e.title.clone()
    };
    out.push_str(&doc_lines(&title, ""));
    out.push_str("///\n");
    writeln!(out, "/// Value set `{}` (required binding).", e.url).unwrap();
    if !e.description.is_empty() {
        out.push_str("///\n");
        out.push_str(&doc_lines(&e.description, ""));
    }
    out.push_str("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]\n");
    writeln!(out, "pub enum {} {{", e.name).unwrap();
    for c in &e.codes {
        let mut doc = format!("`{}`", c.code.replace('`', "'"));
        if !c.display.is_empty() {
            write!(doc, ": {}", escape(&c.display)).unwrap();
        }
        out.push_str(&crate::docs::doc_raw(&doc, "    "));
        if !c.definition.is_empty() && c.definition != c.display {
            out.push_str("    ///\n");
            out.push_str(&doc_lines(&c.definition, "    "));
        }
        writeln!(out, "    {},", c.variant).unwrap();
    }
    out.push_str("}\n\n");
    let n = &e.name;
    writeln!(out, "impl {n} {{").unwrap();
    writeln!(
        out,
        "    /// Every code of the value set, in its order.\n    pub const ALL: [{n}; {}] = [",
        e.codes.len()
    )
    .unwrap();
    for c in &e.codes {
        writeln!(out, "        {n}::{},", c.variant).unwrap();
    }
    out.push_str("    ];\n\n    /// The code as written in FHIR.\n    pub const fn as_str(self) -> &'static str {\n        match self {\n");
    for c in &e.codes {
        writeln!(out, "            {n}::{} => {:?},", c.variant, c.code).unwrap();
    }
    out.push_str("        }\n    }\n\n    /// Looks a code up (exact, case-sensitive match).\n    pub fn from_code(code: &str) -> Option<Self> {\n        Some(match code {\n");
    for c in &e.codes {
        writeln!(out, "            {:?} => {n}::{},", c.code, c.variant).unwrap();
    }
    out.push_str("            _ => return None,\n        })\n    }\n\n");
    writeln!(
        out,
        "    pub(crate) fn read_code(p: &mut Parser<'_>) -> Result<String, ParseError> {{\n        read_bound_code(p, |c| Self::from_code(c).is_some(), {:?})\n    }}\n}}\n",
        e.url
    )
    .unwrap();
    writeln!(
        out,
        "impl std::fmt::Display for {n} {{\n    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{\n        f.write_str(self.as_str())\n    }}\n}}\n"
    )
    .unwrap();
    writeln!(
        out,
        "impl From<{n}> for Code {{\n    fn from(v: {n}) -> Self {{\n        Primitive::new(v.as_str().to_string())\n    }}\n}}\n"
    )
    .unwrap();
    writeln!(
        out,
        "impl std::str::FromStr for {n} {{\n    type Err = UnknownCode;\n    fn from_str(s: &str) -> Result<Self, UnknownCode> {{\n        Self::from_code(s).ok_or(UnknownCode)\n    }}\n}}"
    )
    .unwrap();
    out
}

/// `generated/codes/mod.rs`.
pub fn mod_file(codes: &Codes) -> String {
    let mut out = String::from(HEADER);
    out.push_str(
        "//! Enums for the value sets bound with strength `required` to `code` elements.\n\n",
    );
    let mut mods: Vec<String> = codes.by_url.values().map(module_name).collect();
    mods.sort();
    for m in &mods {
        writeln!(out, "mod {m};").unwrap();
    }
    out.push('\n');
    for m in &mods {
        writeln!(out, "pub use {m}::*;").unwrap();
    }
    out
}
