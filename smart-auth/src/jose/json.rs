//! Strict JSON for JOSE headers and JWT claims: UTF-8 only (no lone surrogates), one object at
//! the top, duplicate member names refused (also when they differ only by escapes), nesting
//! depth bounded, nothing after the value.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

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
    members: Vec<(Cow<'a, str>, JsonRef<'a>)>,
}

impl<'a> Object<'a> {
    /// The member `name`, if present.
    pub fn get(&self, name: &str) -> Option<&JsonRef<'a>> {
        self.members.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Whether the member `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The members in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &JsonRef<'a>)> {
        self.members.iter().map(|(k, v)| (&**k, v))
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
pub fn parse_borrowed(bytes: &[u8]) -> Result<Object<'_>, JsonError> {
    let failure = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = Borrowing(Strict {
        depth: MAX_DEPTH,
        failure: &failure,
    });
    let value = match seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v)) {
        Ok(v) => v,
        Err(_) => return Err(failure.get().unwrap_or(JsonError::Syntax)),
    };
    match value {
        JsonRef::Object(o) => Ok(o),
        _ => Err(JsonError::NotAnObject),
    }
}

/// The strict rules of [`Strict`], building [`JsonRef`]s.
#[derive(Clone, Copy)]
struct Borrowing<'s>(Strict<'s>);

/// Member names, borrowed when unescaped.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

impl<'de> DeserializeSeed<'de> for Borrowing<'_> {
    type Value = JsonRef<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<JsonRef<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Borrowing<'_> {
    type Value = JsonRef<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<JsonRef<'de>, E> {
        Ok(JsonRef::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonRef<'de>, E> {
        Ok(JsonRef::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonRef<'de>, E> {
        Ok(JsonRef::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonRef<'de>, E> {
        Number::from_f64(v)
            .map(JsonRef::Number)
            .ok_or_else(|| self.0.fail(JsonError::Syntax))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<JsonRef<'de>, E> {
        Ok(JsonRef::String(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonRef<'de>, E> {
        Ok(JsonRef::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<JsonRef<'de>, E> {
        Ok(JsonRef::String(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<JsonRef<'de>, E> {
        Ok(JsonRef::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonRef<'de>, A::Error> {
        let inner = Borrowing(self.0.nested()?);
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(inner)? {
            out.push(v);
        }
        Ok(JsonRef::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonRef<'de>, A::Error> {
        let inner = Borrowing(self.0.nested()?);
        let mut members: Vec<(Cow<'de, str>, JsonRef<'de>)> = Vec::with_capacity(16);
        while let Some(key) = map.next_key_seed(Key)? {
            let v = map.next_value_seed(inner)?;
            members.push((key, v));
        }
        if has_duplicate(&members) {
            return Err(self.0.fail(JsonError::DuplicateMember));
        }
        Ok(JsonRef::Object(Object { members }))
    }
}

/// Whether two members share a name: pairwise for small objects, sorted beyond (no quadratic
/// cost on a hostile object with thousands of members).
fn has_duplicate<V>(members: &[(Cow<'_, str>, V)]) -> bool {
    if members.len() <= 16 {
        members
            .iter()
            .enumerate()
            .any(|(i, (k, _))| members[..i].iter().any(|(j, _)| j == k))
    } else {
        let mut names: Vec<&str> = members.iter().map(|(k, _)| &**k).collect();
        names.sort_unstable();
        names.windows(2).any(|w| w[0] == w[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_object() {
        let m = parse_object(br#"{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}"#).unwrap();
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn refuses_duplicates_even_escaped() {
        assert_eq!(
            parse_object(br#"{"a":1,"a":2}"#),
            Err(JsonError::DuplicateMember)
        );
        assert_eq!(
            parse_object(br#"{"a":1,"\u0061":2}"#),
            Err(JsonError::DuplicateMember)
        );
        assert_eq!(
            parse_object(br#"{"x":{"a":1,"a":1}}"#),
            Err(JsonError::DuplicateMember)
        );
    }

    #[test]
    fn bounds_depth() {
        let deep = format!(
            "{}{}",
            "{\"a\":".repeat(16),
            "1".to_owned() + &"}".repeat(16)
        );
        assert!(parse_object(deep.as_bytes()).is_ok());
        let deeper = format!("{}1{}", "{\"a\":".repeat(17), "}".repeat(17));
        assert_eq!(parse_object(deeper.as_bytes()), Err(JsonError::TooDeep));
        let arrays = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse_object(arrays.as_bytes()), Err(JsonError::TooDeep));
    }

    #[test]
    fn refuses_non_objects_trailing_and_bad_text() {
        assert_eq!(parse_object(b"[1]"), Err(JsonError::NotAnObject));
        assert_eq!(parse_object(b"{} {}"), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"{\"a\":\"\xff\"}"), Err(JsonError::Syntax));
        assert_eq!(parse_object(br#"{"a":"\ud800"}"#), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"{'a':1}"), Err(JsonError::Syntax));
    }

    #[test]
    fn borrowed_parse_agrees_with_the_owned_one() {
        let cases: [&[u8]; 12] = [
            br#"{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}"#,
            br#"{"a":1,"a":2}"#,
            br#"{"a":1,"\u0061":2}"#,
            br#"{"x":{"a":1,"a":1}}"#,
            br#"{"x":[{"k":1,"k":2}]}"#,
            br#"{"esc":"a\nb\u00e9","plain":"z"}"#,
            b"[1]",
            b"{} {}",
            b"{\"a\":\"\xff\"}",
            br#"{"a":"\ud800"}"#,
            br#"{"a":1e400}"#,
            br#"{"n":-0.5,"big":18446744073709551615,"neg":-9223372036854775808}"#,
        ];
        for case in cases {
            let owned = parse_object(case);
            let borrowed = parse_borrowed(case).map(|o| o.to_map());
            assert_eq!(borrowed, owned, "{}", String::from_utf8_lossy(case));
        }
        let deeper = format!("{}1{}", "{\"a\":".repeat(17), "}".repeat(17));
        assert_eq!(parse_borrowed(deeper.as_bytes()), Err(JsonError::TooDeep));
        let ok = format!("{}1{}", "{\"a\":".repeat(16), "}".repeat(16));
        assert!(parse_borrowed(ok.as_bytes()).is_ok());
    }

    #[test]
    fn borrowed_parse_finds_duplicates_in_large_objects() {
        let mut members: Vec<String> = (0..5000).map(|i| format!("\"m{i}\":{i}")).collect();
        let text = format!("{{{}}}", members.join(","));
        assert_eq!(parse_borrowed(text.as_bytes()).unwrap().len(), 5000);
        members.push("\"m17\":0".into());
        let text = format!("{{{}}}", members.join(","));
        assert_eq!(
            parse_borrowed(text.as_bytes()),
            Err(JsonError::DuplicateMember)
        );
        assert_eq!(
            parse_object(text.as_bytes()),
            Err(JsonError::DuplicateMember)
        );
    }

    #[test]
    fn borrowed_strings_are_not_copied() {
        let text = br#"{"iss":"https://as.example","esc":"a\/b"}"#;
        let o = parse_borrowed(text).unwrap();
        assert!(matches!(
            o.get("iss"),
            Some(JsonRef::String(Cow::Borrowed(_)))
        ));
        assert_eq!(o.get("esc").and_then(JsonRef::as_str), Some("a/b"));
    }
}
