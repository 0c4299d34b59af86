//! Discovery documents built from configuration (smart.md §7): the
//! `.well-known/smart-configuration` JSON (SMART App Launch 2.2, "Conformance") and the
//! CapabilityStatement `rest.security` block for SMART v1 clients.
//!
//! The builder refuses what the specification forbids: relative or non-HTTP(S) endpoint URLs,
//! capabilities outside the published set that are not full URIs, scopes the crate would not
//! grant, a missing `authorization_endpoint` for launch capabilities, a missing `issuer`/`jwks_uri`
//! with `sso-openid-connect` (and an `issuer` without it), a client-assertion signing algorithm
//! that is `none`, an HMAC or unknown (and, with `client-confidential-asymmetric`, a list without
//! RS384 or ES384), the `password` or `implicit` grant, and launch capabilities without
//! `authorization_code`. PKCE is always `S256` only.
//!
//! ```
//! use smart_auth::discovery::SmartConfiguration;
//!
//! let conf = SmartConfiguration::builder("https://auth.example/token")
//!     .authorization_endpoint("https://auth.example/authorize")
//!     .capabilities(["launch-standalone", "client-public", "permission-v2", "context-standalone-patient"])
//!     .scopes_supported(["openid", "fhirUser", "launch/patient", "patient/*.rs"])
//!     .build()
//!     .unwrap();
//! let json = conf.to_json();
//! assert_eq!(json["code_challenge_methods_supported"], serde_json::json!(["S256"]));
//! assert_eq!(json["grant_types_supported"], serde_json::json!(["authorization_code"]));
//! ```

use serde_json::{json, Map, Value};

use crate::jose::Algorithm;
use crate::scope::Scope;

/// The capability strings SMART App Launch 2.2 defines.
pub const KNOWN_CAPABILITIES: [&str; 20] = [
    "launch-ehr",
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-banner",
    "context-style",
    "context-ehr-patient",
    "context-ehr-encounter",
    "context-standalone-patient",
    "context-standalone-encounter",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
    "smart-app-state",
];

/// Why a discovery document cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// An endpoint is not an absolute `https` (or `http`) URL without credentials or a
    /// fragment (for `issuer`, also without a query: RFC 8414 §2).
    #[error("endpoint {0} is not an absolute http(s) URL")]
    NotAbsolute(&'static str),
    /// A capability that is neither published by HL7 nor a full URI.
    #[error("unknown capability {0:?}")]
    UnknownCapability(String),
    /// A listed scope that the crate would not grant (every listed scope SHALL be supported).
    #[error("unsupported scope {0:?}")]
    UnsupportedScope(String),
    /// A field required by the listed capabilities is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A client-assertion signing algorithm that is not an asymmetric JWS algorithm (`none`, an
    /// HMAC, an unknown name): a client signs `private_key_jwt` with its private key.
    #[error("unsupported signing algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A field the listed capabilities rule out: `issuer` without `sso-openid-connect`
    /// (SMART App Launch 2.2, Conformance: "otherwise, omitted").
    #[error("{0} without the capability that calls for it")]
    Unexpected(&'static str),
    /// A grant type no SMART server should offer (`password`, RFC 9700 §2.4; `implicit`,
    /// §2.1.2).
    #[error("unsupported grant type {0:?}")]
    UnsupportedGrantType(String),
}

/// The `.well-known/smart-configuration` document.
#[derive(Debug, Clone, PartialEq)]
pub struct SmartConfiguration {
    json: Map<String, Value>,
    security: Value,
}

/// Builds a [`SmartConfiguration`]; see [`SmartConfiguration::builder`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct SmartConfigurationBuilder {
    token_endpoint: String,
    urls: Vec<(&'static str, String)>,
    capabilities: Vec<String>,
    scopes: Vec<String>,
    grant_types: Vec<String>,
    auth_methods: Vec<String>,
    signing_algs: Vec<String>,
}

fn absolute(name: &'static str, url: &str) -> Result<(), DiscoveryError> {
    let parsed = url::Url::parse(url).map_err(|_| DiscoveryError::NotAbsolute(name))?;
    let ok = matches!(parsed.scheme(), "https" | "http")
        && parsed.host().is_some()
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.fragment().is_none()
        && (name != "issuer" || parsed.query().is_none());
    ok.then_some(()).ok_or(DiscoveryError::NotAbsolute(name))
}

impl SmartConfiguration {
    /// Starts a document for an authorization server with this token endpoint.
    pub fn builder(token_endpoint: impl Into<String>) -> SmartConfigurationBuilder {
        SmartConfigurationBuilder {
            token_endpoint: token_endpoint.into(),
            ..Default::default()
        }
    }

    /// The JSON document to serve (as `application/json`, publicly, with open CORS).
    pub fn to_json(&self) -> Value {
        Value::Object(self.json.clone())
    }

    /// The serialised document.
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(&self.json).unwrap_or_default()
    }

    /// The CapabilityStatement `rest.security` element (SMART v1 discovery) agreeing with this
    /// document: service `SMART-on-FHIR` and the `oauth-uris` extension.
    pub fn capability_security(&self) -> Value {
        self.security.clone()
    }
}

