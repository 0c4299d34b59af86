//! Every OAuth check of the development authorization server, refused: redirect URIs, PKCE,
//! codes, refresh tokens, audiences, states, clients, CORS and rate limits.

mod authz_support;

use authz_support::*;
use axum::http::StatusCode;
use secure_fhir_server::authz::{AuthzEventKind, RateLimit};
use serde_json::json;

async fn error_redirect(server: &TestServer, request: &AuthRequest<'_>) -> (String, String) {
    let response = server.get(&request.url(), None).await;
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "{}",
        response.text()
    );
    let location = response.location();
    assert!(location.starts_with(request.redirect_uri), "{location}");
    assert!(query_param(&location, "code").is_none());
    (
        query_param(&location, "error").unwrap_or_default(),
        query_param(&location, "state").unwrap_or_default(),
    )
}

#[tokio::test]
async fn unregistered_redirect_uri_is_never_redirected_to() {
    let server = TestServer::new();
    for bad in [
        "http://127.0.0.1:9000/callback/",
        "http://127.0.0.1:9000/callbackx",
        "http://127.0.0.1:9000/Callback",
        "http://evil.example/callback",
        "http://127.0.0.1:9000/callback?x=1",
    ] {
        let (_, challenge) = pkce();
        let request = AuthRequest::new(PUBLIC_APP, bad, "patient/*.rs", challenge);
        let response = server.get(&request.url(), None).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(response.header("location").is_none(), "{bad}");
        assert!(
            !response.text().contains("evil.example"),
            "no echo of input"
        );
    }
    // missing redirect_uri and unknown client likewise
    let response = server
        .get(
            "/auth/authorize?response_type=code&client_id=demo-public-app",
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    let (_, challenge) = pkce();
    let request = AuthRequest::new("nobody", PUBLIC_REDIRECT, "patient/*.rs", challenge);
    assert_eq!(
        server.get(&request.url(), None).await.status,
        StatusCode::BAD_REQUEST
    );
    assert!(server
        .audit
        .events()
        .iter()
        .all(|e| e.kind != AuthzEventKind::Authorize || !e.success));
}

#[tokio::test]
async fn wrong_redirect_uri_at_the_token_endpoint_is_refused() {
    let server = TestServer::new();
    let (code, verifier) = server.code_for("patient/*.rs").await;
    let response = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9000/other"),
            ("client_id", PUBLIC_APP),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.json()["error"], "invalid_grant");
    assert_eq!(
        response.header("cache-control").as_deref(),
        Some("no-store")
    );
}

#[tokio::test]
async fn pkce_plain_and_missing_challenge_are_refused() {
    let server = TestServer::new();
    let (verifier, challenge) = pkce();
    let mut plain = AuthRequest::new(
        PUBLIC_APP,
        PUBLIC_REDIRECT,
        "patient/*.rs",
        verifier.clone(),
    );
    plain.extra.push(("code_challenge_method", "plain".into()));
    // the request now carries the method twice: refused outright (shown, since it is malformed)
    assert_eq!(
        server.get(&plain.url(), None).await.status,
        StatusCode::BAD_REQUEST
    );
    // a well-formed request with method plain
    let url = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, "patient/*.rs", verifier)
        .url()
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let response = server.get(&url, None).await;
    let location = response.location();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(query_param(&location, "code").is_none());
    // no method at all (defaults to plain in RFC 7636): refused
    let url = AuthRequest::new(
        PUBLIC_APP,
        PUBLIC_REDIRECT,
        "patient/*.rs",
        challenge.clone(),
    )
    .url()
    .replace("&code_challenge_method=S256", "");
    let r = server.get(&url, None).await;
    assert_eq!(
        query_param(&r.location(), "error").as_deref(),
        Some("invalid_request")
    );
    // no challenge at all
    let url = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, "patient/*.rs", challenge)
        .url()
        .replace("code_challenge=", "x=");
    let r = server.get(&url, None).await;
    assert_eq!(
        query_param(&r.location(), "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn missing_and_wrong_code_verifier_are_refused() {
    let server = TestServer::new();
    let (code, _) = server.code_for("patient/*.rs").await;
    let missing = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", PUBLIC_REDIRECT),
            ("client_id", PUBLIC_APP),
        ])
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.json()["error"], "invalid_request");

    let (code, verifier) = server.code_for("patient/*.rs").await;
    let (other_verifier, _) = pkce();
    let wrong = server.exchange(&code, &other_verifier).await;
    assert_eq!(wrong.json()["error"], "invalid_grant");
    // the code is spent by the failed attempt: the right verifier no longer helps
    let after = server.exchange(&code, &verifier).await;
    assert_eq!(after.json()["error"], "invalid_grant");
    // the challenge itself is not a verifier (plain semantics never apply)
    let (verifier, challenge) = pkce();
    let request = AuthRequest::new(
        PUBLIC_APP,
        PUBLIC_REDIRECT,
        "patient/*.rs",
        challenge.clone(),
    );
    let redirect = server
        .front_channel(&request, PATIENT_USER, &Consent::default())
        .await;
    let code = query_param(&redirect.location(), "code").unwrap();
    let as_plain = server.exchange(&code, &challenge).await;
    assert_eq!(as_plain.json()["error"], "invalid_grant");
    assert_ne!(verifier, challenge);
}

