//! The authorization code flow end to end through the development authorization server:
//! standalone and EHR launch, consent deselection, patient picker, tokens and their claims.

mod authz_support;

use authz_support::*;
use axum::http::StatusCode;
use secure_fhir_server::authz::AuthzEventKind;
use serde_json::{json, Value};

#[tokio::test]
async fn standalone_launch_issues_smart_token_response() {
    let server = TestServer::new();
    let scope =
        "openid fhirUser launch/patient offline_access patient/Patient.rs patient/Observation.rs";
    let (code, verifier) = server.code_for(scope).await;
    let response = server.exchange(&code, &verifier).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(
        response.header("cache-control").as_deref(),
        Some("no-store")
    );
    assert_eq!(response.header("pragma").as_deref(), Some("no-cache"));
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], scope);
    assert_eq!(body["patient"], "example");
    assert_eq!(body["need_patient_banner"], true);
    assert!(body["expires_in"].as_i64().unwrap() <= 3600);
    assert!(body["refresh_token"].is_string());
    // The introspection endpoint describes access tokens only: a live refresh token is
    // `{"active":false}` (RFC 7662 §2.2), as docs/authz-dev-server.md says.
    assert_eq!(
        server
            .state
            .introspect(body["refresh_token"].as_str().unwrap()),
        json!({"active": false})
    );

    let access = body["access_token"].as_str().unwrap();
    let header = jwt_header(access);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let kid = header["kid"].as_str().unwrap();
    let jwks = server.state.jwks();
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == kid));
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "JWKS publishes no private key"
    );
    let claims = jwt_claims(access);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], FHIR);
    assert_eq!(claims["client_id"], PUBLIC_APP);
    assert_eq!(claims["patient"], "example");
    assert_eq!(claims["fhirUser"], format!("{FHIR}/Patient/example"));
    assert!(claims["jti"].is_string());

    let id_token = body["id_token"].as_str().unwrap();
    let id = jwt_claims(id_token);
    assert_eq!(id["aud"], PUBLIC_APP);
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["fhirUser"], format!("{FHIR}/Patient/example"));
    assert_eq!(id["sub"], "patient");

    let introspected = server.state.introspect(access);
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["patient"], "example");
    assert_eq!(introspected["scope"], scope);
    assert!(!server
        .state
        .is_token_revoked(claims["jti"].as_str().unwrap()));

    let kinds: Vec<AuthzEventKind> = server.audit.events().iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&AuthzEventKind::Login));
    assert!(kinds.contains(&AuthzEventKind::Authorize));
    assert!(kinds.contains(&AuthzEventKind::Token));
    let audit_text = format!("{:?}", server.audit.events());
    assert!(
        !audit_text.contains(access),
        "tokens never reach the audit trail"
    );
    assert!(
        !audit_text.contains(&code),
        "codes never reach the audit trail"
    );
}

#[tokio::test]
async fn consent_deselection_removes_scopes_and_types() {
    let server = TestServer::new();
    let (verifier, challenge) = pkce();
    let scope = "launch/patient patient/Patient.rs patient/Observation.rs patient/Condition.rs offline_access";
    let request = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, scope, challenge);
    let consent = Consent {
        untick: vec!["offline_access"],
        untick_types: vec!["Condition"],
        ..Consent::default()
    };
    let redirect = server.front_channel(&request, PATIENT_USER, &consent).await;
    assert_eq!(redirect.status, StatusCode::SEE_OTHER);
    let location = redirect.location();
    assert!(location.starts_with(PUBLIC_REDIRECT));
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some(request.state)
    );
    assert_eq!(query_param(&location, "iss").as_deref(), Some(ISSUER));
    let code = query_param(&location, "code").unwrap();
    let body = server.exchange(&code, &verifier).await.json();
    assert_eq!(
        body["scope"],
        "launch/patient patient/Patient.rs patient/Observation.rs"
    );
    assert!(
        body.get("refresh_token").is_none(),
        "offline_access was deselected"
    );
}

#[tokio::test]
async fn denying_consent_returns_access_denied() {
    let server = TestServer::new();
    let (_, challenge) = pkce();
    let request = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, "patient/*.rs", challenge);
    let consent = Consent {
        deny: true,
        ..Consent::default()
    };
    let redirect = server.front_channel(&request, PATIENT_USER, &consent).await;
    let location = redirect.location();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some(request.state)
    );
    assert!(query_param(&location, "code").is_none());
}

