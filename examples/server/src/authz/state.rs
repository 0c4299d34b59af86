//! The shared state behind every endpoint, and the in-process API for the resource server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;

use super::audit::{AuthzAudit, AuthzEvent, AuthzEventKind};
use super::clients::{ClientConfig, ClientError};
use super::clock::{Clock, SystemClock};
use super::config::{AuthzConfig, DemoUser, Lifetimes, PickerPatient};
use super::keys::{KeyError, SigningKeys};
use super::ratelimit::RateLimiter;
use super::store::{Launch, Store};

/// Upper bound on dynamically registered clients.
const MAX_DYNAMIC_CLIENTS: usize = 1000;

/// The absolute URLs of every endpoint, derived from the issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// The issuer (`iss` of every token).
    pub issuer: String,
    /// The issuer's path (`/auth`), prefix of every route.
    pub base_path: String,
    /// `<issuer>/authorize`.
    pub authorize: String,
    /// `<issuer>/token`: also the `aud` every client assertion must carry.
    pub token: String,
    /// `<issuer>/jwks`.
    pub jwks: String,
    /// `<issuer>/introspect`.
    pub introspect: String,
    /// `<issuer>/revoke`.
    pub revoke: String,
    /// `<issuer>/register`.
    pub register: String,
    /// `<issuer>/logout`.
    pub logout: String,
    /// `<issuer>/launch`.
    pub launch: String,
}

impl Endpoints {
    fn new(issuer: &str) -> Self {
        let base_path = url::Url::parse(issuer)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let at = |p: &str| format!("{issuer}/{p}");
        Self {
            issuer: issuer.to_owned(),
            base_path,
            authorize: at("authorize"),
            token: at("token"),
            jwks: at("jwks"),
            introspect: at("introspect"),
            revoke: at("revoke"),
            register: at("register"),
            logout: at("logout"),
            launch: at("launch"),
        }
    }
}

pub(crate) struct Inner {
    pub config: AuthzConfig,
    pub lifetimes: Lifetimes,
    pub endpoints: Endpoints,
    pub clients: RwLock<HashMap<String, ClientConfig>>,
    pub users: HashMap<String, DemoUser>,
    pub keys: RwLock<SigningKeys>,
    pub store: Mutex<Store>,
    pub audit: Arc<dyn AuthzAudit>,
    pub clock: Arc<dyn Clock>,
    pub limiter: RateLimiter,
    pub rng: SystemRandom,
    pub dynamic_clients: Mutex<usize>,
    /// `jti`s of accepted client assertions (smart-auth's bounded, fail-closed store).
    pub replay: smart_auth::replay::InMemoryReplayStore,
}

/// The development authorization server's state; cheap to clone.
#[derive(Clone)]
pub struct AuthzState(pub(crate) Arc<Inner>);

impl std::fmt::Debug for AuthzState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthzState")
            .field("issuer", &self.0.endpoints.issuer)
            .finish_non_exhaustive()
    }
}

impl AuthzState {
    /// Builds the server: loads or generates the signing keys. Every grant and refusal is
    /// reported to `audit`.
    pub fn new(config: AuthzConfig, audit: Arc<dyn AuthzAudit>) -> Result<Self, KeyError> {
        Self::with_clock(config, audit, Arc::new(SystemClock))
    }

