use super::history::history_where;
use super::query::where_sql;
use super::query::{Clause, Match, Prefix, Query};
use super::*;
use chrono::TimeZone;

const BASE: &str = "http://localhost:8080/fhir";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()
}

fn store_with_data() -> Store {
    let store = Store::open(None, BASE).unwrap();
    store
        .transaction(|tx| -> Result<()> {
            tx.put(
                "Patient",
                "p1",
                json!({"resourceType": "Patient", "name": [{"family": "Smith"}]}),
                now(),
            )?;
            tx.put("Patient", "p2", json!({"resourceType": "Patient"}), now())?;
            tx.put(
                "Observation",
                "o1",
                json!({"resourceType": "Observation", "status": "final",
                       "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                       "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-05-01"}),
                now(),
            )?;
            tx.put(
                "Observation",
                "o2",
                json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                       "subject": {"reference": "Patient/p2"}, "effectiveDateTime": "2023-05-01"}),
                now(),
            )?;
            Ok(())
        })
        .unwrap();
    store
}

/// `date=ge2024`.
fn date_in_or_after_2024() -> Clause {
    let (lo, hi) = time::instant_range("2024").unwrap();
    Clause::Param {
        code: "date",
        kind: params::Kind::Date,
        values: vec![Match::Date {
            prefix: Prefix::Ge,
            lo,
            hi,
        }],
    }
}

fn ids(v: &[Version]) -> Vec<&str> {
    v.iter().map(|v| v.id.as_str()).collect()
}

#[test]
fn versions_and_history() {
    let store = store_with_data();
    store
        .transaction(|tx| -> Result<()> {
            let v2 = tx.put("Patient", "p1", json!({"resourceType": "Patient"}), now())?;
            assert_eq!(v2.version, 2);
            assert!(v2.body.unwrap().contains("\"versionId\":\"2\""));
            let del = tx.delete("Patient", "p1", now())?.unwrap();
            assert!(del.deleted && del.version == 3);
            assert!(tx.delete("Patient", "p1", now())?.is_none());
            Ok(())
        })
        .unwrap();
    store.read(|tx| {
        assert!(tx.current("Patient", "p1").unwrap().unwrap().deleted);
        assert_eq!(tx.version("Patient", "p1", 1).unwrap().unwrap().version, 1);
        assert_eq!(tx.last_live("Patient", "p1").unwrap().unwrap().version, 2);
        let (total, page) = tx
            .history(
                HistoryScope::Instance("Patient", "p1"),
                &[],
                SeqWindow::ALL,
                0,
                10,
            )
            .unwrap();
        assert_eq!(total, 3);
        assert_eq!(page[0].version, 3);
    });
}

#[test]
fn search_by_param_and_compartment() {
    let store = store_with_data();
    store.read(|tx| {
        let q = |clauses| Query {
            resource_type: "Observation".into(),
            clauses,
        };
        let (n, page) = tx
            .search(
                &q(vec![Clause::Param {
                    code: "code",
                    kind: params::Kind::Token,
                    values: vec![Match::Token {
                        system: None,
                        code: Some("8867-4".into()),
                    }],
                }]),
                0,
                10,
            )
            .unwrap();
        assert_eq!((n, ids(&page)), (1, vec!["o1"]));
        let (n, page) = tx
            .search(
                &q(vec![Clause::InCompartment {
                    ctype: "Patient".into(),
                    id: "p2".into(),
                }]),
                0,
                10,
            )
            .unwrap();
        assert_eq!((n, ids(&page)), (1, vec!["o2"]));
        let (n, page) = tx.search(&q(vec![date_in_or_after_2024()]), 0, 10).unwrap();
        assert_eq!((n, ids(&page)), (1, vec!["o1"]));
        let (n, _) = tx.search(&q(vec![Clause::AnyOf(vec![])]), 0, 10).unwrap();
        assert_eq!(n, 0, "an empty OR matches nothing (fail closed)");
        let (n, page) = tx.search(&q(vec![]), 1, 1).unwrap();
        assert_eq!((n, page.len()), (2, 1));
    });
}

#[test]
fn text_search_escapes_wildcards() {
    let store = store_with_data();
    store.read(|tx| {
        let q = |v: &str| Query {
            resource_type: "Patient".into(),
            clauses: vec![Clause::Param {
                code: "family",
                kind: params::Kind::Text,
                values: vec![Match::Text {
                    value: v.into(),
                    exact: false,
                }],
            }],
        };
        assert_eq!(tx.search(&q("smi"), 0, 10).unwrap().0, 1);
        assert_eq!(tx.search(&q("%"), 0, 10).unwrap().0, 0);
        assert_eq!(tx.search(&q("_"), 0, 10).unwrap().0, 0);
    });
}

