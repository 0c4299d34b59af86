//! Token errors and the RFC 6750 / RFC 9449 `WWW-Authenticate` challenges they map to.
//!
//! Every rejection has a stable, machine-readable [`TokenError::reason`] for logs and metrics.
//! What goes back to the client is deliberately coarser: every token failure is the same
//! `invalid_token` challenge (smart.md §3.1 step 9), so the response is no oracle for which check
//! failed. Nothing a client sent is ever echoed into a challenge. The one refusal that is not
//! the token's fault, an authorization server whose introspection answer is unusable
//! ([`TokenError::IntrospectionFailed`]), is a 503 without a challenge, so that clients keep
//! their (possibly good) token and retry.

use http::StatusCode;

/// Why a credential was refused.
///
/// The variants are grouped by the stage that refused them; the stage order is the validation
/// order, so a token whose signature does not verify is never reported as expired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    // --- Credential extraction (RFC 6750 §2) ---
    /// No credentials were sent (no `Authorization` header).
    #[error("no credentials were sent")]
    MissingCredentials,
    /// The `Authorization` header uses a scheme this resource server does not accept.
    #[error("unsupported authorization scheme")]
    UnsupportedScheme,
    /// More than one credential was sent (several `Authorization` or `DPoP` headers, or a token
    /// in the query string as well).
    #[error("more than one credential was sent")]
    MultipleCredentials,
    /// The `Authorization` header is not `<scheme> <token68>`.
    #[error("malformed authorization header")]
    MalformedAuthorization,
    /// An access token was sent in the query string (RFC 6750 §2.3), which is not accepted.
    #[error("access token in query string")]
    TokenInQuery,

    // --- Structure, before any cryptography ---
    /// The token is longer than the configured maximum; it was not decoded.
    #[error("token too large")]
    TooLarge,
    /// Not a JWS in compact serialization (wrong number of segments, JWE, JSON serialization).
    #[error("token is not a compact JWS")]
    NotCompactJws,
    /// A segment is not strict base64url.
    #[error("invalid base64url")]
    InvalidBase64,
    /// The header or claims are not strict JSON (syntax, UTF-8, trailing data, non-object).
    #[error("invalid JSON")]
    InvalidJson,
    /// A JSON object repeats a member name.
    #[error("duplicate JSON member")]
    DuplicateMember,
    /// JSON nesting exceeds the bound.
    #[error("JSON nested too deeply")]
    TooDeep,

    // --- Header ---
    /// `alg` is `none` (in any spelling).
    #[error("unsigned token (alg none)")]
    AlgNone,
    /// `alg` is missing, not a string, or names an algorithm this crate does not implement.
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// `alg` is implemented but not allowed for this issuer or key.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// `typ` does not name the expected kind of JWT (e.g. an ID token sent as access token).
    #[error("wrong token type")]
    WrongType,
    /// `crit` is present: this crate implements no JWS extension.
    #[error("unsupported critical header")]
    CriticalHeader,
    /// The header carries a key or a key location (`jwk`, `jku`, `x5u`, `x5c`).
    #[error("header-supplied key refused")]
    HeaderKey,
    /// A nested, encrypted or compressed token (`cty`, `enc`, `zip`, `b64`).
    #[error("nested, encrypted, compressed or unencoded token")]
    UnsupportedContent,
    /// `kid` is not a string of printable ASCII of at most 256 bytes.
    #[error("malformed key id")]
    MalformedKeyId,
    /// A header member has the wrong JSON type.
    #[error("malformed header")]
    MalformedHeader,

    // --- Keys and signature ---
    /// No issuer is configured that could have signed the token.
    #[error("unknown issuer")]
    UnknownIssuer,
    /// No key of the issuer matches the token (the host may refresh the JWKS, see
    /// [`crate::jwks::KeyCache`]).
    #[error("no matching key")]
    UnknownKey,
    /// Several keys match the token and it does not say which.
    #[error("ambiguous key")]
    AmbiguousKey,
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,

    // --- Claims (checked only after the signature) ---
    /// A required claim is missing (its name is a static string, never client text).
    #[error("missing claim {0}")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or shape.
    #[error("invalid claim {0}")]
    InvalidClaim(&'static str),
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not contain this resource server.
    #[error("wrong audience")]
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway), or too long ago.
    #[error("token issued at an unacceptable time")]
    BadIssueTime,
    /// `exp - iat` exceeds the configured maximum lifetime.
    #[error("token lifetime too long")]
    LifetimeTooLong,
    /// The token is sender-constrained by an unknown confirmation method.
    #[error("unsupported confirmation method")]
    UnsupportedConfirmation,

    // --- Introspection (RFC 7662) ---
    /// The introspection response says the token is not active.
    #[error("token inactive")]
    Inactive,
    /// The authorization server's introspection answer is not a usable RFC 7662 response:
    /// not JSON, no boolean `active`, or an active answer without SMART's required members
    /// (`scope`, `client_id`, `exp`) or with mistyped ones. Hosts also use it when the
    /// introspection request itself failed (no answer, a status other than 200). It says
    /// nothing about the token, so it is no `invalid_token`: [`TokenError::status`] is 503 and
    /// there is no challenge (the request is still refused).
    #[error("introspection failed")]
    IntrospectionFailed,

    // --- Sender constraints ---
    /// A DPoP-bound token was presented without a valid DPoP proof (e.g. as `Bearer`).
    #[error("DPoP proof required")]
    DpopRequired,
    /// The DPoP proof failed a check of RFC 9449 §4.3 (the static string names the check).
    #[error("invalid DPoP proof: {0}")]
    InvalidDpopProof(&'static str),
    /// The server requires a DPoP nonce the proof lacks or gets wrong (RFC 9449 §8).
    #[error("DPoP nonce required")]
    UseDpopNonce,
    /// A certificate-bound token was presented over a connection without the bound certificate.
    #[error("certificate binding mismatch")]
    CertificateMismatch,

    // --- Replay ---
    /// A `jti` was already used (DPoP proof or client assertion).
    #[error("replayed token")]
    Replayed,
    /// The replay store is full of live entries; refusing fails closed.
    #[error("replay store full")]
    ReplayStoreFull,
    /// The client (a DPoP proof key, a client asserting its identity) already holds its share
    /// of the replay store; its further proofs are refused until its recorded ones expire,
    /// other clients' are not.
    #[error("replay store quota exceeded")]
    ReplayQuotaExceeded,

    // --- Client assertions (RFC 7523, SMART Backend Services) ---
    /// The assertion names a client that is not registered.
    #[error("unknown client")]
    UnknownClient,

    // --- Authorization (after a valid token) ---
    /// The token is valid but does not grant what the request needs.
    #[error("insufficient scope")]
    InsufficientScope,
}

