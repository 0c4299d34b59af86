//! What each credential is bound to at the development authorization server: a client to its
//! registered authentication method, a rate bucket to the address that spends it, an EHR launch
//! to one authorization request, and a refreshed token's context to the scopes it carries.

mod authz_support;

use authz_support::*;
use axum::http::StatusCode;
use secure_fhir_server::authz::{ClientConfig, RateLimit};
use serde_json::json;

/// A token request from the peer `ip` (as `into_make_service_with_connect_info` delivers it).
fn from_peer(
    ip: [u8; 4],
    pairs: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> axum::http::Request<axum::body::Body> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let mut request = axum::http::Request::post("/auth/token")
        .header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let mut request = request.body(axum::body::Body::from(body)).unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            ip, 40000,
        ))));
    request
}

#[tokio::test]
async fn failed_authentications_elsewhere_do_not_lock_the_client_out() {
    // Anyone can claim a client_id: a bucket per client, spent before authentication, let a
    // stranger lock a registered client out of the token endpoint.
    let server = TestServer::with_config(|c| c.rate_limit = RateLimit::new(3, 0.01));
    let guess = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "x"),
        ("client_id", CONF_APP),
        ("client_secret", "a-wrong-guess-at-the-secret"),
    ];
    for _ in 0..3 {
        let r = server.send(from_peer([10, 0, 0, 66], &guess, &[])).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // the guesser is stopped ...
    let r = server.send(from_peer([10, 0, 0, 66], &guess, &[])).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // ... and the client itself, from its own address, is not
    let own = basic(CONF_APP, CONF_SECRET);
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", "x")];
    let r = server
        .send(from_peer(
            [10, 0, 0, 1],
            &refresh,
            &[("authorization", &own)],
        ))
        .await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn a_client_authenticates_only_by_its_registered_method() {
    // RFC 7591 §2 token_endpoint_auth_method; OpenID Connect Core §9: the registered method.
    let server = TestServer::with_config(|c| {
        let post = json!({"client_id": "post-app", "redirect_uris": ["https://app.example/cb"],
            "token_endpoint_auth_method": "client_secret_post",
            "client_secret": "post-app-secret-long-enough", "scope": "user/*.rs"});
        c.clients.push(ClientConfig::from_metadata(&post).unwrap());
    });
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", "x")];
    let authenticated = |r: &Response| r.json()["error"] == "invalid_grant";
    let refused = |r: &Response| {
        r.status == StatusCode::UNAUTHORIZED && r.json()["error"] == "invalid_client"
    };
    // the demo confidential app is registered for client_secret_basic
    let basic_conf = basic(CONF_APP, CONF_SECRET);
    let r = server
        .post_form("/auth/token", &refresh, &[("authorization", &basic_conf)])
        .await;
    assert!(authenticated(&r), "{}", r.text());
    let mut as_post = refresh.to_vec();
    as_post.extend([("client_id", CONF_APP), ("client_secret", CONF_SECRET)]);
    let r = server.post_form("/auth/token", &as_post, &[]).await;
    assert!(
        refused(&r),
        "basic client with client_secret_post: {}",
        r.text()
    );
    // a client_secret_post client may not use HTTP Basic
    let mut post_app = refresh.to_vec();
    post_app.extend([
        ("client_id", "post-app"),
        ("client_secret", "post-app-secret-long-enough"),
    ]);
    let r = server.post_form("/auth/token", &post_app, &[]).await;
    assert!(authenticated(&r), "{}", r.text());
    let basic_post = basic("post-app", "post-app-secret-long-enough");
    let r = server
        .post_form("/auth/token", &refresh, &[("authorization", &basic_post)])
        .await;
    assert!(refused(&r), "post client with HTTP Basic: {}", r.text());
    // the same holds at introspection and revocation, which authenticate clients too
    let r = server
        .post_form(
            "/auth/introspect",
            &[
                ("token", "x"),
                ("client_id", CONF_APP),
                ("client_secret", CONF_SECRET),
            ],
            &[],
        )
        .await;
    assert!(refused(&r), "{}", r.text());
    // a private_key_jwt client has no secret to send
    for secret in ["", "anything-at-all-long-enough"] {
        let mut backend = refresh.to_vec();
        backend.extend([("client_id", BACKEND), ("client_secret", secret)]);
        let r = server.post_form("/auth/token", &backend, &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
        let b = basic(BACKEND, secret);
        let r = server
            .post_form("/auth/token", &refresh, &[("authorization", &b)])
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    }
    // dynamic registration answers the method it will enforce
    let registered = server
        .send(
            axum::http::Request::post("/auth/register")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"redirect_uris": ["https://app.example/cb"],
                        "token_endpoint_auth_method": "client_secret_post"})
                    .to_string(),
                ))
                .unwrap(),
        )
        .await
        .json();
    assert_eq!(
        registered["token_endpoint_auth_method"],
        "client_secret_post"
    );
    let id = registered["client_id"].as_str().unwrap();
    let secret = registered["client_secret"].as_str().unwrap();
    let b = basic(id, secret);
    let r = server
        .post_form("/auth/token", &refresh, &[("authorization", &b)])
        .await;
    assert!(refused(&r), "{}", r.text());
}