#[test]
fn failed_transaction_rolls_back() {
    let store = store_with_data();
    let r: Result<()> = store.transaction(|tx| {
        tx.put("Patient", "p9", json!({"resourceType": "Patient"}), now())?;
        Err(StoreError("boom".into()))
    });
    assert!(r.is_err());
    store.read(|tx| assert!(tx.current("Patient", "p9").unwrap().is_none()));
}

#[test]
fn compartment_and_includes() {
    let store = store_with_data();
    store.read(|tx| {
        let members = tx.compartment_members("Patient", "p1", 100).unwrap();
        let mut got = ids(&members);
        got.sort();
        assert_eq!(got, vec!["o1", "p1"]);
        assert_eq!(
            tx.references_from("Observation", "o1", "subject").unwrap(),
            vec![("Patient".to_string(), "p1".to_string())]
        );
        assert_eq!(
            tx.referrers("Observation", "subject", "Patient", "p2", 10)
                .unwrap(),
            vec!["o2"]
        );
    });
}

#[test]
fn paged_statements_are_not_prepared_again_at_each_execution() {
    use rusqlite::StatementStatus;
    let store = store_with_data();
    store.read(|tx| {
        let sql = format!(
            "SELECT c.id FROM current c WHERE c.rtype = ?1 ORDER BY c.created_seq {}",
            limit_offset(2, 3)
        );
        let reprepares = |sql: &str| {
            let mut st = tx.conn.prepare(sql).unwrap();
            for n in [1, 2, 5] {
                let ids = st
                    .query_map(params!["Observation", n, 0], |r| r.get::<_, String>(0))
                    .unwrap()
                    .count();
                assert!(ids <= n as usize);
            }
            st.get_status(StatementStatus::RePrepare)
        };
        assert_eq!(reprepares(&sql), 0);
        // The bare form is what this guards against (SQLite re-prepares it every time).
        assert!(reprepares(&sql.replace("+?2", "?2")) > 0);
    });
}

/// Queries over `store_with_data` covering every clause kind, alone, ANDed and ORed.
fn sample_queries() -> Vec<Query> {
    let (lo, hi) = time::instant_range("2024").unwrap();
    let code = |c: &str| Clause::Param {
        code: "code",
        kind: params::Kind::Token,
        values: vec![Match::Token {
            system: Some("http://loinc.org".into()),
            code: Some(c.into()),
        }],
    };
    let patient = |p: &str| Clause::Param {
        code: "patient",
        kind: params::Kind::Reference,
        values: vec![
            Match::Reference {
                rtype: Some("Patient".into()),
                id: p.into(),
            },
            Match::Reference {
                rtype: None,
                id: "nobody".into(),
            },
        ],
    };
    let date = date_in_or_after_2024();
    let member = |p: &str| Clause::InCompartment {
        ctype: "Patient".into(),
        id: p.into(),
    };
    let updated = Clause::LastUpdated(vec![Match::Date {
        prefix: Prefix::Le,
        lo,
        hi,
    }]);
    let q = |t: &str, clauses| Query {
        resource_type: t.into(),
        clauses,
    };
    vec![
        q("Observation", vec![code("8867-4")]),
        q("Observation", vec![patient("p1")]),
        q("Observation", vec![patient("p2"), member("p2")]),
        q("Observation", vec![patient("p2"), member("p1")]),
        q("Observation", vec![date.clone()]),
        q("Observation", vec![date, member("p1"), updated.clone()]),
        q("Observation", vec![updated.clone()]),
        q(
            "Observation",
            vec![Clause::AnyOf(vec![
                vec![member("p2")],
                vec![code("8867-4")],
            ])],
        ),
        q(
            "Observation",
            vec![Clause::AnyOf(vec![vec![member("p2")], vec![]]), updated],
        ),
        q(
            "Observation",
            vec![Clause::Id(vec!["o2".into(), "p1".into()])],
        ),
        q("Patient", vec![member("p1")]),
        q("Patient", vec![Clause::AnyOf(vec![])]),
    ]
}

