//! Starts the real `secure-fhir-minimal` binary on a loopback port and drives it over HTTP: the
//! tokens it prints, reads and searches confined to what they grant, the byte-identical 404,
//! refusals, and the AuditEvent of every request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use smart_auth::testing::TestIssuer;
use smart_auth::UnixTime;

struct Server {
    child: Child,
    addr: String,
    base: String,
    /// The lines it printed on start.
    banner: Vec<String>,
    events: PathBuf,
}

impl Server {
    fn start(name: &str, extra: &[&str]) -> Server {
        let events = std::env::temp_dir().join(format!(
            "secure-fhir-minimal-{}-{name}.jsonl",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&events);
        let mut child = Command::new(env!("CARGO_BIN_EXE_secure-fhir-minimal"))
            .args(["--listen", "127.0.0.1:0", "--audit-events"])
            .arg(&events)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the binary");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut banner = Vec::new();
        // The banner ends with an empty line after the example requests, or with the base.
        while let Some(Ok(line)) = lines.next() {
            let done = line.starts_with("FHIR base: ") && extra.contains(&"--issuer")
                || line.contains("Observation?patient=pat-2");
            banner.push(line);
            if done {
                break;
            }
        }
        let base = banner
            .iter()
            .find_map(|l| l.strip_prefix("FHIR base: "))
            .expect("the base is printed")
            .to_owned();
        let addr = base
            .trim_start_matches("http://")
            .trim_end_matches("/fhir")
            .to_owned();
        Server {
            child,
            addr,
            base,
            banner,
            events,
        }
    }

    /// A token the server printed (`PATIENT_TOKEN`, `SYSTEM_TOKEN`).
    fn printed(&self, name: &str) -> String {
        let prefix = format!("{name}=");
        self.banner
            .iter()
            .find_map(|l| l.trim().strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{name} is printed"))
            .to_owned()
    }

    /// `METHOD path` (under the base) with an optional bearer token: status, headers, body.
    fn call(&self, method: &str, path: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let body = if method == "POST" {
            "{\"resourceType\":\"Patient\"}"
        } else {
            ""
        };
        let content = if body.is_empty() {
            String::new()
        } else {
            format!(
                "Content-Type: application/fhir+json\r\nContent-Length: {}\r\n",
                body.len()
            )
        };
        write!(
            stream,
            "{method} /fhir/{path} HTTP/1.1\r\nHost: {}\r\n{auth}{content}Connection: close\r\n\r\n{body}",
            self.addr
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("response");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("headers end");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        (status, head, raw[split + 4..].to_vec())
    }

    fn json(&self, path: &str, token: &str) -> Value {
        let (status, _, body) = self.call("GET", path, Some(token));
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).expect("JSON")
    }

    /// The AuditEvents written so far.
    fn events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.events).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("an AuditEvent per line"))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.events);
    }
}

fn entries(bundle: &Value) -> Vec<&Value> {
    bundle["entry"]
        .as_array()
        .map(|a| a.iter().map(|e| &e["resource"]).collect())
        .unwrap_or_default()
}

fn refers_to(resource: &Value, patient: &str) -> bool {
    resource
        .to_string()
        .contains(&format!("\"Patient/{patient}\""))
}

