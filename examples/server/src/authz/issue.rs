//! Minting access tokens (RFC 9068 JWTs), ID tokens and refresh tokens, and the token response.

use serde_json::{json, Map, Value};

use super::audit::{AuthzEvent, AuthzEventKind};
use super::responses::OAuthError;
use super::scopes;
use super::state::AuthzState;
use super::store::{Access, Grant, Refresh};

/// What one successful token request returns.
pub(crate) struct Issued {
    pub body: Value,
}

/// `grant` as a token carrying only `scopes` presents it: each piece of launch context and the
/// user's identity only while a scope of the token still grants it. A refresh that narrows the
/// scope (RFC 6749 §6) must not keep what the dropped scopes brought: `patient` with
/// `launch/patient`, a `patient/` scope (which SHALL have a patient in context) or an EHR
/// `launch`; `encounter` with `launch/encounter` or `launch`; `fhirContext` with `launch` or
/// another `launch/<type>`; `fhirUser` (and the ID token) with `openid` or `fhirUser`.
fn presented(grant: &Grant, scopes: &[String]) -> Grant {
    let has = |name: &str| scopes.iter().any(|s| s == name);
    let ehr = has("launch");
    let mut shown = grant.clone();
    shown.scopes = scopes.to_vec();
    let patient =
        ehr || has("launch/patient") || scopes.iter().any(|s| scopes::is_patient_level(s));
    if !patient {
        shown.context.patient = None;
    }
    if !(ehr || has("launch/encounter")) {
        shown.context.encounter = None;
    }
    let other_context = scopes
        .iter()
        .any(|s| s.starts_with("launch/") && s != "launch/patient" && s != "launch/encounter");
    if !(ehr || other_context) {
        shown.context.fhir_context.clear();
    }
    if !(has("openid") || has("fhirUser")) {
        shown.fhir_user = None;
    }
    shown
}

impl AuthzState {
    /// The absolute `fhirUser` URL for a relative one (`Patient/x` → `<fhir base>/Patient/x`).
    pub(crate) fn absolute_fhir_user(&self, relative: &str) -> String {
        format!("{}/{}", self.fhir_base().trim_end_matches('/'), relative)
    }