#[tokio::test]
async fn reused_code_is_refused_and_revokes_the_grant() {
    let server = TestServer::new();
    let (code, verifier) = server.code_for("offline_access patient/*.rs").await;
    let first = server.exchange(&code, &verifier).await;
    assert_eq!(first.status, StatusCode::OK);
    let first = first.json();
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(server.state.introspect(access)["active"], true);
    let second = server.exchange(&code, &verifier).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_eq!(second.json()["error"], "invalid_grant");
    assert_eq!(server.state.introspect(access), json!({"active": false}));
    let refresh = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ("client_id", PUBLIC_APP),
        ])
        .await;
    assert_eq!(refresh.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn reused_refresh_token_revokes_the_whole_grant() {
    let server = TestServer::new();
    let (code, verifier) = server.code_for("offline_access patient/*.rs").await;
    let first = server.exchange(&code, &verifier).await.json();
    let refresh = |token: String| {
        let server = &server;
        async move {
            server
                .token(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &token),
                    ("client_id", PUBLIC_APP),
                ])
                .await
        }
    };
    let original = first["refresh_token"].as_str().unwrap().to_owned();
    let second = refresh(original.clone()).await;
    assert_eq!(second.status, StatusCode::OK);
    let second = second.json();
    let rotated = second["refresh_token"].as_str().unwrap().to_owned();
    let access = second["access_token"].as_str().unwrap().to_owned();
    // the old token comes back (stolen copy): refused, and everything in the grant dies
    let replay = refresh(original).await;
    assert_eq!(replay.json()["error"], "invalid_grant");
    assert_eq!(refresh(rotated).await.json()["error"], "invalid_grant");
    assert_eq!(server.state.introspect(&access), json!({"active": false}));
    assert!(server
        .audit
        .events()
        .iter()
        .any(|e| e.kind == AuthzEventKind::RefreshReuse && !e.success));
}