#[test]
fn printed_tokens_read_and_search_only_what_they_grant() {
    let server = Server::start("grants", &[]);
    let patient = server.printed("PATIENT_TOKEN");
    let system = server.printed("SYSTEM_TOKEN");

    // The patient app reads its patient; another patient's record and a missing one are the
    // same 404, byte for byte (headers included).
    assert_eq!(server.json("Patient/example", &patient)["id"], "example");
    let other = server.call("GET", "Patient/pat-2", Some(&patient));
    let missing = server.call("GET", "Patient/no-such-patient", Some(&patient));
    assert_eq!(other.0, 404);
    assert_eq!(
        (other.1.replace_all_dates(), &other.2),
        (missing.1.replace_all_dates(), &missing.2)
    );
    assert_eq!(
        server
            .call("GET", "Observation/pat-2-weight", Some(&patient))
            .0,
        404
    );

    // Its search finds its patient's Observations only, and `total` counts no others.
    let page = server.json("Observation", &patient);
    let found = entries(&page);
    assert!(!found.is_empty());
    assert!(found
        .iter()
        .all(|o| refers_to(o, "example") && !refers_to(o, "pat-2")));
    assert_eq!(page["total"], found.len());
    // Naming another patient is refused, not answered empty.
    assert_eq!(
        server
            .call("GET", "Observation?patient=pat-2", Some(&patient))
            .0,
        403
    );

    // The system token sees every patient; the search criterion applies.
    let pat2 = server.json("Observation?patient=pat-2", &system);
    assert!(!entries(&pat2).is_empty());
    assert!(entries(&pat2).iter().all(|o| refers_to(o, "pat-2")));
    assert_eq!(server.json("Patient/pat-2", &system)["id"], "pat-2");

    // Paging: `_count` pages, `next` continues, `total` stays.
    let all = server.json("Observation", &system);
    let total = all["total"].as_u64().unwrap();
    assert!(total > 2, "{total}");
    let first = server.json("Observation?_count=2", &system);
    assert_eq!(entries(&first).len(), 2);
    let next = first["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .expect("next");
    let next = next["url"]
        .as_str()
        .unwrap()
        .strip_prefix(&format!("{}/", server.base))
        .unwrap();
    let second = server.json(next, &system);
    assert_eq!(second["total"], total);
    assert_ne!(entries(&second)[0]["id"], entries(&first)[0]["id"]);

    // Compartment search is confined as a type search is.
    let own = server.json("Patient/example/Observation", &patient);
    assert_eq!(own["total"], page["total"]);
    assert_eq!(
        server
            .call("GET", "Patient/pat-2/Observation", Some(&patient))
            .0,
        403
    );
}

#[test]
fn refusals_carry_the_rfc_6750_challenge_and_nothing_else() {
    let server = Server::start("refusals", &[]);
    let patient = server.printed("PATIENT_TOKEN");

    let (status, head, _) = server.call("GET", "Patient/example", None);
    assert_eq!(status, 401);
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: bearer realm=\"fhir\""),
        "{head}"
    );
    let forged = format!("{}x", &patient[..patient.len() - 1]);
    let (status, head, _) = server.call("GET", "Patient/example", Some(&forged));
    assert_eq!(status, 401);
    assert!(head.contains("error=\"invalid_token\""), "{head}");

    // Read-and-search scopes write nothing; the server itself writes nothing either.
    assert_eq!(server.call("POST", "Patient", Some(&patient)).0, 403);
    let system = server.printed("SYSTEM_TOKEN");
    assert_eq!(server.call("POST", "Patient", Some(&system)).0, 403);

    // An interaction the token allows but this server does not answer: a 405 whose Allow
    // names what the target takes here, nothing (RFC 9110 §15.5.6: a 405 MUST carry Allow).
    let (status, head, _) = server.call("GET", "Patient/example/_history", Some(&patient));
    assert_eq!(status, 405, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("\r\nallow: \r\n"),
        "{head}"
    );

    // A search this server cannot answer exactly is refused, not answered wider.
    let (status, _, body) = server.call("GET", "Observation?code=1234", Some(&system));
    assert_eq!(status, 400);
    assert!(
        !String::from_utf8_lossy(&body).contains("1234"),
        "no echo of the input"
    );

    // The CapabilityStatement is public.
    let (status, _, body) = server.call("GET", "metadata", None);
    assert_eq!(status, 200);
    let statement: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(statement["resourceType"], "CapabilityStatement");
}

