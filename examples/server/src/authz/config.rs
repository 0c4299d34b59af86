//! Configuration: issuer, audience, registered clients, demo users, the patient picker and lifetimes.

use std::path::{Path, PathBuf};

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use serde::Deserialize;

use super::clients::{ClientConfig, ClientError};

/// Everything the development authorization server needs to run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthzConfig {
    /// The issuer URL, e.g. `http://127.0.0.1:8080/auth`. Every endpoint lives under its path.
    pub issuer: String,
    /// The FHIR base URL, e.g. `http://127.0.0.1:8080/fhir`: the only accepted `aud` at the
    /// authorize endpoint and the `aud` of every access token.
    pub fhir_base: String,
    /// The registered clients.
    pub clients: Vec<ClientConfig>,
    /// The users who can sign in.
    pub users: Vec<DemoUser>,
    /// The patients offered by the patient picker.
    pub patients: Vec<PickerPatient>,
    /// Token, code and session lifetimes.
    pub lifetimes: Lifetimes,
    /// Where the signing keys are kept; `None` generates fresh keys at every start.
    pub key_file: Option<PathBuf>,
    /// Rotate the signing key when the active key is older than this many seconds
    /// (`None`: only on [`AuthzState::rotate_keys`](super::AuthzState::rotate_keys)).
    pub key_rotation_secs: Option<i64>,
    /// Accept RFC 7591 dynamic client registration at `<issuer>/register`.
    pub dynamic_registration: bool,
    /// Token-endpoint rate limit.
    pub rate_limit: RateLimit,
}

impl AuthzConfig {
    /// An empty configuration: no clients, no users, safe default lifetimes, fresh keys.
    pub fn new(issuer: impl Into<String>, fhir_base: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            fhir_base: fhir_base.into(),
            clients: Vec::new(),
            users: Vec::new(),
            patients: Vec::new(),
            lifetimes: Lifetimes::default(),
            key_file: None,
            key_rotation_secs: None,
            dynamic_registration: true,
            rate_limit: RateLimit::default(),
        }
    }

    /// The demo configuration the example server starts with: the demo users and clients of
    /// [`demo_users`](Self::demo_users) and [`demo_clients`](Self::demo_clients), and the two
    /// demo patients `example` and `pat-2`.
    pub fn demo(issuer: impl Into<String>, fhir_base: impl Into<String>) -> Self {
        let mut config = Self::new(issuer, fhir_base);
        config.users = Self::demo_users();
        config.clients = Self::demo_clients();
        config.patients = vec![
            PickerPatient::new("example", "Peter James Chalmers"),
            PickerPatient::new("pat-2", "Amy Shaw"),
        ];
        config
    }

    /// The demo users. Their passwords are printed by the example server and documented in
    /// `docs/authz-dev-server.md`; they are hashed with Argon2id here and never kept in clear.
    ///
    /// | user | password | `fhirUser` |
    /// |---|---|---|
    /// | `patient` | `patient-demo-password` | `Patient/example` |
    /// | `clinician` | `clinician-demo-password` | `Practitioner/example` |
    pub fn demo_users() -> Vec<DemoUser> {
        vec![
            DemoUser::with_password(
                "patient",
                "patient-demo-password",
                "Patient/example",
                "Peter Chalmers",
            ),
            DemoUser::with_password(
                "clinician",
                "clinician-demo-password",
                "Practitioner/example",
                "Dr Adam Careful",
            ),
        ]
    }

    /// The demo clients: `demo-public-app` (public, PKCE, redirect to
    /// `http://127.0.0.1:9000/callback`) and `demo-confidential-app` (secret
    /// `demo-confidential-secret`). Backend clients register with their own public keys.
    pub fn demo_clients() -> Vec<ClientConfig> {
        let patient_scopes = "openid fhirUser launch launch/patient offline_access online_access \
                              patient/*.rs patient/*.read user/*.rs user/*.read";
        let mut public = ClientConfig::public(
            "demo-public-app",
            "Demo public app",
            vec!["http://127.0.0.1:9000/callback".into()],
            patient_scopes,
        );
        public.allowed_origins = vec!["http://127.0.0.1:9000".into()];
        let confidential = ClientConfig::confidential_secret(
            "demo-confidential-app",
            "Demo confidential app",
            "demo-confidential-secret",
            vec!["http://127.0.0.1:9001/callback".into()],
            patient_scopes,
        );
        vec![public, confidential]
    }

    /// Adds the clients listed in a JSON file: `{"clients": [ <RFC 7591 client metadata> ]}`,
    /// each with `client_id`, `redirect_uris`, `scope`, `token_endpoint_auth_method` (`none`,
    /// `client_secret_basic`, `client_secret_post` or `private_key_jwt`), `client_secret` or
    /// `jwks` as the method needs, and optional `allowed_origins` and `launch_uri`.
    pub fn load_clients_file(&mut self, path: &Path) -> Result<(), ClientError> {
        #[derive(Deserialize)]
        struct File {
            clients: Vec<serde_json::Value>,
        }
        let text = std::fs::read_to_string(path).map_err(|_| ClientError::Unreadable)?;
        let file: File = serde_json::from_str(&text).map_err(|_| ClientError::Malformed)?;
        for value in file.clients {
            self.clients.push(ClientConfig::from_metadata(&value)?);
        }
        Ok(())
    }
}