#[tokio::test]
async fn a_launch_value_serves_one_authorization_request() {
    let server = TestServer::new();
    let launch = server
        .state
        .create_ehr_launch("ehr-app", Some("example"), None)
        .unwrap();
    let request = |prompt: Option<&str>| {
        let (_, challenge) = pkce();
        let mut r = AuthRequest::new(
            "ehr-app",
            "http://127.0.0.1:9002/callback",
            "launch patient/*.rs",
            challenge,
        );
        r.extra.push(("launch", launch.clone()));
        if let Some(p) = prompt {
            r.extra.push(("prompt", p.to_owned()));
        }
        r.url()
    };
    let error = |r: &Response| query_param(&r.location(), "error");
    // a refused silent attempt does not spend it
    let silent = server.get(&request(Some("none")), None).await;
    assert_eq!(error(&silent).as_deref(), Some("login_required"));
    let first = server.get(&request(None), None).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert!(
        first.location().contains("/auth/login?"),
        "{}",
        first.location()
    );
    // the second request with the same launch value is refused
    let second = server.get(&request(None), None).await;
    assert_eq!(error(&second).as_deref(), Some("invalid_request"));
}

/// (access token claims, token response) after refreshing `refresh` narrowed to `scope`.
async fn refreshed(
    server: &TestServer,
    client: &str,
    refresh: &str,
    scope: &str,
) -> (serde_json::Value, serde_json::Value) {
    let r = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", client),
            ("scope", scope),
        ])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    (jwt_claims(body["access_token"].as_str().unwrap()), body)
}

#[tokio::test]
async fn a_narrowed_refresh_carries_only_the_context_its_scopes_grant() {
    let server = TestServer::new();
    let scope = "openid fhirUser launch/patient offline_access patient/*.rs user/*.rs";
    let (code, verifier) = server.code_for(scope).await;
    let first = server.exchange(&code, &verifier).await.json();
    assert_eq!(first["patient"], "example");
    assert!(first["id_token"].is_string());
    assert!(jwt_claims(first["access_token"].as_str().unwrap())["fhirUser"].is_string());
    let mut refresh = first["refresh_token"].as_str().unwrap().to_owned();
    // user/ data only: no patient in context, no fhirUser (neither openid nor fhirUser kept)
    let (claims, body) = refreshed(&server, PUBLIC_APP, &refresh, "user/*.rs").await;
    for name in ["patient", "need_patient_banner", "id_token", "encounter"] {
        assert!(body.get(name).is_none(), "{name}: {body}");
    }
    assert!(claims.get("patient").is_none(), "{claims}");
    assert!(claims.get("fhirUser").is_none(), "{claims}");
    refresh = body["refresh_token"].as_str().unwrap().to_owned();
    // a patient/ scope needs its patient (SMART: it "SHALL establish a patient in context")
    let (claims, body) = refreshed(&server, PUBLIC_APP, &refresh, "patient/*.rs").await;
    assert_eq!(
        (&body["patient"], &claims["patient"]),
        (&json!("example"), &json!("example"))
    );
    assert!(claims.get("fhirUser").is_none(), "{claims}");
    refresh = body["refresh_token"].as_str().unwrap().to_owned();
    // fhirUser kept with its scope; the refresh token still serves the whole grant
    let (claims, body) = refreshed(&server, PUBLIC_APP, &refresh, "fhirUser user/*.rs").await;
    assert_eq!(claims["fhirUser"], format!("{FHIR}/Patient/example"));
    assert!(body.get("patient").is_none(), "{body}");
    let refresh = body["refresh_token"].as_str().unwrap();
    let (_, body) = refreshed(&server, PUBLIC_APP, refresh, scope).await;
    assert_eq!(body["patient"], "example");
}

