//! Claim checks (smart.md §3.3, §2), run only on claims whose signature verified.

use serde_json::{Map, Value};

use super::{ClaimProfile, IssuerConfig, ScopeClaim};

/// The claim names that carry the SMART launch context. SMART's names are the default;
/// authorization servers that use others (e.g. `patient_id`) are configured here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimNames {
    /// The in-context patient id (default `patient`).
    pub patient: &'static str,
    /// The in-context encounter id (default `encounter`).
    pub encounter: &'static str,
    /// The user's FHIR resource URL (default `fhirUser`).
    pub fhir_user: &'static str,
    /// Further context resources (default `fhirContext`).
    pub fhir_context: &'static str,
}

impl ClaimNames {
    /// SMART App Launch's names.
    pub const SMART: ClaimNames = ClaimNames {
        patient: "patient",
        encounter: "encounter",
        fhir_user: "fhirUser",
        fhir_context: "fhirContext",
    };
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames::SMART
    }
}
use crate::context::{AccessContext, ContextClaims, RawClaims};
use crate::error::TokenError;
use crate::jose::json::{JsonRef, Object};
use crate::scope::{ScopePolicy, ScopeSet};
use crate::time::{Leeway, MaxLifetime, UnixTime};

/// Read access to a claims object: a `serde_json` map, or the borrowed [`Object`] that access
/// tokens are parsed into on the hot path (no copy of any claim the checks do not keep).
pub trait ClaimsObject {
    /// The type of a member value.
    type Value: ClaimValue<Object = Self>;
    /// The member `name`.
    fn claim(&self, name: &str) -> Option<&Self::Value>;
}

/// A JSON value inside a [`ClaimsObject`].
pub trait ClaimValue: Sized {
    /// The object type values nest.
    type Object: ClaimsObject<Value = Self>;
    /// The string, if this is one.
    fn as_str(&self) -> Option<&str>;
    /// The number, if this is one.
    fn as_number(&self) -> Option<&serde_json::Number>;
    /// The elements, if this is an array.
    fn as_slice(&self) -> Option<&[Self]>;
    /// The object, if this is one.
    fn as_object(&self) -> Option<&Self::Object>;
    /// An owned copy.
    fn to_value(&self) -> Value;
}

impl ClaimsObject for Map<String, Value> {
    type Value = Value;
    fn claim(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

impl ClaimValue for Value {
    type Object = Map<String, Value>;
    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }
    fn as_number(&self) -> Option<&serde_json::Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }
    fn as_slice(&self) -> Option<&[Value]> {
        self.as_array().map(Vec::as_slice)
    }
    fn as_object(&self) -> Option<&Map<String, Value>> {
        Value::as_object(self)
    }
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<'a> ClaimsObject for Object<'a> {
    type Value = JsonRef<'a>;
    #[inline]
    fn claim(&self, name: &str) -> Option<&JsonRef<'a>> {
        self.get(name)
    }
}

impl<'a> ClaimValue for JsonRef<'a> {
    type Object = Object<'a>;
    fn as_str(&self) -> Option<&str> {
        JsonRef::as_str(self)
    }
    fn as_number(&self) -> Option<&serde_json::Number> {
        match self {
            JsonRef::Number(n) => Some(n),
            _ => None,
        }
    }
    fn as_slice(&self) -> Option<&[JsonRef<'a>]> {
        self.as_array()
    }
    fn as_object(&self) -> Option<&Object<'a>> {
        JsonRef::as_object(self)
    }
    fn to_value(&self) -> Value {
        JsonRef::to_value(self)
    }
}

/// Latest accepted NumericDate: 9999-12-31T23:59:59Z.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// Most scope tokens accepted in one token (smart.md §3.4).
pub const MAX_SCOPES: usize = 256;

/// Longest accepted single scope, in bytes (smart.md §3.4).
pub const MAX_SCOPE_LEN: usize = 1024;