impl SmartConfigurationBuilder {
    fn url(mut self, name: &'static str, url: impl Into<String>) -> Self {
        self.urls.retain(|(n, _)| *n != name);
        self.urls.push((name, url.into()));
        self
    }

    /// `authorization_endpoint` (required with `launch-ehr` or `launch-standalone`).
    pub fn authorization_endpoint(self, url: impl Into<String>) -> Self {
        self.url("authorization_endpoint", url)
    }

    /// `issuer` (required with `sso-openid-connect`, refused without it).
    pub fn issuer(self, url: impl Into<String>) -> Self {
        self.url("issuer", url)
    }

    /// `jwks_uri` (required with `sso-openid-connect`).
    pub fn jwks_uri(self, url: impl Into<String>) -> Self {
        self.url("jwks_uri", url)
    }

    /// `introspection_endpoint`.
    pub fn introspection_endpoint(self, url: impl Into<String>) -> Self {
        self.url("introspection_endpoint", url)
    }

    /// `revocation_endpoint`.
    pub fn revocation_endpoint(self, url: impl Into<String>) -> Self {
        self.url("revocation_endpoint", url)
    }

    /// `registration_endpoint`.
    pub fn registration_endpoint(self, url: impl Into<String>) -> Self {
        self.url("registration_endpoint", url)
    }

    /// `management_endpoint`.
    pub fn management_endpoint(self, url: impl Into<String>) -> Self {
        self.url("management_endpoint", url)
    }

    /// `capabilities`.
    pub fn capabilities<I: IntoIterator<Item = S>, S: Into<String>>(mut self, caps: I) -> Self {
        self.capabilities = caps.into_iter().map(Into::into).collect();
        self
    }

