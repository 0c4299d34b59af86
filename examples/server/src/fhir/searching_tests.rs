use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::fhir::access::Access;
use crate::fhir::outcome::Payload;
use crate::fhir::search::pairs;
use crate::store::Store;

/// Reads every type, but no Observation: counts the Observation bodies it was asked about.
#[derive(Default)]
struct NoObservations {
    checked: AtomicUsize,
}

impl Access for NoObservations {
    fn narrowing(&self, _rtype: &str) -> Option<Vec<Clause>> {
        Some(Vec::new())
    }

    fn may_read(&self, _tx: &Tx<'_>, rtype: &str, _id: &str, _body: &str) -> bool {
        if rtype == "Observation" {
            self.checked.fetch_add(1, Ordering::Relaxed);
        }
        rtype != "Observation"
    }

    fn may_read_accounting(&self, _patient: &str, _base: &str) -> bool {
        false
    }
}

fn store(observations: usize) -> Store {
    let store = Store::open(None, "http://localhost/fhir").unwrap();
    let now = chrono::Utc::now();
    store
        .transaction(|tx| -> crate::store::Result<()> {
            tx.put("Patient", "p1", json!({"resourceType": "Patient"}), now)?;
            for i in 0..observations {
                let obs = json!({"resourceType": "Observation", "status": "final",
                    "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}});
                tx.put("Observation", &format!("o{i}"), obs, now)?;
            }
            Ok(())
        })
        .unwrap();
    store
}

#[test]
fn each_candidate_for_inclusion_is_checked_once_however_often_it_is_named() {
    let store = store(5);
    let access = NoObservations::default();
    let env = Env {
        access: &access,
        base: "http://localhost/fhir",
        now: chrono::Utc::now(),
    };
    // The same referrers named by a repeated `_revinclude` and by two parameters on the same
    // reference: each of the five Observations is looked up and checked once, not per name.
    let query = pairs(
        "_id=p1&_revinclude=Observation:subject&_revinclude=Observation:subject\
         &_revinclude=Observation:subject&_revinclude=Observation:patient",
    );
    let done = store
        .read(|tx| search(tx, &env, "Patient", &query, None))
        .unwrap();
    assert_eq!(done.touched, vec!["Patient/p1".to_owned()]);
    assert_eq!(access.checked.load(Ordering::Relaxed), 5);
}

/// A compartment larger than the scan: `$everything` says it is partial even when little of
/// what it scanned was readable, rather than answer complete-looking without what lies past
/// the scan (here a Condition, written last, behind more Observations than the scan reads).
#[test]
fn everything_cut_by_its_scan_says_it_is_partial() {
    let store = store(MAX_EVERYTHING_SCANNED);
    store
        .transaction(|tx| -> crate::store::Result<()> {
            let condition = json!({"resourceType": "Condition",
                "subject": {"reference": "Patient/p1"}});
            tx.put("Condition", "c1", condition, chrono::Utc::now())?;
            Ok(())
        })
        .unwrap();
    let access = NoObservations::default();
    let env = Env {
        access: &access,
        base: "http://localhost/fhir",
        now: chrono::Utc::now(),
    };
    let done = store.read(|tx| everything(tx, &env, "p1", &[])).unwrap();
    let Payload::Bundle(bundle) = &done.payload else {
        panic!("a Bundle");
    };
    let bundle = bundle.to_value();
    assert!(bundle.get("total").is_none(), "{}", bundle["total"]);
    let outcome = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["search"]["mode"] == "outcome");
    assert!(outcome, "a warning that the answer is partial");
    assert!(
        !done.touched.contains(&"Condition/c1".to_owned()),
        "past the scan"
    );
}

/// Once [`MAX_INCLUDED`] resources are included, the matches left are not looked at: each
/// would cost a query of the index for referrers that can no longer be added.
#[test]
fn includes_stop_querying_once_the_result_is_full() {
    const PATIENTS: usize = 150;
    const EACH: usize = 10;
    let store = Store::open(None, "http://localhost/fhir").unwrap();
    let now = chrono::Utc::now();
    store
        .transaction(|tx| -> crate::store::Result<()> {
            for p in 0..PATIENTS {
                tx.put(
                    "Patient",
                    &format!("p{p}"),
                    json!({"resourceType": "Patient"}),
                    now,
                )?;
                for i in 0..EACH {
                    let obs = json!({"resourceType": "Observation", "status": "final",
                        "code": {"text": "x"}, "subject": {"reference": format!("Patient/p{p}")}});
                    tx.put("Observation", &format!("o{p}-{i}"), obs, now)?;
                }
            }
            Ok(())
        })
        .unwrap();
    let env = Env {
        access: &crate::fhir::access::Unrestricted,
        base: "http://localhost/fhir",
        now,
    };
    let query = pairs("_count=200&_revinclude=Observation:subject");
    let (included, runs) = store
        .read(|tx| -> Result<_, Fail> {
            let done = search(tx, &env, "Patient", &query, None)?;
            let Payload::Bundle(b) = done.payload else {
                panic!("a searchset")
            };
            let included = b.to_value()["entry"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["search"]["mode"] == "include")
                .count();
            Ok((included, tx.runs_of_referrers()))
        })
        .unwrap();
    assert_eq!(included, MAX_INCLUDED);
    let needed = MAX_INCLUDED / EACH;
    assert!(
        runs <= needed,
        "{runs} referrer queries, {needed} filled the result"
    );
}
