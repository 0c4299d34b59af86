//! `secure-fhir-server`: an example secure FHIR R4 server. See `--help`.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use secure_fhir::SecureFhir;
use secure_fhir_server::audit_trail::AuditTrail;
use secure_fhir_server::authz::{self, AuthzConfig, AuthzState, StderrAudit};
use secure_fhir_server::authz_audit::TrailAudit;
use secure_fhir_server::cli::{self, Command, ServeArgs};
use secure_fhir_server::followed_keys::FollowedKeys;
use secure_fhir_server::security::Gate;
use secure_fhir_server::store::Store;
use secure_fhir_server::{banner, data, web};
use smart_auth::decision::{DecisionPolicy, OperationRule};
use smart_auth::jwks::JwkSet;
use smart_auth::time::CacheTtl;
use smart_auth::{IssuerConfig, Validator};

/// Validated tokens kept by the token cache.
const TOKEN_CACHE_ENTRIES: usize = 10_000;
/// Longest a validated token is kept (60 s); never past its `exp`.
const TOKEN_CACHE_TTL: CacheTtl = CacheTtl::DEFAULT;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse(&args) {
        Err(e) => {
            eprintln!("secure-fhir-server: {e}");
            ExitCode::from(2)
        }
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Command::AuditVerify {
            log,
            pubkey,
            checkpoint,
        }) => {
            secure_fhir_server::audit_keys::verify(&log, pubkey.as_deref(), checkpoint.as_deref())
        }
        Ok(Command::AuditCheckpoint { log }) => secure_fhir_server::audit_keys::checkpoint(&log),
        Ok(Command::Serve(args)) => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("secure-fhir-server: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("secure-fhir-server: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let origin = format!("http://{addr}");
    let base = format!("{origin}/fhir");
    let store = Arc::new(Store::open(args.db.as_deref(), &base).map_err(|e| e.to_string())?);
    let dev = args.issuer.is_none();
    if dev {
        let n = data::load(&store, data::DEMO.as_bytes()).map_err(|e| format!("demo data: {e}"))?;
        eprintln!("secure-fhir-server: loaded {n} demo resources");
    }
    for path in &args.data {
        let n = data::load_file(&store, path)?;
        eprintln!(
            "secure-fhir-server: loaded {n} resources from {}",
            path.display()
        );
    }
    let trail = if args.dangerous_disable_security {
        None
    } else {
        let trail = AuditTrail::open(
            args.audit_log.as_deref(),
            Some(Arc::clone(&store)),
            args.commit_delay,
        )?;
        match &args.audit_log {
            Some(log) => eprintln!(
                "secure-fhir-server: audit log {}; keep a copy of its public key {}.pub \
                 elsewhere for `audit verify --audit-pubkey`",
                log.display(),
                log.display()
            ),
            None => eprintln!(
                "secure-fhir-server: audit log in memory (not durable): use --audit-log FILE"
            ),
        }
        Some(Arc::new(trail))
    };
    let authz = match &args.issuer {
        Some(_) => None,
        None => {
            let config = AuthzConfig::demo(format!("{origin}/auth"), base.clone());
            let hook: Arc<dyn authz::AuthzAudit> = match &trail {
                Some(t) => Arc::new(TrailAudit(Arc::clone(t))),
                None => Arc::new(StderrAudit),
            };
            let state =
                AuthzState::new(config, hook).map_err(|e| format!("authorization server: {e}"))?;
            Some(state)
        }
    };
    let gate = if args.dangerous_disable_security {
        eprintln!(
            "secure-fhir-server: WARNING: --dangerous-disable-security: no authorization, no audit. \
             Benchmark use only."
        );
        Gate::dangerous_disabled(Arc::clone(&store))
    } else {
        let audience = args.audience.clone().unwrap_or_else(|| base.clone());
        // The built-in authorization server's keys are followed (rotation needs no restart);
        // an external issuer's come from --jwks-file.
        let (config, followed) = match (&authz, &args.issuer, &args.jwks_file) {
            (Some(state), _, _) => {
                let source = state.clone();
                let followed = FollowedKeys::new(state.issuer(), move || {
                    serde_json::to_vec(&source.jwks()).unwrap_or_default()
                });
                (followed.issuer_config(&audience), Some(followed))
            }
            (None, Some(issuer), Some(file)) => {
                let jwks = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
                let keys = JwkSet::parse(&jwks).map_err(|e| format!("JWKS: {e}"))?;
                (IssuerConfig::new(issuer.clone(), audience).jwks(keys), None)
            }
            _ => return Err("--issuer needs --jwks-file".into()),
        };
        // Validated tokens are cached (keyed by the whole token's SHA-256, bounded, never past
        // `exp` nor TOKEN_CACHE_TTL): a repeated token skips the signature check.
        let validator = Validator::new([config])
            .map_err(|e| format!("token validation: {e}"))?
            .with_cache(TOKEN_CACHE_ENTRIES, TOKEN_CACHE_TTL);
        let policy = DecisionPolicy::default()
            .with_base_url(base.clone())
            // Decided as a read of the Patient; the handler then also asks that the caller be
            // the patient or an auditor (`Access::may_read_accounting`).
            .with_operation("disclosures", OperationRule::AsRead);
        // DPoP-bound tokens (RFC 9449): proofs checked against this server's base URL, their
        // `jti`s kept for the proof lifetime (bounded; refuses when full rather than forget;
        // one user of a client may hold a sixteenth of it, whatever its keys, so none fills it for all).
        let mut facade = SecureFhir::new(validator, policy, "/fhir")
            .with_dpop(
                smart_auth::dpop::DpopValidator::new(),
                Arc::new(smart_auth::replay::InMemoryReplayStore::new(100_000)),
                &base,
            )
            .map_err(|e| format!("DPoP: {e}"))?;
        if let Some(state) = authz.clone() {
            facade = facade.with_revocation_check(move |ctx: &smart_auth::AccessContext| {
                ctx.token_id()
                    .is_some_and(|jti| state.is_token_revoked(jti))
            });
        }
        let trail = trail.clone().ok_or("no audit trail")?;
        let mut gate = Gate::secure(facade, trail, Arc::clone(&store));
        if let Some(per_second) = args.rate_limit {
            gate = gate.with_rate_limit(per_second);
        }
        match followed {
            Some(keys) => gate.follow_keys(keys),
            None => gate,
        }
    };
    let cors: Vec<String> = args.cors_origins.clone();
    let registered = authz.clone();
    let smart_configuration = match (&authz, &args.issuer) {
        (Some(state), _) => state.smart_configuration(),
        (None, Some(issuer)) => banner::external_smart_configuration(issuer),
        (None, None) => serde_json::json!({}),
    };
    // The statement describes this running server: dated when it started.
    let mut capability =
        secure_fhir_server::fhir::capability::statement(&base, &smart_configuration);
    capability["date"] =
        serde_json::Value::String(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let app = Arc::new(web::App {
        store,
        base: base.clone(),
        gate,
        cors_origins: Arc::new(move |o: &str| {
            cors.iter().any(|c| c == o)
                || registered
                    .as_ref()
                    .is_some_and(|s| s.is_registered_origin(o))
        }),
        capability,
        smart_configuration,
    });
    let mut router = web::router(app);
    if let Some(state) = &authz {
        router = router.merge(authz::router(state.clone()));
    }
    // Answers no handler made (axum's 404 and 405, the token endpoint's preflight) carry the
    // security headers too (smart.md §10: every response).
    let router = router.layer(axum::middleware::map_response(security_headers));
    println!("secure-fhir-server listening on {origin}");
    println!("FHIR base: {base}");
    if let Some(state) = &authz {
        print!("{}", banner::dev_instructions(&base, state));
    }
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}

/// Adds the security headers to a response that was made without them.
async fn security_headers(mut r: axum::response::Response) -> axum::response::Response {
    if !r
        .headers()
        .contains_key(http::header::X_CONTENT_TYPE_OPTIONS)
    {
        secure_fhir::response::security_headers(r.headers_mut());
    }
    r
}
