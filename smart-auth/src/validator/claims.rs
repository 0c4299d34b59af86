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
use crate::context::{AccessContext, LaunchContext};
use crate::error::TokenError;
use crate::scope::ScopeSet;
use crate::time::UnixTime;

/// Latest accepted NumericDate: 9999-12-31T23:59:59Z.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// Most scope tokens accepted in one token (smart.md §3.4).
pub const MAX_SCOPES: usize = 256;

/// Longest accepted single scope, in bytes (smart.md §3.4).
pub const MAX_SCOPE_LEN: usize = 1024;

type Claims = Map<String, Value>;

/// A NumericDate (RFC 7519 §2): a JSON number, non-negative, before year 10000. Fractions are
/// truncated. Anything else is the wrong type and refuses the token.
pub fn numeric_date(claims: &Claims, name: &'static str) -> Result<Option<i64>, TokenError> {
    let Some(v) = claims.get(name) else {
        return Ok(None);
    };
    let Value::Number(n) = v else {
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
pub fn opt_str<'a>(claims: &'a Claims, name: &'static str) -> Result<Option<&'a str>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

/// A required string claim.
pub fn req_str<'a>(claims: &'a Claims, name: &'static str) -> Result<&'a str, TokenError> {
    opt_str(claims, name)?.ok_or(TokenError::MissingClaim(name))
}

/// `aud` as a list: a string or a non-empty array of strings.
pub fn audiences(claims: &Claims) -> Result<Vec<&str>, TokenError> {
    match claims.get("aud") {
        None => Err(TokenError::MissingClaim("aud")),
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| v.as_str().ok_or(TokenError::InvalidClaim("aud")))
            .collect(),
        Some(_) => Err(TokenError::InvalidClaim("aud")),
    }
}

/// Whether `aud` (a string or a non-empty array of strings) has a member `wanted` accepts.
pub fn audience_matches(
    claims: &Claims,
    wanted: impl Fn(&str) -> bool,
) -> Result<bool, TokenError> {
    match claims.get("aud") {
        None => Err(TokenError::MissingClaim("aud")),
        Some(Value::String(s)) => Ok(wanted(s)),
        Some(Value::Array(a)) if !a.is_empty() => {
            let mut found = false;
            for v in a {
                found |= wanted(v.as_str().ok_or(TokenError::InvalidClaim("aud"))?);
            }
            Ok(found)
        }
        Some(_) => Err(TokenError::InvalidClaim("aud")),
    }
}

/// The time checks shared by every token kind: `exp` required, `nbf`, `iat` and the maximum
/// lifetime. Returns (`exp`, `iat`).
pub fn check_times(
    claims: &Claims,
    now: UnixTime,
    leeway: i64,
    require_iat: bool,
    max_lifetime: Option<i64>,
) -> Result<(i64, Option<i64>), TokenError> {
    let now = now.as_secs();
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
        if exp.saturating_sub(start) > max.saturating_add(leeway) {
            return Err(TokenError::LifetimeTooLong);
        }
    }
    Ok((exp, iat))
}

/// Whether `s` is a FHIR R4 `id`: `[A-Za-z0-9\-\.]{1,64}`.
pub fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
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
    if s.len() > 2048 || s.bytes().any(|b| !(0x21..0x7f).contains(&b)) || s.contains(['?', '#']) {
        return false;
    }
    let mut segments = s.rsplitn(3, '/');
    let (Some(id), Some(ty)) = (segments.next(), segments.next()) else {
        return false;
    };
    let prefix_ok = match segments.next() {
        None => true,
        Some(base) => base.starts_with("https://") || base.starts_with("http://"),
    };
    prefix_ok && TYPES.contains(&ty) && is_fhir_id(id)
}

