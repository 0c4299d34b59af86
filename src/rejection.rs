//! [`Rejection`]: a refused request with its stable reason and its one HTTP answer.

use http::header::{HeaderValue, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use smart_auth::error::{Challenge, ChallengeError};
use smart_auth::TokenError;

use crate::response::{self, IssueCode};

/// A refused request: the HTTP answer to send (status, `WWW-Authenticate`, OperationOutcome)
/// and a stable, machine-readable reason for logs and the audit trail. The reason is finer than
/// the answer on purpose: clients learn what RFC 6750 and the SMART status policy tell them, and
/// nothing about which check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    status: StatusCode,
    code: IssueCode,
    reason: &'static str,
    text: &'static str,
    challenge: Option<HeaderValue>,
    /// A second `WWW-Authenticate` (the `DPoP` scheme offered beside `Bearer`).
    dpop_challenge: Option<Box<HeaderValue>>,
    retry_after: Option<u32>,
    /// The `Allow` header of a 405: the methods the path takes (RFC 9110 §15.5.6).
    pub(crate) allow: Option<smart_auth::request::Allow>,
    /// Whether an authorization decision refused the request: audited as a denial whatever
    /// the status (a 404 hiding a resource the caller may not see).
    pub(crate) denied: bool,
}

impl Rejection {
    /// A rejection with no challenge.
    pub fn new(
        status: StatusCode,
        code: IssueCode,
        reason: &'static str,
        text: &'static str,
    ) -> Rejection {
        Rejection {
            status,
            code,
            reason,
            text,
            challenge: None,
            dpop_challenge: None,
            retry_after: None,
            allow: None,
            denied: false,
        }
    }

    /// The answer for a resource the caller may not know about: byte-identical to a missing one.
    /// Its audit record is a failure, as for an id that does not exist; a resource hidden by a
    /// result check is refused with the [`Rejection`] the check returns
    /// ([`Authorized::check_resource`](crate::Authorized::check_resource)): the same bytes,
    /// recorded as the denial it is (`outside_grant`, audit.md §4).
    pub fn not_found(reason: &'static str) -> Rejection {
        Rejection::new(
            StatusCode::NOT_FOUND,
            IssueCode::NotFound,
            reason,
            "Resource not found",
        )
    }

    /// `429 Too Many Requests` with `Retry-After`.
    pub fn throttled(retry_after_secs: u32) -> Rejection {
        let mut r = Rejection::new(
            StatusCode::TOO_MANY_REQUESTS,
            IssueCode::Throttled,
            "rate_limited",
            "Too many requests",
        );
        r.retry_after = Some(retry_after_secs);
        r
    }

    /// The answer for a credential that failed (`401`/`400` with the RFC 6750 challenge), or
    /// could not be checked: [`TokenError::IntrospectionFailed`] (the authorization server's
    /// introspection answer was unusable) is a `503` without a challenge, so that the client
    /// keeps its token and retries instead of discarding it as `invalid_token`.
    pub fn from_token_error(e: &TokenError, realm: &str) -> Rejection {
        if e.status() == StatusCode::SERVICE_UNAVAILABLE {
            return Rejection::new(
                e.status(),
                IssueCode::Transient,
                e.reason(),
                "The access token could not be checked; try again later",
            );
        }
        let code = match e {
            TokenError::MissingCredentials | TokenError::UnsupportedScheme => IssueCode::Login,
            TokenError::MultipleCredentials
            | TokenError::MalformedAuthorization
            | TokenError::TokenInQuery => IssueCode::Invalid,
            TokenError::Expired => IssueCode::Expired,
            _ => IssueCode::Unknown,
        };
        let text = match code {
            IssueCode::Login => "Authentication is required",
            IssueCode::Invalid => "Malformed credentials",
            IssueCode::Expired => "The access token expired",
            _ => "The access token is not valid",
        };
        let mut r = Rejection::new(e.status(), code, e.reason(), text);
        r.challenge = HeaderValue::from_str(&e.challenge().realm(realm).to_header_value()).ok();
        r
    }

    /// Offers the `DPoP` scheme with `algs` on a credential refusal (RFC 9449 §7.1): the
    /// challenge is `DPoP` itself for proof errors, a second challenge beside `Bearer`
    /// otherwise.
    pub(crate) fn offer_dpop(mut self, e: &TokenError, realm: &str, algs: &str) -> Rejection {
        if self.challenge.is_none() {
            return self;
        }
        let challenge = e.challenge();
        let dpop = Challenge::dpop().realm(realm).algs(algs);
        if challenge.scheme() == smart_auth::error::Scheme::Dpop {
            let c = dpop.error(challenge.error_code());
            self.challenge = HeaderValue::from_str(&c.to_header_value()).ok();
        } else {
            self.dpop_challenge = HeaderValue::from_str(&dpop.to_header_value())
                .ok()
                .map(Box::new);
        }
        self
    }