#[tokio::test]
async fn clinician_picks_the_patient() {
    let server = TestServer::new();
    let (verifier, challenge) = pkce();
    let request = AuthRequest::new(
        PUBLIC_APP,
        PUBLIC_REDIRECT,
        "openid fhirUser launch/patient patient/*.rs",
        challenge,
    );
    let (cookie, consent_url) = server.start_signed_in(&request, CLINICIAN_USER).await;
    let page = server.get(&consent_url, Some(&cookie)).await.text();
    assert!(page.contains("<select name=\"patient\""), "picker shown");
    assert!(page.contains("pat-2"));
    // a patient outside the picker is refused
    let refused = server
        .consent(
            &consent_url,
            &cookie,
            &Consent {
                patient: Some("someone-else"),
                ..Consent::default()
            },
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let redirect = server
        .consent(
            &consent_url,
            &cookie,
            &Consent {
                patient: Some("pat-2"),
                ..Consent::default()
            },
        )
        .await;
    let code = query_param(&redirect.location(), "code").unwrap();
    let body = server.exchange(&code, &verifier).await.json();
    assert_eq!(body["patient"], "pat-2");
    let id = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["fhirUser"], format!("{FHIR}/Practitioner/example"));
}

#[tokio::test]
async fn ehr_launch_carries_the_launch_context() {
    let server = TestServer::new();
    let context =
        vec![json!({"reference": "ServiceRequest/sr-1", "role": "https://example.org/order"})];
    assert!(
        server
            .state
            .create_ehr_launch_with_context("ehr-app", None, None, vec![json!({"type": "x"})])
            .is_none(),
        "an fhirContext item needs reference, canonical or identifier"
    );
    let launch = server
        .state
        .create_ehr_launch_with_context("ehr-app", Some("pat-2"), Some("enc-1"), context.clone())
        .unwrap();
    let (verifier, challenge) = pkce();
    let mut request = AuthRequest::new(
        "ehr-app",
        "http://127.0.0.1:9002/callback",
        "launch openid fhirUser patient/*.rs",
        challenge,
    );
    request.extra.push(("launch", launch));
    let (cookie, consent_url) = server.start_signed_in(&request, CLINICIAN_USER).await;
    let redirect = server
        .consent(&consent_url, &cookie, &Consent::default())
        .await;
    let code = query_param(&redirect.location(), "code").unwrap();
    let response = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9002/callback"),
            ("client_id", "ehr-app"),
            ("code_verifier", &verifier),
        ])
        .await;
    let body = response.json();
    assert_eq!(body["patient"], "pat-2", "{body}");
    assert_eq!(body["encounter"], "enc-1");
    assert_eq!(body["need_patient_banner"], false);
    assert_eq!(body["fhirContext"], json!(context));
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["fhirContext"], json!(context));
    assert_eq!(claims["encounter"], "enc-1");
    // a second authorization with an unknown launch value gets an error redirect, no code
    let (_, challenge) = pkce();
    let mut bad = AuthRequest::new(
        "ehr-app",
        "http://127.0.0.1:9002/callback",
        "launch patient/*.rs",
        challenge,
    );
    bad.extra.push(("launch", "not-a-launch".into()));
    let refused = server.get(&bad.url(), Some(&cookie)).await;
    assert_eq!(
        query_param(&refused.location(), "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn ehr_simulator_redirects_to_the_app_launch_url() {
    let server = TestServer::new();
    let page = server.get("/auth/launch", None).await;
    assert!(page.text().contains("EHR launched app"));
    let response = server
        .post_form(
            "/auth/launch",
            &[("client_id", "ehr-app"), ("patient", "example")],
            &[],
        )
        .await;
    let location = response.location();
    assert!(
        location.starts_with("http://127.0.0.1:9002/launch?"),
        "{location}"
    );
    assert_eq!(query_param(&location, "iss").as_deref(), Some(FHIR));
    assert!(query_param(&location, "launch").is_some());
    // Only the EHR page itself starts launches: a form posted from another page would send
    // the browser to any launch URL (open registration takes any) with a fresh launch.
    let form = [("client_id", "ehr-app"), ("patient", "example")];
    for forged in [
        ("Origin", "https://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let r = server.post_form("/auth/launch", &form, &[forged]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{forged:?}");
        assert!(r.header("location").is_none(), "{forged:?}");
    }
    let own = server
        .post_form("/auth/launch", &form, &[("Origin", ORIGIN)])
        .await;
    assert!(own.location().starts_with("http://127.0.0.1:9002/launch?"));
}

#[tokio::test]
async fn refresh_rotates_and_can_narrow_scope() {
    let server = TestServer::new();
    let scope = "launch/patient offline_access patient/Patient.rs patient/Observation.rs";
    let (code, verifier) = server.code_for(scope).await;
    let first = server.exchange(&code, &verifier).await.json();
    let refresh = first["refresh_token"].as_str().unwrap();
    let second = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", PUBLIC_APP),
            ("scope", "patient/Patient.rs"),
        ])
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text());
    let second = second.json();
    assert_eq!(second["scope"], "patient/Patient.rs");
    assert_eq!(second["patient"], "example");
    let rotated = second["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, refresh);
    // widening on refresh is refused
    let wider = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rotated),
            ("client_id", PUBLIC_APP),
            ("scope", "patient/Patient.rs patient/Condition.rs"),
        ])
        .await;
    assert_eq!(wider.json()["error"], "invalid_scope");
}

