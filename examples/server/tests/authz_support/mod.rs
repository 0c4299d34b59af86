//! Shared helpers for the authorization-server tests: an in-process router driven with
//! `tower::ServiceExt::oneshot`, a cookie-keeping "browser", PKCE and signed client assertions.
#![allow(dead_code)]

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use http_body_util::BodyExt;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_FIXED_SIGNING};
use secure_fhir_server::authz::{
    self, AuthzConfig, AuthzState, ClientConfig, MemoryAudit, OffsetClock,
};
use serde_json::{json, Value};
use tower::ServiceExt;

pub const ORIGIN: &str = "http://127.0.0.1:8080";
pub const ISSUER: &str = "http://127.0.0.1:8080/auth";
pub const FHIR: &str = "http://127.0.0.1:8080/fhir";
pub const PUBLIC_APP: &str = "demo-public-app";
pub const PUBLIC_REDIRECT: &str = "http://127.0.0.1:9000/callback";
pub const CONF_APP: &str = "demo-confidential-app";
pub const CONF_SECRET: &str = "demo-confidential-secret";
pub const CONF_REDIRECT: &str = "http://127.0.0.1:9001/callback";
pub const BACKEND: &str = "backend-app";

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// A backend client's ES384 key pair and its public JWKS.
pub struct BackendKey {
    pub pair: EcdsaKeyPair,
    pub kid: String,
}

impl BackendKey {
    pub fn generate(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self {
            pair,
            kid: kid.to_owned(),
        }
    }

    pub fn jwks(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"keys": [{
            "kty": "EC", "crv": "P-384", "kid": self.kid, "alg": "ES384",
            "x": B64.encode(&point[1..49]), "y": B64.encode(&point[49..97]),
        }]})
    }

    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let mut input = B64.encode(header.to_string());
        input.push('.');
        input.push_str(&B64.encode(claims.to_string()));
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", B64.encode(sig.as_ref()))
    }

    /// A valid assertion for `client_id` at the test token endpoint.
    pub fn assertion(&self, client_id: &str, now: i64, jti: &str) -> String {
        self.sign(
            &json!({"alg": "ES384", "typ": "JWT", "kid": self.kid}),
            &json!({
                "iss": client_id, "sub": client_id, "aud": format!("{ISSUER}/token"),
                "exp": now + 240, "iat": now, "jti": jti,
            }),
        )
    }
}

