//! DPoP (RFC 9449) and certificate-bound tokens (RFC 8705).

use serde_json::json;
use smart_auth::bearer::Credential;
use smart_auth::dpop::{DpopRequest, DpopValidator};
use smart_auth::error::ChallengeError;
use smart_auth::jose::{Algorithm, AlgorithmSet};
use smart_auth::mtls::check_certificate_binding;
use smart_auth::replay::InMemoryReplayStore;
use smart_auth::testing::{TestIssuer, TestKey};
use smart_auth::{TokenError, UnixTime};

const ISS: &str = "https://as.example.org";
const AUD: &str = "https://fhir.example.org/r4";
const NOW: UnixTime = UnixTime::from_secs(1_760_000_000);
const URI: &str = "https://fhir.example.org/r4/Patient/123";

struct Setup {
    issuer: TestIssuer,
    client: TestKey,
    token: String,
    store: InMemoryReplayStore,
    dpop: DpopValidator,
}

fn setup() -> Setup {
    let issuer = TestIssuer::new(ISS, AUD);
    let client = TestKey::new(Algorithm::ES256);
    let token = issuer.token(NOW).dpop_bound(&client).sign();
    Setup {
        issuer,
        client,
        token,
        store: InMemoryReplayStore::new(1000),
        dpop: DpopValidator::new(),
    }
}

impl Setup {
    fn proof(&self, jti: &str) -> String {
        self.client
            .dpop_proof("GET", URI, Some(&self.token), None, NOW, jti)
    }

    fn run(&self, proof: &str) -> Result<smart_auth::AccessContext, TokenError> {
        self.dpop.validate_request(
            &self.issuer.validator(),
            Credential::Dpop {
                token: &self.token,
                proof,
            },
            "GET",
            URI,
            None,
            &self.store,
            NOW,
        )
    }
}

#[test]
fn valid_dpop_request() {
    let s = setup();
    let ctx = s.run(&s.proof("j1")).unwrap();
    assert_eq!(ctx.subject(), Some("test-user"));
}

#[test]
fn every_asymmetric_algorithm_as_proof_key() {
    for alg in AlgorithmSet::ASYMMETRIC.iter() {
        let mut s = setup();
        s.client = TestKey::new(alg);
        s.token = s.issuer.token(NOW).dpop_bound(&s.client).sign();
        s.run(&s.proof("j"))
            .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
    }
}

#[test]
fn bound_token_as_bearer_is_refused() {
    let s = setup();
    let r = s.dpop.validate_request(
        &s.issuer.validator(),
        Credential::Bearer(&s.token),
        "GET",
        URI,
        None,
        &s.store,
        NOW,
    );
    assert_eq!(r, Err(TokenError::DpopRequired));
}

#[test]
fn unbound_token_with_dpop_scheme_is_refused() {
    let mut s = setup();
    s.token = s.issuer.token(NOW).sign();
    assert_eq!(
        s.run(&s.proof("j")),
        Err(TokenError::InvalidDpopProof("token not DPoP-bound"))
    );
}

#[test]
fn replayed_proof_is_refused() {
    let s = setup();
    let p = s.proof("same");
    assert!(s.run(&p).is_ok());
    assert_eq!(s.run(&p), Err(TokenError::Replayed));
}

