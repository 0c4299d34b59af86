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
    let mut p = Parser { text, pos: 0 };
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

/// The parser's state: valid UTF-8 text and a byte position in it, always on a character
/// boundary between tokens.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn next(&mut self) -> Result<u8, JsonError> {
        let b = self.peek().ok_or(JsonError::Syntax)?;
        self.pos += 1;
        Ok(b)
    }

    fn expect(&mut self, want: u8) -> Result<(), JsonError> {
        if self.next()? == want {
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }

    /// A value, written to `out`; `depth` is how many more arrays or objects may open (as in
    /// [`Strict`]). Values are built in place: returning them in a `Result` cost more in
    /// unaligned copies than the parsing itself.
    fn value(&mut self, depth: usize, out: &mut JsonRef<'a>) -> Result<(), JsonError> {
        *out = match self.peek().ok_or(JsonError::Syntax)? {
            b'{' => {
                let mut object = Object::default();
                self.object(depth, &mut object)?;
                JsonRef::Object(object)
            }
            b'[' => {
                let mut items = Vec::new();
                self.array(depth, &mut items)?;
                JsonRef::Array(items)
            }
            b'"' => JsonRef::String(self.string()?),
            b't' => self.literal("true", JsonRef::Bool(true))?,
            b'f' => self.literal("false", JsonRef::Bool(false))?,
            b'n' => self.literal("null", JsonRef::Null)?,
            b'-' | b'0'..=b'9' => JsonRef::Number(self.number()?),
            _ => return Err(JsonError::Syntax),
        };
        Ok(())
    }

    fn literal(&mut self, word: &str, value: JsonRef<'a>) -> Result<JsonRef<'a>, JsonError> {
        if self.text.as_bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(JsonError::Syntax)
        }
    }

    fn object(&mut self, depth: usize, object: &mut Object<'a>) -> Result<(), JsonError> {
        let depth = depth.checked_sub(1).ok_or(JsonError::TooDeep)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        object.members.reserve(16);
        loop {
            if self.peek() != Some(b'"') {
                return Err(JsonError::Syntax);
            }
            let name = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            object
                .members
                .push((fingerprint(&name), name, JsonRef::Null));
            if let Some((_, _, value)) = object.members.last_mut() {
                self.value(depth, value)?;
            }
            self.skip_ws();
            match self.next()? {
                b',' => self.skip_ws(),
                b'}' => break,
                _ => return Err(JsonError::Syntax),
            }
        }
        if object.has_duplicate() {
            return Err(JsonError::DuplicateMember);
        }
        Ok(())
    }

    fn array(&mut self, depth: usize, items: &mut Vec<JsonRef<'a>>) -> Result<(), JsonError> {
        let depth = depth.checked_sub(1).ok_or(JsonError::TooDeep)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            items.push(JsonRef::Null);
            if let Some(item) = items.last_mut() {
                self.value(depth, item)?;
            }
            self.skip_ws();
            match self.next()? {
                b',' => self.skip_ws(),
                b']' => return Ok(()),
                _ => return Err(JsonError::Syntax),
            }
        }
    }

    /// A string at the opening quote: borrowed when it has no escape.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.pos += 1;
        let start = self.pos;
        self.skip_plain();
        let mut out = match self.next()? {
            b'"' => return Ok(Cow::Borrowed(&self.text[start..self.pos - 1])),
            b'\\' => String::from(&self.text[start..self.pos - 1]),
            _ => return Err(JsonError::Syntax),
        };
        // Escapes: decode each, copying the plain runs between them.
        loop {
            out.push(self.escape()?);
            let run = self.pos;
            self.skip_plain();
            out.push_str(&self.text[run..self.pos]);
            match self.next()? {
                b'"' => return Ok(Cow::Owned(out)),
                b'\\' => {}
                _ => return Err(JsonError::Syntax),
            }
        }
    }

    /// Moves to the next `"`, `\\` or control character (or the end), eight bytes at a time.
    fn skip_plain(&mut self) {
        const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
        const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
        // High bit set in each byte of `x` that is zero (exact when scanning from the low end).
        let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        let bytes = self.text.as_bytes();
        while let Some(chunk) = bytes.get(self.pos..self.pos + 8) {
            let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            let stop = zero_bytes(x ^ (ONES * u64::from(b'"')))
                | zero_bytes(x ^ (ONES * u64::from(b'\\')))
                // Bytes below 0x20: x - 0x20 borrows into the high bit, unless it was set.
                | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
            if stop != 0 {
                self.pos += stop.trailing_zeros() as usize / 8;
                return;
            }
            self.pos += 8;
        }
        while !matches!(bytes.get(self.pos), None | Some(b'"' | b'\\' | 0..=0x1f)) {
            self.pos += 1;
        }
    }

    /// The character of an escape, after its backslash. Surrogates must come in pairs.
    fn escape(&mut self) -> Result<char, JsonError> {
        Ok(match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                let code = match high {
                    0xd800..=0xdbff => {
                        self.expect(b'\\')?;
                        self.expect(b'u')?;
                        let low = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return Err(JsonError::Syntax);
                        }
                        0x1_0000 + ((high - 0xd800) << 10 | (low - 0xdc00))
                    }
                    code => code,
                };
                // Lone trailing surrogates are refused here.
                char::from_u32(code).ok_or(JsonError::Syntax)?
            }
            _ => return Err(JsonError::Syntax),
        })
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0;
        for _ in 0..4 {
            let d = char::from(self.next()?)
                .to_digit(16)
                .ok_or(JsonError::Syntax)?;
            v = v << 4 | d;
        }
        Ok(v)
    }

    /// A number (RFC 8259 §6 grammar). Plain integers of up to 18 digits are read here; any
    /// other number goes to serde_json, for the same value (or range error) as [`parse_object`].
    fn number(&mut self) -> Result<Number, JsonError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos - from
        };
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_len = digits(self);
        if int_len == 0 || (int_len > 1 && bytes[int_start] == b'0') {
            return Err(JsonError::Syntax);
        }
        let mut plain = !negative && int_len <= 18;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(JsonError::Syntax);
            }
            plain = false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(JsonError::Syntax);
            }
            plain = false;
        }
        let text = &self.text[start..self.pos];
        if plain {
            let v = text.bytes().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
            Ok(Number::from(v))
        } else {
            serde_json::from_str(text).map_err(|_| JsonError::Syntax)
        }
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

    /// JSON-like text: valid values of every kind, with numbers, escapes and whitespace near
    /// the edges of the grammar, repeated member names, and some plainly invalid pieces.
    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        use proptest::sample::select;
        // Mostly valid pieces, so that most texts parse and a wrong acceptance shows.
        let number = prop_oneof![
            4 => any::<i64>().prop_map(|n| n.to_string()),
            2 => any::<u64>().prop_map(|n| n.to_string()),
            2 => any::<f64>().prop_map(|f| format!("{f:e}")),
            2 => any::<f64>().prop_map(|f| f.to_string()),
            4 => select(vec![
                "-0", "0", "-0.0", "1e400", "-1e400", "1E+2", "0.5e-3", "123456789012345678",
                "1234567890123456789", "18446744073709551615", "18446744073709551616",
                "-9223372036854775808", "-9223372036854775809", "1.7976931348623157e308",
                "5e-324", "1e-400", "10", "0e0",
            ])
            .prop_map(str::to_owned),
            1 => select(vec!["01", "-01", "00", "1.", "-", "1e", "1e+", ".5", "+1", "0x1"])
                .prop_map(str::to_owned),
        ];
        let piece = prop_oneof![
            10 => select(vec![
                "a", "é", "😀", "\\\"", "\\\\", "\\/", "\\b\\f\\n\\r\\t", "\\u0041",
                "\\u00E9", "\\ud83d\\ude00", "\u{7f}", "iss", "aud", "\\u0000", " ",
            ]),
            1 => select(vec![
                "\\ud800", "\\udc00", "\\ud800\\u0041", "\\ud800\\n", "\\x", "\\u12",
                "\u{1}", "\t", "\n",
            ]),
        ];
        let string = proptest::collection::vec(piece, 0..4)
            .prop_map(|parts| format!("\"{}\"", parts.concat()));
        let ws = prop_oneof![
            10 => select(vec!["", " ", "\n", "\t ", "\r"]),
            1 => select(vec!["\u{a0}", "\u{c}"]),
        ];
        let leaf = prop_oneof![
            6 => select(vec!["null", "true", "false"]).prop_map(str::to_owned),
            1 => select(vec!["nul", "True", "[", "{", "]", "}", "\"", ","]).prop_map(str::to_owned),
            6 => number,
            6 => string.clone(),
        ];
        leaf.prop_recursive(5, 48, 5, move |inner| {
            prop_oneof![
                proptest::collection::vec((inner.clone(), ws.clone()), 0..5).prop_map(|v| {
                    let items: Vec<String> = v.iter().map(|(v, w)| format!("{w}{v}{w}")).collect();
                    format!("[{}]", items.join(","))
                }),
                proptest::collection::vec((string.clone(), inner, ws.clone()), 0..5).prop_map(
                    |m| {
                        let members: Vec<String> = m
                            .iter()
                            .map(|(k, v, w)| format!("{w}{k}{w}:{w}{v}"))
                            .collect();
                        format!("{{{}}}", members.join(","))
                    }
                ),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(4000))]

        /// The borrowed parser accepts exactly what the serde_json-based one accepts, with the
        /// same values; mutated bytes included.
        #[test]
        fn borrowed_parser_agrees_with_serde_json(
            inner in json_text(),
            wrap in proptest::bool::ANY,
            edit in proptest::option::of((proptest::num::usize::ANY, proptest::num::u8::ANY)),
        ) {
            let mut text = if wrap { format!("{{\"k\":{inner}}}") } else { inner }.into_bytes();
            if let Some((at, byte)) = edit {
                if !text.is_empty() {
                    let at = at % text.len();
                    text[at] = byte;
                }
            }
            let owned = parse_object(&text);
            let borrowed = parse_borrowed(&text);
            proptest::prop_assert_eq!(
                borrowed.as_ref().ok().map(Object::to_map),
                owned.as_ref().ok().cloned(),
                "{}", String::from_utf8_lossy(&text)
            );
            // Refusals agree on the reason whenever there is only one.
            if let (Err(b), Err(o)) = (&borrowed, &owned) {
                if text.is_ascii() && *o != JsonError::Syntax && *b != JsonError::Syntax {
                    proptest::prop_assert_eq!(b, o);
                }
            }
        }
    }

    #[test]
    fn string_scan_stops_at_every_special_byte_in_every_lane() {
        for at in 0..20 {
            for b in 0u8..=0xff {
                let mut text = br#"{"a":""#.to_vec();
                text.extend(std::iter::repeat_n(b'x', at));
                text.push(b);
                text.extend(br#"yy"}"#);
                let got = parse_borrowed(&text)
                    .map(|o| o.get("a").and_then(JsonRef::as_str).map(str::len));
                let want = match b {
                    0..=0x1f | b'\\' | 0x80..=0xff => Err(JsonError::Syntax),
                    // The string ends early and `yy` follows it.
                    b'"' => Err(JsonError::Syntax),
                    _ => Ok(Some(at + 3)),
                };
                assert_eq!(got, want, "byte {b:#x} at {at}");
            }
        }
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
