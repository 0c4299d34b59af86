//! Starts the real `secure-fhir-server` binary on a loopback port and talks raw HTTP/1.1 to it,
//! so that tests see exactly the bytes a client sees (the byte-identical 404 needs that).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use smart_auth::testing::TestIssuer;
use smart_auth::UnixTime;

/// The issuer and audience the test tokens carry.
pub const ISSUER: &str = "https://issuer.secure-fhir.test";
/// The audience (`--audience`).
pub const AUDIENCE: &str = "https://fhir.secure-fhir.test/fhir";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_secure-fhir-server")
}

/// The demo data file.
pub fn demo_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo.json")
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("secure-fhir-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server trusting a test issuer.
pub struct Server {
    child: Child,
    args: Vec<String>,
    pub addr: String,
    pub base: String,
    pub issuer: TestIssuer,
    pub scratch: Scratch,
}

impl Server {
    /// Starts the server with `--issuer`, `--jwks-file`, `--audience`, `--audit-log` and the
    /// demo data, plus `extra` arguments.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_limited(None, extra)
    }

    /// Like [`Server::start`], with the server's files limited to `blocks` of 512 bytes
    /// (`ulimit -f`; `SIGXFSZ` ignored, so a write past it fails with `EFBIG`): the audit
    /// log stops being writable once it grows past the limit.
    pub fn start_with_file_limit(blocks: u64, extra: &[&str]) -> Server {
        Server::start_limited(Some(blocks), extra)
    }

    fn start_limited(blocks: Option<u64>, extra: &[&str]) -> Server {
        let scratch = Scratch::new();
        let issuer = TestIssuer::new(ISSUER, AUDIENCE);
        let jwks = scratch.path("jwks.json");
        std::fs::write(&jwks, issuer.jwks_json()).expect("jwks file");
        let audit = scratch.path("audit.log");
        let mut args: Vec<String> = vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--issuer".into(),
            ISSUER.into(),
            "--jwks-file".into(),
            jwks.display().to_string(),
            "--audience".into(),
            AUDIENCE.into(),
            "--audit-log".into(),
            audit.display().to_string(),
            "--data".into(),
            demo_data().display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let command = match blocks {
            None => Command::new(binary()),
            Some(blocks) => {
                let mut sh = Command::new("sh");
                sh.args(["-c", "trap '' XFSZ; ulimit -f \"$0\"; exec \"$@\""])
                    .arg(blocks.to_string())
                    .arg(binary());
                sh
            }
        };
        let (child, addr) = spawn_command(command, &args);
        Server {
            child,
            args,
            base: format!("http://{addr}/fhir"),
            addr,
            issuer,
            scratch,
        }
    }

    /// The audit log path.
    pub fn audit_log(&self) -> PathBuf {
        self.scratch.path("audit.log")
    }

    /// A token with `scope`, for launch patient `patient`, `fhirUser` `user`.
    pub fn token(&self, scope: &str, patient: Option<&str>, user: Option<&str>) -> String {
        let now = UnixTime::from_secs(chrono::Utc::now().timestamp());
        let mut b = self.issuer.token(now).scope(scope);
        if let Some(p) = patient {
            b = b.patient(p);
        }
        if let Some(u) = user {
            b = b.fhir_user(u);
        }
        b.sign()
    }

    /// A `patient/` token for `Patient/example` with `scope`.
    pub fn patient_token(&self, scope: &str) -> String {
        self.token(scope, Some("example"), Some("Patient/example"))
    }

    /// Sends a request; `path` is below `/fhir` (starting with `/`).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(t) = token {
            all.push(("Authorization".into(), format!("Bearer {t}")));
        }
        raw_request(&self.addr, method, &format!("/fhir{path}"), &all, body)
    }

    pub fn get(&self, path: &str, token: &str) -> Response {
        self.request("GET", path, Some(token), &[], None)
    }

    pub fn send_json(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> Response {
        let bytes = serde_json::to_vec(body).unwrap();
        self.request(
            method,
            path,
            Some(token),
            &[("Content-Type", "application/fhir+json")],
            Some(&bytes),
        )
    }

    /// The path below `/fhir` of a Bundle's `next` link, if it has one.
    pub fn next_page(&self, bundle: &serde_json::Value) -> Option<String> {
        bundle["link"]
            .as_array()?
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| {
                let url = l["url"].as_str().unwrap();
                url.strip_prefix(&self.base).unwrap().to_owned()
            })
    }

    /// Stops the server and starts it again with the same arguments (and files), on a new
    /// port.
    pub fn restart(&mut self) {
        self.stop();
        let (child, addr) = spawn(&self.args);
        self.child = child;
        self.base = format!("http://{addr}/fhir");
        self.addr = addr;
    }

    /// Stops the server (SIGKILL on drop otherwise).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Spawns the binary with `args` and waits for its "listening on" line.
pub fn spawn(args: &[String]) -> (Child, String) {
    spawn_command(Command::new(binary()), args)
}

fn spawn_command(mut command: Command, args: &[String]) -> (Child, String) {
    let mut child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.expect("server stdout");
        if let Some(rest) = line.strip_prefix("secure-fhir-server listening on http://") {
            addr = Some(rest.trim().to_owned());
            break;
        }
    }
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("the server did not start: {:?}", child.wait());
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

/// Runs the binary to completion.
pub fn run(args: &[&str]) -> (ExitStatus, String, String) {
    let out = Command::new(binary())
        .args(args)
        .output()
        .expect("binary runs");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An HTTP response as received.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Headers except the per-request `date`, sorted: what must be identical between two
    /// answers that must not be told apart.
    pub fn stable_headers(&self) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("date"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        h.sort();
        h
    }
    /// Ids of the resources in a Bundle's entries.
    pub fn entry_ids(&self) -> Vec<String> {
        let v = self.json();
        v["entry"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        format!(
                            "{}/{}",
                            e["resource"]["resourceType"].as_str().unwrap_or(""),
                            e["resource"]["id"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One HTTP/1.1 exchange over a fresh connection.
pub fn raw_request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or_default();
    let declared = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    if !declared && (!body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH")) {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("response");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}
