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
