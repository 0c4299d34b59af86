//! Registered clients: how each authenticates, where it may redirect, what it may ask for.

use ring::digest::{digest, SHA256};
use serde_json::Value;

use super::scopes;

/// How a client authenticates at the token endpoint.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client (`token_endpoint_auth_method` `none`): PKCE only.
    Public,
    /// A confidential client with a shared secret (`client_secret_basic` or `client_secret_post`);
    /// only the SHA-256 of the secret is kept.
    Secret {
        /// SHA-256 of the secret.
        sha256: [u8; 32],
        /// Where the client sends it: the only way it may authenticate.
        method: SecretMethod,
    },
    /// A confidential client that signs `private_key_jwt` assertions with the keys of this JWK Set
    /// (SMART Backend Services and asymmetric confidential apps).
    PrivateKeyJwt {
        /// The client's public JWK Set (`{"keys": [...]}`).
        jwks: Value,
    },
}

/// Where a confidential client sends its shared secret: its registered
/// `token_endpoint_auth_method` (RFC 7591 §2), enforced at every endpoint that authenticates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretMethod {
    /// `client_secret_basic`: HTTP Basic (RFC 6749 §2.3.1; the RFC 7591 default).
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
}

impl ClientAuth {
    /// The RFC 7591 `token_endpoint_auth_method` of this client.
    pub fn token_endpoint_auth_method(&self) -> &'static str {
        match self {
            Self::Public => "none",
            Self::Secret {
                method: SecretMethod::Basic,
                ..
            } => "client_secret_basic",
            Self::Secret {
                method: SecretMethod::Post,
                ..
            } => "client_secret_post",
            Self::PrivateKeyJwt { .. } => "private_key_jwt",
        }
    }
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Public => f.write_str("Public"),
            Self::Secret { method, .. } => write!(f, "Secret({method:?}, ..)"),
            Self::PrivateKeyJwt { .. } => f.write_str("PrivateKeyJwt(..)"),
        }
    }
}

/// One registered client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The `client_id`.
    pub client_id: String,
    /// A human-readable name shown on the consent page.
    pub name: String,
    /// How it authenticates.
    pub auth: ClientAuth,
    /// Redirect URIs, compared exactly (no prefix, case or trailing-slash tolerance).
    pub redirect_uris: Vec<String>,
    /// The app's launch URL for EHR launch, when it supports it.
    pub launch_uri: Option<String>,
    /// The scopes the client may be granted at most (space-separated). `patient/*.rs` here
    /// covers `patient/Observation.rs` in a request.
    pub scope: String,
    /// Browser origins allowed to call the token endpoint (CORS), e.g. `http://127.0.0.1:9000`.
    pub allowed_origins: Vec<String>,
    /// Registered through open dynamic registration: its redirect URIs are whatever anyone
    /// asked for, so the authorization endpoint does not redirect errors to them unseen.
    pub(crate) registered_dynamically: bool,
}

/// Why a client registration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The clients file could not be read.
    Unreadable,
    /// The metadata is not a JSON object of the expected shape.
    Malformed,
    /// A redirect URI is not an absolute `https` URL, or `http` on a loopback host, without fragment.
    InvalidRedirectUri,
    /// An unsupported or inconsistent `token_endpoint_auth_method`.
    InvalidAuthMethod,
    /// A `private_key_jwt` client without a usable inline `jwks` (public signing keys only; a
    /// `jwks_uri` is never fetched here).
    MissingJwks,
    /// The `client_id` is already registered.
    Duplicate,
    /// Too many dynamically registered clients.
    TooMany,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unreadable => "clients file unreadable",
            Self::Malformed => "malformed client metadata",
            Self::InvalidRedirectUri => "invalid redirect_uri",
            Self::InvalidAuthMethod => "invalid token_endpoint_auth_method",
            Self::MissingJwks => "private_key_jwt needs an inline jwks",
            Self::Duplicate => "client_id already registered",
            Self::TooMany => "too many registered clients",
        })
    }
}

impl std::error::Error for ClientError {}