pub struct TestServer {
    pub state: AuthzState,
    pub router: axum::Router,
    pub audit: Arc<MemoryAudit>,
    pub clock: Arc<OffsetClock>,
    pub backend_key: BackendKey,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl TestServer {
    pub fn new() -> Self {
        Self::with_config(|_| {})
    }

    pub fn with_config(edit: impl FnOnce(&mut AuthzConfig)) -> Self {
        let backend_key = BackendKey::generate("backend-key-1");
        let mut config = AuthzConfig::demo(ISSUER, FHIR);
        config.clients.push(ClientConfig::backend(
            BACKEND,
            "Backend test client",
            backend_key.jwks(),
            "system/*.rs",
        ));
        let mut launchable = ClientConfig::public(
            "ehr-app",
            "EHR launched app",
            vec!["http://127.0.0.1:9002/callback".into()],
            "launch openid fhirUser patient/*.rs user/*.rs",
        );
        launchable.launch_uri = Some("http://127.0.0.1:9002/launch".into());
        config.clients.push(launchable);
        edit(&mut config);
        let audit = Arc::new(MemoryAudit::new());
        let clock = Arc::new(OffsetClock::new());
        let state = AuthzState::with_clock(config, audit.clone(), clock.clone()).unwrap();
        Self {
            router: authz::router(state.clone()),
            state,
            audit,
            clock,
            backend_key,
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Response {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Response {
            status,
            headers,
            body,
        }
    }

    /// GET a path or an absolute URL on this origin.
    pub async fn get(&self, url: &str, cookie: Option<&str>) -> Response {
        let mut request = Request::get(url.strip_prefix(ORIGIN).unwrap_or(url));
        if let Some(c) = cookie {
            request = request.header(header::COOKIE, c);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    pub async fn post_form(
        &self,
        url: &str,
        pairs: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let mut request = Request::post(url.strip_prefix(ORIGIN).unwrap_or(url))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (k, v) in extra {
            request = request.header(*k, *v);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    pub async fn token(&self, pairs: &[(&str, &str)]) -> Response {
        self.post_form("/auth/token", pairs, &[]).await
    }
}

pub fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut bytes).unwrap();
    let verifier = B64.encode(bytes);
    let challenge = B64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    (verifier, challenge)
}

/// The value of a hidden form field in an HTML page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("hidden field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// One authorization request, as an app builds it.
pub struct AuthRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub challenge: String,
    pub state: &'a str,
    pub extra: Vec<(&'a str, String)>,
}

impl<'a> AuthRequest<'a> {
    pub fn new(
        client_id: &'a str,
        redirect_uri: &'a str,
        scope: &'a str,
        challenge: String,
    ) -> Self {
        Self {
            client_id,
            redirect_uri,
            scope,
            challenge,
            state: "af0ifjsldkj-state-value",
            extra: Vec::new(),
        }
    }

    pub fn url(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("response_type", "code")
            .append_pair("client_id", self.client_id)
            .append_pair("redirect_uri", self.redirect_uri)
            .append_pair("scope", self.scope)
            .append_pair("state", self.state)
            .append_pair("aud", FHIR)
            .append_pair("code_challenge", &self.challenge)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in &self.extra {
            s.append_pair(k, v);
        }
        format!("/auth/authorize?{}", s.finish())
    }
}

/// What the user does on the consent page.
#[derive(Default)]
pub struct Consent<'a> {
    /// Scopes to untick.
    pub untick: Vec<&'a str>,
    /// Resource types to untick.
    pub untick_types: Vec<&'a str>,
    pub patient: Option<&'a str>,
    pub deny: bool,
}

impl TestServer {
    /// Signs in as `user` for the pending request at `login_url`; returns (cookie, consent URL).
    pub async fn sign_in(&self, login_url: &str, user: &str, password: &str) -> (String, String) {
        let page = self.get(login_url, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let html = page.text();
        let response = self
            .post_form(
                "/auth/login",
                &[
                    ("txn", &hidden(&html, "txn")),
                    ("csrf", &hidden(&html, "csrf")),
                    ("username", user),
                    ("password", password),
                ],
                &[],
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::SEE_OTHER,
            "{}",
            response.text()
        );
        let cookie = response
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        (cookie, response.location())
    }

    /// Sends the authorization request and signs in; returns (cookie, consent URL).
    pub async fn start_signed_in(
        &self,
        request: &AuthRequest<'_>,
        user: (&str, &str),
    ) -> (String, String) {
        let start = self.get(&request.url(), None).await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.text());
        self.sign_in(&start.location(), user.0, user.1).await
    }

    /// Submits the consent page at `consent_url`; returns the redirect to the app.
    pub async fn consent(
        &self,
        consent_url: &str,
        cookie: &str,
        consent: &Consent<'_>,
    ) -> Response {
        let page = self.get(consent_url, Some(cookie)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let html = page.text();
        let mut pairs: Vec<(String, String)> = vec![
            ("txn".into(), hidden(&html, "txn")),
            ("csrf".into(), hidden(&html, "csrf")),
            (
                "decision".into(),
                if consent.deny { "deny" } else { "approve" }.into(),
            ),
        ];
        for chunk in html.split("name=\"scope\" value=\"").skip(1) {
            let value = html_unescape(chunk.split('"').next().unwrap());
            if !consent.untick.contains(&value.as_str()) {
                pairs.push(("scope".into(), value));
            }
        }
        if html.contains("name=\"types_listed\"") {
            pairs.push(("types_listed".into(), "1".into()));
            for chunk in html.split("name=\"type\" value=\"").skip(1) {
                let value = chunk.split('"').next().unwrap().to_owned();
                if !consent.untick_types.contains(&value.as_str()) {
                    pairs.push(("type".into(), value));
                }
            }
        }
        if let Some(p) = consent.patient {
            pairs.push(("patient".into(), p.into()));
        }
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.send(
            Request::post("/auth/consent")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, cookie)
                .body(Body::from(
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(refs)
                        .finish(),
                ))
                .unwrap(),
        )
        .await
    }

    /// The whole front channel as the patient user: returns the redirect to the app.
    pub async fn front_channel(
        &self,
        request: &AuthRequest<'_>,
        user: (&str, &str),
        consent: &Consent<'_>,
    ) -> Response {
        let (cookie, consent_url) = self.start_signed_in(request, user).await;
        self.consent(&consent_url, &cookie, consent).await
    }

    /// A code for the public demo app with `scope`, consented in full by the patient user.
    pub async fn code_for(&self, scope: &str) -> (String, String) {
        let (verifier, challenge) = pkce();
        let request = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, scope, challenge);
        let redirect = self
            .front_channel(&request, PATIENT_USER, &Consent::default())
            .await;
        assert_eq!(redirect.status, StatusCode::SEE_OTHER);
        let code = query_param(&redirect.location(), "code").expect("code");
        (code, verifier)
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> Response {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", PUBLIC_REDIRECT),
            ("client_id", PUBLIC_APP),
            ("code_verifier", verifier),
        ])
        .await
    }
}

pub const PATIENT_USER: (&str, &str) = ("patient", "patient-demo-password");
pub const CLINICIAN_USER: (&str, &str) = ("clinician", "clinician-demo-password");

pub fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// An `Authorization: Basic` value for a `client_secret_basic` client (RFC 6749 §2.3.1).
pub fn basic(client: &str, secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Decodes a JWT's payload without verifying it (tests inspect what the server signed).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

pub fn jwt_header(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&B64.decode(header).unwrap()).unwrap()
}