    fn mint_access(
        &self,
        subject: &str,
        client_id: &str,
        scope: &str,
        grant: Option<(&str, &Grant)>,
        lifetime: i64,
        jkt: Option<&str>,
    ) -> Result<String, OAuthError> {
        let now = self.now();
        let jti = self.random_token();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer()));
        claims.insert("sub".into(), json!(subject));
        claims.insert("aud".into(), json!(self.fhir_base()));
        claims.insert("client_id".into(), json!(client_id));
        claims.insert("scope".into(), json!(scope));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + lifetime));
        claims.insert("jti".into(), json!(jti));
        if let Some(jkt) = jkt {
            // RFC 9449 §6: the token is bound to the key that signed the client's DPoP proof.
            claims.insert("cnf".into(), json!({ "jkt": jkt }));
        }
        if let Some((_, g)) = grant {
            if let Some(p) = &g.context.patient {
                claims.insert("patient".into(), json!(p));
            }
            if let Some(e) = &g.context.encounter {
                claims.insert("encounter".into(), json!(e));
            }
            if !g.context.fhir_context.is_empty() {
                claims.insert("fhirContext".into(), json!(g.context.fhir_context));
            }
            if let Some(u) = &g.fhir_user {
                if g.scopes.iter().any(|s| s == "fhirUser" || s == "openid") {
                    claims.insert("fhirUser".into(), json!(self.absolute_fhir_user(u)));
                }
            }
        }
        let token = self
            .keys()
            .sign_jwt("at+jwt", &Value::Object(claims))
            .map_err(|_| OAuthError::server_error())?;
        let record = Access {
            grant_id: grant.map(|(id, _)| id.to_owned()),
            client_id: client_id.to_owned(),
            expires_at: now + lifetime,
            revoked: false,
        };
        self.store()
            .add_access(jti, record, now)
            .map_err(|_| OAuthError::server_error())?;
        Ok(token)
    }

    fn mint_id_token(&self, grant: &Grant, nonce: Option<&str>) -> Result<String, OAuthError> {
        let now = self.now();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer()));
        claims.insert(
            "sub".into(),
            json!(grant.username.clone().unwrap_or_default()),
        );
        claims.insert("aud".into(), json!(grant.client_id));
        claims.insert("azp".into(), json!(grant.client_id));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + self.lifetimes().access_token));
        claims.insert("auth_time".into(), json!(grant.auth_time));
        if let Some(n) = nonce {
            claims.insert("nonce".into(), json!(n));
        }
        if let Some(u) = &grant.fhir_user {
            if grant.scopes.iter().any(|s| s == "fhirUser") {
                claims.insert("fhirUser".into(), json!(self.absolute_fhir_user(u)));
            }
        }
        if grant.scopes.iter().any(|s| s == "profile") {
            if let Some(user) = grant.username.as_deref().and_then(|u| self.user(u)) {
                claims.insert("name".into(), json!(user.display_name));
            }
        }
        self.keys()
            .sign_jwt("JWT", &Value::Object(claims))
            .map_err(|_| OAuthError::server_error())
    }

    /// Issues tokens for a user grant (authorization code or refresh). `scope_override` narrows the
    /// scope of this access token (refresh with a `scope` parameter).
    #[allow(clippy::too_many_arguments)] // each is one fact of the token request
    pub(crate) fn issue_for_grant(
        &self,
        grant_id: &str,
        whole: &Grant,
        scope_override: Option<&[String]>,
        nonce: Option<&str>,
        id_token: bool,
        grant_type: &str,
        jkt: Option<&str>,
    ) -> Result<Issued, OAuthError> {
        let now = self.now();
        // what this token shows; the refresh token below still stands for the whole grant
        let grant = &presented(whole, scope_override.unwrap_or(&whole.scopes));
        let scope = scopes::join(&grant.scopes);
        let lifetime = self.lifetimes().access_token;
        let subject = grant.username.clone().unwrap_or_default();
        let access = self.mint_access(
            &subject,
            &grant.client_id,
            &scope,
            Some((grant_id, grant)),
            lifetime,
            jkt,
        )?;
        let mut body = json!({
            "access_token": access,
            "token_type": token_type(jkt, "Bearer"),
            "expires_in": lifetime,
            "scope": scope,
        });
        if let Some(p) = &grant.context.patient {
            body["patient"] = json!(p);
            body["need_patient_banner"] = json!(grant.context.need_patient_banner);
        }
        if let Some(e) = &grant.context.encounter {
            body["encounter"] = json!(e);
        }
        if !grant.context.fhir_context.is_empty() {
            body["fhirContext"] = json!(grant.context.fhir_context);
        }
        if id_token && grant.scopes.iter().any(|s| s == "openid") {
            body["id_token"] = json!(self.mint_id_token(grant, nonce)?);
        }
        // RFC 6749 §6: a new refresh token has the scope of the one it replaces
        let wants_refresh = whole
            .scopes
            .iter()
            .any(|s| s == "offline_access" || s == "online_access");
        if wants_refresh {
            let refresh = self.random_token();
            let record = Refresh {
                grant_id: grant_id.to_owned(),
                expires_at: whole.expires_at,
                used: false,
                jkt: jkt.map(str::to_owned),
            };
            self.store()
                .add_refresh(&refresh, record, now)
                .map_err(|_| OAuthError::server_error())?;
            body["refresh_token"] = json!(refresh);
        }
        let mut event = AuthzEvent::new(now, AuthzEventKind::Token, true);
        event.client_id = Some(grant.client_id.clone());
        event.user = grant.username.clone();
        event.fhir_user = whole.fhir_user.clone(); // the agent, whatever this token shows
        event.patient = grant.context.patient.clone();
        event.grant_type = Some(grant_type.to_owned());
        event.scope = Some(scope);
        self.audit(event);
        Ok(Issued { body })
    }

    /// Issues a Backend Services access token (no refresh token, short lifetime).
    pub(crate) fn issue_backend(
        &self,
        client_id: &str,
        granted: &[String],
        jkt: Option<&str>,
    ) -> Result<Issued, OAuthError> {
        let scope = scopes::join(granted);
        let lifetime = self.lifetimes().backend_access_token;
        let access = self.mint_access(client_id, client_id, &scope, None, lifetime, jkt)?;
        let mut event = AuthzEvent::new(self.now(), AuthzEventKind::Token, true);
        event.client_id = Some(client_id.to_owned());
        event.grant_type = Some("client_credentials".into());
        event.scope = Some(scope.clone());
        self.audit(event);
        Ok(Issued {
            body: json!({
                "access_token": access,
                "token_type": token_type(jkt, "bearer"),
                "expires_in": lifetime,
                "scope": scope,
            }),
        })
    }

    /// The claims of an access token this server issued, if it is signed by one of its keys, is
    /// an access token, unexpired, and neither it nor its grant was revoked.
    pub(crate) fn active_access_claims(&self, token: &str) -> Option<Map<String, Value>> {
        let (typ, claims) = self.keys().verify_jwt(token)?;
        if typ != "at+jwt" {
            return None;
        }
        let claims = claims.as_object()?.clone();
        let now = self.now();
        if claims.get("iss")?.as_str()? != self.issuer() || claims.get("exp")?.as_i64()? <= now {
            return None;
        }
        let jti = claims.get("jti")?.as_str()?;
        self.store().access_active(jti, now).then_some(claims)
    }
}

/// `DPoP` for a DPoP-bound token (RFC 9449 §5), `unbound` (a spelling of `Bearer`) otherwise.
fn token_type(jkt: Option<&str>, unbound: &'static str) -> &'static str {
    if jkt.is_some() {
        "DPoP"
    } else {
        unbound
    }
}