#[test]
fn index_driven_searches_find_what_row_by_row_tests_find() {
    let store = store_with_data();
    store.read(|tx| {
        for query in sample_queries() {
            let (total, page) = tx.search(&query, 0, 100).unwrap();
            // The same clauses as correlated EXISTS tests of each row of the type.
            let mut args = vec![rusqlite::types::Value::Text(query.resource_type.clone())];
            let cond = where_sql(&query.clauses, &mut args);
            let sql = format!(
                "SELECT c.id FROM current c WHERE c.rtype = ?1 AND c.deleted = 0 AND {cond} \
                 ORDER BY c.created_seq"
            );
            let expected: Vec<String> = tx
                .conn
                .prepare(&sql)
                .unwrap()
                .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(ids(&page), expected, "{query:?}");
            assert_eq!(total, expected.len(), "{query:?}");
        }
    });
}

#[test]
fn searches_with_indexed_clauses_look_rows_up_by_id() {
    let store = store_with_data();
    store.read(|tx| {
        for query in sample_queries() {
            let mut args = Vec::new();
            let from = search_from(&query, &mut args);
            let plan: Vec<String> = tx
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN SELECT COUNT(*) {from}"))
                .unwrap()
                .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let (_, driven) = search_where(&query.clauses, &mut Vec::new(), 1);
            let walks_the_type = plan[0].contains("current_by_created");
            assert_eq!(walks_the_type, !driven, "{query:?}: {plan:?}");
            if driven {
                assert!(plan[0].contains("(rtype=? AND id=?)"), "{plan:?}");
                // One set is built; the other clauses are lookups on its rows.
                let sets = plan
                    .iter()
                    .filter(|l| l.starts_with("LIST SUBQUERY"))
                    .count();
                assert!(sets <= 1, "{query:?}: {plan:?}");
            }
        }
    });
}

#[test]
fn a_page_that_is_not_full_gives_the_total() {
    assert_eq!(total_from_page(0, 10, 3), Some(3));
    assert_eq!(total_from_page(20, 10, 3), Some(23));
    assert_eq!(total_from_page(0, 10, 0), Some(0));
    // Full, past the end, or no page asked for: only a count knows.
    assert_eq!(total_from_page(0, 10, 10), None);
    assert_eq!(total_from_page(20, 10, 0), None);
    assert_eq!(total_from_page(0, 0, 0), None);
    // Totals agree with the count at every offset and page size.
    let store = store_with_data();
    store.read(|tx| {
        let q = Query {
            resource_type: "Observation".into(),
            clauses: vec![],
        };
        for count in 0..4 {
            for offset in 0..4 {
                let (total, page) = tx.search(&q, offset, count).unwrap();
                assert_eq!(total, 2, "offset {offset} count {count}");
                assert_eq!(page.len(), count.min(2usize.saturating_sub(offset)));
                let (total, _) = tx
                    .history(
                        HistoryScope::Type("Observation"),
                        &[],
                        SeqWindow::ALL,
                        offset,
                        count,
                    )
                    .unwrap();
                assert_eq!(total, 2, "history offset {offset} count {count}");
            }
        }
    });
}

#[test]
fn type_history_is_driven_like_a_search_and_finds_the_same() {
    let store = store_with_data();
    store
        .transaction(|tx| -> Result<()> {
            // A second version of each Observation.
            for (id, p) in [("o1", "p1"), ("o2", "p2")] {
                let obs = json!({"resourceType": "Observation", "status": "amended",
                    "subject": {"reference": format!("Patient/{p}")}});
                tx.put("Observation", id, obs, now())?;
            }
            Ok(())
        })
        .unwrap();
    store.read(|tx| {
        for query in sample_queries() {
            let scope = HistoryScope::Type(&query.resource_type);
            let (total, page) = tx
                .history(scope, &query.clauses, SeqWindow::ALL, 0, 100)
                .unwrap();
            let mut args = vec![rusqlite::types::Value::Text(query.resource_type.clone())];
            let cond = where_sql(&query.clauses, &mut args);
            let from = format!(
                "FROM history h JOIN current c ON c.rtype = h.rtype AND c.id = h.id \
                 WHERE h.rtype = ?1 AND {cond}"
            );
            let expected: Vec<(String, i64)> = tx
                .conn
                .prepare(&format!(
                    "SELECT h.id, h.version {from} ORDER BY h.seq DESC"
                ))
                .unwrap()
                .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let got: Vec<(String, i64)> = page.iter().map(|v| (v.id.clone(), v.version)).collect();
            assert_eq!(got, expected, "{query:?}");
            assert_eq!(total, expected.len(), "{query:?}");

            let mut args = vec![rusqlite::types::Value::Text(query.resource_type.clone())];
            let cond = history_where(scope, &query.clauses, &mut args);
            let plan: Vec<String> = tx
                .conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM history h JOIN current c \
                     ON c.rtype = h.rtype AND c.id = h.id WHERE h.rtype = ?1 AND {cond}"
                ))
                .unwrap()
                .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            if search_where(&query.clauses, &mut Vec::new(), 1).1 {
                assert!(
                    plan[0].contains("(rtype=? AND id=?)"),
                    "{query:?}: {plan:?}"
                );
            }
        }
    });
}