    /// The answer for a decision's denial.
    pub fn from_denial(d: &smart_auth::decision::Denial, realm: &str) -> Rejection {
        Rejection::from_denial_as(d, realm, None)
    }

    /// As [`Rejection::from_denial`]; for a request authenticated with a DPoP-bound token,
    /// `dpop_algs` makes the challenge use the `DPoP` scheme (RFC 9449 §7.1) with those `algs`.
    pub(crate) fn from_denial_as(
        d: &smart_auth::decision::Denial,
        realm: &str,
        dpop_algs: Option<&str>,
    ) -> Rejection {
        let scheme = || match dpop_algs {
            Some(algs) => Challenge::dpop().algs(algs),
            None => Challenge::bearer(),
        };
        use smart_auth::decision::{DenialReason, Response as Answer};
        let reason = d.reason().code();
        let mut refusal = match d.response() {
            Answer::NotFound => Rejection::not_found(reason),
            Answer::BadRequest if d.reason() == DenialReason::UnsupportedParameter => {
                Rejection::new(
                    StatusCode::BAD_REQUEST,
                    IssueCode::NotSupported,
                    reason,
                    "Unsupported search parameter or modifier",
                )
            }
            Answer::BadRequest => Rejection::new(
                StatusCode::BAD_REQUEST,
                IssueCode::Invalid,
                reason,
                "The request is not allowed as sent",
            ),
            Answer::InvalidToken => {
                let mut r = Rejection::new(
                    d.status(),
                    IssueCode::Unknown,
                    reason,
                    "The access token does not carry the context its scopes need",
                );
                let c = scheme()
                    .realm(realm)
                    .error(Some(ChallengeError::InvalidToken));
                r.challenge = HeaderValue::from_str(&c.to_header_value()).ok();
                r
            }
            Answer::EmptySearch => Rejection::new(
                StatusCode::OK,
                IssueCode::Informational,
                reason,
                "Empty search result",
            ),
            Answer::Forbidden => {
                let mut r = Rejection::new(
                    StatusCode::FORBIDDEN,
                    IssueCode::Forbidden,
                    reason,
                    "The access token does not allow this request",
                );
                let mut c = scheme()
                    .realm(realm)
                    .error(Some(ChallengeError::InsufficientScope));
                if let Some(scope) = d.required_scope() {
                    c = c.scope(scope);
                }
                r.challenge = HeaderValue::from_str(&c.to_header_value()).ok();
                r
            }
        };
        refusal.denied = true;
        refusal
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable reason code (for logs and audit, not for the client).
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// Whether this is the "not found" answer.
    pub fn is_not_found(&self) -> bool {
        self.status == StatusCode::NOT_FOUND && self.code == IssueCode::NotFound
    }

    /// The HTTP response: status, challenge, OperationOutcome body, security headers. The
    /// response carries this rejection in its extensions (never sent), so that the layer
    /// auditing a service's answer records the refusal's true reason (audit.md §4), not only
    /// its deliberately uninformative status.
    pub fn to_response(&self) -> Response<Vec<u8>> {
        let mut r = self.answer();
        r.extensions_mut().insert(self.clone());
        r
    }

    fn answer(&self) -> Response<Vec<u8>> {
        if self.is_not_found() {
            return response::not_found();
        }
        if self.status == StatusCode::OK {
            // The configured alternative to a 403 for searches naming another patient: the same
            // empty searchset for every value, existing or not.
            let mut r = Response::new(
                br#"{"resourceType":"Bundle","type":"searchset","total":0}"#.to_vec(),
            );
            let h = r.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(response::FHIR_JSON),
            );
            response::security_headers(h);
            response::no_store(h);
            return r;
        }
        let mut r = response::error(self.status, self.code, self.text);
        if let Some(c) = &self.challenge {
            r.headers_mut().insert(WWW_AUTHENTICATE, c.clone());
        }
        if let Some(c) = &self.dpop_challenge {
            r.headers_mut().append(WWW_AUTHENTICATE, (**c).clone());
        }
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(s));
        }
        if let Some(allow) = self.allow {
            r.headers_mut().insert(
                http::header::ALLOW,
                HeaderValue::from_static(allow.header_value()),
            );
        }
        r
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.status, self.reason)
    }
}

impl std::error::Error for Rejection {}
