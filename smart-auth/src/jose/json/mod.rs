//! Strict JSON for JOSE headers and JWT claims: UTF-8 only (no lone surrogates), one object at
//! the top, duplicate member names refused (also when they differ only by escapes), nesting
//! depth bounded, nothing after the value.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use parser::Parser;

mod parser;
#[cfg(test)]
mod tests;

/// Nesting depth allowed in headers and claims (smart.md §3.4).
pub const MAX_DEPTH: usize = 16;

/// Why a JSON text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON, not UTF-8, trailing data, or a lone surrogate.
    Syntax,
    /// The top-level value is not an object.
    NotAnObject,
    /// An object repeats a member name.
    DuplicateMember,
    /// Arrays and objects nest deeper than allowed.
    TooDeep,
}

/// Parses `bytes` as one JSON object under the strict rules.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    parse_object_with_depth(bytes, MAX_DEPTH)
}

/// As [`parse_object`] with an explicit depth bound (the top-level object counts as 1).
pub fn parse_object_with_depth(
    bytes: &[u8],
    max_depth: usize,
) -> Result<Map<String, Value>, JsonError> {
    let failure = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = Strict {
        depth: max_depth,
        failure: &failure,
    };
    let value = match seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v)) {
        Ok(v) => v,
        Err(_) => return Err(failure.get().unwrap_or(JsonError::Syntax)),
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotAnObject),
    }
}

#[derive(Clone, Copy)]
struct Strict<'a> {
    depth: usize,
    failure: &'a Cell<Option<JsonError>>,
}

impl Strict<'_> {
    fn fail<E: de::Error>(&self, why: JsonError) -> E {
        self.failure.set(Some(why));
        E::custom(match why {
            JsonError::DuplicateMember => "duplicate member",
            JsonError::TooDeep => "nesting too deep",
            _ => "invalid",
        })
    }

    /// Entering an array or object: fails when no depth is left, else the seed for members.
    fn nested<E: de::Error>(&self) -> Result<Self, E> {
        if self.depth == 0 {
            Err(self.fail(JsonError::TooDeep))
        } else {
            Ok(Strict {
                depth: self.depth - 1,
                failure: self.failure,
            })
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| self.fail(JsonError::Syntax))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(inner)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let v = map.next_value_seed(inner)?;
            match out.entry(key) {
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(v);
                }
                serde_json::map::Entry::Occupied(_) => {
                    return Err(self.fail(JsonError::DuplicateMember));
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// A string taken from a JSON text that is kept with it: a span of that text (a string without
/// escapes, as [`parse_borrowed`] borrows it), or its own copy (escaped, or from elsewhere).
/// Saves a copy of each string a token's header or claims keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Text {
    Span(u32, u32),
    Owned(Box<str>),
}

impl Text {
    /// `s` as a span of `text` when it lies inside it (compared by address, as the unstable
    /// `str::substr_range` does), else a copy.
    pub(crate) fn new(s: &str, text: &str) -> Text {
        let start = (s.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        let span = start
            .checked_add(s.len())
            .filter(|&end| text.get(start..end).is_some())
            .and_then(|end| Some(Text::Span(start.try_into().ok()?, end.try_into().ok()?)));
        span.unwrap_or_else(|| Text::Owned(s.into()))
    }

    /// The string, given the text it was made against.
    pub(crate) fn get<'a>(&'a self, text: &'a str) -> &'a str {
        match self {
            Text::Span(start, end) => text.get(*start as usize..*end as usize).unwrap_or(""),
            Text::Owned(s) => s,
        }
    }
}

/// A JSON value borrowed from the text it was parsed from: strings without escapes are not
/// copied. Produced by [`parse_borrowed`] under the same strict rules as [`parse_object`].
#[derive(Debug, Clone, PartialEq)]
pub enum JsonRef<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string (borrowed unless it had escapes).
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<JsonRef<'a>>),
    /// An object.
    Object(Object<'a>),
}

/// A JSON object borrowed from its text, members in document order, names unique.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object<'a> {
    /// (name fingerprint, name, value): lookups and the duplicate check compare fingerprints
    /// first and names only when those agree.
    members: Vec<(u64, Cow<'a, str>, JsonRef<'a>)>,
}

/// The first eight bytes of a member name, mixed with its length: equal names have equal
/// fingerprints. (Built in registers: assembling it in a byte array stalled on the read-back.)
#[inline]
fn fingerprint(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let head = match bytes.get(..8) {
        Some(head) => <[u8; 8]>::try_from(head).map_or(0, u64::from_le_bytes),
        None => bytes
            .iter()
            .rev()
            .fold(0, |acc, &b| acc << 8 | u64::from(b)),
    };
    head ^ (bytes.len() as u64).rotate_right(8)
}

/// Whether two names with equal fingerprints are equal: a name shorter than eight bytes is all
/// in its fingerprint (bytes and length), so only longer ones need comparing.
fn same_name(a: &str, b: &str) -> bool {
    (a.len() < 8 && a.len() == b.len()) || a == b
}

impl<'a> Object<'a> {
    /// The member `name`, if present.
    #[inline] // so that the fingerprint of a literal name folds to a constant
    pub fn get(&self, name: &str) -> Option<&JsonRef<'a>> {
        let fp = fingerprint(name);
        self.members
            .iter()
            .find(|(f, k, _)| *f == fp && same_name(k, name))
            .map(|(_, _, v)| v)
    }

    /// Whether the member `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The members in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &JsonRef<'a>)> {
        self.members.iter().map(|(_, k, v)| (&**k, v))
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the object has no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// An owned copy as a `serde_json` map.
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_value()))
            .collect()
    }

    /// Whether two members share a name: pairwise (by fingerprint) for small objects, sorted
    /// beyond (no quadratic cost on a hostile object with thousands of members).
    fn has_duplicate(&self) -> bool {
        let m = &self.members;
        if m.len() <= 16 {
            // A 64-bit filter of the fingerprints seen: only a member whose bit is already set
            // is compared with the others.
            let mut seen = 0u64;
            m.iter().enumerate().any(|(i, (f, k, _))| {
                let bit = 1 << (f.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58);
                let maybe = seen & bit != 0;
                seen |= bit;
                maybe && m[..i].iter().any(|(g, j, _)| g == f && same_name(j, k))
            })
        } else {
            let mut names: Vec<&str> = m.iter().map(|(_, k, _)| &**k).collect();
            names.sort_unstable();
            names.windows(2).any(|w| w[0] == w[1])
        }
    }
}

