//! `secure-fhir-minimal`: the smallest secure FHIR R4 server on secure-fhir.
//!
//! The facade's `tower` layer ([`SecureFhirLayer`]) stands in front of a read-and-search FHIR
//! service over an in-memory store, on axum: every request is authenticated, decided and
//! audited by the layer; the service confines what it returns to what the [`Authorized`]
//! request permits. It is the wiring a vendor copies into their own stack; `secure-fhir-server`
//! is the full server (writes, SQLite, a SMART authorization server, a durable audit log).
//!
//! ```text
//! secure-fhir-minimal [--listen ADDR] [--data FILE]... [--issuer URL --jwks-file FILE]
//!                     [--audit-events FILE]
//! ```
//!
//! With no `--issuer`, a key is made at start and two tokens it signed are printed (a patient
//! app's and a clinician system's), so the server can be tried with `curl` at once.
//!
//! [`Authorized`]: secure_fhir::Authorized
#![forbid(unsafe_code)]

mod dev_issuer;
mod fhir;
mod store;

use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use secure_fhir::audit::RequestInfo;
use secure_fhir::fhir_audit::render::{self, RenderConfig};
use secure_fhir::fhir_audit::AuditRecord;
use secure_fhir::layer::{AuditFuture, SecureFhirLayer};
use secure_fhir::smart_auth::decision::DecisionPolicy;
use secure_fhir::smart_auth::jwks::JwkSet;
use secure_fhir::smart_auth::time::CacheTtl;
use secure_fhir::smart_auth::{IssuerConfig, Validator};
use secure_fhir::SecureFhir;

use dev_issuer::{DevIssuer, Grant};
use fhir::Fhir;
use store::Store;

/// The demo data loaded when no `--data` is given: the example server's.
const DEMO_DATA: &str = include_str!("../../server/data/demo.json");

const USAGE: &str = "\
usage: secure-fhir-minimal [--listen ADDR] [--data FILE]... [--issuer URL --jwks-file FILE]
                           [--audit-events FILE]

  --listen ADDR          where to listen (default 127.0.0.1:8081; port 0 picks one)
  --data FILE            a FHIR Bundle to load (repeatable; default: the demo data)
  --issuer URL           trust access tokens from this issuer ...
  --jwks-file FILE       ... signed by these keys (default: a development key made at start,
                         whose tokens are printed)
  --audit-events FILE    append each request's BALP AuditEvents there as JSON lines
                         (default: standard error)
";

struct Args {
    listen: String,
    data: Vec<String>,
    issuer: Option<String>,
    jwks_file: Option<String>,
    audit_events: Option<String>,
}

