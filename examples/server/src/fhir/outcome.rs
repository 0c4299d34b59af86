//! The result of one FHIR interaction, before it becomes an HTTP response (or a Bundle entry's
//! `response`).

use http::StatusCode;
use secure_fhir::response::IssueCode;
use serde_json::Value;

use super::spliced::Spliced;
use crate::store::Version;

/// A refusal or failure, rendered as an OperationOutcome with a fixed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fail {
    /// HTTP status.
    pub status: StatusCode,
    /// OperationOutcome issue code.
    pub code: IssueCode,
    /// Fixed diagnostics text (never input).
    pub text: &'static str,
    /// A resource the caller may not see, answered as [`Fail::NOT_FOUND`] but audited as the
    /// denial it is ([`Fail::HIDDEN`]).
    pub hidden: bool,
    /// The `Allow` header of a 405: the methods the target takes (RFC 9110 §15.5.6).
    pub allow: Option<&'static str>,
}

impl Fail {
    /// A new failure.
    pub const fn new(status: StatusCode, code: IssueCode, text: &'static str) -> Fail {
        Fail {
            status,
            code,
            text,
            hidden: false,
            allow: None,
        }
    }
    /// The byte-identical "not found".
    pub const NOT_FOUND: Fail = Fail::new(
        StatusCode::NOT_FOUND,
        IssueCode::NotFound,
        "Resource not found",
    );
    /// What the caller may not see: the same answer as [`Fail::NOT_FOUND`], byte for byte;
    /// its audit record is a denial (smart-auth's `outside_grant`), not a missing id.
    pub const HIDDEN: Fail = Fail {
        hidden: true,
        ..Fail::NOT_FOUND
    };

    /// Whether this is answered as the byte-identical "not found".
    pub fn is_not_found(&self) -> bool {
        Fail {
            hidden: false,
            ..*self
        } == Fail::NOT_FOUND
    }
    /// A refused write or search.
    pub const FORBIDDEN: Fail = Fail::new(
        StatusCode::FORBIDDEN,
        IssueCode::Forbidden,
        "The access token does not allow this request",
    );
    /// An internal failure (details are logged, never returned).
    pub const INTERNAL: Fail = Fail::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        IssueCode::Exception,
        "Internal error",
    );
    /// A `405` with `text`, naming in `Allow` the methods the target takes (`""`: none here).
    pub const fn method_not_allowed(text: &'static str, allow: &'static str) -> Fail {
        Fail {
            allow: Some(allow),
            ..Fail::new(
                StatusCode::METHOD_NOT_ALLOWED,
                IssueCode::NotSupported,
                text,
            )
        }
    }
    /// A `400` with `text`.
    pub const fn bad_request(text: &'static str) -> Fail {
        Fail::new(StatusCode::BAD_REQUEST, IssueCode::Invalid, text)
    }
}

impl From<crate::store::StoreError> for Fail {
    fn from(e: crate::store::StoreError) -> Fail {
        eprintln!("secure-fhir-server: {e}");
        Fail::INTERNAL
    }
}

/// `Prefer: return=...` (FHIR http "return preference").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Return {
    /// `representation` (the default).
    #[default]
    Representation,
    /// `minimal`: no body.
    Minimal,
    /// `OperationOutcome`.
    OperationOutcome,
}

impl Return {
    /// Reads the `Prefer` header value.
    pub fn from_prefer(prefer: Option<&str>) -> Return {
        let Some(p) = prefer else {
            return Return::default();
        };
        for part in p.split([',', ';']) {
            match part.trim() {
                "return=minimal" => return Return::Minimal,
                "return=OperationOutcome" => return Return::OperationOutcome,
                "return=representation" => return Return::Representation,
                _ => {}
            }
        }
        Return::default()
    }
}

/// The body of a successful interaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// No body.
    Empty,
    /// A stored resource's JSON text, as stored.
    Stored(String),
    /// A JSON document built for this response (CapabilityStatement, ...).
    Json(Value),
    /// A Bundle of stored resources (search, history, `$everything`).
    Bundle(Spliced),
    /// An informational OperationOutcome.
    Informational(&'static str),
}

/// A successful interaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    /// HTTP status.
    pub status: StatusCode,
    /// Body.
    pub payload: Payload,
    /// The version behind `ETag`, `Last-Modified` and `Location`, when there is one.
    pub version: Option<Version>,
    /// Whether to send `Location` (create, and update that created).
    pub location: bool,
    /// The resources the interaction read or wrote (`Type/id`), for the audit record.
    pub touched: Vec<String>,
}

impl Done {
    /// A `200` with a JSON document.
    pub fn json(v: Value) -> Done {
        Done {
            status: StatusCode::OK,
            payload: Payload::Json(v),
            version: None,
            location: false,
            touched: Vec::new(),
        }
    }

    /// A `200` with a Bundle of stored resources.
    pub fn bundle(b: Spliced) -> Done {
        Done {
            payload: Payload::Bundle(b),
            ..Done::empty(StatusCode::OK)
        }
    }

    /// A `status` with no body.
    pub fn empty(status: StatusCode) -> Done {
        Done {
            status,
            payload: Payload::Empty,
            version: None,
            location: false,
            touched: Vec::new(),
        }
    }

    /// A response carrying `version` with `status`, shaped by the return preference.
    pub fn version(status: StatusCode, v: Version, ret: Return, location: bool) -> Done {
        let payload = match (ret, &v.body) {
            (_, None) | (Return::Minimal, _) => Payload::Empty,
            (Return::OperationOutcome, _) => Payload::Informational("The request succeeded"),
            (Return::Representation, Some(b)) => Payload::Stored(b.clone()),
        };
        Done {
            status,
            payload,
            touched: vec![format!("{}/{}", v.rtype, v.id)],
            version: Some(v),
            location,
        }
    }
}

/// The result of an interaction.
pub type Outcome = Result<Done, Fail>;
