//! `cargo xtask codegen [--check]`: regenerates `fhir-types/src/generated` from `../shared/fhir-r4`.
//!
//! Reads the FHIR R4 (4.0.1) StructureDefinitions and writes one Rust file per resource and per
//! datatype (structs, choice enums, JSON read/write, reference visits), plus the `Resource` enum.
//! Output is run through `rustfmt`. With `--check`, nothing is written and the exit code says
//! whether the committed files are up to date.

mod codes;
mod docs;
mod emit;
mod emit_compartment;
mod emit_read;
mod emit_resource;
mod facts;
mod model;

use model::{Kind, Ty, Unit};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["codegen"] => false,
        ["codegen", "--check"] => true,
        _ => {
            eprintln!("usage: cargo xtask codegen [--check]");
            std::process::exit(2);
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let defs = root.join("../shared/fhir-r4/definitions");
    let out_dir = root.join("fhir-types/src/generated");
    // Search parameters and compartments (xtask/src/facts.rs) first: `mod.rs` declares them if present.
    let membership = match facts::generate(&root, check) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("facts: {e}");
            std::process::exit(1);
        }
    };
    let files = generate(&defs, &out_dir, &membership);
    let mut stale = Vec::new();
    for (rel, text) in &files {
        let path = out_dir.join(rel);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() != Some(text.as_str()) {
            stale.push(path.clone());
            if !check {
                std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
                std::fs::write(&path, text).expect("write generated file");
            }
        }
    }
    // Files we own that are no longer generated.
    let owned = existing_generated(&out_dir);
    let expected: BTreeSet<PathBuf> = files.keys().map(|k| out_dir.join(k)).collect();
    for path in owned.difference(&expected) {
        stale.push(path.clone());
        if !check {
            std::fs::remove_file(path).expect("remove stale file");
        }
    }
    if check {
        if stale.is_empty() {
            println!("generated code is up to date ({} files)", files.len());
        } else {
            for p in &stale {
                eprintln!("out of date: {}", p.display());
            }
            eprintln!("run `cargo xtask codegen` and commit the result");
            std::process::exit(1);
        }
    } else {
        println!("wrote {} of {} files", stale.len(), files.len());
    }
}

/// Generated files we own (the "facts" generator owns a few others in the same directory).
fn existing_generated(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for sub in ["codes", "datatypes", "resources"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd.flatten() {
                out.insert(e.path());
            }
        }
    }
    for f in ["mod.rs", "resource.rs", "compartment_refs.rs"] {
        if dir.join(f).exists() {
            out.insert(dir.join(f));
        }
    }
    out
}

fn read_json(path: &Path) -> Value {
    let mut bytes = Vec::new();
    let mut file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut bytes)
            .expect("gunzip");
    } else {
        file.read_to_end(&mut bytes).expect("read");
    }
    serde_json::from_slice(&bytes).expect("json")
}

/// Produces every generated file: path relative to `generated/` -> formatted content.
/// `membership`: each compartment's membership paths, from the facts generator.
fn generate(
    defs: &Path,
    generated_dir: &Path,
    membership: &[(String, Vec<facts::MemberPaths>)],
) -> BTreeMap<String, String> {
    let types = read_json(&defs.join("profiles-types.json"));
    let resources = read_json(&defs.join("profiles-resources.json.gz"));
    let valuesets = read_json(&defs.join("valuesets.json.gz"));
    let codes = codes::load(&valuesets, &[&types, &resources]);
    let model = model::build(&types, &resources, &codes);
    let all: Vec<&Unit> = model.datatypes.iter().chain(&model.resources).collect();
    let ctx = emit::Ctx {
        boxed: boxed_edges(&all)
            .into_iter()
            .chain(
                BOXED_FOR_SIZE
                    .iter()
                    .map(|(s, f)| (s.to_string(), f.to_string())),
            )
            .collect(),
        holds_resources: holds_resources(&all),
    };
    let mut files = BTreeMap::new();
    for u in &model.datatypes {
        files.insert(
            format!("datatypes/{}.rs", emit_resource::module_name(&u.root)),
            emit::unit_file(&ctx, u),
        );
    }
    for u in &model.resources {
        files.insert(
            format!("resources/{}.rs", emit_resource::module_name(&u.root)),
            emit::unit_file(&ctx, u),
        );
    }
    for e in codes.by_url.values() {
        files.insert(
            format!("codes/{}.rs", codes::module_name(e)),
            codes::enum_file(e),
        );
    }
    files.insert("codes/mod.rs".into(), codes::mod_file(&codes));
    files.insert(
        "datatypes/mod.rs".into(),
        emit_resource::mod_file(
            &model.datatypes,
            "The complex datatypes of FHIR R4, each with its JSON read and write.",
        ),
    );
    files.insert(
        "resources/mod.rs".into(),
        emit_resource::mod_file(
            &model.resources,
            "The 146 resources of FHIR R4 and their backbone elements.",
        ),
    );
    let holds = |n: &str| ctx.holds_resources.contains(n);
    files.insert(
        "resource.rs".into(),
        emit_resource::resource_file(&model.resources, &holds),
    );
    files.insert(
        "compartment_refs.rs".into(),
        emit_compartment::compartment_refs_file(&all, membership),
    );
    files.insert("mod.rs".into(), mod_rs(generated_dir));
    files.into_iter().map(|(k, v)| (k, rustfmt(&v))).collect()
}