/// A NumericDate (RFC 7519 §2): a JSON number, non-negative, before year 10000. Fractions are
/// truncated. Anything else is the wrong type and refuses the token.
pub fn numeric_date<O: ClaimsObject>(
    claims: &O,
    name: &'static str,
) -> Result<Option<i64>, TokenError> {
    let Some(v) = claims.claim(name) else {
        return Ok(None);
    };
    let Some(n) = v.as_number() else {
        return Err(TokenError::InvalidClaim(name));
    };
    let secs = if let Some(i) = n.as_i64() {
        i
    } else if let Some(f) = n.as_f64() {
        if !f.is_finite() || !(0.0..=MAX_NUMERIC_DATE as f64).contains(&f) {
            return Err(TokenError::InvalidClaim(name));
        }
        f as i64
    } else {
        return Err(TokenError::InvalidClaim(name));
    };
    if !(0..=MAX_NUMERIC_DATE).contains(&secs) {
        return Err(TokenError::InvalidClaim(name));
    }
    Ok(Some(secs))
}

/// An optional string claim; other JSON types refuse the token.
pub fn opt_str<'a, O: ClaimsObject>(
    claims: &'a O,
    name: &'static str,
) -> Result<Option<&'a str>, TokenError> {
    match claims.claim(name) {
        None => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or(TokenError::InvalidClaim(name)),
    }
}

/// An optional string claim that identifies something (`sub`, `client_id`, `jti`): when
/// present it may not be empty, or every token carrying `""` would be one caller, one client
/// or one token to a host keying on it.
pub fn opt_id_str<'a, O: ClaimsObject>(
    claims: &'a O,
    name: &'static str,
) -> Result<Option<&'a str>, TokenError> {
    match opt_str(claims, name)? {
        Some("") => Err(TokenError::InvalidClaim(name)),
        other => Ok(other),
    }
}

/// A required string claim.
pub fn req_str<'a, O: ClaimsObject>(
    claims: &'a O,
    name: &'static str,
) -> Result<&'a str, TokenError> {
    opt_str(claims, name)?.ok_or(TokenError::MissingClaim(name))
}

/// `aud` as a list: a string or a non-empty array of strings.
pub fn audiences<O: ClaimsObject>(claims: &O) -> Result<Vec<&str>, TokenError> {
    let mut out = Vec::new();
    audience_matches(claims, |a| {
        out.push(a);
        false
    })?;
    Ok(out)
}

/// Whether `aud` (a string or a non-empty array of strings) has a member `wanted` accepts.
pub fn audience_matches<'a, O: ClaimsObject>(
    claims: &'a O,
    mut wanted: impl FnMut(&'a str) -> bool,
) -> Result<bool, TokenError> {
    let bad = TokenError::InvalidClaim("aud");
    let aud = claims.claim("aud").ok_or(TokenError::MissingClaim("aud"))?;
    if let Some(s) = aud.as_str() {
        return Ok(wanted(s));
    }
    match aud.as_slice() {
        Some(a) if !a.is_empty() => {
            let mut found = false;
            for v in a {
                found |= wanted(v.as_str().ok_or(bad.clone())?);
            }
            Ok(found)
        }
        _ => Err(bad),
    }
}

/// The time checks shared by every token kind: `exp` required, `nbf`, `iat` and the maximum
/// lifetime. Returns (`exp`, `iat`).
pub fn check_times<O: ClaimsObject>(
    claims: &O,
    now: UnixTime,
    leeway: Leeway,
    require_iat: bool,
    max_lifetime: Option<MaxLifetime>,
) -> Result<(i64, Option<i64>), TokenError> {
    let now = now.as_secs();
    let leeway = leeway.as_secs();
    let exp = numeric_date(claims, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
    let nbf = numeric_date(claims, "nbf")?;
    let iat = numeric_date(claims, "iat")?;
    if now >= exp.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| now < nbf.saturating_sub(leeway)) {
        return Err(TokenError::NotYetValid);
    }
    match iat {
        Some(iat) if iat > now.saturating_add(leeway) => return Err(TokenError::BadIssueTime),
        None if require_iat => return Err(TokenError::MissingClaim("iat")),
        _ => {}
    }
    if let Some(max) = max_lifetime {
        let start = iat.or(nbf).unwrap_or(now);
        if exp.saturating_sub(start) > max.as_secs().saturating_add(leeway) {
            return Err(TokenError::LifetimeTooLong);
        }
    }
    Ok((exp, iat))
}