/// The RFC 6750 §3.1 / RFC 9449 §7.1 error codes a challenge may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChallengeError {
    /// `invalid_request` (400).
    InvalidRequest,
    /// `invalid_token` (401).
    InvalidToken,
    /// `insufficient_scope` (403).
    InsufficientScope,
    /// `invalid_dpop_proof` (401, RFC 9449 §7.1).
    InvalidDpopProof,
    /// `use_dpop_nonce` (401, RFC 9449 §8).
    UseDpopNonce,
}

impl ChallengeError {
    /// The code as it appears in the `error` attribute.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChallengeError::InvalidRequest => "invalid_request",
            ChallengeError::InvalidToken => "invalid_token",
            ChallengeError::InsufficientScope => "insufficient_scope",
            ChallengeError::InvalidDpopProof => "invalid_dpop_proof",
            ChallengeError::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The HTTP status that goes with it.
    pub const fn status(self) -> StatusCode {
        match self {
            ChallengeError::InvalidRequest => StatusCode::BAD_REQUEST,
            ChallengeError::InsufficientScope => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

impl TokenError {
    /// A stable, machine-readable reason code (snake case), for logs, metrics and audit. It is
    /// finer than what the client is told; do not send it to the client.
    pub const fn reason(&self) -> &'static str {
        use TokenError::*;
        match self {
            MissingCredentials => "missing_credentials",
            UnsupportedScheme => "unsupported_scheme",
            MultipleCredentials => "multiple_credentials",
            MalformedAuthorization => "malformed_authorization",
            TokenInQuery => "token_in_query",
            TooLarge => "too_large",
            NotCompactJws => "not_compact_jws",
            InvalidBase64 => "invalid_base64",
            InvalidJson => "invalid_json",
            DuplicateMember => "duplicate_member",
            TooDeep => "too_deep",
            AlgNone => "alg_none",
            UnsupportedAlgorithm => "unsupported_algorithm",
            AlgorithmNotAllowed => "algorithm_not_allowed",
            WrongType => "wrong_type",
            CriticalHeader => "critical_header",
            HeaderKey => "header_key",
            UnsupportedContent => "unsupported_content",
            MalformedKeyId => "malformed_kid",
            MalformedHeader => "malformed_header",
            UnknownIssuer => "unknown_issuer",
            UnknownKey => "unknown_key",
            AmbiguousKey => "ambiguous_key",
            BadSignature => "bad_signature",
            MissingClaim(_) => "missing_claim",
            InvalidClaim(_) => "invalid_claim",
            WrongIssuer => "wrong_issuer",
            WrongAudience => "wrong_audience",
            Expired => "expired",
            NotYetValid => "not_yet_valid",
            BadIssueTime => "bad_issue_time",
            LifetimeTooLong => "lifetime_too_long",
            UnsupportedConfirmation => "unsupported_confirmation",
            Inactive => "inactive",
            IntrospectionFailed => "introspection_failed",
            DpopRequired => "dpop_required",
            InvalidDpopProof(_) => "invalid_dpop_proof",
            UseDpopNonce => "use_dpop_nonce",
            CertificateMismatch => "certificate_mismatch",
            Replayed => "replayed",
            ReplayStoreFull => "replay_store_full",
            ReplayQuotaExceeded => "replay_quota_exceeded",
            UnknownClient => "unknown_client",
            InsufficientScope => "insufficient_scope",
        }
    }

    /// The challenge error code, or `None` when no credentials were sent (RFC 6750 §3.1: the
    /// challenge then carries no `error` attribute) or the credential could not be judged
    /// ([`TokenError::IntrospectionFailed`], answered without a challenge).
    pub const fn challenge_error(&self) -> Option<ChallengeError> {
        use TokenError::*;
        match self {
            MissingCredentials | UnsupportedScheme | IntrospectionFailed => None,
            MultipleCredentials | MalformedAuthorization | TokenInQuery => {
                Some(ChallengeError::InvalidRequest)
            }
            InsufficientScope => Some(ChallengeError::InsufficientScope),
            InvalidDpopProof(_) | Replayed | ReplayQuotaExceeded => {
                Some(ChallengeError::InvalidDpopProof)
            }
            UseDpopNonce => Some(ChallengeError::UseDpopNonce),
            _ => Some(ChallengeError::InvalidToken),
        }
    }

    /// The HTTP status of a resource server's response: 401 unless the request was malformed
    /// (400), the scope is insufficient (403), or the authorization server failed to say
    /// whether the token is active (503, [`TokenError::IntrospectionFailed`]).
    pub const fn status(&self) -> StatusCode {
        if let TokenError::IntrospectionFailed = self {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match self.challenge_error() {
            None => StatusCode::UNAUTHORIZED,
            Some(e) => e.status(),
        }
    }

    /// The RFC 7523 / RFC 6749 §5.2 error for a client-assertion failure at a token endpoint:
    /// always `invalid_client` (no detail for the client).
    pub const fn oauth_error(&self) -> &'static str {
        "invalid_client"
    }

    /// The `WWW-Authenticate` challenge a resource server sends for this error: the `Bearer`
    /// scheme, or `DPoP` for a DPoP proof error (`invalid_dpop_proof`, which a replayed `jti`
    /// is, and `use_dpop_nonce`). Token endpoints answer client-assertion failures with
    /// [`oauth_error`](Self::oauth_error) instead. A 503
    /// ([`TokenError::IntrospectionFailed`]) carries no challenge: do not send this one.
    pub fn challenge(&self) -> Challenge {
        let c = Challenge::bearer();
        match self.challenge_error() {
            Some(ChallengeError::InvalidDpopProof | ChallengeError::UseDpopNonce) => {
                Challenge::dpop().error(self.challenge_error())
            }
            e => c.error(e),
        }
    }
}

/// The authentication scheme of a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449).
    Dpop,
}

/// A `WWW-Authenticate` challenge (RFC 6750 §3, RFC 9449 §7.1), rendered with every
/// attribute value escaped as an RFC 9110 quoted-string.
///
/// ```
/// use smart_auth::TokenError;
/// let header = TokenError::Expired.challenge().realm("fhir").to_header_value();
/// assert_eq!(header, r#"Bearer realm="fhir", error="invalid_token""#);
/// let header = TokenError::MissingCredentials.challenge().realm("fhir").to_header_value();
/// assert_eq!(header, r#"Bearer realm="fhir""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: Scheme,
    realm: Option<String>,
    error: Option<ChallengeError>,
    scope: Option<String>,
    algs: Option<String>,
}