fn fhir_context(v: &Value) -> Result<Vec<String>, TokenError> {
    const BAD: TokenError = TokenError::InvalidClaim("fhirContext");
    let items = v.as_array().ok_or(BAD)?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let item = item.as_object().ok_or(BAD)?;
        let text = |name: &str| match item.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(BAD),
        };
        let reference = text("reference")?;
        let canonical = text("canonical")?;
        text("type")?;
        text("role")?;
        let identifier = match item.get("identifier") {
            None => false,
            Some(Value::Object(_)) => true,
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
pub fn scope_string(
    claims: &Claims,
    mode: ScopeClaim,
) -> Result<std::borrow::Cow<'_, str>, TokenError> {
    use std::borrow::Cow;
    const BAD: TokenError = TokenError::InvalidClaim("scope");
    let scope = opt_str(claims, "scope")?;
    let scp = claims.get("scp");
    let joined = match (scope, scp, mode) {
        (Some(_), Some(_), _) => return Err(BAD),
        (Some(s), None, _) => Cow::Borrowed(s),
        (None, Some(Value::String(s)), ScopeClaim::ScopeOrScp) => Cow::Borrowed(s.as_str()),
        (None, Some(Value::Array(a)), ScopeClaim::ScopeOrScp) => {
            let parts: Option<Vec<&str>> = a.iter().map(Value::as_str).collect();
            let parts = parts.ok_or(BAD)?;
            if parts.iter().any(|p| p.is_empty() || p.contains(' ')) {
                return Err(BAD);
            }
            Cow::Owned(parts.join(" "))
        }
        (None, Some(_), ScopeClaim::ScopeOrScp) => return Err(BAD),
        (None, Some(_), ScopeClaim::Scope) => return Err(TokenError::InvalidClaim("scp")),
        (None, None, _) => Cow::Borrowed(""),
    };
    let mut count = 0;
    for s in joined.split(' ').filter(|s| !s.is_empty()) {
        count += 1;
        if count > MAX_SCOPES || s.len() > MAX_SCOPE_LEN {
            return Err(BAD);
        }
    }
    Ok(joined)
}

/// The `cnf` claim (RFC 7800): an object whose members are confirmation methods this crate
/// enforces (`jkt`, `x5t#S256`).
pub fn confirmation(claims: &Claims) -> Result<Option<Value>, TokenError> {
    match claims.get("cnf") {
        None => Ok(None),
        Some(Value::Object(o)) if !o.is_empty() => {
            for (k, v) in o {
                let ok = matches!(k.as_str(), "jkt" | "x5t#S256")
                    && v.as_str()
                        .is_some_and(|s| s.len() == 43 && crate::jose::b64::decode(s).is_some());
                if !ok {
                    return Err(TokenError::UnsupportedConfirmation);
                }
            }
            Ok(Some(Value::Object(o.clone())))
        }
        Some(_) => Err(TokenError::UnsupportedConfirmation),
    }
}

/// Builds the access context from the SMART claims shared by JWTs and introspection:
/// scopes, `patient`, `encounter`, `fhirContext`, `fhirUser`, `cnf`.
pub fn context_from_claims(
    issuer: String,
    expires_at: i64,
    claims: Claims,
    scope_mode: ScopeClaim,
    names: &ClaimNames,
) -> Result<AccessContext, TokenError> {
    let scopes = ScopeSet::parse(&scope_string(&claims, scope_mode)?);
    let id = |name: &'static str| -> Result<Option<String>, TokenError> {
        match opt_str(&claims, name)? {
            Some(s) if is_fhir_id(s) => Ok(Some(s.to_owned())),
            Some(_) => Err(TokenError::InvalidClaim(name)),
            None => Ok(None),
        }
    };
    let patient = id(names.patient)?;
    let encounter = id(names.encounter)?;
    let fhir_context = match claims.get(names.fhir_context) {
        Some(v) => fhir_context(v)?,
        None => Vec::new(),
    };
    let fhir_user = match opt_str(&claims, names.fhir_user)? {
        Some(u) if is_fhir_user(u) => Some(u.to_owned()),
        Some(_) => return Err(TokenError::InvalidClaim(names.fhir_user)),
        None => None,
    };
    let subject = opt_str(&claims, "sub")?.map(str::to_owned);
    let client_id = match opt_str(&claims, "client_id")? {
        Some(c) => Some(c.to_owned()),
        None => opt_str(&claims, "azp")?.map(str::to_owned),
    };
    let token_id = opt_str(&claims, "jti")?.map(str::to_owned);
    let confirmation = confirmation(&claims)?;
    Ok(AccessContext {
        issuer,
        subject,
        client_id,
        scopes,
        fhir_user,
        launch: LaunchContext {
            patient,
            encounter,
            fhir_context,
        },
        token_id,
        expires_at,
        confirmation,
        raw_claims: claims,
    })
}

/// Checks the verified claims of a JWT access token against `config` (smart.md §3.3).
pub fn check_access_token(
    claims: Claims,
    config: &IssuerConfig,
    now: UnixTime,
) -> Result<AccessContext, TokenError> {
    let iss = req_str(&claims, "iss")?;
    if iss != config.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if !audience_matches(&claims, |a| config.audiences.iter().any(|c| c == a))? {
        return Err(TokenError::WrongAudience);
    }
    let strict = config.profile == ClaimProfile::Rfc9068;
    let (exp, _) = check_times(&claims, now, config.leeway, strict, config.max_lifetime)?;
    if strict {
        req_str(&claims, "sub")?;
        req_str(&claims, "client_id")?;
        req_str(&claims, "jti")?;
    }
    context_from_claims(
        config.issuer.clone(),
        exp,
        claims,
        config.scope_claim,
        &config.claim_names,
    )
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
