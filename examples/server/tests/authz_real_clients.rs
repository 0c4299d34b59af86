//! The development authorization server against clients nobody here wrote, over real HTTP on
//! loopback. Against the real `secure-fhir-server` binary (its FHIR API behind the facade, the
//! authorization server in the same process): PyPI `fhirclient` (registers itself, standalone
//! launch with PKCE, reads the patient), `openid-client` in Debian's chromium driven by
//! `playwright-core` (sign-in, a scope unticked on the consent page, a token without it), and
//! `scripts/dev-token` with curl. The Backend Services client signing with PyJWT runs against the
//! authorization server in process with a minimal FHIR read, because backend clients are
//! configured by the operator (dynamic registration never grants `system/` scopes) and the
//! binary has no option for that yet.
//!
//! `scripts/ci-deps` installs the tools. Without them the tests skip loudly on a developer
//! machine; under CI (`CI` set) a missing tool fails the test.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secure_fhir_server::authz::{
    self, AuthzConfig, AuthzEventKind, AuthzState, ClientConfig, MemoryAudit,
};
use serde_json::{json, Value};
use smart_auth::jwks::JwkSet;
use smart_auth::{IssuerConfig, UnixTime, Validator};

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

/// Whether a tool is installed; under CI its absence is a failure, elsewhere a loud skip.
fn available(what: &str, ok: bool) -> bool {
    if ok {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{what} is not installed: scripts/ci-deps installs it, and CI must run this test");
    }
    eprintln!("SKIPPED: {what} is not installed; run scripts/ci-deps to install it");
    false
}

fn python_ready() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import fhirclient, jwt, cryptography, requests"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    available("python3 with fhirclient, PyJWT and cryptography", ok)
}