impl<'a> JsonRef<'a> {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonRef::String(s) => Some(s),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&[JsonRef<'a>]> {
        match self {
            JsonRef::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            JsonRef::Object(o) => Some(o),
            _ => None,
        }
    }

    /// An owned copy as a `serde_json` value.
    pub fn to_value(&self) -> Value {
        match self {
            JsonRef::Null => Value::Null,
            JsonRef::Bool(b) => Value::Bool(*b),
            JsonRef::Number(n) => Value::Number(n.clone()),
            JsonRef::String(s) => Value::String(s.to_string()),
            JsonRef::Array(a) => Value::Array(a.iter().map(JsonRef::to_value).collect()),
            JsonRef::Object(o) => Value::Object(o.to_map()),
        }
    }
}

/// Parses `bytes` as one JSON object under the strict rules of [`parse_object`], borrowing
/// strings from `bytes` where it can: the cheap form for the hot path of token validation.
///
/// A small recursive-descent parser of RFC 8259 of our own (serde_json's event-driven API
/// cost more than the rest of the token pipeline); it is checked against [`parse_object`] by
/// property test. Numbers other than short plain integers are handed to serde_json, so every
/// number means exactly what it means to [`parse_object`].
pub fn parse_borrowed(bytes: &[u8]) -> Result<Object<'_>, JsonError> {
    parse_borrowed_str(std::str::from_utf8(bytes).map_err(|_| JsonError::Syntax)?)
}

/// [`parse_borrowed`] of text already known to be UTF-8.
pub fn parse_borrowed_str(text: &str) -> Result<Object<'_>, JsonError> {
    let mut p = Parser::new(text);
    p.skip_ws();
    let mut value = JsonRef::Null;
    p.value(MAX_DEPTH, &mut value)?;
    p.skip_ws();
    if p.pos != text.len() {
        return Err(JsonError::Syntax);
    }
    match value {
        JsonRef::Object(o) => Ok(o),
        _ => Err(JsonError::NotAnObject),
    }
}