    /// `scopes_supported`: each must be a scope this crate grants or understands.
    pub fn scopes_supported<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        scopes: I,
    ) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// `grant_types_supported` (default: `authorization_code` when a launch capability is
    /// listed, `client_credentials` when `client-confidential-asymmetric` is). A list given
    /// here must include `authorization_code` with a launch capability, and may not offer
    /// `password` or `implicit`.
    pub fn grant_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, grants: I) -> Self {
        self.grant_types = grants.into_iter().map(Into::into).collect();
        self
    }

    /// `token_endpoint_auth_methods_supported`.
    pub fn token_endpoint_auth_methods<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        methods: I,
    ) -> Self {
        self.auth_methods = methods.into_iter().map(Into::into).collect();
        self
    }

    /// `token_endpoint_auth_signing_alg_values_supported` (default `RS384`, `ES384` with
    /// `client-confidential-asymmetric`): asymmetric JWS algorithms only, including RS384 or
    /// ES384 with that capability (SMART `client-confidential-asymmetric`).
    pub fn signing_algs<I: IntoIterator<Item = S>, S: Into<String>>(mut self, algs: I) -> Self {
        self.signing_algs = algs.into_iter().map(Into::into).collect();
        self
    }

    /// Checks and builds the document.
    pub fn build(self) -> Result<SmartConfiguration, DiscoveryError> {
        absolute("token_endpoint", &self.token_endpoint)?;
        for (name, url) in &self.urls {
            absolute(name, url)?;
        }
        for cap in &self.capabilities {
            let uri = url::Url::parse(cap).is_ok_and(|u| u.has_host());
            if !KNOWN_CAPABILITIES.contains(&cap.as_str()) && !uri {
                return Err(DiscoveryError::UnknownCapability(cap.clone()));
            }
        }
        // Exactly one valid token each (a string of several, or with spaces, is no scope).
        for scope in &self.scopes {
            if scope.parse::<Scope>().is_err() {
                return Err(DiscoveryError::UnsupportedScope(scope.clone()));
            }
        }
        let has = |c: &str| self.capabilities.iter().any(|x| x == c);
        let url = |n: &str| {
            self.urls
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
        };
        let launches = has("launch-ehr") || has("launch-standalone");
        if launches && url("authorization_endpoint").is_none() {
            return Err(DiscoveryError::Missing("authorization_endpoint"));
        }
        if has("sso-openid-connect") && (url("issuer").is_none() || url("jwks_uri").is_none()) {
            return Err(DiscoveryError::Missing("issuer and jwks_uri"));
        }
        if !has("sso-openid-connect") && url("issuer").is_some() {
            return Err(DiscoveryError::Unexpected("issuer"));
        }
        for alg in &self.signing_algs {
            if Algorithm::from_name(alg).map_or(true, Algorithm::is_symmetric) {
                return Err(DiscoveryError::UnsupportedAlgorithm(alg.clone()));
            }
        }
        let smart_alg = |a: &String| a == "RS384" || a == "ES384";
        if has("client-confidential-asymmetric")
            && !self.signing_algs.is_empty()
            && !self.signing_algs.iter().any(smart_alg)
        {
            return Err(DiscoveryError::Missing("RS384 or ES384 signing"));
        }
        if let Some(g) = self
            .grant_types
            .iter()
            .find(|g| *g == "password" || *g == "implicit")
        {
            return Err(DiscoveryError::UnsupportedGrantType(g.clone()));
        }
        if launches
            && !self.grant_types.is_empty()
            && !self.grant_types.iter().any(|g| g == "authorization_code")
        {
            return Err(DiscoveryError::Missing("authorization_code grant"));
        }
        let mut grants = self.grant_types.clone();
        if grants.is_empty() {
            if launches {
                grants.push("authorization_code".into());
            }
            if has("client-confidential-asymmetric") {
                grants.push("client_credentials".into());
            }
        }
        if grants.is_empty() {
            return Err(DiscoveryError::Missing("grant_types_supported"));
        }
        let mut json = Map::new();
        if let Some(issuer) = url("issuer") {
            json.insert("issuer".into(), json!(issuer));
        }
        for (name, value) in &self.urls {
            if *name != "issuer" {
                json.insert((*name).into(), json!(value));
            }
        }
        json.insert("token_endpoint".into(), json!(self.token_endpoint));
        json.insert("grant_types_supported".into(), json!(grants));
        json.insert("code_challenge_methods_supported".into(), json!(["S256"]));
        json.insert("capabilities".into(), json!(self.capabilities));
        if url("authorization_endpoint").is_some() {
            json.insert("response_types_supported".into(), json!(["code"]));
        }
        if !self.scopes.is_empty() {
            json.insert("scopes_supported".into(), json!(self.scopes));
        }
        if !self.auth_methods.is_empty() {
            json.insert(
                "token_endpoint_auth_methods_supported".into(),
                json!(self.auth_methods),
            );
        }
        let algs = if self.signing_algs.is_empty() && has("client-confidential-asymmetric") {
            vec!["RS384".to_owned(), "ES384".to_owned()]
        } else {
            self.signing_algs.clone()
        };
        if !algs.is_empty() {
            json.insert(
                "token_endpoint_auth_signing_alg_values_supported".into(),
                json!(algs),
            );
        }
        let security = capability_security(&self.token_endpoint, &url);
        Ok(SmartConfiguration { json, security })
    }
}

