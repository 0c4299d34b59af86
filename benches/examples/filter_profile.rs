//! `Permit::filter_bundle_into` over the `filter_bundle/1000` Bundle of the decision bench, for
//! instruction counts and for the spread of single calls that criterion's mean hides:
//!
//! - `valgrind --tool=callgrind --toggle-collect='*filter_bundle_into*' target/release/examples/filter_profile 10`
//!   (11 calls: one more in the setup);
//! - `target/release/examples/filter_profile 2000 --times`: each call on a fresh clone (cold, as
//!   a freshly parsed Bundle is), timed alone; prints percentiles.

use std::hint::black_box;
use std::time::{Duration, Instant};

use fhir_types::Resource;
use smart_auth::decision::Authorizer;
use smart_auth::testing::policy::{context, request};

#[path = "../benches/decision/bundle.rs"]
mod bundle;

/// The bench's token; `SCOPES` in the environment replaces it.
const SCOPES: &str = "openid fhirUser launch/patient patient/Patient.r patient/Observation.rs patient/Condition.rs patient/Encounter.rs";

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let times = args.next().as_deref() == Some("--times");
    let scopes = std::env::var("SCOPES").unwrap_or_else(|_| SCOPES.to_owned());
    let ctx = context(&scopes, Some("123"), None);
    let permit = Authorizer::default()
        .decide(&ctx, &request("GET Observation?code=8867-4"))
        .into_result()
        .unwrap();
    let value = bundle::bundle_json(1000);
    let Resource::Bundle(bundle) =
        fhir_types::json::parse_resource(value.to_string().as_bytes()).unwrap()
    else {
        unreachable!()
    };
    // What the bench process holds while it times the filter (the JSON baseline's Bundle, the
    // filtered copy it checks first): the heap then serves the clones as it does there, and a
    // filter over clones from an otherwise empty heap is faster than the bench shows.
    let (mut checked, mut checked_removed) = (bundle.clone(), Vec::new());
    permit.filter_bundle_into(&mut checked, &mut checked_removed);
    let mut spent = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (mut b, mut removed) = (bundle.clone(), Vec::new());
        let start = Instant::now();
        let report = permit.filter_bundle_into(black_box(&mut b), &mut removed);
        spent.push(start.elapsed());
        assert_eq!(report.kept, 500);
        drop(black_box((b, removed)));
    }
    if times {
        spent.sort();
        let at = |q: f64| spent[((spent.len() - 1) as f64 * q) as usize];
        let mean = spent.iter().sum::<Duration>() / runs as u32;
        println!(
            "filter_bundle_into/1000 over {runs} calls: min {:?} p10 {:?} median {:?} p90 {:?} max {:?} mean {mean:?}",
            at(0.0),
            at(0.1),
            at(0.5),
            at(0.9),
            at(1.0)
        );
    }
    drop(black_box((value, checked, checked_removed)));
}