fn browser_ready() -> bool {
    let ok = e2e_dir().join("node_modules/playwright-core").exists()
        && e2e_dir().join("node_modules/openid-client").exists()
        && Path::new(&chromium()).exists();
    available(
        "node with playwright-core and openid-client, and chromium",
        ok,
    )
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A minimal FHIR `Patient` read behind smart-auth token validation, for the Backend Services
/// test (see the module docs for why it does not use the binary).
fn fhir_standin(state: AuthzState) -> axum::Router {
    axum::Router::new()
        .route("/fhir/Patient/{id}", get(read_patient))
        .with_state(state)
}

async fn read_patient(
    State(state): State<AuthzState>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let jwks = serde_json::to_vec(&state.jwks()).unwrap_or_default();
    let Ok(keys) = JwkSet::parse(&jwks) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(validator) =
        Validator::new([IssuerConfig::new(state.issuer(), state.fhir_base()).jwks(keys)])
    else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(credential) = smart_auth::bearer::extract_credential(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Ok(context) = validator.validate(credential.token(), UnixTime::from_secs(now())) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if context
        .token_id()
        .is_none_or(|jti| state.is_token_revoked(jti))
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let scope = context
        .raw_claims()
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("");
    let granted = |level: &str| {
        scope.split(' ').any(|s| {
            [
                format!("{level}/Patient.rs"),
                format!("{level}/Patient.r"),
                format!("{level}/*.rs"),
                format!("{level}/*.read"),
            ]
            .contains(&s.to_owned())
        })
    };
    let allowed =
        (granted("patient") && context.launch().patient == Some(&id)) || granted("system");
    if !allowed || !["example", "pat-2"].contains(&id.as_str()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let body = json!({"resourceType": "Patient", "id": id,
        "name": [{"family": "Chalmers", "given": ["Peter", "James"]}]});
    (
        [("content-type", "application/fhir+json")],
        body.to_string(),
    )
        .into_response()
}

struct Live {
    base: String,
    state: AuthzState,
    audit: Arc<MemoryAudit>,
}

/// Starts the authorization server and the stand-in FHIR endpoint on a loopback port.
async fn start(extra_clients: impl FnOnce(&str) -> Vec<ClientConfig>) -> Live {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = AuthzConfig::demo(format!("{base}/auth"), format!("{base}/fhir"));
    config.clients.extend(extra_clients(&base));
    let audit = Arc::new(MemoryAudit::new());
    let state = AuthzState::new(config, audit.clone()).unwrap();
    let app = authz::router(state.clone()).merge(fhir_standin(state.clone()));
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    Live { base, state, audit }
}

async fn run(mut command: tokio::process::Command) -> (bool, String, String) {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().expect("spawn");
    let output = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("the client finishes within 3 minutes")
        .expect("wait");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The example server binary (`secure-fhir-server`) on a loopback port, with its built-in
/// development authorization server and demo data.
struct Binary {
    _child: tokio::process::Child,
    base: String,
    /// What the server printed after its address: how to get a token.
    banner: Vec<String>,
}

/// Starts the real binary with demo data on a free loopback port.
async fn start_binary() -> Binary {
    use tokio::io::AsyncBufReadExt;
    let exe = env!("CARGO_BIN_EXE_secure-fhir-server");
    let mut child = tokio::process::Command::new(exe)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start secure-fhir-server");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(at) = line.find("http://") {
                if line.contains("listening on") {
                    return Some(line[at..].trim().to_owned());
                }
            }
        }
        None
    })
    .await
    .expect("the server starts within a minute")
    .expect("the server prints where it listens");
    let banner = tokio::time::timeout(Duration::from_secs(10), async {
        let mut banner = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let last = line.starts_with("Public:");
            banner.push(line);
            if last {
                break;
            }
        }
        banner
    })
    .await
    .expect("the server prints how to get a token");
    // keep draining stdout so the server never blocks on a full pipe
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Binary {
        _child: child,
        base,
        banner,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypi_fhirclient_completes_a_standalone_launch_with_pkce() {
    if !python_ready() {
        return;
    }
    let server = start_binary().await;
    // the script registers itself (RFC 7591) through the SMART configuration
    let mut command = tokio::process::Command::new("python3");
    command
        .arg(e2e_dir().join("standalone_launch.py"))
        .env("FHIR_BASE", format!("{}/fhir", server.base))
        .env("REDIRECT_URI", "http://127.0.0.1:9/fhirclient-callback");
    let (ok, stdout, stderr) = run(command).await;
    assert!(ok, "fhirclient run failed:\n{stdout}\n{stderr}");
    let result: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(result["patient_id"], "example");
    assert_eq!(result["patient_name"], "Peter James Chalmers");
    assert_eq!(result["refresh_token"], true);
    assert!(result["client_id"].as_str().is_some_and(|c| c.len() >= 32));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_user_deselects_a_scope_and_the_app_gets_a_token_without_it() {
    if !browser_ready() {
        return;
    }
    let server = start_binary().await;
    let app_port = free_port();
    // the screenshot goes to the build directory; AUTHZ_SCREENSHOT=docs/consent-page.png
    // (relative to the workspace root) refreshes the committed one
    let screenshot = match std::env::var("AUTHZ_SCREENSHOT") {
        Ok(p) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p),
        Err(_) => Path::new(env!("CARGO_TARGET_TMPDIR")).join("consent-page.png"),
    };
    // the app registers itself (RFC 7591) with its redirect URI and origin
    let mut command = tokio::process::Command::new("node");
    command
        .arg(e2e_dir().join("consent_browser.mjs"))
        .current_dir(e2e_dir())
        .env("ISSUER", format!("{}/auth", server.base))
        .env("FHIR_BASE", format!("{}/fhir", server.base))
        .env("APP_PORT", app_port.to_string())
        .env("SCREENSHOT", &screenshot)
        .env("CHROMIUM", chromium());
    let (ok, stdout, stderr) = run(command).await;
    assert!(ok, "browser test failed:\n{stdout}\n{stderr}");
    let result: Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap_or("")).expect("one JSON line");
    let scope = result["scope"].as_str().unwrap();
    assert!(
        !scope.split(' ').any(|s| s == "patient/Observation.rs"),
        "{scope}"
    );
    assert!(
        scope.split(' ').any(|s| s == "patient/Condition.rs"),
        "{scope}"
    );
    assert_eq!(result["patient"], "example");
    assert_eq!(
        result["patientStatus"], 200,
        "the app read its patient with the token"
    );
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 10_000,
        "a real screenshot"
    );
}

