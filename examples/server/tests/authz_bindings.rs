//! What each credential is bound to at the development authorization server: a client to its
//! registered authentication method, a rate bucket to the address that spends it, an EHR launch
//! to one authorization request, and a refreshed token's context to the scopes it carries.

mod authz_support;

use authz_support::*;
use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use secure_fhir_server::authz::RateLimit;

fn basic(client: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{client}:{secret}")))
}

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
