//! Backend Services (client_credentials + private_key_jwt), introspection, revocation, dynamic
//! registration and key rotation of the development authorization server.

mod authz_support;

use authz_support::*;
use axum::http::StatusCode;
use secure_fhir_server::authz::{AuthzConfig, AuthzEventKind, AuthzState, MemoryAudit};
use serde_json::json;
use std::sync::Arc;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async fn backend_token(server: &TestServer, assertion: &str, scope: &str) -> Response {
    server
        .token(&[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
        ])
        .await
}

#[tokio::test]
async fn backend_client_gets_a_short_lived_system_token() {
    let server = TestServer::new();
    let assertion = server.backend_key.assertion(BACKEND, now(), "jti-1");
    let response = backend_token(
        &server,
        &assertion,
        "system/Patient.rs system/Observation.rs",
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(
        response.header("cache-control").as_deref(),
        Some("no-store")
    );
    let body = response.json();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["scope"], "system/Patient.rs system/Observation.rs");
    assert!(body["expires_in"].as_i64().unwrap() <= 300);
    assert!(body.get("refresh_token").is_none());
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], BACKEND);
    assert_eq!(claims["sub"], BACKEND);
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 300);
}

#[tokio::test]
async fn replayed_client_assertion_is_refused() {
    let server = TestServer::new();
    let assertion = server.backend_key.assertion(BACKEND, now(), "jti-replay");
    assert_eq!(
        backend_token(&server, &assertion, "system/*.rs")
            .await
            .status,
        StatusCode::OK
    );
    let replay = backend_token(&server, &assertion, "system/*.rs").await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.json()["error"], "invalid_client");
    // same jti in a freshly signed assertion: still a replay
    let again = server.backend_key.assertion(BACKEND, now(), "jti-replay");
    assert_eq!(
        backend_token(&server, &again, "system/*.rs").await.json()["error"],
        "invalid_client"
    );
}

#[tokio::test]
async fn bad_client_assertions_are_refused() {
    let server = TestServer::new();
    let key = &server.backend_key;
    let t = now();
    let header = json!({"alg": "ES384", "typ": "JWT", "kid": key.kid});
    let claims = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut c = json!({"iss": BACKEND, "sub": BACKEND, "aud": format!("{ISSUER}/token"),
            "exp": t + 240, "iat": t, "jti": format!("jti-{}", rand_suffix())});
        edit(&mut c);
        c
    };
    let cases: Vec<(&str, String)> = vec![
        ("wrong aud", key.sign(&header, &claims(&|c| c["aud"] = json!(format!("{FHIR}"))))),
        ("expired", key.sign(&header, &claims(&|c| c["exp"] = json!(t - 60)))),
        ("exp too far", key.sign(&header, &claims(&|c| c["exp"] = json!(t + 3600)))),
        ("no jti", key.sign(&header, &claims(&|c| { c.as_object_mut().unwrap().remove("jti"); }))),
        ("sub differs", key.sign(&header, &claims(&|c| c["sub"] = json!("someone")))),
        ("exp as string", key.sign(&header, &claims(&|c| c["exp"] = json!((t + 240).to_string())))),
        ("unknown kid", key.sign(&json!({"alg": "ES384", "typ": "JWT", "kid": "other"}), &claims(&|_| {}))),
        ("alg none", {
            let signed = key.sign(&json!({"alg": "none", "kid": key.kid}), &claims(&|_| {}));
            let mut parts: Vec<&str> = signed.split('.').collect();
            parts[2] = "";
            parts.join(".")
        }),
        ("other key", BackendKey::generate(&key.kid).assertion(BACKEND, t, "jti-other-key")),
        ("jku", key.sign(&json!({"alg": "ES384", "typ": "JWT", "kid": key.kid, "jku": "https://evil.example/jwks"}), &claims(&|_| {}))),
    ];
    for (name, assertion) in cases {
        let response = backend_token(&server, &assertion, "system/*.rs").await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(response.json()["error"], "invalid_client", "{name}");
    }
    let refusals = server
        .audit
        .events()
        .iter()
        .filter(|e| e.kind == AuthzEventKind::Token && !e.success)
        .count();
    assert_eq!(refusals, 10, "every refusal audited");
}