/// Whether `s` is a FHIR R4 `id`: `[A-Za-z0-9\-\.]{1,64}`, but not `.` or `..`, which the
/// pattern allows and which name no resource as a URL's segment (`Patient/..`).
pub fn is_fhir_id(s: &str) -> bool {
    // Folded without an early exit, so it vectorises.
    (1..=64).contains(&s.len())
        && s != "."
        && s != ".."
        && s.bytes().fold(true, |ok, b| {
            ok & (b.is_ascii_alphanumeric() | (b == b'-') | (b == b'.'))
        })
}

/// Whether `s` is a valid `fhirUser`: `Type/id`, absolute or relative, with a user type.
pub fn is_fhir_user(s: &str) -> bool {
    const TYPES: [&str; 5] = [
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "RelatedPerson",
        "Person",
    ];
    if s.len() > 2048
        || !s.bytes().fold(true, |ok, b| {
            ok & (0x21..0x7f).contains(&b) & (b != b'?') & (b != b'#')
        })
    {
        return false;
    }
    // `[base/]Type/id`, split from the end (byte positions: `/` is ASCII).
    let Some(slash) = s.bytes().rposition(|b| b == b'/') else {
        return false;
    };
    let (head, id) = (&s[..slash], &s[slash + 1..]);
    let (base, ty) = match head.bytes().rposition(|b| b == b'/') {
        Some(i) => (Some(&head[..i]), &head[i + 1..]),
        None => (None, head),
    };
    let prefix_ok = match base {
        None => true,
        Some(base) => base.starts_with("https://") || base.starts_with("http://"),
    };
    prefix_ok && TYPES.contains(&ty) && is_fhir_id(id)
}

fn fhir_context<V: ClaimValue>(v: &V) -> Result<Vec<String>, TokenError> {
    const BAD: TokenError = TokenError::InvalidClaim("fhirContext");
    let items = v.as_slice().ok_or(BAD)?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let item = item.as_object().ok_or(BAD)?;
        let text = |name: &str| match item.claim(name) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                Some(s) if !s.is_empty() => Ok(Some(s.to_owned())),
                _ => Err(BAD),
            },
        };
        let reference = text("reference")?;
        let canonical = text("canonical")?;
        text("type")?;
        text("role")?;
        let identifier = match item.claim("identifier") {
            None => false,
            Some(v) if v.as_object().is_some() => true,
            Some(_) => return Err(BAD),
        };
        if let Some(r) = &reference {
            // A relative reference `Type/id` (SMART-scopes, fhirContext).
            let ok = r.split_once('/').is_some_and(|(t, id)| {
                !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphabetic()) && is_fhir_id(id)
            });
            if !ok {
                return Err(BAD);
            }
        }
        match (reference, canonical) {
            (Some(r), _) => out.push(r),
            (None, Some(c)) => out.push(c),
            (None, None) if identifier => {}
            (None, None) => return Err(BAD),
        }
    }
    Ok(out)
}

