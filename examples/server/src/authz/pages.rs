//! The interactive steps of the authorization code flow: sign-in, consent with the patient
//! picker, sign-out, and the minimal EHR that starts an EHR launch.

use std::collections::HashSet;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::audit::{AuthzEvent, AuthzEventKind};
use super::authorize::{
    form_pairs, posted_from_own_page, session_cookie, single_params, with_query,
};
use super::clients::sha256;
use super::html::{self, ConsentView};
use super::responses::{html as html_page, see_other};
use super::scopes;
use super::state::AuthzState;
use super::store::{Code, Grant, GrantContext, Pending, Session};

/// An Argon2id hash of a random password, verified against when the user is unknown so that
/// unknown and known users take the same time.
fn dummy_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        super::config::DemoUser::with_password("", "no such user", "", "").password_hash
    })
    .clone()
}

/// An unknown, expired or forged (CSRF) sign-in or consent request: refused and audited.
fn expired(state: &AuthzState) -> Response {
    let mut event = AuthzEvent::new(state.now(), AuthzEventKind::Authorize, false);
    event.reason = Some("unknown_expired_or_forged_request".into());
    state.audit(event);
    html_page(
        StatusCode::BAD_REQUEST,
        html::error(
            "Request expired",
            "This sign-in request is unknown or has expired. Start again from the app.",
        ),
    )
}

/// The fields of a form posted from one of this server's pages; `None` for a form posted from
/// elsewhere (see [`posted_from_own_page`]) or a malformed one.
fn own_form(state: &AuthzState, headers: &HeaderMap, body: &[u8]) -> Option<Vec<(String, String)>> {
    posted_from_own_page(state, headers)
        .then(|| form_pairs(body))
        .flatten()
}

fn txn_param(query: Option<String>) -> Option<String> {
    let pairs = form_pairs(query.unwrap_or_default().as_bytes())?;
    single_params(pairs)?.remove("txn")
}

impl AuthzState {
    fn pending(&self, txn: &str) -> Option<Pending> {
        let now = self.now();
        self.store()
            .pending
            .get(txn)
            .filter(|p| p.expires_at > now)
            .cloned()
    }

    fn client_name(&self, client_id: &str) -> String {
        self.client(client_id)
            .map(|c| c.name)
            .unwrap_or_else(|| client_id.to_owned())
    }

    /// The pending request, if the caller's session is the one that signed in for it.
    fn pending_for_session(&self, txn: &str, headers: &HeaderMap) -> Option<Pending> {
        let pending = self.pending(txn)?;
        let (digest, _) = pending.signed_in.as_ref()?;
        let cookie = session_cookie(self, headers)?;
        let now = self.now();
        let store = self.store();
        let (current, _) = store.session(&cookie, now)?;
        (current == *digest).then_some(pending)
    }
}

pub(crate) async fn login_page(
    State(state): State<AuthzState>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(pending) = txn_param(query).and_then(|t| state.pending(&t).map(|p| (t, p))) else {
        return expired(&state);
    };
    let (txn, pending) = pending;
    let action = format!("{}/login", state.issuer());
    html_page(
        StatusCode::OK,
        html::login(
            &state.client_name(&pending.client_id),
            &txn,
            &pending.csrf,
            &action,
            None,
        ),
    )
}