#[tokio::test]
async fn a_narrowed_refresh_drops_the_ehr_launch_context_without_launch() {
    let server = TestServer::with_config(|c| {
        let mut app = ClientConfig::public(
            "ehr-offline-app",
            "EHR launched app with refresh",
            vec!["http://127.0.0.1:9003/callback".into()],
            "launch offline_access user/*.rs",
        );
        app.launch_uri = Some("http://127.0.0.1:9003/launch".into());
        c.clients.push(app);
    });
    let context =
        vec![json!({"reference": "ServiceRequest/sr-1", "role": "https://example.org/order"})];
    let launch = server
        .state
        .create_ehr_launch_with_context("ehr-offline-app", Some("pat-2"), Some("enc-1"), context)
        .unwrap();
    let (verifier, challenge) = pkce();
    let mut request = AuthRequest::new(
        "ehr-offline-app",
        "http://127.0.0.1:9003/callback",
        "launch offline_access user/*.rs",
        challenge,
    );
    request.extra.push(("launch", launch));
    let redirect = server
        .front_channel(&request, CLINICIAN_USER, &Consent::default())
        .await;
    let code = query_param(&redirect.location(), "code").expect("code");
    let first = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9003/callback"),
            ("client_id", "ehr-offline-app"),
            ("code_verifier", &verifier),
        ])
        .await
        .json();
    assert_eq!(
        (&first["patient"], &first["encounter"]),
        (&json!("pat-2"), &json!("enc-1"))
    );
    let refresh = first["refresh_token"].as_str().unwrap();
    let (claims, body) = refreshed(&server, "ehr-offline-app", refresh, "user/*.rs").await;
    for name in ["patient", "encounter", "fhirContext"] {
        assert!(body.get(name).is_none(), "{name}: {body}");
        assert!(claims.get(name).is_none(), "{name}: {claims}");
    }
    let refresh = body["refresh_token"].as_str().unwrap();
    let (claims, body) = refreshed(&server, "ehr-offline-app", refresh, "launch user/*.rs").await;
    assert_eq!(
        (&body["patient"], &body["encounter"]),
        (&json!("pat-2"), &json!("enc-1"))
    );
    assert_eq!(claims["fhirContext"], first["fhirContext"]);
}

/// Signs in as the patient user for a fresh request; returns the answer to the sign-in.
async fn signed_in(server: &TestServer) -> Response {
    let (_, challenge) = pkce();
    let request = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, "patient/*.rs", challenge);
    let start = server.get(&request.url(), None).await;
    let html = server.get(&start.location(), None).await.text();
    let (user, password) = PATIENT_USER;
    let txn = hidden(&html, "txn");
    let csrf = hidden(&html, "csrf");
    let fields = [
        ("txn", txn.as_str()),
        ("csrf", csrf.as_str()),
        ("username", user),
        ("password", password),
    ];
    let r = server.post_form("/auth/login", &fields, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    r
}

#[tokio::test]
async fn over_https_the_session_cookie_is_bound_to_the_host() {
    // RFC 6265bis §4.1.3.2: a `__Host-` cookie is Secure, Path=/ and has no Domain, so neither
    // another host (a sibling subdomain) nor an http page of this host can set or shadow it
    let server = TestServer::with_config(|c| c.issuer = "https://127.0.0.1:8080/auth".into());
    let r = signed_in(&server).await;
    let set_cookie = r.header("set-cookie").unwrap();
    assert!(
        set_cookie.starts_with("__Host-sf_authz_session="),
        "{set_cookie}"
    );
    let attributes: Vec<&str> = set_cookie.split("; ").skip(1).collect();
    for a in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(attributes.contains(&a), "{a}: {set_cookie}");
    }
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap();
    let consent = r.location();
    assert_eq!(
        server.get(&consent, Some(cookie)).await.status,
        StatusCode::OK
    );
    // the same value under the unprefixed name, which an http page could set, is no session
    let plain = cookie.trim_start_matches("__Host-");
    let r = server.get(&consent, Some(plain)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // sign-out clears the cookie it set (same name and attributes)
    let page = server.get("/auth/logout", Some(cookie)).await.text();
    let confirm = hidden(&page, "confirm");
    let r = server
        .send(
            axum::http::Request::post("/auth/logout")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", cookie)
                .body(axum::body::Body::from(format!("confirm={confirm}")))
                .unwrap(),
        )
        .await;
    let cleared = r.header("set-cookie").unwrap();
    assert!(
        cleared.starts_with("__Host-sf_authz_session=;"),
        "{cleared}"
    );
    assert!(
        cleared.contains("; Secure") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

#[tokio::test]
async fn over_http_the_session_cookie_keeps_to_the_issuer_path() {
    // `__Host-` needs Secure, which a browser need not accept from http://127.0.0.1 (the
    // development default): the plain name, scoped to the issuer's path
    let server = TestServer::new();
    let set_cookie = signed_in(&server).await.header("set-cookie").unwrap();
    assert!(set_cookie.starts_with("sf_authz_session="), "{set_cookie}");
    let attributes: Vec<&str> = set_cookie.split("; ").skip(1).collect();
    for a in ["Path=/auth", "HttpOnly", "SameSite=Lax"] {
        assert!(attributes.contains(&a), "{a}: {set_cookie}");
    }
    assert!(!attributes.contains(&"Secure"), "{set_cookie}");
}
