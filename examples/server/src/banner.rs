//! What the server prints on start, and the discovery document for an external issuer.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};
use smart_auth::discovery::SmartConfiguration;

use crate::authz::AuthzState;

/// How to get a token from the development authorization server and make a first request:
/// a standalone launch of the demo public app with PKCE, in a browser and two `curl`s, or
/// `scripts/dev-token`.
pub fn dev_instructions(base: &str, state: &AuthzState) -> String {
    let verifier = pkce_verifier();
    let challenge = B64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let e = state.endpoints();
    let redirect = "http://127.0.0.1:9000/callback";
    let scope = "openid fhirUser launch/patient patient/*.rs";
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", "demo-public-app")
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", scope)
        .append_pair("state", "demo-state")
        .append_pair("aud", base)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    format!(
        "
Development authorization server (for development only): {issuer}
Demo users: patient / patient-demo-password (Patient/example),
            clinician / clinician-demo-password (Practitioner/example)

Get a token (standalone launch, PKCE):
  1. Open in a browser, sign in as `patient`, approve:
     {authorize}?{query}
  2. The browser lands on {redirect}?code=...&state=demo-state&iss={iss}
     (nothing listens there). Check that state and iss are these (iss: RFC 9207, the issuer
     that answered), copy the code and exchange it:
     curl -s {token} -d grant_type=authorization_code -d client_id=demo-public-app \\
          -d redirect_uri={redirect} -d code_verifier={verifier} -d code=CODE
  3. Make a first request with the access_token:
     curl -s -H \"Authorization: Bearer ACCESS_TOKEN\" {base}/Patient/example
Or with curl only (scripts/dev-token fills in the sign-in and consent forms):
     TOKEN=$(scripts/dev-token --base {origin})
     curl -s -H \"Authorization: Bearer $TOKEN\" {base}/Patient/example

Public: {base}/metadata and {base}/.well-known/smart-configuration
",
        issuer = e.issuer,
        authorize = e.authorize,
        query = q.finish(),
        iss = url::form_urlencoded::byte_serialize(e.issuer.as_bytes()).collect::<String>(),
        token = e.token,
        origin = base.strip_suffix("/fhir").unwrap_or(base),
    )
}

fn pkce_verifier() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // Only the banner's example value: never used by the server itself.
        bytes = [7; 32];
    }
    B64.encode(bytes)
}

/// The SMART configuration served for an external issuer (`--issuer`): the conventional
/// endpoint locations under the issuer, checked by smart-auth's builder (no `issuer` member
/// without `sso-openid-connect`, the assertion algorithms for `client-confidential-asymmetric`).
/// Deployments with other locations serve their own; an issuer that is no http(s) URL gets an
/// empty document.
pub fn external_smart_configuration(issuer: &str) -> Value {
    let issuer = issuer.trim_end_matches('/');
    SmartConfiguration::builder(format!("{issuer}/token"))
        .authorization_endpoint(format!("{issuer}/authorize"))
        .jwks_uri(format!("{issuer}/jwks"))
        .capabilities([
            "launch-standalone",
            "client-public",
            "client-confidential-asymmetric",
            "context-standalone-patient",
            "permission-patient",
            "permission-user",
            "permission-v2",
        ])
        .build()
        .map_or_else(|_| json!({}), |c| c.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_configuration_follows_smart_conformance() {
        let doc = external_smart_configuration("https://idp.example/oauth/");
        assert_eq!(doc["token_endpoint"], "https://idp.example/oauth/token");
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        // `issuer` is for sso-openid-connect only, otherwise omitted (SMART 2.2 conformance)
        let caps = doc["capabilities"].as_array().unwrap();
        assert!(!caps.iter().any(|c| c == "sso-openid-connect"));
        assert!(doc.get("issuer").is_none(), "{doc}");
        // client-confidential-asymmetric names the assertion algorithms (RS384 / ES384)
        assert!(caps.iter().any(|c| c == "client-confidential-asymmetric"));
        let algs = &doc["token_endpoint_auth_signing_alg_values_supported"];
        assert!(
            algs.as_array()
                .is_some_and(|a| a.iter().any(|v| v == "ES384")),
            "{doc}"
        );
    }
}