fn parse(args: &[String]) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        listen: "127.0.0.1:8081".into(),
        data: Vec::new(),
        issuer: None,
        jwks_file: None,
        audit_events: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let mut value = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => parsed.listen = value()?,
            "--data" => parsed.data.push(value()?),
            "--issuer" => parsed.issuer = Some(value()?),
            "--jwks-file" => parsed.jwks_file = Some(value()?),
            "--audit-events" => parsed.audit_events = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if parsed.issuer.is_some() != parsed.jwks_file.is_some() {
        return Err("--issuer and --jwks-file go together".into());
    }
    Ok(Some(parsed))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match parse(&args) {
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Some(args)) => run(args),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("secure-fhir-minimal: {e}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run(args: Args) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("{}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{addr}/fhir");

    let mut store = Store::default();
    if args.data.is_empty() {
        store.load_bundle(DEMO_DATA.as_bytes())?;
    }
    for file in &args.data {
        let bytes = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
        store
            .load_bundle(&bytes)
            .map_err(|e| format!("{file}: {e}"))?;
    }

    // Whose tokens are trusted: the given issuer's keys, or a key made now.
    let (issuer, jwks, dev) = match (&args.issuer, &args.jwks_file) {
        (Some(issuer), Some(file)) => {
            let jwks = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
            (issuer.clone(), jwks, None)
        }
        _ => {
            let dev = DevIssuer::generate(&format!("http://{addr}/dev-issuer"), &base)?;
            (dev.issuer().to_owned(), dev.jwks(), Some(dev))
        }
    };
    let keys = JwkSet::parse(&jwks).map_err(|e| format!("JWKS: {e}"))?;
    let validator = Validator::new([IssuerConfig::new(issuer, base.clone()).jwks(keys)])
        .map_err(|e| format!("token validation: {e}"))?
        .with_cache(10_000, CacheTtl::DEFAULT);
    let policy = DecisionPolicy::default().with_base_url(base.clone());
    let facade = Arc::new(SecureFhir::new(validator, policy, "/fhir"));

    // Every request's record, rendered as BALP AuditEvents, is written to the events file
    // before the response leaves; a response whose events cannot be written is not sent (a
    // 503 instead: fail closed). Written and flushed, not fsynced: fhir-audit's FileStore is
    // the durable, tamper-evident log (secure-fhir-server uses it).
    let events: Box<dyn Write + Send> = match &args.audit_events {
        Some(file) => Box::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
                .map_err(|e| format!("{file}: {e}"))?,
        ),
        None => Box::new(std::io::stderr()),
    };
    let events = Mutex::new(events);
    let render = RenderConfig::new(base.clone()).server_address(addr.ip().to_string());
    let rng = ring::rand::SystemRandom::new();
    let audit = move |mut record: AuditRecord| -> AuditFuture {
        // A random record id: two requests alike in every fact, at one instant, get distinct
        // AuditEvent ids (a feed deduplicates on them). Without randomness nothing is released.
        let mut id = [0u8; 16];
        if ring::rand::SecureRandom::fill(&rng, &mut id).is_err() {
            return Box::pin(std::future::ready(Err(
                "no randomness for a record id".into()
            )));
        }
        record.record_id = Some(id.iter().map(|b| format!("{b:02x}")).collect());
        let mut out = events.lock().unwrap_or_else(|p| p.into_inner());
        let written = render::to_r4_json(&record, &render)
            .iter()
            .try_for_each(|event| out.write_all(event).and_then(|()| out.write_all(b"\n")))
            .and_then(|()| out.flush());
        if let Err(e) = &written {
            eprintln!("secure-fhir-minimal: AuditEvent not written: {e}");
        }
        Box::pin(std::future::ready(written.map_err(Into::into)))
    };
    let layer = SecureFhirLayer::durable(facade, Arc::new(chrono::Utc::now), Arc::new(audit));

    let metadata = capability_statement(&base, &store.types());
    let fhir = Arc::new(Fhir {
        store,
        base: base.clone(),
    });
    let service = tower::ServiceBuilder::new()
        .map_request(peer_address)
        .layer(layer)
        .service_fn(move |req| fhir::serve(Arc::clone(&fhir), req));
    let app = Router::new()
        .route("/fhir/metadata", get(move || async move { metadata }))
        .fallback_service(service);

    let mut banner = format!("secure-fhir-minimal listening on http://{addr}\nFHIR base: {base}\n");
    if let Some(dev) = &dev {
        banner += &dev_instructions(dev, &base)?;
    }
    // Not println!: a closed standard output must not stop the server.
    let mut out = std::io::stdout();
    let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}

/// Puts the peer's address where the layer reads it: BALP AuditEvents name the client's.
fn peer_address<B>(mut req: http::Request<B>) -> http::Request<B> {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let info = RequestInfo {
            peer: Some(peer.ip().to_string()),
            correlation_id: None,
        };
        req.extensions_mut().insert(info);
    }
    req
}

/// Two tokens of the development key, valid for an hour, and first requests to try.
fn dev_instructions(dev: &DevIssuer, base: &str) -> Result<String, String> {
    let now = chrono::Utc::now().timestamp();
    let patient = Grant {
        client_id: "demo-patient-app",
        scope: "patient/*.rs",
        patient: Some("example"),
    };
    let system = Grant {
        client_id: "demo-clinician-system",
        scope: "system/*.rs",
        patient: None,
    };
    let patient = dev.mint(&patient, now, 3600)?;
    let system = dev.mint(&system, now, 3600)?;
    Ok(format!(
        "
Development tokens (valid for one hour, signed by a key made at start):
  PATIENT_TOKEN={patient}
  SYSTEM_TOKEN={system}

Then, for example:
  curl -H \"Authorization: Bearer $PATIENT_TOKEN\" {base}/Patient/example
  curl -H \"Authorization: Bearer $PATIENT_TOKEN\" {base}/Patient/pat-2        # 404: not this patient's
  curl -H \"Authorization: Bearer $PATIENT_TOKEN\" '{base}/Observation?_count=2'
  curl -H \"Authorization: Bearer $SYSTEM_TOKEN\" '{base}/Observation?patient=pat-2'

"
    ))
}

/// The public CapabilityStatement: what this server does, and that it needs SMART tokens.
fn capability_statement(base: &str, types: &[&str]) -> http::Response<String> {
    let interactions = serde_json::json!([{"code": "read"}, {"code": "search-type"}]);
    let resources: Vec<_> = types
        .iter()
        .map(|t| serde_json::json!({"type": t, "interaction": interactions}))
        .collect();
    let statement = serde_json::json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": chrono::Utc::now().format("%Y-%m-%d").to_string(),
        "kind": "instance",
        "implementation": {"description": "secure-fhir-minimal", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": {"service": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                "code": "SMART-on-FHIR"
            }]}]},
            "resource": resources,
        }],
    });
    let mut response = http::Response::new(statement.to_string());
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/fhir+json; charset=utf-8"),
    );
    secure_fhir::response::security_headers(headers);
    response
}
