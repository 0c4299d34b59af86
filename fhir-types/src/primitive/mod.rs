//! FHIR primitive values: the value plus its optional `id` and `extension` (the `_name` sibling).

pub(crate) mod format;
pub(crate) mod read;
pub(crate) mod write;

use crate::datatypes::{Extension, Reference};
use std::fmt;
use std::str::FromStr;

/// A FHIR primitive element: an optional value with an optional element `id` and extensions.
///
/// In JSON a primitive is split in two keys, `"birthDate": "1970-01-01"` and
/// `"_birthDate": {"id": ..., "extension": [...]}`; either may be absent. In arrays
/// (`given` / `_given`) the two are aligned by position, with `null` where one side has nothing.
/// `Primitive` holds both halves, so a parse and write gives back the same JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Primitive<T> {
    /// The value; `None` when only extensions are given (e.g. a data-absent-reason).
    pub value: Option<T>,
    /// The element id (`_name.id`).
    pub id: Option<String>,
    /// Extensions of the element (`_name.extension`).
    pub extension: Vec<Extension>,
}

impl<T> Default for Primitive<T> {
    fn default() -> Self {
        Primitive {
            value: None,
            id: None,
            extension: Vec::new(),
        }
    }
}

/// The `_name` half of a primitive, as read before it is joined with the value.
pub(crate) struct PrimitiveElement {
    pub(crate) id: Option<String>,
    pub(crate) extension: Vec<Extension>,
}

impl<T> Primitive<T> {
    /// A primitive holding just `value`.
    pub fn new(value: T) -> Self {
        Primitive {
            value: Some(value),
            id: None,
            extension: Vec::new(),
        }
    }

    /// The value, if present.
    pub fn value(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// Whether the `_name` half (id or extensions) is present.
    pub fn has_element(&self) -> bool {
        self.id.is_some() || !self.extension.is_empty()
    }

    pub(crate) fn from_element(e: PrimitiveElement) -> Self {
        Primitive {
            value: None,
            id: e.id,
            extension: e.extension,
        }
    }

    pub(crate) fn set_element(&mut self, e: PrimitiveElement) {
        self.id = e.id;
        self.extension = e.extension;
    }

    pub(crate) fn visit_refs(&self, path: &mut String, f: &mut dyn FnMut(&str, &Reference)) {
        if self.extension.is_empty() {
            return;
        }
        let n = path.len();
        path.push_str(".extension");
        for e in &self.extension {
            e.visit_refs(path, f);
        }
        path.truncate(n);
    }
}

impl Primitive<String> {
    /// The value as `&str`, if present.
    pub fn as_str(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

impl<T> From<T> for Primitive<T> {
    fn from(v: T) -> Self {
        Primitive::new(v)
    }
}

impl From<&str> for Primitive<String> {
    fn from(v: &str) -> Self {
        Primitive::new(v.to_string())
    }
}

/// The text is not a code of the enum's value set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownCode;

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a code of the value set")
    }
}

impl std::error::Error for UnknownCode {}

/// A FHIR `decimal`, kept as its exact JSON text so precision survives (`1.50` stays `1.50`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DecimalValue(String);

/// The text is not a FHIR decimal (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidDecimal;

impl fmt::Display for InvalidDecimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a FHIR decimal")
    }
}

impl std::error::Error for InvalidDecimal {}

impl DecimalValue {
    /// The exact text, as it appears in JSON.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The nearest `f64` (precision beyond f64 is lost; the text is not).
    pub fn to_f64(&self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }

    /// The decimal closest to a finite `f64`, in its shortest round-trip form; `None` for NaN or infinity.
    pub fn from_f64(v: f64) -> Option<Self> {
        if !v.is_finite() {
            return None;
        }
        Some(DecimalValue(format!("{v}")))
    }

    pub(crate) fn from_checked(text: &str) -> Self {
        DecimalValue(text.to_string())
    }
}

impl FromStr for DecimalValue {
    type Err = InvalidDecimal;
    fn from_str(s: &str) -> Result<Self, InvalidDecimal> {
        if format::is_decimal(s) {
            Ok(DecimalValue(s.to_string()))
        } else {
            Err(InvalidDecimal)
        }
    }
}

impl From<i64> for DecimalValue {
    fn from(v: i64) -> Self {
        DecimalValue(v.to_string())
    }
}

impl fmt::Display for DecimalValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// FHIR `base64Binary` (the text, checked).
pub type Base64Binary = Primitive<String>;
/// FHIR `boolean`.
pub type Boolean = Primitive<bool>;
/// FHIR `canonical` (a URI, optionally with `|version`).
pub type Canonical = Primitive<String>;
/// FHIR `code`: a token without leading, trailing or double whitespace.
pub type Code = Primitive<String>;
/// FHIR `date`: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
pub type Date = Primitive<String>;
/// FHIR `dateTime`: a date, or a date and time with a time zone.
pub type DateTime = Primitive<String>;
/// FHIR `decimal`, with its exact text.
pub type Decimal = Primitive<DecimalValue>;
/// FHIR `id`: 1 to 64 of `[A-Za-z0-9-.]`.
pub type Id = Primitive<String>;
/// FHIR `instant`: a full timestamp with a time zone.
pub type Instant = Primitive<String>;
/// FHIR `integer` (32-bit signed).
pub type Integer = Primitive<i32>;
/// FHIR `markdown`.
pub type Markdown = Primitive<String>;
/// FHIR `oid` (`urn:oid:...`).
pub type Oid = Primitive<String>;
/// FHIR `positiveInt` (1 to 2^31-1).
pub type PositiveInt = Primitive<u32>;
/// FHIR `string`.
pub type FhirString = Primitive<String>;
/// FHIR `time`: `hh:mm:ss` with optional fraction.
pub type Time = Primitive<String>;
/// FHIR `unsignedInt` (0 to 2^31-1).
pub type UnsignedInt = Primitive<u32>;
/// FHIR `uri`.
pub type Uri = Primitive<String>;
/// FHIR `url`.
pub type Url = Primitive<String>;
/// FHIR `uuid` (`urn:uuid:...`).
pub type Uuid = Primitive<String>;
/// FHIR `xhtml` (the narrative `div`, as text).
pub type Xhtml = Primitive<String>;