#[tokio::test]
async fn online_access_ends_with_the_session() {
    let server = TestServer::new();
    let (verifier, challenge) = pkce();
    let request = AuthRequest::new(
        PUBLIC_APP,
        PUBLIC_REDIRECT,
        "online_access patient/Patient.rs",
        challenge,
    );
    let (cookie, consent_url) = server.start_signed_in(&request, PATIENT_USER).await;
    let redirect = server
        .consent(&consent_url, &cookie, &Consent::default())
        .await;
    let code = query_param(&redirect.location(), "code").unwrap();
    let body = server.exchange(&code, &verifier).await.json();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh_with = |refresh: String| {
        let server = &server;
        async move {
            server
                .token(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh),
                    ("client_id", PUBLIC_APP),
                ])
                .await
        }
    };
    // A GET only asks: a link or an image on any page must not sign the user out.
    let page = server.get("/auth/logout", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    let still = refresh_with(refresh).await;
    assert_eq!(still.status, StatusCode::OK, "{}", still.text());
    let refresh = still.json()["refresh_token"].as_str().unwrap().to_owned();
    // A POST without the page's confirmation, or with another session's, is refused.
    let confirm = hidden(&page.text(), "confirm");
    let other = server
        .get("/auth/logout", Some("sf_authz_session=other"))
        .await;
    let forged = hidden(&other.text(), "confirm");
    for form in [vec![], vec![("confirm", forged.as_str())]] {
        let r = server
            .post_form("/auth/logout", &form, &[("cookie", &cookie)])
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    }
    let still = refresh_with(refresh).await;
    assert_eq!(still.status, StatusCode::OK, "{}", still.text());
    let refresh = still.json()["refresh_token"].as_str().unwrap().to_owned();
    let access = still.json()["access_token"].as_str().unwrap().to_owned();

    let logout = server
        .post_form(
            "/auth/logout",
            &[("confirm", &confirm)],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(logout.status, StatusCode::OK, "{}", logout.text());
    let refused = refresh_with(refresh).await;
    assert_eq!(refused.json()["error"], "invalid_grant");
    assert_eq!(
        server.state.introspect(&access),
        serde_json::json!({"active": false})
    );
    assert!(server
        .audit
        .events()
        .iter()
        .any(|e| e.kind == AuthzEventKind::Logout && e.user.as_deref() == Some("patient")));
}

#[tokio::test]
async fn confidential_client_authenticates_with_basic() {
    let server = TestServer::new();
    let (verifier, challenge) = pkce();
    let request = AuthRequest::new(CONF_APP, CONF_REDIRECT, "patient/*.rs", challenge);
    let redirect = server
        .front_channel(&request, PATIENT_USER, &Consent::default())
        .await;
    let code = query_param(&redirect.location(), "code").unwrap();
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CONF_APP}:{CONF_SECRET}"))
    );
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CONF_REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let response = server
        .post_form("/auth/token", &pairs, &[("authorization", &basic)])
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["patient"], "example");
}

#[tokio::test]
async fn discovery_documents_are_complete() {
    let server = TestServer::new();
    let smart = server
        .get("/auth/.well-known/smart-configuration", None)
        .await;
    assert_eq!(smart.status, StatusCode::OK);
    assert_eq!(
        smart.header("access-control-allow-origin").as_deref(),
        Some("*")
    );
    let doc = smart.json();
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["token_endpoint"], format!("{ISSUER}/token"));
    assert_eq!(doc["issuer"], ISSUER);
    let caps: Vec<&str> = doc["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for cap in [
        "launch-ehr",
        "launch-standalone",
        "client-public",
        "client-confidential-asymmetric",
        "sso-openid-connect",
        "permission-v2",
        "permission-offline",
        "context-standalone-patient",
    ] {
        assert!(caps.contains(&cap), "{cap}");
    }
    let oidc = server
        .get("/auth/.well-known/openid-configuration", None)
        .await
        .json();
    assert_eq!(oidc["issuer"], ISSUER);
    assert_eq!(oidc["jwks_uri"], format!("{ISSUER}/jwks"));
    let jwks = server.get("/auth/jwks", None).await.json();
    assert_eq!(jwks, server.state.jwks());
}