#[test]
fn every_request_is_audited_as_a_balp_audit_event() {
    let server = Server::start("audit", &[]);
    let patient = server.printed("PATIENT_TOKEN");
    server.call("GET", "Patient/example", Some(&patient));
    server.call("GET", "Observation/pat-2-weight", Some(&patient));
    server.call("GET", "Patient/example", None);

    // Records are written after the response: wait for the three.
    let mut events = Vec::new();
    for _ in 0..100 {
        events = server.events();
        if events.len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(events.len() >= 3, "{events:?}");
    assert!(events.iter().all(|e| e["resourceType"] == "AuditEvent"));
    let outcomes: Vec<&str> = events
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "0").count(),
        1,
        "{outcomes:?}"
    );
    // The allowed read names the patient whose data it disclosed, and the client's address.
    let read = events.iter().find(|e| e["outcome"] == "0").unwrap();
    let text = read.to_string();
    assert!(text.contains("\"Patient/example\""), "{text}");
    assert!(text.contains("127.0.0.1"), "{text}");
    // The refused one records the true reason although the client saw a 404; no token
    // appears in any record.
    assert!(events.iter().all(|e| !e.to_string().contains(&patient)));
}

#[test]
fn with_an_issuer_and_its_keys_only_their_tokens_are_trusted() {
    let now = UnixTime::from_secs(chrono::Utc::now().timestamp());
    let issuer = TestIssuer::new("https://issuer.example", "unused");
    let jwks =
        std::env::temp_dir().join(format!("secure-fhir-minimal-{}.jwks", std::process::id()));
    std::fs::write(&jwks, issuer.jwks_json()).unwrap();
    let jwks_arg = jwks.to_str().unwrap();
    let server = Server::start(
        "issuer",
        &[
            "--issuer",
            "https://issuer.example",
            "--jwks-file",
            jwks_arg,
        ],
    );
    let _ = std::fs::remove_file(&jwks);
    assert!(
        !server.banner.iter().any(|l| l.contains("PATIENT_TOKEN")),
        "no development tokens"
    );

    let trusted = TestIssuer::new("https://issuer.example", &server.base);
    let token = trusted
        .token(now)
        .scope("patient/Patient.r patient/Observation.r")
        .patient("pat-2")
        .sign();
    assert_eq!(server.json("Patient/pat-2", &token)["id"], "pat-2");
    assert_eq!(
        server.json("Observation/pat-2-weight", &token)["id"],
        "pat-2-weight"
    );
    assert_eq!(server.call("GET", "Patient/example", Some(&token)).0, 404);
    assert_eq!(
        server
            .call("GET", "Observation/blood-pressure", Some(&token))
            .0,
        404
    );

    let stranger = TestIssuer::new("https://elsewhere.example", &server.base);
    let token = stranger
        .token(now)
        .scope("patient/Patient.r")
        .patient("pat-2")
        .sign();
    assert_eq!(server.call("GET", "Patient/pat-2", Some(&token)).0, 401);
}

/// Response heads differ only in their `date` header.
trait WithoutDate {
    fn replace_all_dates(&self) -> String;
}

impl WithoutDate for String {
    fn replace_all_dates(&self) -> String {
        self.lines()
            .filter(|l| !l.to_ascii_lowercase().starts_with("date:"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// audit.md §8.6: a read whose AuditEvent cannot be written is not answered (503, the resource
/// withheld); a refusal, which discloses nothing, still is.
#[cfg(target_os = "linux")]
#[test]
fn a_read_whose_audit_event_cannot_be_written_is_not_answered() {
    let server = Server::start("full", &["--audit-events", "/dev/full"]);
    let patient = server.printed("PATIENT_TOKEN");
    let (status, _, body) = server.call("GET", "Patient/example", Some(&patient));
    assert_eq!(status, 503);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("OperationOutcome") && !text.contains("\"example\""),
        "{text}"
    );
    assert_eq!(server.call("GET", "Patient/example", None).0, 401);
}