/// Whether `curl` and `openssl` (what `scripts/dev-token` runs) are installed.
fn curl_ready() -> bool {
    let tools = ["curl", "openssl"].iter().all(|t| {
        std::process::Command::new(t)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    available("curl and openssl", tools)
}

/// The binary and the repository, when `curl` and `openssl` are there to run
/// `scripts/dev-token`.
async fn binary_for_dev_token() -> Option<(Binary, PathBuf)> {
    if !curl_ready() {
        return None;
    }
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Some((start_binary().await, repository))
}

/// The status `curl` gets for a GET of `url`, with `token` as a bearer token.
async fn curl_status(url: &str, token: Option<&str>) -> String {
    let mut curl = tokio::process::Command::new("curl");
    curl.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", url]);
    if let Some(t) = token {
        curl.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    run(curl).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_token_script_gets_a_token_with_curl() {
    let Some((server, repository)) = binary_for_dev_token().await else {
        return;
    };
    let script = repository.join("scripts/dev-token");
    // The command the server prints on start, run as printed from the repository.
    let printed = server
        .banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("TOKEN=$(")?.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no dev-token command in {:#?}", server.banner))
        .to_owned();
    assert_eq!(printed, format!("scripts/dev-token --base {}", server.base));
    let mut command = tokio::process::Command::new("bash");
    command.current_dir(&repository).args(["-c", &printed]);
    let (ok, token, stderr) = run(command).await;
    assert!(ok, "{printed}: {stderr}");
    let read = |token: Option<String>, id: &'static str| {
        let url = format!("{}/fhir/Patient/{id}", server.base);
        async move { curl_status(&url, token.as_deref()).await }
    };
    assert_eq!(read(Some(token.trim().to_owned()), "example").await, "200");
    for (user, patient, expected) in [
        ("patient", "", "example"),
        ("clinician", "", "example"),
        ("clinician", "pat-2", "pat-2"),
    ] {
        let mut command = tokio::process::Command::new("bash");
        command
            .arg(&script)
            .args(["--base", &server.base, "--user", user, "--json"]);
        if !patient.is_empty() {
            command.args(["--patient", patient]);
        }
        let (ok, stdout, stderr) = run(command).await;
        assert!(ok, "dev-token failed for {user}:\n{stdout}\n{stderr}");
        let body: Value = serde_json::from_str(stdout.trim()).expect("token response");
        assert_eq!(body["patient"], expected, "{body}");
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            read(
                Some(token.clone()),
                if expected == "pat-2" {
                    "pat-2"
                } else {
                    "example"
                }
            )
            .await,
            "200"
        );
        // the compartment holds: the patient's token does not read the other patient
        if user == "patient" {
            assert_eq!(read(Some(token), "pat-2").await, "404");
        }
    }
    assert_eq!(read(None, "example").await, "401");
    // A write, as docs/authz-dev-server.md shows it: a registered client whose ceiling writes.
    let mut register = tokio::process::Command::new("curl");
    register.args([
        "-s",
        &format!("{}/auth/register", server.base),
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"client_name":"My app","redirect_uris":["http://127.0.0.1:9000/callback"],"token_endpoint_auth_method":"none","scope":"launch/patient patient/*.cruds"}"#,
    ]);
    let (_, registered, _) = run(register).await;
    // The demo app may only read: asking it for writes says so, and where to go instead.
    let mut command = tokio::process::Command::new("bash");
    command.arg(&script).args([
        "--base",
        &server.base,
        "--scope",
        "launch/patient patient/*.cruds",
    ]);
    let (ok, _, stderr) = run(command).await;
    assert!(!ok && stderr.contains("see --client"), "{stderr}");
    let registered: Value = serde_json::from_str(&registered).expect("registration");
    let client = registered["client_id"].as_str().unwrap();
    let scope = "launch/patient patient/*.cruds";
    let mut command = tokio::process::Command::new("bash");
    command.arg(&script).args([
        "--base",
        &server.base,
        "--client",
        client,
        "--scope",
        scope,
        "--json",
    ]);
    let (ok, stdout, stderr) = run(command).await;
    assert!(ok, "dev-token --client failed:\n{stdout}\n{stderr}");
    let body: Value = serde_json::from_str(stdout.trim()).expect("token response");
    assert_eq!(body["scope"], scope, "{body}");
    let mut create = tokio::process::Command::new("curl");
    create.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("Authorization: Bearer {}", body["access_token"].as_str().unwrap()),
        "-H",
        "Content-Type: application/fhir+json",
        "-d",
        r#"{"resourceType":"Observation","status":"final","code":{"text":"weight"},"subject":{"reference":"Patient/example"}}"#,
        &format!("{}/fhir/Observation", server.base),
    ]);
    assert_eq!(run(create).await.1, "201");
    let mut command = tokio::process::Command::new("bash");
    command
        .arg(&script)
        .args(["--base", &server.base, "--password", "wrong"]);
    let (ok, _, stderr) = run(command).await;
    assert!(!ok && stderr.contains("sign-in failed"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_backend_client_gets_a_system_token_and_replay_is_refused() {
    if !python_ready() {
        return;
    }
    let live = start(|_| Vec::new()).await;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("backend-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = e2e_dir().join("backend_services.py");
    let mut keygen = tokio::process::Command::new("python3");
    keygen.arg(&script).arg("keygen").arg(&dir);
    let (ok, _, stderr) = run(keygen).await;
    assert!(ok, "keygen failed: {stderr}");
    let jwks: Value =
        serde_json::from_slice(&std::fs::read(dir.join("jwks.json")).unwrap()).unwrap();
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "only the public key is registered"
    );
    live.state
        .register_client(ClientConfig::backend(
            "pyjwt-backend",
            "PyJWT backend client",
            jwks,
            "system/*.rs",
        ))
        .unwrap();
    let mut client = tokio::process::Command::new("python3");
    client
        .arg(&script)
        .arg("run")
        .arg(&dir)
        .env("FHIR_BASE", format!("{}/fhir", live.base))
        .env("TOKEN_URL", &live.state.endpoints().token)
        .env("CLIENT_ID", "pyjwt-backend");
    let (ok, stdout, stderr) = run(client).await;
    std::fs::remove_dir_all(&dir).ok();
    assert!(ok, "backend client failed:\n{stdout}\n{stderr}");
    let result: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(result["patient"], "example");
    assert_eq!(result["replay_status"], 401);
    let events = live.audit.events();
    assert!(events.iter().any(|e| e.kind == AuthzEventKind::Token
        && e.success
        && e.grant_type.as_deref() == Some("client_credentials")));
    assert!(events.iter().any(|e| e.kind == AuthzEventKind::Token
        && !e.success
        && e.reason.as_deref() == Some("invalid_client")));
}

/// docs/authz-dev-server.md's command for the confidential demo client, run as documented
/// (with `--base` of this server), and the hints when `--redirect` or `--secret` is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_token_script_gets_the_confidential_clients_token_as_documented() {
    let Some((server, repository)) = binary_for_dev_token().await else {
        return;
    };
    let docs = std::fs::read_to_string(repository.join("docs/authz-dev-server.md")).unwrap();
    let lines: Vec<&str> = docs.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.starts_with("scripts/dev-token --client demo-confidential-app"))
        .expect("the documented command");
    let mut documented = String::new();
    for line in &lines[first..] {
        documented.push_str(line.trim_end_matches('\\'));
        if !line.ends_with('\\') {
            break;
        }
    }
    let command_line = format!("{documented} --base {}", server.base);
    let mut command = tokio::process::Command::new("bash");
    command.current_dir(&repository).args(["-c", &command_line]);
    let (ok, stdout, stderr) = run(command).await;
    assert!(ok, "{command_line}: {stderr}");
    let body: Value = serde_json::from_str(stdout.trim()).expect("token response");
    assert!(body["refresh_token"].is_string(), "{body}");
    let url = format!("{}/fhir/Patient/example", server.base);
    assert_eq!(
        curl_status(&url, body["access_token"].as_str()).await,
        "200"
    );

    let script = repository.join("scripts/dev-token");
    let client = ["--base", &server.base, "--client", "demo-confidential-app"];
    for (extra, hint) in [
        (&[][..], "--redirect"),
        (
            &["--redirect", "http://127.0.0.1:9001/callback"][..],
            "--secret",
        ),
    ] {
        let mut command = tokio::process::Command::new("bash");
        command.arg(&script).args(client).args(extra);
        let (ok, _, stderr) = run(command).await;
        assert!(!ok && stderr.contains(hint), "{extra:?}: {stderr}");
    }
}