/// The granted scope string from `scope` (or `scp` where configured), size-bounded.
pub fn scope_string<O: ClaimsObject>(
    claims: &O,
    mode: ScopeClaim,
) -> Result<std::borrow::Cow<'_, str>, TokenError> {
    use std::borrow::Cow;
    const BAD: TokenError = TokenError::InvalidClaim("scope");
    let scope = opt_str(claims, "scope")?;
    let scp = claims.claim("scp");
    let joined = match (scope, scp, mode) {
        (Some(_), Some(_), _) => return Err(BAD),
        (Some(s), None, _) => Cow::Borrowed(s),
        (None, Some(_), ScopeClaim::Scope) => return Err(TokenError::InvalidClaim("scp")),
        (None, Some(v), ScopeClaim::ScopeOrScp) => match (v.as_str(), v.as_slice()) {
            (Some(s), _) => Cow::Borrowed(s),
            (None, Some(a)) => {
                let parts: Option<Vec<&str>> = a.iter().map(ClaimValue::as_str).collect();
                let parts = parts.ok_or(BAD)?;
                if parts.iter().any(|p| p.is_empty() || p.contains(' ')) {
                    return Err(BAD);
                }
                Cow::Owned(parts.join(" "))
            }
            (None, None) => return Err(BAD),
        },
        (None, None, _) => Cow::Borrowed(""),
    };
    // Under 2 × MAX_SCOPES bytes neither bound can be exceeded (a token and its separator take
    // two bytes at least, and MAX_SCOPE_LEN is larger), so the usual grant is not walked.
    if joined.len() < 2 * MAX_SCOPES && 2 * MAX_SCOPES <= MAX_SCOPE_LEN {
        return Ok(joined);
    }
    let mut count = 0;
    for s in crate::scope::parse::split_ascii(&joined, |b| b == b' ').filter(|s| !s.is_empty()) {
        count += 1;
        if count > MAX_SCOPES || s.len() > MAX_SCOPE_LEN {
            return Err(BAD);
        }
    }
    Ok(joined)
}

/// The `cnf` claim (RFC 7800): an object whose members are confirmation methods this crate
/// enforces (`jkt`, `x5t#S256`).
pub fn confirmation<O: ClaimsObject>(claims: &O) -> Result<Option<Value>, TokenError> {
    match claims.claim("cnf").map(ClaimValue::to_value) {
        None => Ok(None),
        Some(Value::Object(o)) if !o.is_empty() => {
            for (k, v) in &o {
                let ok = matches!(k.as_str(), "jkt" | "x5t#S256")
                    && v.as_str()
                        .is_some_and(|s| s.len() == 43 && crate::jose::b64::decode(s).is_some());
                if !ok {
                    return Err(TokenError::UnsupportedConfirmation);
                }
            }
            Ok(Some(Value::Object(o)))
        }
        Some(_) => Err(TokenError::UnsupportedConfirmation),
    }
}

/// Builds the access context from the SMART claims shared by JWTs and introspection:
/// scopes, `patient`, `encounter`, `fhirContext`, `fhirUser`, `cnf`. Its
/// [`raw_claims`](AccessContext::raw_claims) are left empty for the caller to fill.
pub fn context_from_claims<O: ClaimsObject>(
    issuer: &str,
    expires_at: i64,
    claims: &O,
    scope_mode: ScopeClaim,
    scope_policy: &ScopePolicy,
    names: &ClaimNames,
) -> Result<AccessContext, TokenError> {
    let config = ContextConfig {
        scope_mode,
        scope_policy,
        names,
    };
    context_against(issuer, expires_at, claims, "", &config)
}

/// How [`context_against`] reads the SMART claims.
struct ContextConfig<'a> {
    scope_mode: ScopeClaim,
    scope_policy: &'a ScopePolicy,
    names: &'a ClaimNames,
}

