//! Fuzz harnesses for every parser of untrusted bytes in secure-fhir.
//!
//! Each `pub fn` takes the raw fuzzer input, runs one parser on it and checks the properties
//! that must hold for *every* input (no panic, bounded work, errors that render without echoing
//! the input, accepted values that satisfy the checks they claim). The libFuzzer binaries in
//! `fuzz_targets/` are one-line wrappers around these functions, and the example server's
//! `hostile_fuzz_regressions` test replays `fuzz/regressions/` through the same functions, so a
//! crash found once stays fixed.
//!
//! Run one target: `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> -- -max_total_time=600`
//! (see `fuzz/README.md`).
#![forbid(unsafe_code)]

pub mod harness;
pub mod seeds;

pub use harness::*;