#[tokio::test]
async fn smart_auth_validates_tokens_from_the_real_flow() {
    use smart_auth::jwks::JwkSet;
    use smart_auth::{IssuerConfig, UnixTime, Validator};
    let server = TestServer::new();
    let scope = "openid fhirUser launch/patient patient/Observation.rs";
    let (code, verifier) = server.code_for(scope).await;
    let body = server.exchange(&code, &verifier).await.json();
    let access = body["access_token"].as_str().unwrap();
    let jwks = serde_json::to_vec(&server.state.jwks()).unwrap();
    let validator =
        Validator::new([
            IssuerConfig::new(server.state.issuer(), server.state.fhir_base())
                .jwks(JwkSet::parse(&jwks).unwrap()),
        ])
        .unwrap();
    let context = validator
        .validate(access, UnixTime::from_secs(now()))
        .expect("smart-auth accepts the dev server's access token");
    assert_eq!(context.launch().patient, Some("example"));
    assert_eq!(context.client_id(), Some(PUBLIC_APP));
    assert_eq!(
        context.fhir_user(),
        Some(format!("{FHIR}/Patient/example").as_str())
    );
    // Its introspection answer carries `aud`, which smart-auth's introspector requires.
    let answer = server.state.introspect(access).to_string();
    let introspected = smart_auth::introspection::Introspector::new(
        server.state.issuer(),
        server.state.fhir_base(),
    )
    .parse_response(answer.as_bytes(), UnixTime::from_secs(now()))
    .expect("smart-auth accepts the dev server's introspection answer");
    assert_eq!(introspected.launch().patient, Some("example"));
    // the ID token is not an access token
    let id_token = body["id_token"].as_str().unwrap();
    assert!(validator
        .validate(id_token, UnixTime::from_secs(now()))
        .is_err());
    // an hour later it is expired
    assert!(validator
        .validate(access, UnixTime::from_secs(now() + 3700))
        .is_err());
}

