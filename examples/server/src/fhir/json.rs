//! Lossless JSON for the server's `serde_json::Value` trees.
//!
//! `serde_json` (without its crate-wide `arbitrary_precision` feature, which would change every
//! crate in the build) reads numbers as `u64`, `i64` or `f64`: `1.50` would come back as `1.5`
//! and a 20-digit decimal rounded. FHIR decimals are exact (`1.50` says two significant places),
//! so the server must store and serve them as sent.
//!
//! [`parse`] reads JSON into a `Value` where every number whose text `serde_json` would not
//! write back identically is kept as a *raw number*: an object with the single member
//! [`RAW_NUMBER_KEY`] holding the exact text. [`to_vec`] and [`to_string`] write raw numbers back
//! as numbers. The key cannot come from a client: [`parse`] refuses any object that uses it
//! (and it is no FHIR element name), and [`to_vec`] writes a raw number's text only after
//! checking it against the JSON number grammar, so no edit of a tree can smuggle raw text out.
//!
//! Duplicate member names are refused at every depth: `serde_json::Value` keeps the last of two
//! equal keys, so a body naming another patient first and the caller's own patient second would
//! be judged on one and stored as the other (threats.md §5).

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The member name of a raw number (see the module docs).
pub const RAW_NUMBER_KEY: &str = "$secure-fhir-server:number";

/// Why a text is not lossless JSON for the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError;

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not valid JSON")
    }
}

impl std::error::Error for JsonError {}

/// Parses JSON bytes, keeping every number's exact text and refusing duplicate member names.
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    let numbers = number_tokens(bytes).ok_or(JsonError)?;
    let cursor = RefCell::new(numbers.into_iter());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Seed(&cursor).deserialize(&mut de).map_err(|_| JsonError)?;
    de.end().map_err(|_| JsonError)?;
    // Every number token found by the scanner was consumed by the parser, in the same order.
    if cursor.borrow_mut().next().is_some() {
        return Err(JsonError);
    }
    Ok(value)
}

/// Parses JSON text (see [`parse`]).
pub fn parse_str(text: &str) -> Result<Value, JsonError> {
    parse(text.as_bytes())
}

/// Writes `value` as compact JSON, raw numbers as the numbers they are.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write(value, &mut out);
    out
}

/// Writes `value` as a compact JSON string (see [`to_vec`]).
pub fn to_string(value: &Value) -> String {
    // The writer emits only valid UTF-8: strings are `&str`, numbers and punctuation ASCII.
    String::from_utf8(to_vec(value)).unwrap_or_default()
}

/// The exact text of a raw number, if `value` is one.
pub fn raw_number(value: &Value) -> Option<&str> {
    match value {
        Value::Object(m) if m.len() == 1 => m.get(RAW_NUMBER_KEY)?.as_str(),
        _ => None,
    }
}

/// Whether `value` is a JSON number (plain or raw).
pub fn is_number(value: &Value) -> bool {
    value.is_number() || raw_number(value).is_some()
}

/// The numeric value of a plain or raw number (for comparisons; precision beyond `f64` is lost).
pub fn as_f64(value: &Value) -> Option<f64> {
    match raw_number(value) {
        Some(text) => text.parse().ok(),
        None => value.as_f64(),
    }
}

/// Appends `value` to `out` as compact JSON (see [`to_vec`]).
pub fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(m) => {
            if let Some(text) = raw_number(value) {
                if is_json_number(text) {
                    out.extend_from_slice(text.as_bytes());
                    return;
                }
            }
            out.push(b'{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(v, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_str(s, out),
        other => {
            // Null, booleans and numbers serde_json writes exactly.
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, s);
}

/// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
pub fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// The number tokens of `bytes` in document order (outside strings, a number starts with `-`
/// or a digit and runs over `[0-9.eE+-]`). `None` on a string left open.
fn number_tokens(bytes: &[u8]) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i)? {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|c| matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
                {
                    i += 1;
                }
                out.push(std::str::from_utf8(&bytes[start..i]).ok()?);
            }
            _ => i += 1,
        }
    }
    Some(out)
}

type Cursor<'c, 't> = &'c RefCell<std::vec::IntoIter<&'t str>>;

/// Reads one value, taking each number's text from the cursor.
struct Seed<'c, 't>(Cursor<'c, 't>);

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(LosslessVisitor(self.0))
    }
}

struct LosslessVisitor<'c, 't>(Cursor<'c, 't>);

