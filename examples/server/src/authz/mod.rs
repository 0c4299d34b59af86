//! # The development SMART authorization server — for development only
//!
//! A complete SMART App Launch 2.2 / OAuth 2.0 / OpenID Connect authorization server that runs
//! inside the example FHIR server, so that a newcomer sees the whole flow without an external
//! identity provider, and so that `smart-auth` is tested against tokens from a real OAuth flow.
//! **It is for development only**: demo users with published passwords, keys and grants in
//! memory (or in a plain file), open dynamic registration of non-backend clients. Production
//! deployments use a real authorization server and start the example with `--issuer`.
//!
//! ## URL layout
//!
//! With `--listen 127.0.0.1:8080` the FHIR base is `http://127.0.0.1:8080/fhir` and the issuer is
//! `http://127.0.0.1:8080/auth`. Every endpoint lives under the issuer's path; [`router`] returns
//! them with absolute paths, so the host merges it (`Router::merge`) at the root:
//!
//! | path (under the issuer) | what |
//! |---|---|
//! | `/.well-known/smart-configuration` | SMART configuration (also served by the FHIR side at `<fhir base>/.well-known/smart-configuration`, from [`AuthzState::smart_configuration`]) |
//! | `/.well-known/openid-configuration` | OpenID Connect discovery |
//! | `/jwks` | the public signing keys (also [`AuthzState::jwks`] in process) |
//! | `/authorize` | authorization endpoint, `GET` and `POST` (standalone and EHR launch) |
//! | `/login`, `/consent`, `/logout` | the HTML sign-in, consent (with patient picker) and sign-out (confirmed with a `POST`) pages |
//! | `/token` | token endpoint: `authorization_code`, `refresh_token`, `client_credentials` |
//! | `/introspect` | RFC 7662 introspection |
//! | `/revoke` | RFC 7009 revocation |
//! | `/register` | RFC 7591 dynamic registration |
//! | `/launch` | a minimal "EHR" that starts an EHR launch of a registered app |
//!
//! ## Wiring
//!
//! ```no_run
//! use std::sync::Arc;
//! use secure_fhir_server::authz::{self, AuthzConfig, AuthzState, StderrAudit};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = AuthzConfig::demo("http://127.0.0.1:8080/auth", "http://127.0.0.1:8080/fhir");
//! let state = AuthzState::new(config, Arc::new(StderrAudit))?;
//! let jwks = state.jwks(); // trust these keys (issuer `state.issuer()`) in smart-auth
//! let app = axum::Router::new().merge(authz::router(state.clone()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! Access tokens are JWTs (`typ: at+jwt`, RFC 9068) signed with ES256; the resource server
//! validates them with smart-auth against [`AuthzState::jwks`] and asks
//! [`AuthzState::is_token_revoked`] for revocation. Every grant and refusal is reported to the
//! [`AuthzAudit`] hook given to [`AuthzState::new`] (any `Fn(&AuthzEvent)` is one);
//! [`AuthzEvent::to_audit_record`] turns each event into a `fhir-audit` record for the server's
//! tamper-evident log:
//!
//! ```ignore
//! let audit = move |event: &AuthzEvent| trail.record(event.to_audit_record());
//! let state = AuthzState::new(config, Arc::new(audit))?;
//! ```

mod audit;
mod audit_record;
mod authorize;
mod backend;
mod clients;
mod clock;
mod config;
mod discovery;
mod html;
mod introspect;
mod issue;
mod keys;
mod logout;
mod pages;
pub(crate) mod ratelimit;
mod register;
mod responses;
mod scopes;
mod state;
mod store;
mod token;

pub use audit::{AuthzAudit, AuthzEvent, AuthzEventKind, MemoryAudit, StderrAudit};
pub use clients::{ClientAuth, ClientConfig, ClientError, SecretMethod};
pub use clock::{Clock, OffsetClock, SystemClock};
pub use config::{AuthzConfig, DemoUser, Lifetimes, PickerPatient, RateLimit};
pub use keys::{KeyError, SigningKeys};
pub use state::{AuthzState, Endpoints};

use axum::routing::{get, post};

/// The authorization server's routes, with absolute paths under the issuer's path.
pub fn router(state: AuthzState) -> axum::Router {
    let p = state.endpoints().base_path.clone();
    let issuer = if p.is_empty() { "/" } else { p.as_str() };
    axum::Router::new()
        .route(issuer, get(discovery::issuer_page))
        .route(
            &format!("{p}/.well-known/smart-configuration"),
            get(discovery::smart_configuration),
        )
        .route(
            &format!("{p}/.well-known/openid-configuration"),
            get(discovery::openid_configuration),
        )
        .route(&format!("{p}/jwks"), get(discovery::jwks))
        .route(
            &format!("{p}/authorize"),
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(
            &format!("{p}/login"),
            get(authorize::login_page).post(authorize::login_submit),
        )
        .route(
            &format!("{p}/consent"),
            get(authorize::consent_page).post(authorize::consent_submit),
        )
        .route(
            &format!("{p}/logout"),
            get(logout::logout_page).post(logout::logout_submit),
        )
        .route(
            &format!("{p}/launch"),
            get(authorize::ehr_page).post(authorize::ehr_launch),
        )
        .route(
            &format!("{p}/token"),
            post(token::token).options(token::preflight),
        )
        .route(&format!("{p}/introspect"), post(introspect::introspect))
        .route(
            &format!("{p}/revoke"),
            post(introspect::revoke).options(token::preflight),
        )
        .route(&format!("{p}/register"), post(register::register))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}