/// `generated/mod.rs`; also declares the facts generator's files (`compartments.rs`,
/// `search_params.rs`) when they are present.
fn mod_rs(generated_dir: &Path) -> String {
    let mut s = String::from(emit::HEADER);
    s.push_str(
        "//! Code generated from the FHIR R4 definitions by `cargo xtask codegen`.\n\n\
         pub mod codes;\npub(crate) mod compartment_refs;\npub mod datatypes;\npub mod resource;\npub mod resources;\n",
    );
    for facts in ["compartments", "search_params"] {
        if generated_dir.join(format!("{facts}.rs")).exists() {
            s.push_str(&format!("pub(crate) mod {facts};\n"));
        }
    }
    s
}

/// Optional `(struct, field)`s boxed for size rather than for a cycle: large, and absent from
/// the values moved in bulk. A search result's `BundleEntry` (filtered entry by entry, the kept
/// ones moved down) has neither `request` nor `response`, which inline were over 60% of its
/// size; a history or batch entry pays one allocation for each it has.
const BOXED_FOR_SIZE: &[(&str, &str)] = &[("BundleEntry", "request"), ("BundleEntry", "response")];

/// `(struct, field)` edges held by value that lie on a cycle: those are boxed.
fn boxed_edges(units: &[&Unit]) -> BTreeSet<(String, String)> {
    let mut edges: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for u in units {
        for st in &u.structs {
            for f in &st.fields {
                if let (Kind::Single(Ty::Complex(n)), model::Card::One | model::Card::Opt) =
                    (&f.kind, f.card)
                {
                    edges
                        .entry(st.name.clone())
                        .or_default()
                        .push((f.rust.clone(), n.clone()));
                }
            }
        }
    }
    let reaches = |from: &str, to: &str| {
        let mut stack = vec![from.to_string()];
        let mut seen = BTreeSet::new();
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if !seen.insert(n.clone()) {
                continue;
            }
            for (_, t) in edges.get(&n).map(Vec::as_slice).unwrap_or(&[]) {
                stack.push(t.clone());
            }
        }
        false
    };
    let mut out = BTreeSet::new();
    for (from, list) in &edges {
        for (field, to) in list {
            if reaches(to, from) {
                out.insert((from.clone(), field.clone()));
            }
        }
    }
    out
}

/// Structs with a `Resource` field somewhere below them.
fn holds_resources(units: &[&Unit]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    loop {
        let before = out.len();
        for u in units {
            for st in &u.structs {
                let holds = st.fields.iter().any(|f| match &f.kind {
                    Kind::Single(Ty::Resource) => true,
                    Kind::Single(Ty::Complex(n)) => out.contains(n),
                    _ => false,
                });
                if holds {
                    out.insert(st.name.clone());
                }
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

fn rustfmt(src: &str) -> String {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("rustfmt (rustup component add rustfmt)");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = src.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("rustfmt output");
    writer.join().expect("join").expect("write to rustfmt");
    if !out.status.success() {
        let dump = std::env::temp_dir().join("xtask-rustfmt-input.rs");
        std::fs::write(&dump, src).ok();
        panic!("rustfmt failed; input saved to {}", dump.display());
    }
    String::from_utf8(out.stdout).expect("utf-8")
}