impl LosslessVisitor<'_, '_> {
    /// The value for a number the parser read as `parsed`: plain when serde_json writes it
    /// back as the same text, raw otherwise. The token must denote the same number.
    fn number<E: Error>(&self, parsed: Number, same: impl Fn(&str) -> bool) -> Result<Value, E> {
        let text = self
            .0
            .borrow_mut()
            .next()
            .ok_or_else(|| E::custom("number out of step"))?;
        if !is_json_number(text) || !same(text) {
            return Err(E::custom("number out of step"));
        }
        if parsed.to_string() == text {
            return Ok(Value::Number(parsed));
        }
        let mut m = Map::new();
        m.insert(RAW_NUMBER_KEY.to_owned(), Value::String(text.to_owned()));
        Ok(Value::Object(m))
    }
}

impl<'de> Visitor<'de> for LosslessVisitor<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: Error>(self, v: i64) -> Result<Value, E> {
        self.number(v.into(), |t| t.parse::<i64>() == Ok(v))
    }
    fn visit_u64<E: Error>(self, v: u64) -> Result<Value, E> {
        self.number(v.into(), |t| t.parse::<u64>() == Ok(v))
    }
    fn visit_f64<E: Error>(self, v: f64) -> Result<Value, E> {
        let n = Number::from_f64(v).ok_or_else(|| E::custom("not a finite number"))?;
        self.number(n, |t| t.parse::<f64>() == Ok(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Seed(self.0))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == RAW_NUMBER_KEY {
                return Err(A::Error::custom("reserved member name"));
            }
            let value = map.next_value_seed(Seed(self.0))?;
            // Keys are compared after unescaping, so `"st\u0061tus"` equals `"status"`.
            if members.insert(key, value).is_some() {
                return Err(A::Error::custom("duplicate member name"));
            }
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        to_string(&parse_str(text).expect("parses"))
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        for n in [
            "1.50",
            "0.10",
            "12345678901234567890123",
            "3.14159265358979323846264338327950288",
            "1e2",
            "1E+2",
            "-0",
            "-0.0",
            "100.0",
            "1",
            "-7",
            "18446744073709551615",
            "18446744073709551616",
            "1.5",
        ] {
            let doc = format!(r#"{{"a":[{n},{{"b":{n}}}],"s":"x{n}"}}"#);
            assert_eq!(round_trip(&doc), doc, "{n}");
        }
        // Plain where serde_json already writes the same text, so existing code sees numbers.
        assert!(parse_str("[1, 1.5, -3]")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .all(Value::is_number));
        let raw = parse_str("1.50").unwrap();
        assert_eq!(raw_number(&raw), Some("1.50"));
        assert_eq!(as_f64(&raw), Some(1.5));
    }

    #[test]
    fn strings_with_number_like_text_and_escapes_do_not_shift_numbers() {
        let doc =
            r#"{"a":"1.50 \"2.50\" \\","b":2.50,"c":["\\",3.10],"d":true,"e":false,"f":null}"#;
        assert_eq!(round_trip(doc), doc);
    }

    #[test]
    fn duplicate_members_are_refused_at_every_depth_and_after_unescaping() {
        assert!(parse(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        assert!(parse(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse(br#"{"a":1,"\u0061":2}"#).is_err());
        assert!(parse(br#"{"x":{"b":[{"c":1,"c":1}]}}"#).is_err());
        assert!(parse(br#"[{"s":"p"},{"s":"q","s":"p"}]"#).is_err());
    }

    #[test]
    fn the_raw_number_key_cannot_come_from_input_nor_smuggle_text_out() {
        let forged = format!(r#"{{"v":{{"{RAW_NUMBER_KEY}":"1}}"}}}}"#);
        assert!(parse(forged.as_bytes()).is_err());
        // A tree edited to hold a raw number with non-number text writes it as an object.
        let mut m = Map::new();
        m.insert(RAW_NUMBER_KEY.into(), Value::String("1,\"x\":2".into()));
        let out = to_string(&Value::Object(m));
        assert!(serde_json::from_str::<Value>(&out).unwrap().is_object());
    }

    #[test]
    fn invalid_json_is_refused() {
        for bad in [
            &b"{"[..],
            b"[1,]",
            b"01",
            b"1.",
            b"NaN",
            b"1e400",
            b"\"open",
            b"{} {}",
            b"[\"\xff\"]",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn is_json_number_follows_rfc_8259() {
        for ok in ["0", "-0", "1.0", "1e5", "1E-5", "-12.5e+3"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "+1", "1x", "0x1", " 1"] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }
}