/// [`context_from_claims`], keeping the strings that lie in `text` (the claims JSON that
/// `claims` borrows from, handed over as the raw claims afterwards) as spans of it.
fn context_against<O: ClaimsObject>(
    issuer: &str,
    expires_at: i64,
    claims: &O,
    text: &str,
    config: &ContextConfig<'_>,
) -> Result<AccessContext, TokenError> {
    let names = config.names;
    let scopes = ScopeSet::parse_with(
        &scope_string(claims, config.scope_mode)?,
        config.scope_policy,
    );
    let id = |name: &'static str| -> Result<Option<&str>, TokenError> {
        match opt_str(claims, name)? {
            Some(s) if is_fhir_id(s) => Ok(Some(s)),
            Some(_) => Err(TokenError::InvalidClaim(name)),
            None => Ok(None),
        }
    };
    let patient = id(names.patient)?;
    let encounter = id(names.encounter)?;
    let fhir_context = match claims.claim(names.fhir_context) {
        Some(v) => fhir_context(v)?,
        None => Vec::new(),
    };
    let fhir_user = match opt_str(claims, names.fhir_user)? {
        Some(u) if is_fhir_user(u) => Some(u),
        Some(_) => return Err(TokenError::InvalidClaim(names.fhir_user)),
        None => None,
    };
    let client_id = match opt_id_str(claims, "client_id")? {
        Some(c) => Some(c),
        None => opt_id_str(claims, "azp")?,
    };
    let strings = ContextClaims {
        issuer,
        subject: opt_id_str(claims, "sub")?,
        client_id,
        fhir_user,
        patient,
        encounter,
        token_id: opt_id_str(claims, "jti")?,
    };
    let confirmation = confirmation(claims)?;
    Ok(AccessContext::new(
        &strings,
        text,
        scopes,
        fhir_context,
        expires_at,
        confirmation,
    ))
}

/// Checks the verified claims of a JWT access token against `config` (smart.md §3.3). The
/// `payload` is the verified claims text; it is parsed strictly once, into borrowed form, and
/// kept as the context's [`raw_claims`](AccessContext::raw_claims), which the context's
/// string claims are views into.
pub fn check_access_token(
    payload: Vec<u8>,
    config: &IssuerConfig,
    now: UnixTime,
) -> Result<AccessContext, TokenError> {
    let json = String::from_utf8(payload).map_err(|_| TokenError::InvalidJson)?;
    let ctx = {
        let claims =
            crate::jose::json::parse_borrowed_str(&json).map_err(crate::jose::json_error)?;
        check_access_claims(&claims, &json, config, now)?
    };
    Ok(ctx.with_raw_claims(RawClaims::from_checked_json(json)))
}

fn check_access_claims<O: ClaimsObject>(
    claims: &O,
    text: &str,
    config: &IssuerConfig,
    now: UnixTime,
) -> Result<AccessContext, TokenError> {
    let iss = req_str(claims, "iss")?;
    if iss != config.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if !audience_matches(claims, |a| config.audiences.iter().any(|c| c == a))? {
        return Err(TokenError::WrongAudience);
    }
    let strict = config.profile == ClaimProfile::Rfc9068;
    let (exp, _) = check_times(claims, now, config.leeway, strict, config.max_lifetime)?;
    if strict {
        req_str(claims, "sub")?;
        req_str(claims, "client_id")?;
        req_str(claims, "jti")?;
    }
    let context = ContextConfig {
        scope_mode: config.scope_claim,
        scope_policy: &config.scope_policy,
        names: &config.claim_names,
    };
    context_against(iss, exp, claims, text, &context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fhir_user_shapes() {
        assert!(is_fhir_user("Practitioner/123"));
        assert!(is_fhir_user("https://ehr.example/fhir/Patient/a-1.2"));
        assert!(!is_fhir_user("Observation/1"));
        assert!(!is_fhir_user("Patient/"));
        assert!(!is_fhir_user("Patient/1?x=1"));
        assert!(!is_fhir_user("javascript:alert(1)/Patient/1"));
        assert!(!is_fhir_user("Patient/1 2"));
    }

    #[test]
    fn numeric_dates() {
        let m = |j: &str| crate::jose::json::parse_object(j.as_bytes()).unwrap();
        assert_eq!(numeric_date(&m(r#"{"exp":5}"#), "exp"), Ok(Some(5)));
        assert_eq!(numeric_date(&m(r#"{"exp":5.9}"#), "exp"), Ok(Some(5)));
        for bad in [
            r#""5""#,
            "true",
            "null",
            "-1",
            "1e300",
            "253402300800",
            "[1]",
        ] {
            let claims = m(&format!(r#"{{"exp":{bad}}}"#));
            assert_eq!(
                numeric_date(&claims, "exp"),
                Err(TokenError::InvalidClaim("exp")),
                "{bad}"
            );
        }
    }
}
