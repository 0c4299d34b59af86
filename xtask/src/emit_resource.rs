//! Emits `ResourceType`, the `Resource` enum and the module files.

use crate::emit::HEADER;
use crate::model::{snake, Unit};
use std::fmt::Write;

/// `generated/resource.rs`: the `ResourceType` and `Resource` enums.
pub fn resource_file(resources: &[Unit], holds_resources: &dyn Fn(&str) -> bool) -> String {
    let names: Vec<&str> = resources.iter().map(|u| u.root.as_str()).collect();
    let mut out = String::from(HEADER);
    out.push_str("use crate::generated_prelude::*;\n\n");
    // ResourceType
    out.push_str(
        "/// The type of a FHIR R4 resource: one variant per concrete resource type (146).\n\
         ///\n/// `FromStr` is case-sensitive, as `resourceType` is in FHIR JSON.\n\
         #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]\n#[non_exhaustive]\npub enum ResourceType {\n",
    );
    for n in &names {
        writeln!(out, "    /// `{n}`").unwrap();
        writeln!(out, "    {n},").unwrap();
    }
    out.push_str("}\n\n");
    writeln!(out, "impl ResourceType {{\n    /// Every resource type, in alphabetical order.\n    pub const ALL: [ResourceType; {}] = [", names.len()).unwrap();
    for n in &names {
        writeln!(out, "        ResourceType::{n},").unwrap();
    }
    out.push_str("    ];\n\n    /// The name as written in `resourceType` (`\"Patient\"`).\n    pub const fn as_str(self) -> &'static str {\n        match self {\n");
    for n in &names {
        writeln!(out, "            ResourceType::{n} => \"{n}\",").unwrap();
    }
    out.push_str("        }\n    }\n\n    /// Looks a type up by its exact (case-sensitive) name.\n    pub fn from_name(name: &str) -> Option<Self> {\n        Some(match name {\n");
    for n in &names {
        writeln!(out, "            \"{n}\" => ResourceType::{n},").unwrap();
    }
    out.push_str("            _ => return None,\n        })\n    }\n}\n\n");
    // Resource
    out.push_str(
        "/// Any FHIR R4 resource, typed.\n///\n/// Every place in FHIR that holds a resource (`Bundle.entry.resource`, `contained`,\n\
         /// `Parameters.parameter.resource`, `Bundle.entry.response.outcome`) holds this enum, so nested\n\
         /// resources are parsed and checked exactly like top-level ones.\n\
         #[derive(Clone, Debug, PartialEq)]\n#[non_exhaustive]\npub enum Resource {\n",
    );
    for n in &names {
        writeln!(out, "    /// A [`{n}`].\n    {n}(Box<{n}>),").unwrap();
    }
    out.push_str("}\n\nimpl Resource {\n    /// The type of this resource.\n    pub fn resource_type(&self) -> ResourceType {\n        match self {\n");
    for n in &names {
        writeln!(out, "            Resource::{n}(_) => ResourceType::{n},").unwrap();
    }
    out.push_str("        }\n    }\n\n    /// The logical id (`Resource.id`), if it has one.\n    pub fn id(&self) -> Option<&str> {\n        match self {\n");
    for n in &names {
        writeln!(
            out,
            "            Resource::{n}(r) => r.id.as_ref().and_then(|v| v.value.as_deref()),"
        )
        .unwrap();
    }
    out.push_str("        }\n    }\n\n    /// The metadata (`Resource.meta`), if present.\n    pub fn meta(&self) -> Option<&Meta> {\n        match self {\n");
    for n in &names {
        writeln!(out, "            Resource::{n}(r) => r.meta.as_ref(),").unwrap();
    }
    out.push_str(
        "        }\n    }\n\n    /// Calls `f` with every `Reference` in this resource and its element path from the resource\n\
         /// root (`\"Observation.subject\"`, `\"Observation.note.author[x]\"`; extensions included, as\n\
         /// `\"Patient.extension.value[x]\"`). Resources nested in this one are not entered: see\n\
         /// [`Resource::nested_resources`].\n\
         pub fn visit_references(&self, f: &mut dyn FnMut(&str, &Reference)) {\n\
         let mut path = String::from(self.resource_type().as_str());\n        match self {\n",
    );
    for n in &names {
        writeln!(
            out,
            "            Resource::{n}(r) => r.visit_refs(&mut path, f),"
        )
        .unwrap();
    }
    out.push_str(
        "        }\n    }\n\n    /// The resources held directly by this one: `contained`, `Bundle.entry.resource`,\n\
         /// `Bundle.entry.response.outcome`, `Parameters.parameter.resource` (also in `part`).\n\
         /// One level only: call it again on each to go deeper.\n\
         pub fn nested_resources(&self) -> Vec<&Resource> {\n        let mut out = Vec::new();\n        match self {\n",
    );
    for n in &names {
        if holds_resources(n) {
            writeln!(
                out,
                "            Resource::{n}(r) => r.collect_resources(&mut out),"
            )
            .unwrap();
        }
    }
    out.push_str("            _ => {}\n        }\n        out\n    }\n\n");
    out.push_str("    pub(crate) fn read(p: &mut Parser<'_>) -> Result<Self, ParseError> {\n        Ok(match p.peek_resource_type()? {\n");
    for n in &names {
        writeln!(
            out,
            "            ResourceType::{n} => read_boxed(p, {n}::read, Resource::{n})?,"
        )
        .unwrap();
    }
    out.push_str("        })\n    }\n\n    pub(crate) fn write(&self, w: &mut Writer) {\n        match self {\n");
    for n in &names {
        writeln!(out, "            Resource::{n}(r) => r.write(w),").unwrap();
    }
    out.push_str("        }\n    }\n}\n\n");
    for n in &names {
        writeln!(
            out,
            "impl From<{n}> for Resource {{\n    fn from(r: {n}) -> Self {{\n        Resource::{n}(Box::new(r))\n    }}\n}}\n"
        )
        .unwrap();
    }
    out
}

/// `mod.rs` of a directory of units: one module per unit, all re-exported.
pub fn mod_file(units: &[Unit], doc: &str) -> String {
    let mut out = String::from(HEADER);
    writeln!(out, "//! {doc}\n").unwrap();
    for u in units {
        writeln!(out, "mod {};", module_name(&u.root)).unwrap();
    }
    out.push('\n');
    for u in units {
        writeln!(out, "pub use {}::*;", module_name(&u.root)).unwrap();
    }
    out
}

/// File/module name of a unit.
pub fn module_name(root: &str) -> String {
    let s = snake(root);
    s.trim_end_matches('_').to_string()
}
