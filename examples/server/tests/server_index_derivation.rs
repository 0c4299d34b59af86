//! A `--db` file whose index rows were derived otherwise (by older code, or against another
//! base URL) is reindexed when the server opens it: counts over stale rows would include
//! resources the token may not see.

mod server_support;

use serde_json::json;
use server_support::{Scratch, Server};

/// A loopback address free right now, so that a restarted server keeps its base URL.
fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").to_string()
}

/// For each search: `_summary=count` and `total` equal the entries the token is shown.
fn assert_counts_what_is_seen(s: &Server, token: &str, searches: &[&str], expected: usize) {
    for search in searches {
        let r = s.get(search, token);
        assert_eq!(r.status, 200, "{search}: {}", r.text());
        assert_eq!(r.entry_ids().len(), expected, "{search}");
        assert_eq!(r.json()["total"], expected, "{search}: total");
        let count = s.get(&format!("{search}?_summary=count"), token);
        assert_eq!(
            count.json()["total"],
            expected,
            "{search}: {}",
            count.text()
        );
    }
}

#[test]
fn rows_written_by_older_code_are_rebuilt_at_open() {
    let dir = Scratch::new();
    let db = dir.path("store.db");
    let listen = free_address();
    let mut s = Server::start(&["--db", db.to_str().unwrap(), "--listen", &listen]);
    let t = s.patient_token("patient/Observation.rs patient/Patient.rs");
    assert_counts_what_is_seen(&s, &t, &["/Observation"], 2);
    assert_counts_what_is_seen(&s, &t, &["/Patient"], 1);
    s.stop();

    // What code before 2f971c4 wrote: pat-2's record in example's compartment through a
    // `Patient.link`, and pat-2's Observation through a reference whose declared type named
    // another type; and a string row of example's name as a derivation that trimmed or folded
    // it otherwise could have written. No derivation recorded, as in every database of that
    // time.
    let conn = rusqlite::Connection::open(&db).expect("open the database");
    conn.execute_batch(
        "INSERT INTO compartment (rtype, id, ctype, cid) VALUES
             ('Patient', 'pat-2', 'Patient', 'example'),
             ('Observation', 'pat-2-glucose', 'Patient', 'example');
         INSERT INTO search_index (rtype, id, code, system, value) VALUES
             ('Patient', 'example', 'family', '', 'zed');
         DROP TABLE IF EXISTS index_derivation;",
    )
    .expect("stale rows");
    drop(conn);

    s.restart();
    assert_eq!(s.addr, listen, "the same base URL");
    assert_counts_what_is_seen(&s, &t, &["/Observation"], 2);
    assert_counts_what_is_seen(&s, &t, &["/Patient"], 1);
    let zed = s.patient_token("patient/Patient.rs?family=zed");
    assert_counts_what_is_seen(&s, &zed, &["/Patient"], 0);
}

#[test]
fn rows_derived_against_another_base_are_rebuilt_at_open() {
    // An absolute reference names a resource of this server only on its own base: the
    // Observation is in example's compartment while the server runs on the first address,
    // and not once it runs on another.
    let dir = Scratch::new();
    let db = dir.path("store.db");
    let mut s = Server::start(&["--db", db.to_str().unwrap()]);
    let admin = s.token("system/*.cruds", None, None);
    let obs = json!({"resourceType": "Observation", "id": "absolute", "status": "final",
        "code": {"text": "x"}, "subject": {"reference": "Patient/pat-2"},
        "performer": [{"reference": format!("{}/Patient/example", s.base)}]});
    let put = s.send_json("PUT", "/Observation/absolute", &admin, &obs);
    assert!(put.status == 200 || put.status == 201, "{}", put.text());
    let t = s.patient_token("patient/Observation.rs");
    assert_counts_what_is_seen(&s, &t, &["/Observation"], 3);

    s.restart();
    let t = s.patient_token("patient/Observation.rs");
    assert_counts_what_is_seen(&s, &t, &["/Observation"], 2);
}
