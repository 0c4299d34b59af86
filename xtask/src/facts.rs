//! Generates the security facts of `fhir-types`: every resource type's search parameters with the
//! element paths their expressions select, and the five compartment definitions.
//!
//! Inputs (`../shared/fhir-r4/definitions/`): `search-parameters.json`, `compartmentdefinition-*.json`,
//! and the StructureDefinition snapshots (`profiles-resources.json.gz`, `profiles-types.json`) to
//! map expressions to element paths. Outputs: `fhir-types/src/generated/{search_params,compartments}.rs`.
//!
//! Expressions that cannot be mapped exactly are reported on stderr and listed at the top of
//! `search_params.rs`; their definitions carry `exact: false`. A compartment parameter that is not
//! an exactly mapped reference parameter stops generation: membership must never rest on a guess.

mod fhirpath;
mod model;
mod render;
mod select;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

pub use model::MemberPaths;

/// Regenerates the facts under `root` (the workspace root), or with `check` only verifies that
/// the committed files are up to date. Returns each compartment's membership paths (see
/// [`model::Facts::membership_paths`]) for the generated compartment visitor.
pub fn generate(root: &Path, check: bool) -> Result<Vec<(String, Vec<MemberPaths>)>, String> {
    let defs = root.join("../shared/fhir-r4/definitions");
    let read = |name: &str| -> Result<Value, String> {
        let path = defs.join(name);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let bytes = if name.ends_with(".gz") {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            out
        } else {
            bytes
        };
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    };

    let resources = read("profiles-resources.json.gz")?;
    let mut index = select::ElementIndex::default();
    index.add_bundle(&resources);
    index.add_bundle(&read("profiles-types.json")?);
    let compartments = [
        "patient",
        "encounter",
        "relatedperson",
        "practitioner",
        "device",
    ]
    .iter()
    .map(|c| read(&format!("compartmentdefinition-{c}.json")))
    .collect::<Result<Vec<_>, _>>()?;

    let facts = model::Facts::build(
        &resources,
        &read("search-parameters.json")?,
        &compartments,
        &index,
    )?;
    let inexact = facts.inexact();
    if !check {
        eprintln!(
            "facts: {} search parameters are not mapped exactly (exact: false):",
            inexact.len()
        );
        for line in &inexact {
            eprintln!("  {line}");
        }
    }

    let out_dir = root.join("fhir-types/src/generated");
    let files = [
        ("search_params.rs", rustfmt(&render::search_params(&facts))?),
        ("compartments.rs", rustfmt(&render::compartments(&facts))?),
    ];
    let mut stale = Vec::new();
    for (name, text) in files {
        let path = out_dir.join(name);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        } else {
            std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    if stale.is_empty() {
        Ok(facts.membership_paths())
    } else {
        Err(format!(
            "out of date, run `cargo xtask codegen`: {}",
            stale.join(", ")
        ))
    }
}

/// Formats like `cargo fmt` does, so the committed files pass `cargo fmt --check`.
fn rustfmt(src: &str) -> Result<String, String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("rustfmt (rustup component add rustfmt): {e}"))?;
    let mut stdin = child.stdin.take().ok_or("rustfmt stdin")?;
    let input = src.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt: {e}"))?;
    writer
        .join()
        .map_err(|_| "rustfmt writer panicked")?
        .map_err(|e| format!("rustfmt: {e}"))?;
    if !out.status.success() {
        return Err("rustfmt rejected the generated code".to_string());
    }
    String::from_utf8(out.stdout).map_err(|e| format!("rustfmt: {e}"))
}
