//! [`Denial`]: a refusal with a stable reason code and exactly one HTTP answer.

use std::fmt;

use http::StatusCode;

/// How a refusal must be answered. The host renders each kind the same way every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Response {
    /// 401 with `WWW-Authenticate: Bearer error="invalid_token"` (or 403 when configured).
    InvalidToken,
    /// 403 with `WWW-Authenticate: Bearer error="insufficient_scope"`.
    Forbidden,
    /// Exactly the response for a resource that does not exist: 404, same headers and body.
    NotFound,
    /// A 200 empty `searchset` Bundle (the alternative policy for searches naming another patient).
    EmptySearch,
    /// 400 with an OperationOutcome.
    BadRequest,
}

/// Why a request (or a result) was refused. Codes are stable; they never reveal whether a
/// resource exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenialReason {
    /// The scope set was rejected as a whole under the scope policy (mixed levels, ...).
    ScopesRejected,
    /// `patient/` scopes without a launch patient.
    MissingPatientContext,
    /// `user/` scopes without `fhirUser`.
    MissingFhirUser,
    /// No scope grants this interaction on this type.
    InsufficientScope,
    /// The resource is outside every granted compartment, user access or constraint (reads):
    /// answered exactly as a missing resource ([`Response::NotFound`]), recorded with the code
    /// `outside_grant`, so that an audit trail tells a probe of what the token may not see
    /// from a request for an id that does not exist (audit.md §4: the true reason).
    NotFound,
    /// A search names a patient other than the one in context.
    OtherPatient,
    /// A write would touch a resource outside the granted compartment or constraints.
    WriteOutOfScope,
    /// A chain or `_has` traverses a type the token may not search.
    ChainNotGranted,
    /// An include of a type the token may not read (with the refuse-includes policy).
    IncludeNotGranted,
    /// An unknown or unsupported search parameter (`_filter`, `_query`, `_contained`, ...), or
    /// a modifier FHIR does not define for the parameter's type (`subject:not`).
    UnsupportedParameter,
    /// Too many includes or too deep iteration.
    TooManyIncludes,
    /// The operation is not allowed (unknown operations are refused by default).
    OperationNotAllowed,
    /// Bulk export by a token that is not a `system/` grant for every requested type.
    ExportNotAllowed,
    /// The body's `id` differs from the URL's, or the body type from the URL type.
    IdMismatch,
    /// A Bundle posted to the base is neither `batch` nor `transaction`, or an entry is malformed.
    InvalidBundle,
    /// One entry of a transaction was refused, so the whole transaction is.
    TransactionEntryDenied,
    /// Clients may not write `AuditEvent` through the FHIR API.
    AuditEventReadOnly,
    /// Refused by the host's user policy.
    UserPolicy,
    /// A write would set, change or remove `meta.security` labels, which only a grant
    /// unrestricted on the type may do (smart.md §12.12).
    SecurityLabels,
}

impl DenialReason {
    /// A stable machine-readable code, e.g. `insufficient_scope`.
    pub fn code(self) -> &'static str {
        match self {
            DenialReason::SecurityLabels => "security_labels",
            DenialReason::ScopesRejected => "scopes_rejected",
            DenialReason::MissingPatientContext => "missing_patient_context",
            DenialReason::MissingFhirUser => "missing_fhir_user",
            DenialReason::InsufficientScope => "insufficient_scope",
            DenialReason::NotFound => "outside_grant",
            DenialReason::OtherPatient => "other_patient",
            DenialReason::WriteOutOfScope => "write_out_of_scope",
            DenialReason::ChainNotGranted => "chain_not_granted",
            DenialReason::IncludeNotGranted => "include_not_granted",
            DenialReason::UnsupportedParameter => "unsupported_parameter",
            DenialReason::TooManyIncludes => "too_many_includes",
            DenialReason::OperationNotAllowed => "operation_not_allowed",
            DenialReason::ExportNotAllowed => "export_not_allowed",
            DenialReason::IdMismatch => "id_mismatch",
            DenialReason::InvalidBundle => "invalid_bundle",
            DenialReason::TransactionEntryDenied => "transaction_entry_denied",
            DenialReason::AuditEventReadOnly => "audit_event_read_only",
            DenialReason::UserPolicy => "user_policy",
        }
    }
}

impl fmt::Display for DenialReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refusal: the reason, how to answer, and for 403 the scope that would have been needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    reason: DenialReason,
    response: Response,
    required_scope: Option<String>,
}

impl Denial {
    pub(crate) fn new(reason: DenialReason, response: Response) -> Denial {
        Denial {
            reason,
            response,
            required_scope: None,
        }
    }

    pub(crate) fn forbidden(reason: DenialReason) -> Denial {
        Denial::new(reason, Response::Forbidden)
    }

    pub(crate) fn bad_request(reason: DenialReason) -> Denial {
        Denial::new(reason, Response::BadRequest)
    }

    /// The "respond exactly as a missing resource" denial.
    pub fn not_found() -> Denial {
        Denial::new(DenialReason::NotFound, Response::NotFound)
    }

    pub(crate) fn with_scope(mut self, scope: String) -> Denial {
        self.required_scope = Some(scope);
        self
    }

    /// Why.
    pub fn reason(&self) -> DenialReason {
        self.reason
    }

    /// How to answer.
    pub fn response(&self) -> Response {
        self.response
    }

    /// Whether the answer must be identical to the one for a missing resource.
    pub fn is_not_found(&self) -> bool {
        self.response == Response::NotFound
    }

    /// For [`Response::Forbidden`]: a scope that would have allowed the request, for the
    /// `scope` attribute of `WWW-Authenticate` (RFC 6750 §3).
    pub fn required_scope(&self) -> Option<&str> {
        self.required_scope.as_deref()
    }

    /// The HTTP status (`invalid_token_status` is 401 unless the policy says 403).
    pub fn status(&self) -> StatusCode {
        match self.response {
            Response::InvalidToken => StatusCode::UNAUTHORIZED,
            Response::Forbidden => StatusCode::FORBIDDEN,
            Response::NotFound => StatusCode::NOT_FOUND,
            Response::EmptySearch => StatusCode::OK,
            Response::BadRequest => StatusCode::BAD_REQUEST,
        }
    }

    /// The RFC 6750 error code for `WWW-Authenticate`, when the answer carries one.
    pub fn bearer_error(&self) -> Option<&'static str> {
        match self.response {
            Response::InvalidToken => Some("invalid_token"),
            Response::Forbidden => Some("insufficient_scope"),
            _ => None,
        }
    }

    /// The FHIR OperationOutcome `issue.code` (smart.md §9).
    pub fn issue_code(&self) -> &'static str {
        match self.response {
            Response::InvalidToken => "unknown",
            Response::Forbidden => "forbidden",
            Response::NotFound => "not-found",
            Response::EmptySearch => "informational",
            Response::BadRequest if self.reason == DenialReason::UnsupportedParameter => {
                "not-supported"
            }
            Response::BadRequest => "invalid",
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.status())
    }
}

impl std::error::Error for Denial {}
