//! The whole DPoP flow against the real binary with its development authorization server:
//! a standalone launch (sign-in, consent, PKCE) over HTTP, the code exchanged with a DPoP proof
//! for a DPoP-bound token, and that token used at the FHIR API only with proofs by its key.

mod server_support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use server_support::{raw_request, spawn, Response};
use smart_auth::jose::Algorithm;
use smart_auth::testing::TestKey;
use smart_auth::UnixTime;

const CLIENT: &str = "demo-public-app";
const REDIRECT: &str = "http://127.0.0.1:9000/callback";

struct Running {
    child: std::process::Child,
    addr: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> UnixTime {
    UnixTime::from_secs(chrono::Utc::now().timestamp())
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

fn header(r: &Response, name: &str) -> String {
    r.header(name)
        .unwrap_or_else(|| panic!("no {name}: {} {}", r.status, r.text()))
        .to_owned()
}

/// The path and query of a `Location` (absolute or not).
fn target(location: &str) -> String {
    match location.split_once("://") {
        Some((_, rest)) => rest[rest.find('/').unwrap_or(rest.len())..].to_owned(),
        None => location.to_owned(),
    }
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("hidden field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

impl Running {
    fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        raw_request(&self.addr, method, target, &headers, body)
    }

    /// A code for the demo public app, consented in full by the demo patient.
    fn code(&self, scope: &str, verifier: &str) -> String {
        let challenge = B64.encode(ring::digest::digest(
            &ring::digest::SHA256,
            verifier.as_bytes(),
        ));
        let fhir = format!("http://{}/fhir", self.addr);
        let query = String::from_utf8(form(&[
            ("response_type", "code"),
            ("client_id", CLIENT),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "state-1234567890"),
            ("aud", &fhir),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]))
        .unwrap();
        let start = self.send("GET", &format!("/auth/authorize?{query}"), &[], None);
        assert_eq!(start.status, 303, "{}", start.text());
        let login = self.send("GET", &target(&header(&start, "location")), &[], None);
        assert_eq!(login.status, 200, "{}", login.text());
        let html = login.text();
        let body = form(&[
            ("txn", &hidden(&html, "txn")),
            ("csrf", &hidden(&html, "csrf")),
            ("username", "patient"),
            ("password", "patient-demo-password"),
        ]);
        let ct = ("Content-Type", "application/x-www-form-urlencoded");
        let signed_in = self.send("POST", "/auth/login", &[ct], Some(&body));
        assert_eq!(signed_in.status, 303, "{}", signed_in.text());
        let cookie = header(&signed_in, "set-cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let consent_url = target(&header(&signed_in, "location"));
        let page = self.send("GET", &consent_url, &[("Cookie", &cookie)], None);
        assert_eq!(page.status, 200, "{}", page.text());
        let html = page.text();
        let mut pairs = vec![
            ("txn".to_owned(), hidden(&html, "txn")),
            ("csrf".to_owned(), hidden(&html, "csrf")),
            ("decision".to_owned(), "approve".to_owned()),
        ];
        for chunk in html.split("name=\"scope\" value=\"").skip(1) {
            let value = chunk
                .split('"')
                .next()
                .unwrap()
                .replace("&quot;", "\"")
                .replace("&amp;", "&");
            pairs.push(("scope".to_owned(), value));
        }
        if html.contains("name=\"types_listed\"") {
            pairs.push(("types_listed".to_owned(), "1".to_owned()));
            for chunk in html.split("name=\"type\" value=\"").skip(1) {
                pairs.push((
                    "type".to_owned(),
                    chunk.split('"').next().unwrap().to_owned(),
                ));
            }
        }
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let done = self.send(
            "POST",
            "/auth/consent",
            &[ct, ("Cookie", &cookie)],
            Some(&form(&refs)),
        );
        assert_eq!(done.status, 303, "{}", done.text());
        let location = header(&done, "location");
        let url = url::Url::parse(&location).unwrap();
        url.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("code")
    }
}

#[test]
fn standalone_launch_with_dpop_against_the_real_binary() {
    let (child, addr) = spawn(&["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
    let s = Running { child, addr };
    let key = TestKey::new(Algorithm::ES256);
    let verifier = "dpop-flow-verifier-0123456789-0123456789-0123456789";
    let code = s.code("launch/patient patient/*.rs", verifier);

    let token_url = format!("http://{}/auth/token", s.addr);
    let proof = key.dpop_proof("POST", &token_url, None, None, now(), "token-proof-1");
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("client_id", CLIENT),
        ("code_verifier", verifier),
    ]);
    let r = s.send(
        "POST",
        "/auth/token",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("DPoP", &proof),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let tokens = r.json();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    let url = format!("http://{}/fhir/Patient/example", s.addr);
    let auth = format!("DPoP {access}");
    let read = |proof: &str| {
        s.send(
            "GET",
            "/fhir/Patient/example",
            &[("Authorization", &auth), ("DPoP", proof)],
            None,
        )
    };
    let r = read(&key.dpop_proof("GET", &url, Some(&access), None, now(), "read-1"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], "example");
    // Not without its key, not as a bearer token.
    let thief = TestKey::alternate(Algorithm::ES256);
    let r = read(&thief.dpop_proof("GET", &url, Some(&access), None, now(), "read-2"));
    assert_eq!(r.status, 401, "{}", r.text());
    let r = s.send(
        "GET",
        "/fhir/Patient/example",
        &[("Authorization", &format!("Bearer {access}"))],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    // Another patient's record answers as a missing one.
    let other = format!("http://{}/fhir/Patient/pat-2", s.addr);
    let missing = format!("http://{}/fhir/Patient/nobody", s.addr);
    let a = s.send(
        "GET",
        "/fhir/Patient/pat-2",
        &[
            ("Authorization", &auth),
            (
                "DPoP",
                &key.dpop_proof("GET", &other, Some(&access), None, now(), "read-3"),
            ),
        ],
        None,
    );
    let b = s.send(
        "GET",
        "/fhir/Patient/nobody",
        &[
            ("Authorization", &auth),
            (
                "DPoP",
                &key.dpop_proof("GET", &missing, Some(&access), None, now(), "read-4"),
            ),
        ],
        None,
    );
    assert_eq!((a.status, &a.body), (404, &b.body));
}