impl Challenge {
    /// A bare `Bearer` challenge.
    pub fn bearer() -> Challenge {
        Challenge {
            scheme: Scheme::Bearer,
            realm: None,
            error: None,
            scope: None,
            algs: None,
        }
    }

    /// A bare `DPoP` challenge.
    pub fn dpop() -> Challenge {
        Challenge {
            scheme: Scheme::Dpop,
            ..Challenge::bearer()
        }
    }

    /// Sets the `realm` (host configuration, never client input).
    pub fn realm(mut self, realm: &str) -> Challenge {
        self.realm = Some(realm.to_owned());
        self
    }

    /// Sets or clears the `error` attribute.
    pub fn error(mut self, error: Option<ChallengeError>) -> Challenge {
        self.error = error;
        self
    }

    /// Sets the `scope` attribute (the scope the request needed, for `insufficient_scope`).
    pub fn scope(mut self, scope: &str) -> Challenge {
        self.scope = Some(scope.to_owned());
        self
    }

    /// Sets the DPoP `algs` attribute (space-separated algorithm names).
    pub fn algs(mut self, algs: &str) -> Challenge {
        self.algs = Some(algs.to_owned());
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The `error` attribute, if any.
    pub fn error_code(&self) -> Option<ChallengeError> {
        self.error
    }

    /// Renders the header value.
    pub fn to_header_value(&self) -> String {
        let mut out = String::from(match self.scheme {
            Scheme::Bearer => "Bearer",
            Scheme::Dpop => "DPoP",
        });
        let mut first = true;
        let mut attr = |name: &str, value: &str| {
            out.push_str(if first { " " } else { ", " });
            first = false;
            out.push_str(name);
            out.push_str("=\"");
            push_quoted(&mut out, value);
            out.push('"');
        };
        if let Some(r) = &self.realm {
            attr("realm", r);
        }
        if let Some(a) = &self.algs {
            attr("algs", a);
        }
        if let Some(e) = self.error {
            attr("error", e.as_str());
        }
        if let Some(s) = &self.scope {
            attr("scope", s);
        }
        out
    }

    /// Renders the header value as an [`http::HeaderValue`].
    pub fn to_http(&self) -> http::HeaderValue {
        // Rendering drops every byte that is not visible ASCII or space, so this cannot fail;
        // fall back to the bare scheme all the same rather than panic.
        http::HeaderValue::from_str(&self.to_header_value())
            .unwrap_or_else(|_| http::HeaderValue::from_static("Bearer"))
    }
}

/// Appends `value` as the inside of an RFC 9110 quoted-string: `"` and `\` escaped, anything
/// outside visible ASCII and space dropped (RFC 6750 §3 restricts attribute values to it).
fn push_quoted(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_escapes_and_filters() {
        let c = Challenge::bearer()
            .realm("a\"b\\c\r\nX-Evil: 1\u{7f}é")
            .scope("patient/*.rs");
        assert_eq!(
            c.to_header_value(),
            r#"Bearer realm="a\"b\\cX-Evil: 1", scope="patient/*.rs""#
        );
        assert!(c.to_http().to_str().is_ok());
    }

    #[test]
    fn statuses() {
        assert_eq!(
            TokenError::MissingCredentials.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            TokenError::MultipleCredentials.status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            TokenError::InsufficientScope.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(TokenError::BadSignature.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            TokenError::InvalidDpopProof("htu")
                .challenge()
                .to_header_value(),
            r#"DPoP error="invalid_dpop_proof""#
        );
    }
}
