//! The typed error every parse failure becomes.

use std::fmt;

/// Why a document was rejected. Each kind has a stable, machine-readable reason
/// ([`ErrorKind::as_str`]) suitable for an `OperationOutcome.issue.details` code or a log field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes are not well-formed JSON (bad token, missing comma, unterminated string, ...).
    Syntax,
    /// A string is not valid UTF-8, holds a control character (raw, or escaped other than tab,
    /// LF and CR: R4 strings should not hold them), or an escape sequence is malformed
    /// (including lone surrogates).
    InvalidString,
    /// The document continues after the resource's closing brace.
    TrailingData,
    /// A JSON value has the wrong shape for the element (an array where an object belongs, ...).
    UnexpectedType,
    /// The same key appears twice in one object.
    DuplicateKey,
    /// A key names no element of the type (strict mode; see [`crate::json::ParseOptions`]).
    UnknownElement,
    /// Two variants of one choice element (`valueString` and `valueQuantity`) are present.
    ChoiceConflict,
    /// A resource object has no `resourceType`.
    MissingResourceType,
    /// `resourceType` names no FHIR R4 resource.
    UnknownResourceType,
    /// `resourceType` differs from the type expected at this place.
    WrongResourceType,
    /// An element with minimum cardinality 1 is absent.
    MissingElement,
    /// An object, array or string is empty where FHIR forbids it (`{}`, `[]`, `""`), or an
    /// element holds nothing but its id (ele-1: `{"id": "a"}`, `"_birthDate": {"id": "a"}`
    /// without a `birthDate`).
    Empty,
    /// A primitive does not match its FHIR format (id, date, dateTime, instant, time, uri, code,
    /// oid, uuid, base64Binary, decimal, integer ranges, ...).
    InvalidPrimitive,
    /// In a primitive array, `name` and `_name` have different lengths, or a position is `null` in both.
    PrimitiveArrayMismatch,
    /// `Narrative.div` breaks txt-1 (an element, attribute, URL or style the narrative rules do
    /// not allow, or not well-formed XHTML) or txt-2 (no content); see [`crate::narrative`].
    InvalidNarrative,
    /// A contained resource breaks a rule of `DomainResource`: it holds resources of its own
    /// (dom-2), or has `meta.versionId` / `meta.lastUpdated` (dom-4) or `meta.security` (dom-5).
    InvalidContained,
    /// An `Extension` breaks ext-1: it has both a value and nested extensions, or neither.
    InvalidExtension,
    /// Objects and arrays are nested deeper than [`crate::json::ParseOptions::max_depth`].
    TooDeep,
    /// A string is longer than [`crate::json::ParseOptions::max_string_len`], or a FHIR `string`
    /// (also `code`, `markdown`) longer than R4's 1024*1024 characters.
    StringTooLong,
    /// The input is larger than [`crate::json::ParseOptions::max_input_len`], or its typed
    /// result would take more than [`crate::json::ParseOptions::max_memory`].
    InputTooLarge,
    /// A number is longer than [`crate::json::ParseOptions::max_number_len`], or beyond the range
    /// of a double (`1e400`, `1e-400`).
    NumberOutOfRange,
}

impl ErrorKind {
    /// A stable kebab-case reason code (`"duplicate-key"`), never changed between versions.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax",
            ErrorKind::InvalidString => "invalid-string",
            ErrorKind::TrailingData => "trailing-data",
            ErrorKind::UnexpectedType => "unexpected-type",
            ErrorKind::DuplicateKey => "duplicate-key",
            ErrorKind::UnknownElement => "unknown-element",
            ErrorKind::ChoiceConflict => "choice-conflict",
            ErrorKind::MissingResourceType => "missing-resource-type",
            ErrorKind::UnknownResourceType => "unknown-resource-type",
            ErrorKind::WrongResourceType => "wrong-resource-type",
            ErrorKind::MissingElement => "missing-element",
            ErrorKind::Empty => "empty",
            ErrorKind::InvalidPrimitive => "invalid-primitive",
            ErrorKind::PrimitiveArrayMismatch => "primitive-array-mismatch",
            ErrorKind::InvalidNarrative => "invalid-narrative",
            ErrorKind::InvalidContained => "invalid-contained",
            ErrorKind::InvalidExtension => "invalid-extension",
            ErrorKind::TooDeep => "too-deep",
            ErrorKind::StringTooLong => "string-too-long",
            ErrorKind::InputTooLarge => "input-too-large",
            ErrorKind::NumberOutOfRange => "number-out-of-range",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected document: what is wrong ([`kind`](ParseError::kind)), where (the FHIR-style JSON
/// path, e.g. `Bundle.entry[3].resource.name[1].given[0]`) and at which byte.
///
/// The error is one pointer wide, so `Result`s stay small on the parser's hot path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(Box<Inner>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    path: String,
    offset: usize,
    detail: String,
}

impl ParseError {
    #[cold]
    pub(crate) fn new(kind: ErrorKind, path: String, offset: usize, detail: String) -> Self {
        ParseError(Box::new(Inner {
            kind,
            path,
            offset,
            detail,
        }))
    }

    /// The stable reason.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The JSON path of the offending element, in FHIRPath-like form
    /// (`Bundle.entry[3].resource.contained[0].name[1].given[0]`); empty when the document is
    /// rejected before its resource type is known. A key that cannot be an element name (not
    /// 1 to 64 ASCII letters, digits and `_`) appears quoted and cut to a few bytes, like the
    /// input quoted in [`detail`](Self::detail): `Patient."a\nb"`.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// Byte offset in the input where the problem was noticed.
    pub fn offset(&self) -> usize {
        self.0.offset
    }

    /// A short human-readable explanation (never contains more than a few bytes of the input).
    pub fn detail(&self) -> &str {
        &self.0.detail
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        let path = if e.path.is_empty() { "$" } else { &e.path };
        write!(f, "{} at {path} (byte {})", e.kind, e.offset)?;
        if !e.detail.is_empty() {
            write!(f, ": {}", e.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}
