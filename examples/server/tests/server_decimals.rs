//! The running server keeps FHIR decimals exactly as sent (`1.50` stays `1.50`, a 25-digit
//! decimal keeps every digit) through create, read, search, history, patch, update, batch and
//! `--data` loading: bodies are read with `fhir::json`, never through `f64`.

mod server_support;

use server_support::Server;

const EXACT: &[&str] = &["1.50", "0.10", "1234567890.1234567890123", "1e2", "100.0"];

fn observation(value: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"subject":{{"reference":"Patient/example"}},"valueQuantity":{{"value":{value},"unit":"mg"}},"component":[{{"code":{{"text":"c"}},"valueQuantity":{{"value":-0.000}}}}]}}"#
    )
}

fn has(text: &str, value: &str) -> bool {
    let exact = |v: &str| {
        text.contains(&format!(r#""value":{v},"#)) || text.contains(&format!(r#""value":{v}}}"#))
    };
    exact(value) && exact("-0.000")
}

#[test]
fn decimals_survive_every_interaction_byte_for_byte() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.cruds");
    let json = [("Content-Type", "application/fhir+json")];
    for value in EXACT {
        let body = observation(value);
        let r = s.request(
            "POST",
            "/Observation",
            Some(&t),
            &json,
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        assert!(has(&r.text(), value), "create {value}: {}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_owned();

        let r = s.get(&format!("/Observation/{id}"), &t);
        assert!(has(&r.text(), value), "read {value}: {}", r.text());
        let r = s.get(&format!("/Observation?_id={id}"), &t);
        assert!(has(&r.text(), value), "search {value}: {}", r.text());
        let r = s.get(&format!("/Observation/{id}/_history"), &t);
        assert!(has(&r.text(), value), "history {value}: {}", r.text());

        // A patch that touches another element leaves the decimal alone; one that sets a
        // decimal stores its text.
        let patch = br#"[{"op":"replace","path":"/status","value":"amended"},
                         {"op":"add","path":"/component/0/valueQuantity/unit","value":"mg"}]"#;
        let r = s.request(
            "PATCH",
            &format!("/Observation/{id}"),
            Some(&t),
            &[("Content-Type", "application/json-patch+json")],
            Some(patch),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(has(&r.text(), value), "patch {value}: {}", r.text());
        assert!(
            r.text().contains(r#""value":-0.000,"unit":"mg""#),
            "{}",
            r.text()
        );
    }
    // The number is the number: 1.50 still equals 1.5 for a JSON Patch test.
    let r = s.request(
        "POST",
        "/Observation",
        Some(&t),
        &json,
        Some(observation("1.50").as_bytes()),
    );
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let patch = br#"[{"op":"test","path":"/valueQuantity/value","value":1.5},
                     {"op":"replace","path":"/valueQuantity/value","value":2.500}]"#;
    let r = s.request(
        "PATCH",
        &format!("/Observation/{id}"),
        Some(&t),
        &[("Content-Type", "application/json-patch+json")],
        Some(patch),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(has(&r.text(), "2.500"), "{}", r.text());

    // Update and batch.
    let mut updated = r.json();
    updated["status"] = serde_json::json!("final");
    let text = serde_json::to_string(&updated)
        .unwrap()
        .replace(r#""value":2.5"#, r#""value":3.000000000000000000001"#)
        // (this test's own serde_json read -0.000 as -0.0)
        .replace(r#""value":-0.0"#, r#""value":-0.000"#);
    let r = s.request(
        "PUT",
        &format!("/Observation/{id}"),
        Some(&t),
        &json,
        Some(text.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(has(&r.text(), "3.000000000000000000001"), "{}", r.text());
    let batch = format!(
        r#"{{"resourceType":"Bundle","type":"batch","entry":[{{"resource":{},"request":{{"method":"POST","url":"Observation"}}}}]}}"#,
        observation("7.10")
    );
    let r = s.request("POST", "", Some(&t), &json, Some(batch.as_bytes()));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(has(&r.text(), "7.10"), "batch: {}", r.text());
}

#[test]
fn data_files_keep_their_decimals() {
    let scratch = server_support::Scratch::new();
    let file = scratch.path("decimals.json");
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"resource":{}}}]}}"#,
        observation("98.60").replacen(
            r#""resourceType":"Observation","#,
            r#""resourceType":"Observation","id":"dec-1","#,
            1
        )
    );
    std::fs::write(&file, bundle).unwrap();
    let s = Server::start(&["--data", &file.display().to_string()]);
    let t = s.patient_token("patient/Observation.rs");
    let r = s.get("/Observation/dec-1", &t);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(has(&r.text(), "98.60"), "{}", r.text());
}