pub(crate) async fn login_submit(
    State(state): State<AuthzState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(form) = own_form(&state, &headers, &body).and_then(single_params) else {
        return expired(&state);
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let txn = field("txn");
    let Some(pending) = state.pending(txn) else {
        return expired(&state);
    };
    if field("csrf") != pending.csrf {
        return expired(&state);
    }
    let username = field("username").to_owned();
    let password = field("password").to_owned();
    // one bucket per known user; unknown names share one, so made-up names cannot flood the table
    let bucket = if state.user(&username).is_some() {
        username.as_str()
    } else {
        ""
    };
    if state.0.limiter.check(&format!("login:{bucket}")).is_err() {
        let mut event = AuthzEvent::new(state.now(), AuthzEventKind::Login, false);
        event.client_id = Some(pending.client_id.clone());
        event.reason = Some("rate_limited".into());
        state.audit(event);
        return html_page(
            StatusCode::TOO_MANY_REQUESTS,
            html::error("Too many attempts", "Wait a moment and try again."),
        );
    }
    let hash = state
        .user(&username)
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(dummy_hash);
    let known = state.user(&username).is_some();
    let verified = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    let now = state.now();
    let mut event = AuthzEvent::new(now, AuthzEventKind::Login, verified && known);
    event.client_id = Some(pending.client_id.clone());
    event.user = Some(username.chars().take(64).collect());
    if !(verified && known) {
        event.reason = Some("bad_credentials".into());
        state.audit(event);
        let action = format!("{}/login", state.issuer());
        // the form again with its error, 400 like any refused form here: not 401, which
        // MUST carry a WWW-Authenticate challenge (RFC 9110 §15.5.2) that a form is not
        return html_page(
            StatusCode::BAD_REQUEST,
            html::login(
                &state.client_name(&pending.client_id),
                txn,
                &pending.csrf,
                &action,
                Some("Unknown user or wrong password."),
            ),
        );
    }
    event.fhir_user = state.user(&username).map(|u| u.fhir_user.clone());
    state.audit(event);
    let cookie = state.random_token();
    let digest = sha256(cookie.as_bytes());
    let lifetime = state.lifetimes().session;
    {
        let mut store = state.store();
        let session = Session {
            username: username.clone(),
            expires_at: now + lifetime,
            auth_time: now,
        };
        if store.add_session(digest, session, now).is_err() {
            return expired(&state);
        }
        if let Some(p) = store.pending.get_mut(txn) {
            p.signed_in = Some((digest, username));
        }
    }
    let mut response = see_other(&with_query(
        &format!("{}/consent", state.issuer()),
        &[("txn", txn)],
    ));
    let set_cookie = state.session_set_cookie(&cookie, lifetime);
    if let Ok(v) = HeaderValue::from_str(&set_cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// Who signed in, which patient is fixed already, and whether the picker is needed.
struct ConsentFacts {
    username: String,
    display: String,
    fhir_user: Option<String>,
    fixed_patient: Option<String>,
    needs_patient: bool,
}

/// Who is consenting, or `None`. A patient user can only ever authorize access to their own
/// record: an EHR launch naming another patient is not theirs to grant.
fn consent_facts(state: &AuthzState, pending: &Pending) -> Option<ConsentFacts> {
    let (_, username) = pending.signed_in.as_ref()?;
    let user = state.user(username)?;
    let ehr_patient = pending.launch.as_ref().and_then(|l| l.patient.clone());
    if let (Some(own), Some(launched)) = (user.patient_id(), ehr_patient.as_deref()) {
        if own != launched {
            return None;
        }
    }
    let needs_patient = pending
        .scopes
        .iter()
        .any(|s| s == "launch/patient" || scopes::is_patient_level(s));
    Some(ConsentFacts {
        username: username.clone(),
        display: user.display_name.clone(),
        fhir_user: Some(user.fhir_user.clone()),
        fixed_patient: ehr_patient.or_else(|| user.patient_id().map(str::to_owned)),
        needs_patient,
    })
}

/// The signed-in user may not authorize this request's launch context.
fn refuse_launch(state: &AuthzState, txn: &str, pending: &Pending) -> Response {
    state.store().pending.remove(txn);
    state.authorize_error(
        &pending.redirect_uri,
        Some(&pending.state),
        &pending.client_id,
        "access_denied",
        "the signed-in user cannot authorize this launch",
    )
}

fn render_consent(
    state: &AuthzState,
    txn: &str,
    pending: &Pending,
    facts: &ConsentFacts,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let picker = if facts.needs_patient && facts.fixed_patient.is_none() {
        state.picker_patients()
    } else {
        &[]
    };
    let action = format!("{}/consent", state.issuer());
    let app = state.client_name(&pending.client_id);
    let destination = url::Url::parse(&pending.redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| pending.redirect_uri.clone());
    let unverified = state
        .client(&pending.client_id)
        .is_none_or(|c| c.registered_dynamically);
    html_page(
        status,
        html::consent(&ConsentView {
            destination: &destination,
            unverified,
            app: &app,
            user: &facts.display,
            action: &action,
            txn,
            csrf: &pending.csrf,
            scopes: &pending.scopes,
            picker,
            patient: facts.fixed_patient.as_deref(),
            error,
        }),
    )
}

pub(crate) async fn consent_page(
    State(state): State<AuthzState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(txn) = txn_param(query) else {
        return expired(&state);
    };
    let Some(pending) = state.pending_for_session(&txn, &headers) else {
        return expired(&state);
    };
    let Some(facts) = consent_facts(&state, &pending) else {
        return refuse_launch(&state, &txn, &pending);
    };
    render_consent(&state, &txn, &pending, &facts, StatusCode::OK, None)
}

pub(crate) async fn consent_submit(
    State(state): State<AuthzState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(pairs) = own_form(&state, &headers, &body) else {
        return expired(&state);
    };
    let first = |k: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    };
    let txn = first("txn").unwrap_or("").to_owned();
    let Some(pending) = state.pending_for_session(&txn, &headers) else {
        return expired(&state);
    };
    if first("csrf") != Some(pending.csrf.as_str()) {
        return expired(&state);
    }
    let Some(facts) = consent_facts(&state, &pending) else {
        return refuse_launch(&state, &txn, &pending);
    };
    let fail = |error, description| {
        state.store().pending.remove(&txn);
        state.authorize_error(
            &pending.redirect_uri,
            Some(&pending.state),
            &pending.client_id,
            error,
            description,
        )
    };
    if first("decision") != Some("approve") {
        return fail("access_denied", "the user denied access");
    }
    let ticked: HashSet<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    let types_listed = first("types_listed").is_some();
    let types: HashSet<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "type")
        .map(|(_, v)| v.as_str())
        .collect();
    let granted: Vec<String> = pending
        .scopes
        .iter()
        .filter(|s| ticked.contains(s.as_str()))
        .filter(|s| match scopes::resource_type(s) {
            Some(t) if t != "*" && types_listed => types.contains(t),
            _ => true,
        })
        .cloned()
        .collect();
    if !granted
        .iter()
        .any(|s| scopes::parse_resource_scope(s).is_some())
    {
        return fail("access_denied", "no data access was granted");
    }
    let needs_patient = granted
        .iter()
        .any(|s| s == "launch/patient" || scopes::is_patient_level(s));
    let patient = match (&facts.fixed_patient, needs_patient) {
        (Some(p), _) => Some(p.clone()),
        (None, false) => None,
        (None, true) => {
            let picked = first("patient")
                .filter(|id| state.picker_patients().iter().any(|p| p.id == *id))
                .map(str::to_owned);
            match picked {
                Some(p) => Some(p),
                None => {
                    return render_consent(
                        &state,
                        &txn,
                        &pending,
                        &facts,
                        StatusCode::BAD_REQUEST,
                        Some("Choose a patient."),
                    )
                }
            }
        }
    };
    let now = state.now();
    let lifetimes = *state.lifetimes();
    let ehr = pending.launch.clone();
    let offline = granted.iter().any(|s| s == "offline_access");
    let online = !offline && granted.iter().any(|s| s == "online_access");
    let session_digest = pending.signed_in.as_ref().map(|(d, _)| *d);
    let session_end = session_digest
        .and_then(|d| state.store().sessions.get(&d).map(|s| s.expires_at))
        .unwrap_or(now);
    let grant = Grant {
        client_id: pending.client_id.clone(),
        username: Some(facts.username.clone()),
        fhir_user: facts.fhir_user.clone(),
        context: GrantContext {
            patient: patient.clone(),
            encounter: ehr.as_ref().and_then(|l| l.encounter.clone()),
            fhir_context: ehr
                .as_ref()
                .map(|l| l.fhir_context.clone())
                .unwrap_or_default(),
            need_patient_banner: ehr.is_none(),
        },
        scopes: granted,
        session: if online { session_digest } else { None },
        auth_time: session_digest
            .and_then(|d| state.store().sessions.get(&d).map(|s| s.auth_time))
            .unwrap_or(now),
        revoked: false,
        expires_at: if offline {
            now + lifetimes.refresh_token
        } else if online {
            session_end
        } else {
            now + lifetimes.authorization_code + lifetimes.access_token
        },
    };
    let grant_id = state.random_token();
    let code = state.random_token();
    let code_record = Code {
        grant_id: grant_id.clone(),
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge.clone(),
        nonce: pending.nonce.clone(),
        expires_at: now + lifetimes.authorization_code,
        used: false,
    };
    let scope = scopes::join(&grant.scopes);
    {
        let mut store = state.store();
        store.pending.remove(&txn);
        if store.add_grant(grant_id, grant, now).is_err()
            || store.add_code(&code, code_record, now).is_err()
        {
            drop(store);
            return fail("temporarily_unavailable", "try again later");
        }
    }
    let mut event = AuthzEvent::new(now, AuthzEventKind::Authorize, true);
    event.client_id = Some(pending.client_id.clone());
    event.user = Some(facts.username.clone());
    event.fhir_user = facts.fhir_user.clone();
    event.patient = patient;
    event.scope = Some(scope);
    state.audit(event);
    see_other(&with_query(
        &pending.redirect_uri,
        &[
            ("code", &code),
            ("state", &pending.state),
            ("iss", state.issuer()),
        ],
    ))
}

pub(crate) async fn ehr_page(State(state): State<AuthzState>) -> Response {
    let apps: Vec<(String, String)> = state
        .0
        .clients
        .read()
        .map(|c| {
            c.values()
                .filter(|c| c.launch_uri.is_some())
                .map(|c| (c.client_id.clone(), c.name.clone()))
                .collect()
        })
        .unwrap_or_default();
    let action = state.endpoints().launch.clone();
    html_page(
        StatusCode::OK,
        html::ehr(&apps, state.picker_patients(), &action),
    )
}

pub(crate) async fn ehr_launch(
    State(state): State<AuthzState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(form) = own_form(&state, &headers, &body).and_then(single_params) else {
        return expired(&state);
    };
    let client = form.get("client_id").and_then(|id| state.client(id));
    let patient = form
        .get("patient")
        .filter(|id| state.picker_patients().iter().any(|p| &p.id == *id));
    let (Some(client), Some(patient)) = (client, patient) else {
        return expired(&state);
    };
    let Some(launch_uri) = client.launch_uri.clone() else {
        return expired(&state);
    };
    let Some(launch) = state.create_ehr_launch(&client.client_id, Some(patient), None) else {
        return expired(&state);
    };
    see_other(&with_query(
        &launch_uri,
        &[("iss", state.fhir_base()), ("launch", &launch)],
    ))
}