impl ClientConfig {
    /// A public client.
    pub fn public(client_id: &str, name: &str, redirect_uris: Vec<String>, scope: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            name: name.to_owned(),
            auth: ClientAuth::Public,
            redirect_uris,
            launch_uri: None,
            scope: scope.to_owned(),
            allowed_origins: Vec::new(),
            registered_dynamically: false,
        }
    }

    /// A confidential client with a shared secret (kept only as its SHA-256), sent with HTTP
    /// Basic (`client_secret_basic`).
    pub fn confidential_secret(
        client_id: &str,
        name: &str,
        secret: &str,
        redirect_uris: Vec<String>,
        scope: &str,
    ) -> Self {
        let mut client = Self::public(client_id, name, redirect_uris, scope);
        client.auth = ClientAuth::Secret {
            sha256: sha256(secret.as_bytes()),
            method: SecretMethod::Basic,
        };
        client
    }

    /// A Backend Services client that authenticates with `private_key_jwt` using these public keys.
    pub fn backend(client_id: &str, name: &str, jwks: Value, scope: &str) -> Self {
        let mut client = Self::public(client_id, name, Vec::new(), scope);
        client.auth = ClientAuth::PrivateKeyJwt { jwks };
        client
    }

    /// A client from RFC 7591 metadata (the clients file and dynamic registration share it).
    pub fn from_metadata(meta: &Value) -> Result<Self, ClientError> {
        let obj = meta.as_object().ok_or(ClientError::Malformed)?;
        let str_field = |name: &str| -> Result<Option<String>, ClientError> {
            match obj.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ClientError::Malformed),
            }
        };
        let list_field = |name: &str| -> Result<Vec<String>, ClientError> {
            match obj.get(name) {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned).ok_or(ClientError::Malformed))
                    .collect(),
                Some(_) => Err(ClientError::Malformed),
            }
        };
        let client_id = str_field("client_id")?
            .filter(|id| valid_client_id(id))
            .ok_or(ClientError::Malformed)?;
        let name = str_field("client_name")?.unwrap_or_else(|| client_id.clone());
        let redirect_uris = list_field("redirect_uris")?;
        if !redirect_uris.iter().all(|u| valid_redirect_uri(u)) {
            return Err(ClientError::InvalidRedirectUri);
        }
        let launch_uri = str_field("launch_uri")?;
        if launch_uri
            .as_deref()
            .is_some_and(|u| !valid_redirect_uri(u))
        {
            return Err(ClientError::InvalidRedirectUri);
        }
        let allowed_origins = list_field("allowed_origins")?;
        let method = str_field("token_endpoint_auth_method")?.unwrap_or_else(|| "none".into());
        let auth = match method.as_str() {
            "none" => ClientAuth::Public,
            "client_secret_basic" | "client_secret_post" => {
                let secret = str_field("client_secret")?.ok_or(ClientError::InvalidAuthMethod)?;
                if secret.len() < 16 {
                    return Err(ClientError::InvalidAuthMethod);
                }
                ClientAuth::Secret {
                    sha256: sha256(secret.as_bytes()),
                    method: if method == "client_secret_post" {
                        SecretMethod::Post
                    } else {
                        SecretMethod::Basic
                    },
                }
            }
            "private_key_jwt" => {
                let jwks = obj.get("jwks").cloned().ok_or(ClientError::MissingJwks)?;
                // smart-auth's import filter: public signing keys only, none rejected
                let usable = serde_json::to_vec(&jwks)
                    .ok()
                    .and_then(|b| smart_auth::jwks::JwkSet::parse(&b).ok())
                    .is_some_and(|set| !set.is_empty() && set.rejected().is_empty());
                if !usable {
                    return Err(ClientError::MissingJwks);
                }
                ClientAuth::PrivateKeyJwt { jwks }
            }
            _ => return Err(ClientError::InvalidAuthMethod),
        };
        if redirect_uris.is_empty() && !matches!(auth, ClientAuth::PrivateKeyJwt { .. }) {
            return Err(ClientError::InvalidRedirectUri);
        }
        Ok(Self {
            client_id,
            name,
            auth,
            redirect_uris,
            launch_uri,
            scope: str_field("scope")?.unwrap_or_default(),
            allowed_origins,
            registered_dynamically: false,
        })
    }

    /// Whether `uri` is one of the registered redirect URIs, compared byte for byte.
    pub fn redirect_uri_registered(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    /// The requested scopes this client may be granted, in request order, without duplicates.
    pub fn permitted_scopes(&self, requested: &str) -> Vec<String> {
        let allowed: Vec<&str> = self.scope.split(' ').filter(|s| !s.is_empty()).collect();
        let mut out: Vec<String> = Vec::new();
        for scope in requested.split(' ').filter(|s| !s.is_empty()) {
            if allowed.iter().any(|a| scopes::covers(a, scope)) && !out.iter().any(|s| s == scope) {
                out.push(scope.to_owned());
            }
        }
        out
    }

    /// Whether this client is confidential (can keep a secret or a private key).
    pub fn is_confidential(&self) -> bool {
        !matches!(self.auth, ClientAuth::Public)
    }
}

/// SHA-256 of some bytes.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Compares two digests without an early exit.
pub(crate) fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn valid_client_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// An absolute `https` URL, or `http` on a loopback host, with no fragment (RFC 6749 §3.1.2).
pub(crate) fn valid_redirect_uri(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    if url.fragment().is_some() || uri.len() > 2048 || url.cannot_be_a_base() {
        return false;
    }
    match url.scheme() {
        "https" => true,
        "http" => {
            matches!(
                url.host(),
                Some(url::Host::Ipv4(ip)) if ip.is_loopback()
            ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
                || url.host_str() == Some("localhost")
        }
        _ => false,
    }
}