fn capability_security(token: &str, url: &dyn Fn(&str) -> Option<String>) -> Value {
    let mut ext = Vec::new();
    let mut add = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            ext.push(json!({"url": name, "valueUri": v}));
        }
    };
    add("authorize", url("authorization_endpoint"));
    add("token", Some(token.to_owned()));
    add("register", url("registration_endpoint"));
    add("manage", url("management_endpoint"));
    add("introspect", url("introspection_endpoint"));
    add("revoke", url("revocation_endpoint"));
    json!({
        "extension": [{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": ext,
        }],
        "service": [{
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                "code": "SMART-on-FHIR",
            }],
            "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> SmartConfigurationBuilder {
        SmartConfiguration::builder("https://auth.example/token")
            .authorization_endpoint("https://auth.example/authorize")
            .capabilities(["launch-ehr", "client-public"])
    }

    #[test]
    fn refuses_what_the_spec_forbids() {
        let rel = SmartConfiguration::builder("/token").build();
        assert_eq!(
            rel.unwrap_err(),
            DiscoveryError::NotAbsolute("token_endpoint")
        );
        let frag = base()
            .introspection_endpoint("https://auth.example/i#x")
            .build();
        assert_eq!(
            frag.unwrap_err(),
            DiscoveryError::NotAbsolute("introspection_endpoint")
        );
        // A public document carries no credentials; an issuer has no query (RFC 8414 §2).
        let creds = base()
            .authorization_endpoint("https://admin:secret@auth.example/authorize")
            .build();
        assert_eq!(
            creds.unwrap_err(),
            DiscoveryError::NotAbsolute("authorization_endpoint")
        );
        let query = base()
            .capabilities(["launch-ehr", "sso-openid-connect"])
            .issuer("https://auth.example/?tenant=1")
            .jwks_uri("https://auth.example/jwks")
            .build();
        assert_eq!(query.unwrap_err(), DiscoveryError::NotAbsolute("issuer"));
        let js = base().revocation_endpoint("javascript:alert(1)").build();
        assert_eq!(
            js.unwrap_err(),
            DiscoveryError::NotAbsolute("revocation_endpoint")
        );
        let cap = base().capabilities(["launch-ehr", "made-up"]).build();
        assert_eq!(
            cap.unwrap_err(),
            DiscoveryError::UnknownCapability("made-up".into())
        );
        let no_auth = SmartConfiguration::builder("https://auth.example/token")
            .capabilities(["launch-standalone"])
            .build();
        assert_eq!(
            no_auth.unwrap_err(),
            DiscoveryError::Missing("authorization_endpoint")
        );
        // SMART 2.2: `issuer` is required with sso-openid-connect, "otherwise, omitted".
        let stray = base().issuer("https://auth.example").build();
        assert_eq!(stray.unwrap_err(), DiscoveryError::Unexpected("issuer"));
        let sso = base()
            .capabilities(["launch-ehr", "sso-openid-connect"])
            .build();
        assert_eq!(
            sso.unwrap_err(),
            DiscoveryError::Missing("issuer and jwks_uri")
        );
        // Each entry is one scope token: never a string of several, nor one padded with spaces.
        for bad in [
            "patient/Observation.dus",
            "patient/Observation.rs patient/Observation.rs",
            " openid",
            "launch ",
        ] {
            let scope = base().scopes_supported([bad]).build();
            assert_eq!(
                scope.unwrap_err(),
                DiscoveryError::UnsupportedScope(bad.into())
            );
        }
        // private_key_jwt is signed with the client's private key: never `none`, never HMAC
        for alg in ["none", "HS256", "RS1", ""] {
            let bad = base().signing_algs(["ES384", alg]).build();
            assert_eq!(
                bad.unwrap_err(),
                DiscoveryError::UnsupportedAlgorithm(alg.into())
            );
        }
        let asym = base()
            .capabilities(["launch-ehr", "client-confidential-asymmetric"])
            .signing_algs(["RS256"])
            .build();
        assert_eq!(
            asym.unwrap_err(),
            DiscoveryError::Missing("RS384 or ES384 signing")
        );
        // a launch needs the code grant; the password grant is never offered (RFC 9700 §2.4)
        let grants = base().grant_types(["client_credentials"]).build();
        assert_eq!(
            grants.unwrap_err(),
            DiscoveryError::Missing("authorization_code grant")
        );
        for grant in ["password", "implicit"] {
            let bad = base().grant_types(["authorization_code", grant]).build();
            assert_eq!(
                bad.unwrap_err(),
                DiscoveryError::UnsupportedGrantType(grant.into())
            );
        }
        let none = SmartConfiguration::builder("https://auth.example/token").build();
        assert_eq!(
            none.unwrap_err(),
            DiscoveryError::Missing("grant_types_supported")
        );
    }

    #[test]
    fn document_shape() {
        let conf = base()
            .capabilities([
                "launch-ehr",
                "client-confidential-asymmetric",
                "sso-openid-connect",
                "https://example.org/cap",
            ])
            .issuer("https://auth.example")
            .jwks_uri("https://auth.example/jwks")
            .introspection_endpoint("https://auth.example/introspect")
            .build()
            .unwrap();
        let j = conf.to_json();
        assert_eq!(j["issuer"], "https://auth.example");
        assert_eq!(
            j["grant_types_supported"],
            json!(["authorization_code", "client_credentials"])
        );
        assert_eq!(j["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            j["token_endpoint_auth_signing_alg_values_supported"],
            json!(["RS384", "ES384"])
        );
        let sec = conf.capability_security();
        assert_eq!(sec["service"][0]["coding"][0]["code"], "SMART-on-FHIR");
        let ext = &sec["extension"][0]["extension"];
        let names: Vec<&str> = ext
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["url"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["authorize", "token", "introspect"]);
        let parsed: Value = serde_json::from_slice(&conf.to_vec()).unwrap();
        assert_eq!(parsed, j);
    }
}