/// The ids a search of `rtype` with the query `q` (`name=value&...`, unescaped) finds.
fn found(store: &Store, rtype: &str, q: &str) -> std::result::Result<Vec<String>, String> {
    let pairs: Vec<(String, String)> = q
        .split('&')
        .map(|p| p.split_once('=').unwrap())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let spec = crate::fhir::search::parse(rtype, &pairs).map_err(|e| e.0.to_owned())?;
    let query = Query {
        resource_type: rtype.to_owned(),
        clauses: spec.clauses,
    };
    let (_, page) = store.read(|tx| tx.search(&query, 0, 50)).unwrap();
    let mut ids: Vec<String> = page.into_iter().map(|v| v.id).collect();
    ids.sort();
    Ok(ids)
}

#[test]
fn number_and_quantity_search_compare_implicit_ranges() {
    let store = Store::open(None, BASE).unwrap();
    let obs = |value: &str| {
        crate::fhir::json::parse_str(&format!(
            r#"{{"resourceType": "Observation", "status": "final", "valueQuantity": {value}}}"#
        ))
        .unwrap()
    };
    store
        .transaction(|tx| -> Result<()> {
            let ucum = r#""system": "http://unitsofmeasure.org""#;
            tx.put("Observation", "a", obs(&format!(r#"{{"value": 5.4, {ucum}, "code": "mg", "unit": "mg"}}"#)), now())?;
            tx.put("Observation", "b", obs(&format!(r#"{{"value": 100, {ucum}, "code": "mmol/L", "unit": "mmol/l"}}"#)), now())?;
            tx.put("Observation", "c", obs(r#"{"value": 10, "comparator": "<", "unit": "g"}"#), now())?;
            tx.put("Observation", "none", obs(r#"{"unit": "g"}"#), now())?;
            let risk = crate::fhir::json::parse_str(
                r#"{"resourceType": "RiskAssessment", "status": "final", "subject": {"reference": "Patient/p"},
                    "prediction": [{"probabilityDecimal": 0.25}]}"#,
            )
            .unwrap();
            tx.put("RiskAssessment", "r", risk, now())?;
            Ok(())
        })
        .unwrap();
    let q = |query: &str| found(&store, "Observation", query);
    let ok = |ids: &[&str]| Ok(ids.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    // eq: the search value's range contains the stored value's.
    assert_eq!(q("value-quantity=5.4"), ok(&["a"]));
    assert_eq!(q("value-quantity=5"), ok(&["a"]));
    assert_eq!(
        q("value-quantity=5.40"),
        ok(&[]),
        "5.4 is less precise than 5.40"
    );
    assert_eq!(q("value-quantity=1e2"), ok(&["b"]));
    assert_eq!(q("value-quantity=ne5.4"), ok(&["b", "c"]));
    // Ranges above and below; `< 10` may be anything below 10.5.
    assert_eq!(q("value-quantity=gt5"), ok(&["b", "c"]));
    assert_eq!(q("value-quantity=lt50"), ok(&["a", "c"]));
    assert_eq!(q("value-quantity=ge100"), ok(&["b"]));
    assert_eq!(q("value-quantity=le5.4"), ok(&["a", "c"]));
    assert_eq!(q("value-quantity=ap95"), ok(&["b"]));
    // Units: system and code, or the code or unit text in any system.
    assert_eq!(
        q("value-quantity=5.4|http://unitsofmeasure.org|mg"),
        ok(&["a"])
    );
    assert_eq!(q("value-quantity=5.4|http://other.org|mg"), ok(&[]));
    assert_eq!(q("value-quantity=5.4||mg"), ok(&["a"]));
    assert_eq!(q("value-quantity=100||mmol/l"), ok(&["b"]));
    assert_eq!(q("value-quantity=100||mg"), ok(&[]));
    assert_eq!(q("value-quantity=5.4,100"), ok(&["a", "b"]));
    // Numbers.
    assert_eq!(
        found(&store, "RiskAssessment", "probability=0.25"),
        ok(&["r"])
    );
    assert_eq!(
        found(&store, "RiskAssessment", "probability=gt0.3"),
        ok(&[])
    );
    assert_eq!(
        found(&store, "RiskAssessment", "probability=lt0.3"),
        ok(&["r"])
    );
    // Malformed values are refused, not ignored.
    for bad in ["abc", "5|mg", "5|s|c|d", "5||", "gt", "1e9999", "5.", "0x5"] {
        assert!(q(&format!("value-quantity={bad}")).is_err(), "{bad}");
    }
    assert!(found(&store, "RiskAssessment", "probability=0.25||x").is_err());
    assert!(q("value-quantity:missing=true").is_err());
}

#[test]
fn uri_search_compares_exact_text_and_prefixes_case_sensitively() {
    let store = Store::open(None, BASE).unwrap();
    let vs = |url: &str| {
        crate::fhir::json::parse_str(&format!(
            r#"{{"resourceType": "ValueSet", "status": "active", "url": "{url}"}}"#
        ))
        .unwrap()
    };
    store
        .transaction(|tx| -> Result<()> {
            tx.put(
                "ValueSet",
                "a",
                vs("http://acme.org/fhir/ValueSet/a"),
                now(),
            )?;
            tx.put(
                "ValueSet",
                "b",
                vs("http://acme.org/fhir/ValueSet/b_1"),
                now(),
            )?;
            tx.put(
                "ValueSet",
                "c",
                vs("http://ACME.org/fhir/ValueSet/a"),
                now(),
            )?;
            tx.put("ValueSet", "d", vs("http://other.org/ValueSet/a%"), now())?;
            Ok(())
        })
        .unwrap();
    let q = |query: &str| found(&store, "ValueSet", query);
    let ok = |ids: &[&str]| Ok(ids.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(q("url=http://acme.org/fhir/ValueSet/a"), ok(&["a"]));
    assert_eq!(q("url=http://acme.org/fhir/ValueSet"), ok(&[]));
    assert_eq!(q("url:below=http://acme.org/fhir/"), ok(&["a", "b"]));
    // LIKE's wildcards and case folding do not apply.
    assert_eq!(q("url:below=http://acme.org/fhir/ValueSet/b_"), ok(&["b"]));
    assert_eq!(q("url:below=http://acme.org/fhir/ValueSet/_"), ok(&[]));
    assert_eq!(q("url:below=http://other.org/ValueSet/a%"), ok(&["d"]));
    assert_eq!(q("url:below=http://other.org/ValueSet/%"), ok(&[]));
    // Modifiers the store does not evaluate are refused, not ignored.
    assert!(q("url:above=http://acme.org/fhir/ValueSet/a/x").is_err());
    assert!(q("url:missing=true").is_err());
}

#[test]
fn a_read_looks_up_a_resources_patients_once_for_its_check_and_its_audit() {
    use rusqlite::StatementStatus;
    let store = store_with_data();
    let runs = |tx: &Tx<'_>| -> i32 {
        [
            "SELECT 1 FROM compartment WHERE rtype = ?1 AND id = ?2 AND ctype = ?3 AND cid = ?4",
            "SELECT cid FROM compartment WHERE rtype = ?1 AND id = ?2 AND ctype = 'Patient'",
        ]
        .iter()
        .map(|sql| {
            let st = tx.conn.prepare_cached(sql).unwrap();
            st.get_status(StatementStatus::Run)
        })
        .sum()
    };
    let o1 = [("Observation".to_owned(), "o1".to_owned())];
    store.read(|tx| {
        let before = runs(tx);
        assert_eq!(
            tx.in_compartment("Observation", "o1", "Patient", "p1"),
            Some(true)
        );
        assert_eq!(tx.patients_of(&o1).unwrap(), vec![vec!["p1".to_owned()]]);
        assert_eq!(
            runs(tx) - before,
            1,
            "one lookup serves the check and the audit"
        );
        // Another resource is looked up anew.
        assert_eq!(
            tx.in_compartment("Observation", "o2", "Patient", "p1"),
            Some(false)
        );
        assert_eq!(runs(tx) - before, 2);
    });
    // A write changes the memberships: what a read looks up next is the new state.
    store
        .transaction(|tx| {
            tx.put(
                "Observation",
                "o1",
                json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                       "subject": {"reference": "Patient/p2"}}),
                now(),
            )
        })
        .unwrap();
    store.read(|tx| {
        assert_eq!(
            tx.in_compartment("Observation", "o1", "Patient", "p1"),
            Some(false)
        );
        assert_eq!(tx.patients_of(&o1).unwrap(), vec![vec!["p2".to_owned()]]);
    });
}