#[tokio::test]
async fn expired_code_is_refused() {
    let server = TestServer::new();
    let (code, verifier) = server.code_for("patient/*.rs").await;
    server.clock.advance(61);
    let response = server.exchange(&code, &verifier).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn code_is_bound_to_its_client() {
    let server = TestServer::new();
    let (code, verifier) = server.code_for("patient/*.rs").await;
    let response = server
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", PUBLIC_REDIRECT),
                ("code_verifier", &verifier),
            ],
            &[("authorization", &basic(CONF_APP, CONF_SECRET))],
        )
        .await;
    assert_eq!(response.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn authorize_checks_state_audience_response_type_and_scope() {
    let server = TestServer::new();
    let (_, challenge) = pkce();
    let base = AuthRequest::new(
        PUBLIC_APP,
        PUBLIC_REDIRECT,
        "patient/*.rs",
        challenge.clone(),
    );
    let no_state = base.url().replace("state=af0ifjsldkj-state-value&", "");
    let r = server.get(&no_state, None).await;
    assert_eq!(
        query_param(&r.location(), "error").as_deref(),
        Some("invalid_request")
    );

    let wrong_aud = base.url().replace(
        &format!(
            "aud={}",
            url::form_urlencoded::byte_serialize(FHIR.as_bytes()).collect::<String>()
        ),
        "aud=http%3A%2F%2Fevil.example%2Ffhir",
    );
    assert_ne!(wrong_aud, base.url());
    let r = server.get(&wrong_aud, None).await;
    assert_eq!(
        query_param(&r.location(), "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(
        query_param(&r.location(), "state").as_deref(),
        Some(base.state)
    );

    let token_type = base
        .url()
        .replace("response_type=code", "response_type=token");
    let r = server.get(&token_type, None).await;
    assert_eq!(
        query_param(&r.location(), "error").as_deref(),
        Some("unsupported_response_type")
    );

    // an over-long nonce is refused, not dropped (the ID token would come without it)
    let mut long_nonce = AuthRequest::new(
        PUBLIC_APP,
        PUBLIC_REDIRECT,
        "openid patient/*.rs",
        challenge.clone(),
    );
    long_nonce.extra.push(("nonce", "n".repeat(513)));
    let (error, _) = error_redirect(&server, &long_nonce).await;
    assert_eq!(error, "invalid_request");

    let request = AuthRequest::new(
        PUBLIC_APP,
        PUBLIC_REDIRECT,
        "system/*.rs user/*.cruds",
        challenge,
    );
    let (error, state) = error_redirect(&server, &request).await;
    assert_eq!(error, "invalid_scope");
    assert_eq!(state, request.state);
}

#[tokio::test]
async fn prompt_none_without_session_is_login_required() {
    let server = TestServer::new();
    let (_, challenge) = pkce();
    let mut request = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, "patient/*.rs", challenge);
    request.extra.push(("prompt", "none".into()));
    let (error, _) = error_redirect(&server, &request).await;
    assert_eq!(error, "login_required");
}

#[tokio::test]
async fn wrong_password_and_forged_csrf_are_refused() {
    let server = TestServer::new();
    let (_, challenge) = pkce();
    let request = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, "patient/*.rs", challenge);
    let start = server.get(&request.url(), None).await;
    let html = server.get(&start.location(), None).await.text();
    let txn = hidden(&html, "txn");
    let csrf = hidden(&html, "csrf");
    let wrong = server
        .post_form(
            "/auth/login",
            &[
                ("txn", &txn),
                ("csrf", &csrf),
                ("username", "patient"),
                ("password", "nope"),
            ],
            &[],
        )
        .await;
    // the sign-in form again, with its error: a form is no HTTP authentication challenge, and
    // a 401 without one breaks RFC 9110 §15.5.2 (a 401 MUST send WWW-Authenticate)
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.header("www-authenticate").is_none());
    assert!(wrong.text().contains("name=\"password\""));
    assert!(wrong.header("set-cookie").is_none());
    let unknown = server
        .post_form(
            "/auth/login",
            &[
                ("txn", &txn),
                ("csrf", &csrf),
                ("username", "mallory"),
                ("password", "x"),
            ],
            &[],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong.text().len(),
        unknown.text().len(),
        "same page for both"
    );
    let forged = server
        .post_form(
            "/auth/login",
            &[
                ("txn", &txn),
                ("csrf", "forged"),
                ("username", "patient"),
                ("password", "patient-demo-password"),
            ],
            &[],
        )
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    let failures = server
        .audit
        .events()
        .iter()
        .filter(|e| e.kind == AuthzEventKind::Login && !e.success)
        .count();
    assert_eq!(failures, 2);
    // the consent page needs the session that signed in for this request
    let consent = server
        .get(
            &format!("/auth/consent?txn={txn}"),
            Some("sf_authz_session=stolen"),
        )
        .await;
    assert_eq!(consent.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sign_in_and_consent_posted_from_another_origin_are_refused() {
    // Login CSRF: anyone can start a request and read its txn and csrf off the sign-in page;
    // a page elsewhere (another port of 127.0.0.1 is same-site to the cookie) then posts the
    // attacker's credentials from the victim's browser, which ends up signed in as the
    // attacker and later consents for apps under the attacker's account. A browser names the
    // posting page's origin; only this server's own pages may post these forms.
    let server = TestServer::new();
    let (_, challenge) = pkce();
    let request = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, "patient/*.rs", challenge);
    let start = server.get(&request.url(), None).await;
    let html = server.get(&start.location(), None).await.text();
    let form = [
        ("txn", hidden(&html, "txn")),
        ("csrf", hidden(&html, "csrf")),
        ("username", PATIENT_USER.0.to_owned()),
        ("password", PATIENT_USER.1.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for forged in [
        vec![("Origin", "http://127.0.0.1:9000")],
        vec![("Origin", "null")],
        vec![("Sec-Fetch-Site", "same-site")],
        vec![("Origin", ORIGIN), ("Sec-Fetch-Site", "cross-site")],
    ] {
        let r = server.post_form("/auth/login", &form, &forged).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{forged:?}");
        assert!(r.header("set-cookie").is_none(), "{forged:?}");
    }
    // a page under `Referrer-Policy: no-referrer` posts `Origin: null` (Fetch standard)
    let own = [("Origin", "null"), ("Sec-Fetch-Site", "same-origin")];
    let signed_in = server.post_form("/auth/login", &form, &own).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text()
    );
    let cookie = signed_in.header("set-cookie").unwrap();
    let cookie = cookie.split(';').next().unwrap();
    let page = server.get(&signed_in.location(), Some(cookie)).await.text();
    let consent = [
        ("txn", hidden(&page, "txn")),
        ("csrf", hidden(&page, "csrf")),
        ("decision", "approve".to_owned()),
        ("scope", "patient/*.rs".to_owned()),
    ];
    let consent: Vec<(&str, &str)> = consent.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let forged = [("Origin", "http://127.0.0.1:9000"), ("Cookie", cookie)];
    let r = server.post_form("/auth/consent", &consent, &forged).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let approved = [("Origin", ORIGIN), ("Cookie", cookie)];
    let r = server.post_form("/auth/consent", &consent, &approved).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert!(query_param(&r.location(), "code").is_some());
}

#[tokio::test]
async fn token_endpoint_refuses_bad_clients_and_grant_types() {
    let server = TestServer::new();
    let unsupported = server
        .token(&[("grant_type", "password"), ("client_id", PUBLIC_APP)])
        .await;
    assert_eq!(unsupported.json()["error"], "unsupported_grant_type");
    let wrong_secret = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", CONF_APP),
            ("client_secret", "wrong-secret-wrong-secret"),
        ])
        .await;
    assert_eq!(wrong_secret.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_secret.json()["error"], "invalid_client");
    let confidential_without_secret = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", CONF_APP),
        ])
        .await;
    assert_eq!(
        confidential_without_secret.json()["error"],
        "invalid_client"
    );
    // RFC 9110 §15.5.2: a 401 names how to authenticate, whichever method the client tried
    for r in [&wrong_secret, &confidential_without_secret] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Basic "), "{challenge:?}");
    }
    let json_body = server
        .send(
            axum::http::Request::post("/auth/token")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(json_body.json()["error"], "invalid_request");
    let repeated = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC_APP),
        ])
        .await;
    assert_eq!(repeated.json()["error"], "invalid_request");
}

