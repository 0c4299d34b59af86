//! DPoP-bound access tokens (RFC 9449) at the running server: `Authorization: DPoP <token>` with
//! a `DPoP` proof for this request's method and URL, signed by the key the token is bound to,
//! carrying the token's hash, used once. Everything else is refused with a `DPoP` challenge
//! naming the accepted algorithms; reads outside the compartment stay byte-identical 404s.

mod server_support;

use server_support::{raw_request, Response, Server};
use smart_auth::jose::Algorithm;
use smart_auth::testing::TestKey;
use smart_auth::UnixTime;

fn now() -> UnixTime {
    UnixTime::from_secs(chrono::Utc::now().timestamp())
}

struct Client {
    key: TestKey,
    token: String,
}

/// Proof ids unique in the process (clients must never reuse one: the server refuses replays).
static JTI: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Client {
    fn new(s: &Server, scope: &str) -> Client {
        let key = TestKey::new(Algorithm::ES256);
        let token = s
            .issuer
            .token(now())
            .scope(scope)
            .patient("example")
            .dpop_bound(&key)
            .sign();
        Client { key, token }
    }

    fn jti(&self) -> String {
        let n = JTI.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("jti-{n}")
    }

    /// A fresh proof for `method` on `url` (absolute), bound to the token.
    fn proof(&self, method: &str, url: &str) -> String {
        self.key
            .dpop_proof(method, url, Some(&self.token), None, now(), &self.jti())
    }

    fn send(&self, s: &Server, method: &str, path: &str, proof: &str) -> Response {
        send(
            s,
            method,
            path,
            &format!("DPoP {}", self.token),
            Some(proof),
        )
    }

    /// `GET` with a correct proof.
    fn get(&self, s: &Server, path: &str) -> Response {
        let url = format!("{}{}", s.base, path.split('?').next().unwrap());
        self.send(s, "GET", path, &self.proof("GET", &url))
    }
}

fn send(s: &Server, method: &str, path: &str, auth: &str, proof: Option<&str>) -> Response {
    let mut headers = vec![("Authorization".to_owned(), auth.to_owned())];
    if let Some(p) = proof {
        headers.push(("DPoP".to_owned(), p.to_owned()));
    }
    raw_request(&s.addr, method, &format!("/fhir{path}"), &headers, None)
}

fn challenges(r: &Response) -> Vec<String> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, v)| v.clone())
        .collect()
}

fn refused_as_bad_proof(r: &Response, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text());
    let c = challenges(r).join(" | ");
    assert!(
        c.starts_with("DPoP ")
            && c.contains("error=\"invalid_dpop_proof\"")
            && c.contains("algs=\""),
        "{what}: {c}"
    );
}

#[test]
fn dpop_bound_token_with_valid_proofs_reads_and_searches() {
    let s = Server::start(&[]);
    let c = Client::new(&s, "patient/*.rs");
    let r = c.get(&s, "/Patient/example");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], "example");
    // The query is not part of `htu`.
    let r = c.get(&s, "/Observation?patient=example&_count=2");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.entry_ids().is_empty());

    // Outside the compartment: the same bytes as a missing resource.
    let other = c.get(&s, "/Patient/pat-2");
    let missing = c.get(&s, "/Patient/no-such-patient");
    assert_eq!(other.status, 404);
    assert_eq!(other.body, missing.body);
    assert_eq!(other.stable_headers(), missing.stable_headers());
}

#[test]
fn proofs_that_do_not_match_the_request_are_refused() {
    let s = Server::start(&[]);
    let c = Client::new(&s, "patient/*.rs");
    let url = format!("{}/Patient/example", s.base);

    // Replay of a proof that was accepted once.
    let once = c.proof("GET", &url);
    assert_eq!(c.send(&s, "GET", "/Patient/example", &once).status, 200);
    refused_as_bad_proof(&c.send(&s, "GET", "/Patient/example", &once), "replay");

    // Wrong method, wrong URL, another host, another path with the same prefix.
    refused_as_bad_proof(
        &c.send(&s, "GET", "/Patient/example", &c.proof("POST", &url)),
        "htm",
    );
    let other_path = format!("{}/Patient/pat-2", s.base);
    refused_as_bad_proof(
        &c.send(&s, "GET", "/Patient/example", &c.proof("GET", &other_path)),
        "htu",
    );
    let other_host = url.replace("127.0.0.1", "localhost");
    refused_as_bad_proof(
        &c.send(&s, "GET", "/Patient/example", &c.proof("GET", &other_host)),
        "host",
    );

    // Signed by another key than the token's, without `ath`, with another token's `ath`, stale.
    let thief = TestKey::alternate(Algorithm::ES256);
    let p = thief.dpop_proof("GET", &url, Some(&c.token), None, now(), "t-1");
    refused_as_bad_proof(&c.send(&s, "GET", "/Patient/example", &p), "key");
    let p = c.key.dpop_proof("GET", &url, None, None, now(), "t-2");
    refused_as_bad_proof(&c.send(&s, "GET", "/Patient/example", &p), "no ath");
    let p = c
        .key
        .dpop_proof("GET", &url, Some("another.token.value"), None, now(), "t-3");
    refused_as_bad_proof(&c.send(&s, "GET", "/Patient/example", &p), "ath");
    let old = UnixTime::from_secs(now().as_secs() - 3600);
    let p = c
        .key
        .dpop_proof("GET", &url, Some(&c.token), None, old, "t-4");
    refused_as_bad_proof(&c.send(&s, "GET", "/Patient/example", &p), "iat");

    // No proof header at all; two proof headers.
    let r = send(
        &s,
        "GET",
        "/Patient/example",
        &format!("DPoP {}", c.token),
        None,
    );
    assert!(matches!(r.status, 400 | 401), "{}", r.text());
    let headers = vec![
        ("Authorization".to_owned(), format!("DPoP {}", c.token)),
        ("DPoP".to_owned(), c.proof("GET", &url)),
        ("DPoP".to_owned(), c.proof("GET", &url)),
    ];
    let r = raw_request(&s.addr, "GET", "/fhir/Patient/example", &headers, None);
    assert!(matches!(r.status, 400 | 401), "{}", r.text());
}