/// One key holding a valid token cannot fill the replay store: past its client's share its
/// own proofs are refused, and another client's fresh proof still goes through (RFC 9449
/// §11.1).
#[test]
fn one_key_cannot_fill_the_replay_store() {
    let mut s = setup();
    s.store = InMemoryReplayStore::new(160);
    let refused: Vec<_> = (0..1000)
        .filter_map(|i| s.run(&s.proof(&format!("flood-{i}"))).err())
        .collect();
    // Its share (a sixteenth, at least 16) was recorded; the rest are refused for it alone.
    assert_eq!(refused.len(), 1000 - 16);
    assert!(refused
        .iter()
        .all(|e| *e == TokenError::ReplayQuotaExceeded));
    assert_eq!(s.store.len(), 16);
    assert_eq!(
        TokenError::ReplayQuotaExceeded.challenge_error(),
        Some(ChallengeError::InvalidDpopProof)
    );

    let other = TestKey::alternate(Algorithm::ES256);
    let token = s
        .issuer
        .token(NOW)
        .client_id("another-client")
        .dpop_bound(&other)
        .sign();
    let proof = other.dpop_proof("GET", URI, Some(&token), None, NOW, "other");
    let credential = Credential::Dpop {
        token: &token,
        proof: &proof,
    };
    let v = s.issuer.validator();
    let r = s
        .dpop
        .validate_request(&v, credential, "GET", URI, None, &s.store, NOW);
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn proof_checks() {
    let s = setup();
    let other = TestKey::alternate(Algorithm::ES256);
    let t = Some(s.token.as_str());
    let cases: Vec<(String, &str)> = vec![
        (s.client.dpop_proof("POST", URI, t, None, NOW, "a"), "htm"),
        (s.client.dpop_proof("get", URI, t, None, NOW, "b"), "htm"),
        (
            s.client.dpop_proof(
                "GET",
                "https://fhir.example.org/r4/Patient/124",
                t,
                None,
                NOW,
                "c",
            ),
            "htu",
        ),
        (
            s.client.dpop_proof(
                "GET",
                "https://evil.example/r4/Patient/123",
                t,
                None,
                NOW,
                "d",
            ),
            "htu",
        ),
        (
            s.client
                .dpop_proof("GET", URI, t, None, NOW.plus(-301), "e"),
            "iat",
        ),
        (
            s.client.dpop_proof("GET", URI, t, None, NOW.plus(6), "f"),
            "iat",
        ),
        (
            s.client
                .dpop_proof("GET", URI, Some("another-token"), None, NOW, "g"),
            "ath",
        ),
        (s.client.dpop_proof("GET", URI, None, None, NOW, "h"), "ath"),
        (other.dpop_proof("GET", URI, t, None, NOW, "i"), "jkt"),
    ];
    for (proof, why) in cases {
        assert_eq!(
            s.run(&proof),
            Err(TokenError::InvalidDpopProof(why)),
            "{why}"
        );
    }
    // htu normalisation and query/fragment are ignored.
    let p = s.client.dpop_proof(
        "GET",
        "HTTPS://FHIR.example.org:443/r4/Patient/123?x=1#f",
        t,
        None,
        NOW,
        "n",
    );
    assert!(s.run(&p).is_ok());
}

#[test]
fn proof_header_rules() {
    let s = setup();
    let jwk = s.client.public_jwk_json();
    let claims = json!({"jti": "x", "htm": "GET", "htu": URI, "iat": NOW.as_secs(),
        "ath": smart_auth::jose::b64::encode(ring::digest::digest(&ring::digest::SHA256, s.token.as_bytes()).as_ref())});
    let sign = |header: serde_json::Value| {
        s.client
            .sign_raw(header.to_string().as_bytes(), claims.to_string().as_bytes())
    };
    let cases = [
        (json!({"typ": "JWT", "alg": "ES256", "jwk": jwk}), "typ"),
        (json!({"alg": "ES256", "jwk": jwk}), "typ"),
        (
            json!({"typ": "dpop+jwt", "alg": "ES384", "jwk": jwk}),
            "alg",
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk}),
            "alg",
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "none", "jwk": jwk}),
            "malformed",
        ),
        (json!({"typ": "dpop+jwt", "alg": "ES256"}), "malformed"),
        (
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk, "jku": "https://x"}),
            "malformed",
        ),
    ];
    for (h, why) in cases {
        assert_eq!(
            s.run(&sign(h.clone())),
            Err(TokenError::InvalidDpopProof(why)),
            "{h}"
        );
    }
    // A private key in the proof's jwk is refused.
    let mut private = jwk.clone();
    private["d"] = "AAAA".into();
    let h = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private});
    assert_eq!(s.run(&sign(h)), Err(TokenError::InvalidDpopProof("jwk")));
}

#[test]
fn nonce_required_once_issued() {
    let s = setup();
    let v = s.issuer.validator();
    let run = |proof: &str| {
        s.dpop.validate_request(
            &v,
            Credential::Dpop {
                token: &s.token,
                proof,
            },
            "GET",
            URI,
            Some("n-1"),
            &s.store,
            NOW,
        )
    };
    assert_eq!(run(&s.proof("a")), Err(TokenError::UseDpopNonce));
    let wrong = s
        .client
        .dpop_proof("GET", URI, Some(&s.token), Some("n-2"), NOW, "b");
    assert_eq!(run(&wrong), Err(TokenError::UseDpopNonce));
    let right = s
        .client
        .dpop_proof("GET", URI, Some(&s.token), Some("n-1"), NOW, "c");
    assert!(run(&right).is_ok());
    assert_eq!(
        TokenError::UseDpopNonce.challenge().to_header_value(),
        r#"DPoP error="use_dpop_nonce""#
    );
}

#[test]
fn proof_without_token_binding() {
    // Token-endpoint style: no access token yet, no expected key.
    let s = setup();
    let p = s.client.dpop_proof(
        "POST",
        "https://as.example.org/token",
        None,
        None,
        NOW,
        "t1",
    );
    let req = DpopRequest {
        method: "POST",
        uri: "https://as.example.org/token",
        access_token: None,
        expected_jkt: None,
        nonce: None,
    };
    let proof = s.dpop.validate_proof(&p, &req, &s.store, NOW).unwrap();
    assert_eq!(proof.jkt, s.client.public_jwk().thumbprint_b64());
    assert_eq!(
        s.dpop.validate_proof(&p, &req, &s.store, NOW),
        Err(TokenError::Replayed)
    );
}

