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
///
/// The `_name` half is rare, so it is boxed and read through [`id`](Self::id) and
/// [`extension`](Self::extension): a string primitive is 32 bytes, not 72. Typed resources hold
/// hundreds of optional primitives inline, and every one is moved, touched on drop and cloned.
#[derive(Clone, Debug, PartialEq)]
pub struct Primitive<T> {
    /// The value; `None` when only extensions are given (e.g. a data-absent-reason).
    pub value: Option<T>,
    /// The `_name` half; `None` unless it has an id or an extension (so `==` compares content).
    element: Option<Box<PrimitiveElement>>,
}

impl<T> Default for Primitive<T> {
    fn default() -> Self {
        Primitive {
            value: None,
            element: None,
        }
    }
}

/// The `_name` half of a primitive.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PrimitiveElement {
    pub(crate) id: Option<String>,
    pub(crate) extension: Vec<Extension>,
}

impl PrimitiveElement {
    /// Boxed, or `None` when empty: an empty `_name` half is no half at all.
    fn boxed(self) -> Option<Box<PrimitiveElement>> {
        (self.id.is_some() || !self.extension.is_empty()).then(|| Box::new(self))
    }
}

impl<T> Primitive<T> {
    /// A primitive holding just `value`.
    pub fn new(value: T) -> Self {
        Primitive {
            value: Some(value),
            element: None,
        }
    }

    /// The value, if present.
    pub fn value(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The element id (`_name.id`).
    pub fn id(&self) -> Option<&str> {
        self.element.as_ref().and_then(|e| e.id.as_deref())
    }

    /// Extensions of the element (`_name.extension`).
    pub fn extension(&self) -> &[Extension] {
        self.element.as_ref().map_or(&[], |e| &e.extension)
    }

    /// Sets (or with `None` removes) the element id.
    pub fn set_id(&mut self, id: Option<String>) {
        let mut e = self.take_element();
        e.id = id;
        self.element = e.boxed();
    }

    /// Replaces the element's extensions (empty removes them).
    pub fn set_extension(&mut self, extension: Vec<Extension>) {
        let mut e = self.take_element();
        e.extension = extension;
        self.element = e.boxed();
    }

    /// Adds an extension to the element.
    pub fn push_extension(&mut self, extension: Extension) {
        self.element
            .get_or_insert_with(Box::default)
            .extension
            .push(extension);
    }

    fn take_element(&mut self) -> PrimitiveElement {
        self.element.take().map(|e| *e).unwrap_or_default()
    }

    /// Whether the `_name` half (id or extensions) is present.
    pub fn has_element(&self) -> bool {
        self.element.is_some()
    }

    pub(crate) fn from_element(e: PrimitiveElement) -> Self {
        Primitive {
            value: None,
            element: e.boxed(),
        }
    }

    pub(crate) fn set_element(&mut self, e: PrimitiveElement) {
        self.element = e.boxed();
    }

    pub(crate) fn visit_refs(&self, path: &mut String, f: &mut dyn FnMut(&str, &Reference)) {
        if self.extension().is_empty() {
            return;
        }
        let n = path.len();
        path.push_str(".extension");
        for e in self.extension() {
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

    /// The decimal closest to a finite `f64`, in its shortest round-trip form (`72.5`, and
    /// `1e300` rather than 301 digits, which the parser's number bound would refuse); `None` for
    /// NaN or infinity.
    pub fn from_f64(v: f64) -> Option<Self> {
        if !v.is_finite() {
            return None;
        }
        let (plain, exp) = (format!("{v}"), format!("{v:e}"));
        Some(DecimalValue(if exp.len() < plain.len() {
            exp
        } else {
            plain
        }))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{parse_resource, to_string};
    use crate::Resource;

    fn ext(url: &str) -> Extension {
        Extension {
            url: url.to_owned(),
            ..Extension::default()
        }
    }

    #[test]
    fn the_element_half_is_boxed_only_when_present() {
        // The point of boxing it: optional primitives are everywhere in the typed model.
        assert_eq!(std::mem::size_of::<Primitive<String>>(), 32);
        let mut p = Primitive::new("x".to_owned());
        assert!(!p.has_element());
        p.set_id(Some("a".to_owned()));
        p.push_extension(ext("http://e.example/1"));
        assert_eq!((p.id(), p.extension().len()), (Some("a"), 1));
        p.set_id(None);
        assert!(p.has_element());
        p.set_extension(Vec::new());
        assert!(!p.has_element());
        // Emptied again, it equals one that never had an element half.
        assert_eq!(p, Primitive::new("x".to_owned()));
    }

    #[test]
    fn decimals_from_f64_are_short_and_parse_back() {
        for v in [
            72.5,
            0.1,
            -0.0,
            123456789.0,
            1e21,
            1e300,
            -1e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            let d = DecimalValue::from_f64(v).unwrap();
            let json = format!(
                r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"valueQuantity":{{"value":{d}}}}}"#
            );
            let r = parse_resource(json.as_bytes()).unwrap_or_else(|e| panic!("{d}: {e}"));
            assert_eq!(to_string(&r), json);
            assert_eq!(d.to_f64().to_bits(), v.to_bits(), "{d}");
        }
        assert_eq!(DecimalValue::from_f64(72.5).unwrap().as_str(), "72.5");
        assert_eq!(DecimalValue::from_f64(1e300).unwrap().as_str(), "1e300");
    }

    #[test]
    fn both_halves_survive_a_round_trip() {
        let json = r#"{"resourceType":"Patient","id":"p","_id":{"id":"i"},"active":true,"_active":{"extension":[{"url":"http://e.example/a","valueBoolean":false}]},"name":[{"given":["A",null],"_given":[null,{"id":"g","extension":[{"url":"http://e.example/g","valueString":"x"}]}]}],"birthDate":"1970","_birthDate":{"id":"b"}}"#;
        let r = parse_resource(json.as_bytes()).unwrap();
        let Resource::Patient(p) = &r else { panic!() };
        let id = p.id.as_ref().unwrap();
        assert_eq!(
            (id.value.as_deref(), id.id(), id.extension()),
            (Some("p"), Some("i"), &[][..])
        );
        let active = p.active.as_ref().unwrap();
        assert_eq!((active.value, active.id()), (Some(true), None));
        assert_eq!(active.extension()[0].url, "http://e.example/a");
        let given = &p.name[0].given;
        assert!(!given[0].has_element());
        assert_eq!((given[1].value.as_ref(), given[1].id()), (None, Some("g")));
        let birth = p.birth_date.as_ref().unwrap();
        assert_eq!(
            (birth.value.as_deref(), birth.id()),
            (Some("1970"), Some("b"))
        );
        assert_eq!(to_string(&r), json);
    }
}