#[test]
fn bound_tokens_are_not_bearer_tokens_and_bearer_tokens_have_no_proof_key() {
    let s = Server::start(&[]);
    let c = Client::new(&s, "patient/*.rs");
    // A DPoP-bound token presented as Bearer (RFC 9449 §7.2).
    let r = send(
        &s,
        "GET",
        "/Patient/example",
        &format!("Bearer {}", c.token),
        None,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    // An unbound token presented with the DPoP scheme and a proof.
    let bearer = s.patient_token("patient/*.rs");
    let url = format!("{}/Patient/example", s.base);
    let p = c
        .key
        .dpop_proof("GET", &url, Some(&bearer), None, now(), "u-1");
    let r = send(
        &s,
        "GET",
        "/Patient/example",
        &format!("DPoP {bearer}"),
        Some(&p),
    );
    refused_as_bad_proof(&r, "unbound token");
    // A token bound to the DPoP key and to a client certificate: this server sees no TLS client
    // certificate (plain HTTP on loopback), so it refuses rather than check half the binding.
    let both = s
        .issuer
        .token(now())
        .scope("patient/*.rs")
        .patient("example")
        .claim(
            "cnf",
            serde_json::json!({
                "jkt": c.key.public_jwk().thumbprint_b64(),
                "x5t#S256": smart_auth::mtls::certificate_thumbprint(b"not a real certificate"),
            }),
        )
        .sign();
    let p = c
        .key
        .dpop_proof("GET", &url, Some(&both), None, now(), "u-2");
    let r = send(
        &s,
        "GET",
        "/Patient/example",
        &format!("DPoP {both}"),
        Some(&p),
    );
    assert_eq!(r.status, 401, "{}", r.text());
    let r = send(
        &s,
        "GET",
        "/Patient/example",
        &format!("Bearer {both}"),
        None,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    // The unbound token still works as Bearer.
    assert_eq!(s.get("/Patient/example", &bearer).status, 200);
}

#[test]
fn unauthenticated_requests_are_offered_both_schemes() {
    let s = Server::start(&[]);
    let r = raw_request(&s.addr, "GET", "/fhir/Patient/example", &[], None);
    assert_eq!(r.status, 401);
    let c = challenges(&r);
    assert!(c.iter().any(|v| v.starts_with("Bearer")), "{c:?}");
    let dpop = c
        .iter()
        .find(|v| v.starts_with("DPoP"))
        .expect("a DPoP challenge");
    assert!(
        dpop.contains("algs=\"") && dpop.contains("ES256") && !dpop.contains("HS256"),
        "{dpop}"
    );
}

#[test]
fn writes_and_scopes_are_decided_as_for_bearer_tokens() {
    let s = Server::start(&[]);
    let reader = Client::new(&s, "patient/*.rs");
    let body = br#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/example"}}"#;
    let url = format!("{}/Observation", s.base);
    let headers = |c: &Client| {
        vec![
            ("Authorization".to_owned(), format!("DPoP {}", c.token)),
            ("DPoP".to_owned(), c.proof("POST", &url)),
            (
                "Content-Type".to_owned(),
                "application/fhir+json".to_owned(),
            ),
        ]
    };
    let r = raw_request(
        &s.addr,
        "POST",
        "/fhir/Observation",
        &headers(&reader),
        Some(body),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    // The refusal speaks the scheme the token was presented with (RFC 9449 §7.1).
    let c = challenges(&r).join(" | ");
    assert!(
        c.starts_with("DPoP ")
            && c.contains("error=\"insufficient_scope\"")
            && c.contains("algs=\""),
        "{c}"
    );
    let writer = Client::new(&s, "patient/*.cruds");
    let r = raw_request(
        &s.addr,
        "POST",
        "/fhir/Observation",
        &headers(&writer),
        Some(body),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}