    /// As [`new`](Self::new), with an injected clock (tests move time forward with it).
    pub fn with_clock(
        config: AuthzConfig,
        audit: Arc<dyn AuthzAudit>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, KeyError> {
        let now = clock.now();
        let keys = match &config.key_file {
            Some(path) => SigningKeys::load_or_create(path, now)?,
            None => SigningKeys::generate(now)?,
        };
        let clients = config
            .clients
            .iter()
            .map(|c| (c.client_id.clone(), c.clone()))
            .collect();
        let users = config
            .users
            .iter()
            .map(|u| (u.username.clone(), u.clone()))
            .collect();
        Ok(Self(Arc::new(Inner {
            lifetimes: config.lifetimes.clamped(),
            endpoints: Endpoints::new(&config.issuer),
            limiter: RateLimiter::new(config.rate_limit),
            config,
            clients: RwLock::new(clients),
            users,
            keys: RwLock::new(keys),
            store: Mutex::new(Store::default()),
            audit,
            clock,
            rng: SystemRandom::new(),
            dynamic_clients: Mutex::new(0),
            replay: smart_auth::replay::InMemoryReplayStore::new(100_000),
        })))
    }

    /// The issuer URL (`iss` of every token this server signs).
    pub fn issuer(&self) -> &str {
        &self.0.endpoints.issuer
    }

    /// The FHIR base URL: the `aud` of every access token.
    pub fn fhir_base(&self) -> &str {
        &self.0.config.fhir_base
    }

    /// The endpoint URLs.
    pub fn endpoints(&self) -> &Endpoints {
        &self.0.endpoints
    }

    /// The public JWK Set the resource server trusts for this issuer. It changes on rotation;
    /// retired keys stay in it while tokens they signed can still be valid.
    pub fn jwks(&self) -> Value {
        self.keys().jwks()
    }

    /// Generates a new signing key and makes it the active one; returns its `kid`.
    pub fn rotate_keys(&self) -> Result<String, KeyError> {
        let now = self.now();
        let kid = self
            .0
            .keys
            .write()
            .map_err(|_| KeyError::Crypto)?
            .rotate(now)?;
        self.audit(AuthzEvent::new(now, AuthzEventKind::KeyRotation, true));
        Ok(kid)
    }

    /// Whether the access token with this `jti` was revoked (or its grant was). Unknown
    /// `jti`s count as revoked: this server knows every token it issued.
    pub fn is_token_revoked(&self, jti: &str) -> bool {
        let now = self.now();
        !self.store().access_active(jti, now)
    }

    /// Registers a client (in addition to the configured ones).
    pub fn register_client(&self, client: ClientConfig) -> Result<(), ClientError> {
        let mut clients = self.0.clients.write().map_err(|_| ClientError::TooMany)?;
        if clients.contains_key(&client.client_id) {
            return Err(ClientError::Duplicate);
        }
        clients.insert(client.client_id.clone(), client);
        Ok(())
    }

    /// Whether `origin` (e.g. `http://127.0.0.1:9000`) is a registered origin of some client: the
    /// resource server allows CORS for these origins only.
    pub fn is_registered_origin(&self, origin: &str) -> bool {
        self.0
            .clients
            .read()
            .map(|c| {
                c.values()
                    .any(|c| c.allowed_origins.iter().any(|o| o == origin))
            })
            .unwrap_or(false)
    }

    /// Starts an EHR launch of `client_id` with this context and returns the opaque `launch`
    /// value the EHR hands to the app (with `iss` = the FHIR base), good for one authorization
    /// request until it expires. `None` for an unknown client.
    pub fn create_ehr_launch(
        &self,
        client_id: &str,
        patient: Option<&str>,
        encounter: Option<&str>,
    ) -> Option<String> {
        self.create_ehr_launch_with_context(client_id, patient, encounter, Vec::new())
    }

    /// As [`create_ehr_launch`](Self::create_ehr_launch), with further `fhirContext` items
    /// (SMART 2.2: objects with `reference`, `canonical` or `identifier`, and optional `type` and
    /// `role`). Items that are not such objects make the launch fail (`None`).
    pub fn create_ehr_launch_with_context(
        &self,
        client_id: &str,
        patient: Option<&str>,
        encounter: Option<&str>,
        fhir_context: Vec<Value>,
    ) -> Option<String> {
        self.client(client_id)?;
        let valid = |item: &Value| {
            item.as_object().is_some_and(|o| {
                ["reference", "canonical", "identifier"]
                    .iter()
                    .any(|k| o.contains_key(*k))
                    && o.get("role")
                        .is_none_or(|r| r.as_str().is_some_and(|r| !r.is_empty()))
            })
        };
        if fhir_context.len() > 16 || !fhir_context.iter().all(valid) {
            return None;
        }
        let now = self.now();
        let id = self.random_token();
        let launch = Launch {
            client_id: client_id.to_owned(),
            patient: patient.map(str::to_owned),
            encounter: encounter.map(str::to_owned),
            fhir_context,
            expires_at: now + self.0.lifetimes.pending_request,
        };
        self.store().add_launch(id.clone(), launch, now).ok()?;
        let mut event = AuthzEvent::new(now, AuthzEventKind::Launch, true);
        event.client_id = Some(client_id.to_owned());
        event.patient = patient.map(str::to_owned);
        self.audit(event);
        Some(id)
    }

    /// The patients the picker offers.
    pub fn picker_patients(&self) -> &[PickerPatient] {
        &self.0.config.patients
    }

    pub(crate) fn now(&self) -> i64 {
        self.0.clock.now()
    }

    pub(crate) fn lifetimes(&self) -> &Lifetimes {
        &self.0.lifetimes
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<ClientConfig> {
        self.0.clients.read().ok()?.get(client_id).cloned()
    }

    pub(crate) fn user(&self, username: &str) -> Option<&DemoUser> {
        self.0.users.get(username)
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // a poisoned lock only means another request panicked; the maps stay consistent
        self.0.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn keys(&self) -> std::sync::RwLockReadGuard<'_, SigningKeys> {
        self.rotate_if_due();
        self.0.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    fn rotate_if_due(&self) {
        let Some(max_age) = self.0.config.key_rotation_secs else {
            return;
        };
        let now = self.now();
        let due = self
            .0
            .keys
            .read()
            .map(|k| now - k.active_created_at() >= max_age)
            .unwrap_or(false);
        if due {
            let _ = self.rotate_keys();
        }
    }

    /// Records `event`, naming its user as the tokens do (`iss` and `sub`, the absolute
    /// `fhirUser`), so that a sign-in and the requests made with its tokens name one agent.
    pub(crate) fn audit(&self, mut event: AuthzEvent) {
        if event.user.is_some() {
            event.issuer = Some(self.issuer().to_owned());
        }
        if let Some(relative) = event.fhir_user.take() {
            event.fhir_user = Some(self.absolute_fhir_user(&relative));
        }
        self.0.audit.record(&event);
    }

    /// 256 random bits, base64url.
    pub(crate) fn random_token(&self) -> String {
        let mut bytes = [0u8; 32];
        // SystemRandom only fails if the OS has no randomness; then nothing can be issued safely
        if self.0.rng.fill(&mut bytes).is_err() {
            panic!("operating system randomness unavailable");
        }
        B64.encode(bytes)
    }

    pub(crate) fn claim_dynamic_slot(&self) -> bool {
        let mut n = self
            .0
            .dynamic_clients
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if *n >= MAX_DYNAMIC_CLIENTS {
            return false;
        }
        *n += 1;
        true
    }
}