#[test]
fn certificate_bound_tokens() {
    let i = TestIssuer::new(ISS, AUD);
    let cert = b"DER bytes of the client certificate";
    let t = i.token(NOW).certificate_bound(cert).sign();
    let v = i.validator();
    assert_eq!(v.validate(&t, NOW), Err(TokenError::CertificateMismatch));
    let ctx = v.validate_constrained(&t, NOW).unwrap();
    assert_eq!(check_certificate_binding(&ctx, Some(cert)), Ok(()));
    assert_eq!(
        check_certificate_binding(&ctx, Some(b"another certificate")),
        Err(TokenError::CertificateMismatch)
    );
    assert_eq!(
        check_certificate_binding(&ctx, None),
        Err(TokenError::CertificateMismatch)
    );
    let unbound = v.validate(&i.token(NOW).sign(), NOW).unwrap();
    assert_eq!(
        check_certificate_binding(&unbound, Some(cert)),
        Err(TokenError::CertificateMismatch)
    );
}

#[test]
fn cache_never_lets_a_bound_token_through_as_bearer() {
    let s = setup();
    let v = s
        .issuer
        .validator()
        .with_cache(100, smart_auth::time::CacheTtl::from_secs(300).unwrap());
    for jti in ["c1", "c2"] {
        let r = s.dpop.validate_request(
            &v,
            Credential::Dpop {
                token: &s.token,
                proof: &s.proof(jti),
            },
            "GET",
            URI,
            None,
            &s.store,
            NOW,
        );
        assert!(r.is_ok(), "{jti}");
    }
    // The token is cached now; as a bearer token it is still refused, and a proof is still
    // needed on every request.
    assert_eq!(
        v.validate_cached(&s.token, NOW),
        Err(TokenError::DpopRequired)
    );
    let r = s.dpop.validate_request(
        &v,
        Credential::Dpop {
            token: &s.token,
            proof: &s.proof("c1"),
        },
        "GET",
        URI,
        None,
        &s.store,
        NOW,
    );
    assert_eq!(r, Err(TokenError::Replayed));
    let ctx = v.validate_constrained_cached(&s.token, NOW).unwrap();
    assert_eq!(
        ctx.dpop_jkt(),
        Some(s.client.public_jwk().thumbprint_b64().as_str())
    );
    assert!(ctx.is_sender_constrained());
}

/// A token bound to a DPoP key and to a client certificate needs both proofs: the DPoP check
/// alone cannot see the certificate, so it refuses the token rather than check half of it.
#[test]
fn a_token_also_bound_to_a_certificate_is_not_accepted_on_its_dpop_proof_alone() {
    let mut s = setup();
    let cnf = json!({
        "jkt": s.client.public_jwk().thumbprint_b64(),
        "x5t#S256": smart_auth::mtls::certificate_thumbprint(b"the client's certificate"),
    });
    s.token = s.issuer.token(NOW).claim("cnf", cnf).sign();
    assert_eq!(
        s.run(&s.proof("both")),
        Err(TokenError::UnsupportedConfirmation)
    );
}

/// Many keys of one client (a token bound to each) share that client's share of the replay
/// store: past it the client's proofs are refused, whichever key signs them, and another
/// client's proofs still go through (RFC 9449 §11.1; threats.md: per-client quotas).
#[test]
fn the_users_of_one_shared_client_each_have_their_share() {
    // A public app is one client for all its users: a share per client would let one user's
    // proofs (or many keys) starve every other user of the app. Each user of it has a share.
    let s = Setup {
        store: InMemoryReplayStore::new(160),
        ..setup()
    };
    let flood = |user| flood_with_keys(&s, 3..=6, "shared-app", user);
    assert_eq!(
        flood("flooding-user"),
        16,
        "one user's share, whatever its keys"
    );
    assert_eq!(flood("another-user"), 16, "another user of the same app");
}

/// Sends 16 proofs per key numbered `keys`, each with a token of `client` for `user` bound to
/// that key, through `validate_request`; returns how many were accepted (the others must be
/// over the owner's share).
fn flood_with_keys(
    s: &Setup,
    keys: std::ops::RangeInclusive<u8>,
    client: &str,
    user: &str,
) -> usize {
    let v = s.issuer.validator();
    let mut accepted = 0;
    for k in keys {
        let key = TestKey::numbered(k);
        let token = s
            .issuer
            .token(NOW)
            .client_id(client)
            .subject(user)
            .dpop_bound(&key)
            .sign();
        for i in 0..16 {
            let proof = key.dpop_proof(
                "GET",
                URI,
                Some(&token),
                None,
                NOW,
                &format!("{user}-{k}-{i}"),
            );
            let credential = Credential::Dpop {
                token: &token,
                proof: &proof,
            };
            match s
                .dpop
                .validate_request(&v, credential, "GET", URI, None, &s.store, NOW)
            {
                Ok(_) => accepted += 1,
                Err(e) => assert_eq!(e, TokenError::ReplayQuotaExceeded),
            }
        }
    }
    accepted
}

#[test]
fn many_keys_of_one_client_cannot_fill_the_replay_store() {
    let s = Setup {
        store: InMemoryReplayStore::new(160),
        ..setup()
    };
    // The client's user's share (a sixteenth of 160, at least 16), not 16 per key.
    assert_eq!(flood_with_keys(&s, 3..=22, "flooder", "test-user"), 16);
    assert_eq!(s.store.len(), 16);
    assert_eq!(
        flood_with_keys(&s, 23..=23, "another-client", "test-user"),
        16
    );
}
