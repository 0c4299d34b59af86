//! The real `secure-fhir-server` binary on a loopback port, raw HTTP/1.1 to it (so the tests
//! see exactly the bytes an attacker sees), test tokens, and the audit log as written.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fhir_audit::AuditRecord;
use smart_auth::testing::TestIssuer;
use smart_auth::UnixTime;

/// The issuer the server trusts (`--issuer`).
pub const ISSUER: &str = "https://issuer.hostile.test";
/// The server's audience (`--audience`).
pub const AUDIENCE: &str = "https://fhir.hostile.test/fhir";
/// The launch patient of the attacker's tokens.
pub const ALICE: &str = "alice";
/// The victim: every one of their resources has an id starting `zz-b-` and carries this canary.
pub const CANARY: &str = "CANARY-B";
/// The prefix of every id of the victim's resources.
pub const VICTIM_ID: &str = "zz-b-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A scratch directory, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sf-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    /// A path inside.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server loaded with `hostile_data.json`.
pub struct Server {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// The trusted issuer's signing key.
    pub issuer: TestIssuer,
    /// Holds the JWKS file, the database and the audit log.
    pub scratch: Scratch,
}

/// The binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_secure-fhir-server")
}

/// The dataset: Alice's records, the victim's (canary-marked) records and shared ones.
pub fn data_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile_data.json")
}

impl Server {
    /// Starts the server: trusted issuer from a JWKS file, an audit log, the hostile dataset,
    /// and the default in-memory database.
    pub fn start(tag: &str) -> Server {
        Server::start_with(tag, false)
    }

    /// Like [`Server::start`], with the database in a file (`--db`): a long run stores one
    /// AuditEvent per request, which an in-memory database would hold in RAM.
    #[allow(dead_code)] // used by the soak test only
    pub fn start_on_disk(tag: &str) -> Server {
        Server::start_with(tag, true)
    }

    fn start_with(tag: &str, on_disk: bool) -> Server {
        let scratch = Scratch::new(tag);
        let issuer = TestIssuer::new(ISSUER, AUDIENCE);
        let jwks = scratch.path("jwks.json");
        std::fs::write(&jwks, issuer.jwks_json()).expect("jwks file");
        let args = [
            "--listen".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--issuer".to_owned(),
            ISSUER.to_owned(),
            "--jwks-file".to_owned(),
            jwks.display().to_string(),
            "--audience".to_owned(),
            AUDIENCE.to_owned(),
            "--audit-log".to_owned(),
            scratch.path("audit.log").display().to_string(),
            "--data".to_owned(),
            data_file().display().to_string(),
        ];
        let db = [
            "--db".to_owned(),
            scratch.path("fhir.sqlite").display().to_string(),
        ];
        let args: Vec<String> = args
            .into_iter()
            .chain(db.into_iter().filter(|_| on_disk))
            .collect();
        let mut child = Command::new(binary())
            .args(&args)
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
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            addr,
            issuer,
            scratch,
        }
    }

    /// The audit log file.
    pub fn audit_log(&self) -> PathBuf {
        self.scratch.path("audit.log")
    }

    /// A token for Alice's launch (`patient=alice`, `fhirUser=Patient/alice`) with `scope`.
    pub fn alice(&self, scope: &str) -> String {
        self.issuer
            .token(now())
            .scope(scope)
            .patient(ALICE)
            .fhir_user(&format!("Patient/{ALICE}"))
            .sign()
    }

    /// A token for the victim's own launch (`patient=zz-b-bob`): used only by follow-up
    /// checks, to see that a refused write changed nothing.
    pub fn victim(&self, scope: &str) -> String {
        self.issuer
            .token(now())
            .scope(scope)
            .patient("zz-b-bob")
            .fhir_user("Patient/zz-b-bob")
            .sign()
    }

    /// `GET` with a token, for follow-up checks.
    pub fn get(&self, path: &str, token: &str) -> Result<Response, String> {
        let headers = vec![
            ("Authorization".to_owned(), format!("Bearer {token}")),
            ("X-Request-Id".to_owned(), "hostile-follow-up".to_owned()),
        ];
        exchange(&self.addr, "GET", &format!("/fhir{path}"), &headers, None)
    }

    /// The process id (for RSS sampling).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Now, as the server's clock sees it.
pub fn now() -> UnixTime {
    UnixTime::from_secs(chrono::Utc::now().timestamp())
}

/// A response as received on the wire.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Header fields without the per-request ones, sorted: what two answers that must not be
    /// told apart must share.
    pub fn stable_headers(&self) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(k, _)| !matches!(k.to_ascii_lowercase().as_str(), "date" | "x-request-id"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        h.sort();
        h
    }
}

/// One HTTP/1.1 exchange over a fresh connection. `head_extra` is sent verbatim after the
/// request line's headers (for malformed or duplicate headers).
pub fn exchange(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Result<Response, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or_default();
    let declared = headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    });
    if !declared && (!body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH")) {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    // The server may answer (413) and close before reading a large body: not an error.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(_) if !raw.is_empty() => {}
        Err(e) => return Err(format!("read: {e}")),
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no header end in {} bytes", raw.len()))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
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
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[(eol + 4 + size).min(b.len())..];
    }
    out
}

/// The payload of every record frame in an audit log file, in order (a torn last frame is
/// left out).
pub fn read_audit_payloads(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut out = Vec::new();
    let Some(mut rest) = bytes.strip_prefix(&fhir_audit::frame::LOG_MAGIC[..]) else {
        return out;
    };
    while let Ok(frame) = fhir_audit::frame::decode_record(rest) {
        out.push(frame.payload.to_vec());
        rest = &rest[frame.len..];
    }
    out
}

/// Every record in an audit log file, in order.
pub fn read_audit_log(path: &Path) -> Vec<AuditRecord> {
    read_audit_payloads(path)
        .iter()
        .filter_map(|p| AuditRecord::from_log_bytes(p).ok())
        .collect()
}

/// A loopback listener that records every connection: the target of the SSRF cases. Nothing
/// may ever connect to it (the server must never fetch a client-supplied URL).
pub struct SsrfSink {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    hits: std::sync::Arc<AtomicU64>,
}

impl SsrfSink {
    /// Connections received so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

/// The process-wide SSRF sink.
pub fn ssrf_sink() -> &'static SsrfSink {
    static SINK: std::sync::OnceLock<SsrfSink> = std::sync::OnceLock::new();
    SINK.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind ssrf sink");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = std::sync::Arc::new(AtomicU64::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(conn);
            }
        });
        SsrfSink { url, hits }
    })
}