fn rand_suffix() -> String {
    let (v, _) = pkce();
    v[..12].to_owned()
}

#[tokio::test]
async fn backend_scopes_are_mediated() {
    let server = TestServer::new();
    let user_scope = server.backend_key.assertion(BACKEND, now(), "jti-user");
    let r = backend_token(&server, &user_scope, "system/*.rs patient/*.rs").await;
    assert_eq!(r.json()["error"], "invalid_scope");
    let write = server.backend_key.assertion(BACKEND, now(), "jti-write");
    let r = backend_token(&server, &write, "system/Patient.cruds").await;
    assert_eq!(r.json()["error"], "invalid_scope");
    // a public client cannot use client_credentials at all
    let r = server
        .token(&[
            ("grant_type", "client_credentials"),
            ("scope", "system/*.rs"),
            ("client_id", PUBLIC_APP),
        ])
        .await;
    assert_eq!(r.json()["error"], "unauthorized_client");
}

#[tokio::test]
async fn introspection_answers_active_false_and_nothing_else() {
    let server = TestServer::new();
    let (code, verifier) = server.code_for("launch/patient patient/*.rs").await;
    let access = server.exchange(&code, &verifier).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let introspect = |token: &str| {
        let token = token.to_owned();
        let server = &server;
        async move {
            server
                .post_form(
                    "/auth/introspect",
                    &[("token", &token)],
                    &[("authorization", &basic(CONF_APP, CONF_SECRET))],
                )
                .await
        }
    };
    let active = introspect(&access).await;
    assert_eq!(active.status, StatusCode::OK);
    let body = active.json();
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], PUBLIC_APP);
    assert_eq!(body["patient"], "example");
    assert!(body["exp"].is_i64() && body["scope"].is_string());
    // tampered, foreign, garbage, empty: exactly {"active":false}
    let mut tampered = access.clone();
    tampered.pop();
    tampered.push(if access.ends_with('A') { 'B' } else { 'A' });
    let foreign =
        BackendKey::generate("x").sign(&json!({"alg":"ES384","kid":"x"}), &json!({"iss": ISSUER}));
    for token in [tampered.as_str(), foreign.as_str(), "garbage", "a.b.c"] {
        let r = introspect(token).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.text(), r#"{"active":false}"#);
    }
    // public clients may not introspect
    let r = server
        .post_form(
            "/auth/introspect",
            &[("token", &access), ("client_id", PUBLIC_APP)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // a bearer access token may (SMART)
    let r = server
        .post_form(
            "/auth/introspect",
            &[("token", &access)],
            &[("authorization", &format!("Bearer {access}"))],
        )
        .await;
    assert_eq!(r.json()["active"], true);
    // ... but only for its own client's tokens: a backend token cannot scan the app's tokens
    let assertion = server
        .backend_key
        .assertion(BACKEND, now(), "jti-introspect");
    let backend = server
        .token(&[
            ("grant_type", "client_credentials"),
            ("scope", "system/*.rs"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &assertion),
        ])
        .await
        .json();
    let backend_token = backend["access_token"].as_str().unwrap();
    let r = server
        .post_form(
            "/auth/introspect",
            &[("token", &access)],
            &[("authorization", &format!("Bearer {backend_token}"))],
        )
        .await;
    assert_eq!(r.text(), r#"{"active":false}"#);
    // expired
    server.clock.advance(3601);
    assert_eq!(introspect(&access).await.text(), r#"{"active":false}"#);
}

#[tokio::test]
async fn revocation_of_access_and_refresh_tokens() {
    let server = TestServer::new();
    let (code, verifier) = server.code_for("offline_access patient/*.rs").await;
    let body = server.exchange(&code, &verifier).await.json();
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    // another client cannot revoke these tokens (200, but nothing happens)
    let foreign = server
        .post_form(
            "/auth/revoke",
            &[("token", access)],
            &[("authorization", &basic(CONF_APP, CONF_SECRET))],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::OK);
    assert_eq!(server.state.introspect(access)["active"], true);
    // unknown tokens: 200
    let unknown = server
        .post_form(
            "/auth/revoke",
            &[("token", "nope"), ("client_id", PUBLIC_APP)],
            &[],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::OK);
    // the owner revokes the access token
    let r = server
        .post_form(
            "/auth/revoke",
            &[("token", access), ("client_id", PUBLIC_APP)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(server.state.introspect(access), json!({"active": false}));
    let jti = jwt_claims(access)["jti"].as_str().unwrap().to_owned();
    assert!(server.state.is_token_revoked(&jti));
    // revoking the refresh token ends the grant
    let r = server
        .post_form(
            "/auth/revoke",
            &[
                ("token", refresh),
                ("token_type_hint", "refresh_token"),
                ("client_id", PUBLIC_APP),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let after = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", PUBLIC_APP),
        ])
        .await;
    assert_eq!(after.json()["error"], "invalid_grant");
    assert!(server
        .audit
        .events()
        .iter()
        .any(|e| e.kind == AuthzEventKind::Revocation && e.success));
}

#[tokio::test]
async fn dynamic_registration_never_grants_system_scopes() {
    let server = TestServer::new();
    let register = |meta: serde_json::Value| {
        let server = &server;
        async move {
            server
                .send(
                    axum::http::Request::post("/auth/register")
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from(meta.to_string()))
                        .unwrap(),
                )
                .await
        }
    };
    let r = register(json!({
        "client_name": "New app", "redirect_uris": ["http://127.0.0.1:9100/cb"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "openid patient/*.rs system/*.rs",
    }))
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    assert_eq!(body["scope"], "openid patient/*.rs");
    assert!(body["client_secret"].as_str().unwrap().len() >= 32);
    let client_id = body["client_id"].as_str().unwrap();
    let (_, challenge) = pkce();
    let request = AuthRequest::new(
        client_id,
        "http://127.0.0.1:9100/cb",
        "patient/*.rs",
        challenge,
    );
    assert_eq!(
        server.get(&request.url(), None).await.status,
        StatusCode::SEE_OTHER
    );
    // a key set that publishes a private key is refused (smart-auth's JWK import filter)
    let mut private_jwks = server.backend_key.jwks();
    private_jwks["keys"][0]["d"] =
        json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let mut public_only = server.backend_key.jwks();
    public_only["keys"][0]["kid"] = json!("registered-key");
    let ok = register(json!({"redirect_uris": ["https://app.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": public_only,
        "scope": "system/*.rs user/*.rs"}))
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text());
    assert_eq!(ok.json()["scope"], "user/*.rs");
    for bad in [
        json!({"redirect_uris": ["http://evil.example/cb"]}),
        json!({"redirect_uris": ["javascript:alert(1)"]}),
        json!({"redirect_uris": ["https://app.example/cb#frag"]}),
        json!({"redirect_uris": []}),
        json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "private_key_jwt",
            "jwks": private_jwks.clone()}),
    ] {
        let r = register(bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn rotated_keys_keep_verifying_earlier_tokens() {
    let server = TestServer::new();
    let (code, verifier) = server.code_for("patient/*.rs").await;
    let access = server.exchange(&code, &verifier).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let old_kid = jwt_header(&access)["kid"].as_str().unwrap().to_owned();
    let new_kid = server.state.rotate_keys().unwrap();
    assert_ne!(old_kid, new_kid);
    let kids: Vec<String> = server.state.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid));
    assert_eq!(server.state.introspect(&access)["active"], true);
    let (code, verifier) = server.code_for("patient/*.rs").await;
    let fresh = server.exchange(&code, &verifier).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(jwt_header(&fresh)["kid"], new_kid);
    assert!(server
        .audit
        .events()
        .iter()
        .any(|e| e.kind == AuthzEventKind::KeyRotation));
}

#[tokio::test]
async fn keys_persist_in_a_private_file() {
    let dir = std::env::temp_dir().join(format!("authz-keys-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keys.json");
    let make = || {
        let mut config = AuthzConfig::new(ISSUER, FHIR);
        config.key_file = Some(path.clone());
        AuthzState::new(config, Arc::new(MemoryAudit::new())).unwrap()
    };
    let first = make().jwks();
    let second = make().jwks();
    assert_eq!(first, second, "the same keys are loaded again");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "key file is private");
    }
    std::fs::write(&path, "not keys").unwrap();
    let mut config = AuthzConfig::new(ISSUER, FHIR);
    config.key_file = Some(path.clone());
    assert!(AuthzState::new(config, Arc::new(MemoryAudit::new())).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_dynamically_registered_redirect_uri_gets_no_error_redirect() {
    // RFC 9700 §4.11.2: anyone may register any https redirect URI here, so an authorization
    // request made to fail on purpose (a scope it may not have, an unknown launch) would turn
    // this server into an open redirector to it. Errors before the user has seen the app are
    // shown, not redirected, for such clients; operator-registered ones still get the redirect.
    let server = TestServer::new();
    let evil = "https://evil.example/landing";
    let r = server
        .send(
            axum::http::Request::post("/auth/register")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"redirect_uris": [evil], "scope": "patient/*.rs"}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let client_id = r.json()["client_id"].as_str().unwrap().to_owned();
    for (scope, extra) in [
        ("user/*.rs", None),
        ("patient/*.rs", Some(("prompt", "none"))),
        ("patient/*.rs", Some(("launch", "unknown"))),
    ] {
        let (_, challenge) = pkce();
        let mut request = AuthRequest::new(&client_id, evil, scope, challenge);
        request.extra.extend(extra.map(|(k, v)| (k, v.to_owned())));
        let r = server.get(&request.url(), None).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{extra:?}: {}",
            r.location()
        );
        assert!(r.header("location").is_none(), "{extra:?}");
    }
    let (_, challenge) = pkce();
    let mut request = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, "patient/*.rs", challenge);
    request.extra.push(("prompt", "none".to_owned()));
    let r = server.get(&request.url(), None).await;
    assert!(
        r.location().starts_with(PUBLIC_REDIRECT),
        "{}",
        r.location()
    );
}

#[tokio::test]
async fn consent_for_a_self_registered_app_says_where_access_goes() {
    // Open registration lets anyone call their app "Demo public app": the consent page names
    // the site the authorization is sent to, and says a self-registered name is unverified.
    let server = TestServer::new();
    let evil = "https://evil.example/cb";
    let meta = json!({"client_name": "Demo public app", "redirect_uris": [evil],
        "scope": "patient/*.rs"});
    let r = server
        .send(
            axum::http::Request::post("/auth/register")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(meta.to_string()))
                .unwrap(),
        )
        .await;
    let client_id = r.json()["client_id"].as_str().unwrap().to_owned();
    let consent_page = |client_id: String, redirect: &'static str| {
        let server = &server;
        async move {
            let (_, challenge) = pkce();
            let request = AuthRequest::new(&client_id, redirect, "patient/*.rs", challenge);
            let (cookie, url) = server.start_signed_in(&request, PATIENT_USER).await;
            server.get(&url, Some(&cookie)).await.text()
        }
    };
    let page = consent_page(client_id, evil).await;
    assert!(page.contains("https://evil.example"), "{page}");
    assert!(page.contains("not verified"), "{page}");
    let page = consent_page(PUBLIC_APP.to_owned(), PUBLIC_REDIRECT).await;
    assert!(page.contains("http://127.0.0.1:9000"), "{page}");
    assert!(!page.contains("not verified"), "{page}");
}

#[tokio::test]
async fn introspection_and_revocation_share_the_token_endpoint_rate_limit() {
    // Both authenticate clients: without the token endpoint's limit they were an unthrottled
    // way to guess a client's secret (or to scan tokens).
    let server = TestServer::with_config(|c| {
        c.rate_limit = secure_fhir_server::authz::RateLimit::new(3, 0.01)
    });
    let pairs = [
        ("token", "x"),
        ("client_id", CONF_APP),
        ("client_secret", "a-wrong-guess-at-the-secret"),
    ];
    for path in ["/auth/introspect", "/auth/revoke", "/auth/introspect"] {
        let r = server.post_form(path, &pairs, &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    for path in ["/auth/revoke", "/auth/introspect", "/auth/token"] {
        let r = server.post_form(path, &pairs, &[]).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert!(r.header("retry-after").is_some(), "{path}");
    }
    // a bearer caller of the introspection endpoint guesses no secret: not charged
    let bearer = [("authorization", "Bearer not-a-token")];
    let r = server
        .post_form("/auth/introspect", &[("token", "x")], &bearer)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
