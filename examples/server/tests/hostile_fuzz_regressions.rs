//! Replays every committed fuzz input — the seed corpora (`fuzz/seeds/<target>/`) and every
//! input that once crashed a target (`fuzz/regressions/<target>/`) — through the same harness
//! functions the libFuzzer binaries run, so each finding stays fixed without a fuzzer in CI's
//! test step. Run the fuzzers themselves with `scripts/fuzz-smoke`.

#[allow(dead_code, unreachable_pub)]
#[path = "../../../fuzz/src/harness/mod.rs"]
mod harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    files.retain(|p| p.is_file() && !p.ends_with("README.md"));
    files.sort();
    files
}

/// Runs each input, collecting the names of those that panic (all of them, not just the first).
fn replay(kind: &str) -> (usize, Vec<String>) {
    let mut count = 0;
    let mut failures = Vec::new();
    for (target, harness) in harness::TARGETS {
        for path in inputs(kind, target) {
            let bytes = std::fs::read(&path).expect("readable input");
            count += 1;
            if catch_unwind(AssertUnwindSafe(|| harness(&bytes))).is_err() {
                failures.push(format!("{target}: {}", path.display()));
            }
        }
    }
    (count, failures)
}

#[test]
fn every_regression_directory_names_a_target() {
    let known: Vec<&str> = harness::TARGETS.iter().map(|(n, _)| *n).collect();
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().is_dir() {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(
                    known.contains(&name.as_str()),
                    "fuzz/{kind}/{name} names no target"
                );
            }
        }
    }
}

#[test]
fn fuzz_regressions_stay_fixed() {
    let (count, failures) = replay("regressions");
    assert!(
        count > 0,
        "no regression inputs found under fuzz/regressions"
    );
    assert!(
        failures.is_empty(),
        "regressions failing again:\n{}",
        failures.join("\n")
    );
}

#[test]
fn fuzz_seed_corpora_pass_the_harness() {
    let (count, failures) = replay("seeds");
    assert!(count >= 50, "seed corpora missing: {count} inputs");
    assert!(
        failures.is_empty(),
        "seeds failing:\n{}",
        failures.join("\n")
    );
}
