//! The crates users would pick instead of fhir-types, on the same bytes and in the same run
//! (feature `peers`): `fhirbolt` and `fhirkit`. `fhir` and `helios-fhir` do not build in this
//! workspace (see `benches/Cargo.toml` for the errors).
//!
//! Each peer's parse is timed on every input, whether it accepts it or not; how many inputs each
//! accepts is printed before the run, so a peer that is fast because it gives up shows as such.

use criterion::measurement::WallTime;
use criterion::{black_box, BenchmarkGroup};

/// A parsed value kept opaque: serializing it again, returning the output's length.
pub type Serialize = Box<dyn Fn() -> usize>;

/// One peer: its name, a parse that reports success, and a parse-then-serialize for the
/// serialize benches (the parsed value is kept opaque behind a boxed closure).
pub struct Peer {
    pub name: &'static str,
    pub parse: fn(&[u8]) -> bool,
    pub load: fn(&[u8]) -> Option<Serialize>,
}

fn fhirbolt_parse(b: &[u8]) -> bool {
    fhirbolt::json::from_slice::<fhirbolt::model::r4::Resource>(b, None).is_ok()
}

fn fhirbolt_load(b: &[u8]) -> Option<Serialize> {
    let r = fhirbolt::json::from_slice::<fhirbolt::model::r4::Resource>(b, None).ok()?;
    Some(Box::new(move || {
        fhirbolt::json::to_vec(black_box(&r), None)
            .map(|v| v.len())
            .unwrap_or(0)
    }))
}

fn fhirkit_parse(b: &[u8]) -> bool {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| fhirkit::from_json_strict::<fhirkit::r4::Resource>(s).ok())
        .is_some()
}

fn fhirkit_load(b: &[u8]) -> Option<Serialize> {
    let s = std::str::from_utf8(b).ok()?;
    let r = fhirkit::from_json_strict::<fhirkit::r4::Resource>(s).ok()?;
    Some(Box::new(move || fhirkit::to_json(black_box(&r)).len()))
}

/// The peers, in the order they appear in the report.
pub const PEERS: &[Peer] = &[
    Peer {
        name: "fhirbolt",
        parse: fhirbolt_parse,
        load: fhirbolt_load,
    },
    Peer {
        name: "fhirkit",
        parse: fhirkit_parse,
        load: fhirkit_load,
    },
];

/// Adds each peer's parse and serialize of `inputs` to `g`, after saying how many it accepts.
pub fn bench(g: &mut BenchmarkGroup<'_, WallTime>, label: &str, inputs: &[&[u8]]) {
    for peer in PEERS {
        let accepted = inputs.iter().filter(|b| (peer.parse)(b)).count();
        eprintln!(
            "{label}: {} accepts {accepted} of {} inputs",
            peer.name,
            inputs.len()
        );
        g.bench_function(format!("parse/{}", peer.name), |b| {
            b.iter(|| inputs.iter().filter(|i| (peer.parse)(black_box(i))).count())
        });
        let loaded: Vec<_> = inputs.iter().filter_map(|b| (peer.load)(b)).collect();
        if loaded.len() == inputs.len() || (!loaded.is_empty() && inputs.len() > 1) {
            g.bench_function(format!("serialize/{}", peer.name), |b| {
                b.iter(|| loaded.iter().map(|w| w()).sum::<usize>())
            });
        }
    }
}