#[tokio::test]
async fn cors_only_for_registered_origins() {
    let server = TestServer::new();
    let allowed = server
        .send(
            axum::http::Request::options("/auth/token")
                .header("origin", "http://127.0.0.1:9000")
                .header("access-control-request-method", "POST")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        allowed.header("access-control-allow-origin").as_deref(),
        Some("http://127.0.0.1:9000")
    );
    assert!(allowed.header("access-control-allow-credentials").is_none());
    let refused = server
        .send(
            axum::http::Request::options("/auth/token")
                .header("origin", "http://evil.example")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(refused.header("access-control-allow-origin").is_none());
    let post = server
        .post_form(
            "/auth/token",
            &[("grant_type", "client_credentials")],
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    assert!(post.header("access-control-allow-origin").is_none());
    // a registered origin of one client cannot be used for another client's tokens
    let other = server
        .post_form(
            "/auth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
            &[
                ("origin", "http://127.0.0.1:9000"),
                ("authorization", &basic(CONF_APP, CONF_SECRET)),
            ],
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(other.json()["error"], "invalid_request");
    // the public app from its own origin gets an answer it can read
    let own = server
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", PUBLIC_APP),
            ],
            &[("origin", "http://127.0.0.1:9000")],
        )
        .await;
    assert_eq!(own.json()["error"], "invalid_grant");
    assert_eq!(
        own.header("access-control-allow-origin").as_deref(),
        Some("http://127.0.0.1:9000")
    );
}

#[tokio::test]
async fn token_endpoint_is_rate_limited() {
    let server = TestServer::with_config(|c| c.rate_limit = RateLimit::new(3, 0.01));
    for _ in 0..3 {
        let r = server
            .token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", PUBLIC_APP),
            ])
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let limited = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", PUBLIC_APP),
        ])
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.header("retry-after").is_some());
    // made-up client ids share one bucket: inventing names does not buy more attempts
    for i in 0..3 {
        let id = format!("made-up-{i}");
        let r = server
            .token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", &id),
            ])
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "made-up-4"),
        ])
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_patient_user_cannot_accept_an_ehr_launch_for_another_patient() {
    let server = TestServer::new();
    let launch = server
        .state
        .create_ehr_launch("ehr-app", Some("pat-2"), None)
        .unwrap();
    let (_, challenge) = pkce();
    let mut request = AuthRequest::new(
        "ehr-app",
        "http://127.0.0.1:9002/callback",
        "launch patient/*.rs",
        challenge,
    );
    request.extra.push(("launch", launch));
    let (cookie, consent_url) = server.start_signed_in(&request, PATIENT_USER).await;
    let response = server.get(&consent_url, Some(&cookie)).await;
    let location = response.location();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert!(query_param(&location, "code").is_none());
}