/// A user who can sign in on the login page.
#[derive(Clone)]
#[non_exhaustive]
pub struct DemoUser {
    /// The login name.
    pub username: String,
    /// The password as an Argon2 PHC string (`$argon2id$...`).
    pub password_hash: String,
    /// The user's FHIR resource, relative to the FHIR base (e.g. `Patient/example`).
    pub fhir_user: String,
    /// The name shown on the consent page and in the ID token.
    pub display_name: String,
}

impl std::fmt::Debug for DemoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoUser")
            .field("username", &self.username)
            .field("fhir_user", &self.fhir_user)
            .finish_non_exhaustive()
    }
}

impl DemoUser {
    /// A user whose password is hashed now with Argon2id (random salt).
    pub fn with_password(
        username: &str,
        password: &str,
        fhir_user: &str,
        display_name: &str,
    ) -> Self {
        let salt = SaltString::generate(&mut OsRng);
        let password_hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        Self {
            username: username.to_owned(),
            password_hash,
            fhir_user: fhir_user.to_owned(),
            display_name: display_name.to_owned(),
        }
    }

    /// The patient id when the user is a patient (`fhirUser` = `Patient/<id>`).
    pub fn patient_id(&self) -> Option<&str> {
        self.fhir_user.strip_prefix("Patient/")
    }
}

/// A patient offered by the patient picker.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PickerPatient {
    /// The Patient's logical id.
    pub id: String,
    /// The name shown in the picker.
    pub display: String,
}

impl PickerPatient {
    /// A picker entry.
    pub fn new(id: &str, display: &str) -> Self {
        Self {
            id: id.to_owned(),
            display: display.to_owned(),
        }
    }
}

/// Lifetimes in seconds. The defaults are safe; the setters clamp to the ceilings below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lifetimes {
    /// Access tokens from the authorization-code and refresh grants (default 3600, at most 3600).
    pub access_token: i64,
    /// Backend Services access tokens (default 300, at most 300).
    pub backend_access_token: i64,
    /// Authorization codes (default 60, at most 600).
    pub authorization_code: i64,
    /// Refresh tokens for `offline_access` (default 90 days).
    pub refresh_token: i64,
    /// The sign-in session, which also bounds `online_access` refresh tokens (default 8 hours).
    pub session: i64,
    /// An authorization request waiting for login and consent (default 600).
    pub pending_request: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access_token: 3600,
            backend_access_token: 300,
            authorization_code: 60,
            refresh_token: 90 * 24 * 3600,
            session: 8 * 3600,
            pending_request: 600,
        }
    }
}

impl Lifetimes {
    /// The same lifetimes with every value clamped to at least one second and at most its ceiling.
    pub fn clamped(self) -> Self {
        Self {
            access_token: self.access_token.clamp(1, 3600),
            backend_access_token: self.backend_access_token.clamp(1, 300),
            authorization_code: self.authorization_code.clamp(1, 600),
            refresh_token: self.refresh_token.clamp(1, 366 * 24 * 3600),
            session: self.session.clamp(1, 7 * 24 * 3600),
            pending_request: self.pending_request.clamp(1, 3600),
        }
    }
}

/// Rate limit of the authorization server's endpoints: a token bucket per peer address (per
/// registered client at the token endpoint when the host gives no peer address).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests allowed in a burst.
    pub burst: u32,
    /// Requests per second refilled.
    pub per_second: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            burst: 30,
            per_second: 5.0,
        }
    }
}

impl RateLimit {
    /// A limit of `burst` requests refilled at `per_second`.
    pub fn new(burst: u32, per_second: f64) -> Self {
        Self { burst, per_second }
    }
}
