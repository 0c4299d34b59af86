//! Conditional read and vread at the running server (FHIR R4 http.html §3.1.0.2.1, RFC 9110
//! §13.1.2, §13.1.3): `If-None-Match` and `If-Modified-Since` answer `304 Not Modified` with the
//! ETag and Last-Modified and no body, and only after the caller may read the resource: what it
//! may not see is the same 404 whatever the headers.

mod server_support;

use server_support::{Response, Server};

fn conditional(s: &Server, path: &str, token: &str, headers: &[(&str, &str)]) -> Response {
    s.request("GET", path, Some(token), headers, None)
}

fn not_modified(r: &Response, etag: &str, last_modified: &str) {
    assert_eq!(r.status, 304, "{}", r.text());
    assert!(r.body.is_empty(), "no body: {}", r.text());
    assert_eq!(r.header("etag"), Some(etag));
    assert_eq!(r.header("last-modified"), Some(last_modified));
    assert!(r.header("content-type").is_none());
}

#[test]
fn an_unchanged_resource_is_not_sent_again() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    let full = s.get("/Patient/example", &t);
    assert_eq!(full.status, 200, "{}", full.text());
    let etag = full.header("etag").unwrap().to_owned();
    let lm = full.header("last-modified").unwrap().to_owned();

    for path in ["/Patient/example", "/Patient/example/_history/1"] {
        for inm in [etag.as_str(), "\"1\"", "W/\"9\", W/\"1\"", "*"] {
            let r = conditional(&s, path, &t, &[("If-None-Match", inm)]);
            not_modified(&r, &etag, &lm);
        }
        let r = conditional(&s, path, &t, &[("If-Modified-Since", &lm)]);
        not_modified(&r, &etag, &lm);
        let r = s.request("HEAD", path, Some(&t), &[("If-None-Match", &etag)], None);
        assert_eq!(r.status, 304);

        // A changed version, an earlier date, a malformed value: the full content.
        for headers in [
            [("If-None-Match", "W/\"2\"")],
            [("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")],
            [("If-None-Match", "W/\"1")],
            [("If-Modified-Since", "yesterday")],
        ] {
            let r = conditional(&s, path, &t, &headers);
            assert_eq!(r.status, 200, "{headers:?}");
            assert_eq!(r.body, full.body, "{headers:?}");
        }
        // If-None-Match decides alone when both are sent (RFC 9110 §13.1.3).
        let r = conditional(
            &s,
            path,
            &t,
            &[("If-None-Match", "W/\"2\""), ("If-Modified-Since", &lm)],
        );
        assert_eq!(r.status, 200);
    }
}

#[test]
fn conditional_headers_tell_nothing_about_what_the_caller_may_not_read() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    let owner = s.token("patient/*.rs", Some("pat-2"), Some("Patient/pat-2"));
    let theirs = s.get("/Observation/pat-2-heart-rate", &owner);
    assert_eq!(theirs.status, 200, "{}", theirs.text());
    let etag = theirs.header("etag").unwrap().to_owned();
    let lm = theirs.header("last-modified").unwrap().to_owned();

    let missing = s.get("/Observation/no-such-observation", &t);
    assert_eq!(missing.status, 404);
    for path in [
        "/Observation/pat-2-heart-rate",
        "/Observation/pat-2-heart-rate/_history/1",
        "/Observation/no-such-observation",
    ] {
        for header in [
            ("If-None-Match", etag.as_str()),
            ("If-None-Match", "*"),
            ("If-Modified-Since", lm.as_str()),
        ] {
            let r = conditional(&s, path, &t, &[header]);
            assert_eq!(r.status, 404, "{path} {header:?}");
            assert_eq!(r.body, missing.body, "{path} {header:?}");
            assert_eq!(r.stable_headers(), missing.stable_headers(), "{path}");
        }
    }
}

#[test]
fn the_capability_statement_says_conditional_read_is_supported() {
    let s = Server::start(&[]);
    let r = s.request("GET", "/metadata", None, &[], None);
    assert_eq!(r.status, 200);
    let statement = r.json();
    let resources = statement["rest"][0]["resource"].as_array().unwrap();
    assert!(!resources.is_empty());
    for resource in resources {
        assert_eq!(
            resource["conditionalRead"], "full-support",
            "{}",
            resource["type"]
        );
    }
}

#[test]
fn browsers_may_send_the_conditional_headers() {
    let s = Server::start(&["--cors-origin", "https://app.example"]);
    let pre = s.request(
        "OPTIONS",
        "/Patient/example",
        None,
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "if-none-match"),
        ],
        None,
    );
    assert_eq!(pre.status, 204);
    let allowed = pre.header("access-control-allow-headers").unwrap();
    for name in ["If-None-Match", "If-Modified-Since"] {
        assert!(allowed.contains(name), "{allowed}");
    }
}