#[tokio::test]
async fn token_endpoint_is_rate_limited_per_peer_address() {
    let server = TestServer::with_config(|c| c.rate_limit = RateLimit::new(3, 0.01));
    let from =
        |ip: [u8; 4], client: &str| {
            let body = format!("grant_type=refresh_token&refresh_token=x&client_id={client}");
            let mut request = axum::http::Request::post("/auth/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .unwrap();
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from((ip, 40000)),
            ));
            request
        };
    // three different registered clients from one address use up that address's bucket
    for client in [PUBLIC_APP, "ehr-app", PUBLIC_APP] {
        let r = server.send(from([10, 0, 0, 1], client)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let limited = server.send(from([10, 0, 0, 1], "ehr-app")).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    // another address is not affected: a known address has its own bucket, the client none
    let other = server.send(from([10, 0, 0, 2], "ehr-app")).await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn authorize_and_registration_are_rate_limited_per_peer_address() {
    let server = TestServer::with_config(|c| c.rate_limit = RateLimit::new(3, 0.01));
    let with_peer =
        |mut request: axum::http::Request<axum::body::Body>, last: u8| {
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from(([10, 0, 0, last], 40000)),
            ));
            request
        };
    let (_, challenge) = pkce();
    let url = AuthRequest::new(PUBLIC_APP, PUBLIC_REDIRECT, "patient/*.rs", challenge).url();
    let authorize = || {
        axum::http::Request::get(url.as_str())
            .body(axum::body::Body::empty())
            .unwrap()
    };
    for _ in 0..3 {
        assert_eq!(
            server.send(with_peer(authorize(), 1)).await.status,
            StatusCode::SEE_OTHER
        );
    }
    let limited = server.send(with_peer(authorize(), 1)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.header("retry-after").is_some());
    assert_eq!(
        server.send(with_peer(authorize(), 2)).await.status,
        StatusCode::SEE_OTHER
    );

    let register = || {
        axum::http::Request::post("/auth/register")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({"redirect_uris": ["http://127.0.0.1:9100/cb"]}).to_string(),
            ))
            .unwrap()
    };
    for _ in 0..3 {
        assert_eq!(
            server.send(with_peer(register(), 3)).await.status,
            StatusCode::CREATED
        );
    }
    let limited = server.send(with_peer(register(), 3)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.json()["error"], "slow_down");
    assert!(server
        .audit
        .events()
        .iter()
        .any(|e| e.kind == AuthzEventKind::Registration
            && e.reason.as_deref() == Some("rate_limited")));
}