#[tokio::test]
async fn clients_file_registers_public_confidential_and_backend_clients() {
    let dir = std::env::temp_dir().join(format!("authz-clients-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("clients.json");
    let backend_jwks = BackendKey::generate("file-key").jwks();
    std::fs::write(
        &path,
        json!({"clients": [
            {"client_id": "file-public", "redirect_uris": ["http://127.0.0.1:9500/cb"],
             "scope": "launch/patient patient/*.rs", "allowed_origins": ["http://127.0.0.1:9500"]},
            {"client_id": "file-secret", "redirect_uris": ["https://app.example/cb"],
             "token_endpoint_auth_method": "client_secret_post",
             "client_secret": "a-long-enough-secret", "scope": "user/*.rs"},
            {"client_id": "file-backend", "token_endpoint_auth_method": "private_key_jwt",
             "jwks": backend_jwks, "scope": "system/*.rs"}
        ]})
        .to_string(),
    )
    .unwrap();
    let server = TestServer::with_config(|c| c.load_clients_file(&path).unwrap());
    assert!(server.state.is_registered_origin("http://127.0.0.1:9500"));
    let (_, challenge) = pkce();
    let request = AuthRequest::new(
        "file-public",
        "http://127.0.0.1:9500/cb",
        "patient/*.rs",
        challenge,
    );
    assert_eq!(
        server.get(&request.url(), None).await.status,
        StatusCode::SEE_OTHER
    );
    // malformed files and bad metadata are refused
    let mut config = secure_fhir_server::authz::AuthzConfig::new(ISSUER, FHIR);
    for bad in [
        "not json".to_owned(),
        json!({"clients": [{"client_id": "x", "redirect_uris": ["ftp://a/cb"]}]}).to_string(),
        json!({"clients": [{"client_id": "x", "redirect_uris": ["https://a/cb"],
            "token_endpoint_auth_method": "client_secret_basic", "client_secret": "short"}]})
        .to_string(),
        json!({"clients": [{"client_id": "bad id!", "redirect_uris": ["https://a/cb"]}]})
            .to_string(),
    ] {
        std::fs::write(&path, bad.as_bytes()).unwrap();
        assert!(config.load_clients_file(&path).is_err(), "{bad}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn id_token_carries_the_nonce_and_profile() {
    let server = TestServer::new();
    let (verifier, challenge) = pkce();
    let mut request = AuthRequest::new(
        PUBLIC_APP,
        PUBLIC_REDIRECT,
        "openid fhirUser profile patient/*.rs",
        challenge,
    );
    request.extra.push(("nonce", "n-0S6_WzA2Mj".into()));
    // profile is not in the demo app's registered scopes: dropped, not an error
    let redirect = server
        .front_channel(&request, PATIENT_USER, &Consent::default())
        .await;
    let code = query_param(&redirect.location(), "code").unwrap();
    let body = server.exchange(&code, &verifier).await.json();
    assert_eq!(body["scope"], "openid fhirUser patient/*.rs");
    let id = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert!(id.get("name").is_none());
    assert_eq!(jwt_header(body["id_token"].as_str().unwrap())["typ"], "JWT");
}

#[tokio::test]
async fn authorize_accepts_post() {
    let server = TestServer::new();
    let (verifier, challenge) = pkce();
    let request = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, "patient/*.rs", challenge);
    let query = request.url().split_once('?').unwrap().1.to_owned();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let start = server.post_form("/auth/authorize", &refs, &[]).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    assert!(start
        .location()
        .starts_with(&format!("{ISSUER}/login?txn=")));
    let (cookie, consent_url) = server
        .sign_in(&start.location(), PATIENT_USER.0, PATIENT_USER.1)
        .await;
    let redirect = server
        .consent(&consent_url, &cookie, &Consent::default())
        .await;
    let code = query_param(&redirect.location(), "code").unwrap();
    assert_eq!(
        server.exchange(&code, &verifier).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn prompt_login_and_max_age_make_the_user_sign_in_again() {
    // OpenID Connect Core §3.1.2.1: with `max_age` the user MUST be re-authenticated once that
    // many seconds passed since sign-in; `prompt=login` asks for it. A signed-in session
    // otherwise goes straight to consent.
    let server = TestServer::new();
    let (_, challenge) = pkce();
    let request = AuthRequest::new(
        PUBLIC_APP,
        PUBLIC_REDIRECT,
        "openid patient/*.rs",
        challenge,
    );
    let (cookie, _) = server.start_signed_in(&request, PATIENT_USER).await;
    let next = |extra: Vec<(&'static str, String)>| {
        let (server, cookie) = (&server, &cookie);
        async move {
            let (_, challenge) = pkce();
            let mut request = AuthRequest::new(
                PUBLIC_APP,
                PUBLIC_REDIRECT,
                "openid patient/*.rs",
                challenge,
            );
            request.extra = extra;
            let r = server.get(&request.url(), Some(cookie)).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
            r.location()
        }
    };
    assert!(next(vec![]).await.contains("/auth/consent?"));
    assert!(next(vec![("max_age", "3600".into())])
        .await
        .contains("/auth/consent?"));
    server.clock.advance(120);
    for extra in [
        vec![("prompt", "login".to_owned())],
        vec![("max_age", "60".to_owned())],
    ] {
        let location = next(extra.clone()).await;
        assert!(location.contains("/auth/login?"), "{extra:?}: {location}");
    }
    // and prompt=none cannot be met when a sign-in is needed
    let location = next(vec![("prompt", "none".into()), ("max_age", "60".into())]).await;
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn every_authorization_server_answer_carries_the_security_headers() {
    // smart.md §10: every response has nosniff, HSTS, a CSP forbidding framing and
    // no-referrer. The server's outer layer adds them only to answers without nosniff, so the
    // authorization server's own answers must be complete.
    let server = TestServer::new();
    let (_, challenge) = pkce();
    let request = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, "patient/*.rs", challenge);
    let answers = [
        server
            .get("/auth/.well-known/smart-configuration", None)
            .await,
        server.get("/auth/jwks", None).await,
        server.token(&[("grant_type", "password")]).await,
        server.get(&request.url(), None).await,
        server.get("/auth/login?txn=unknown", None).await,
    ];
    for r in &answers {
        let context = format!("{} {}", r.status, r.location());
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        // HTML pages send a referrer to their own origin only, so that their forms' posts
        // name it (`Origin`); everything else sends none
        let html = r
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html"));
        let policy = if html { "same-origin" } else { "no-referrer" };
        assert_eq!(
            r.header("referrer-policy").as_deref(),
            Some(policy),
            "{context}"
        );
        let hsts = r.header("strict-transport-security").unwrap_or_default();
        assert!(hsts.starts_with("max-age="), "{context}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{context}: {csp:?}");
    }
}
