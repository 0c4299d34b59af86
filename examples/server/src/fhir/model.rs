//! Checking bodies against the FHIR R4 model before they are stored: the strict parser of
//! `fhir-types` (unknown elements, duplicate keys, wrong types, bad primitives are refused).

use http::StatusCode;
use secure_fhir::response::IssueCode;
use serde_json::Value;

use super::outcome::Fail;

/// Checks that `body` is a structurally valid FHIR R4 resource.
pub fn check(body: &Value) -> Result<(), Fail> {
    let bytes = serde_json::to_vec(body).map_err(|_| Fail::INTERNAL)?;
    fhir_types::json::parse_resource(&bytes)
        .map(drop)
        .map_err(|_| {
            // The parser's message names the offending element; the answer stays generic so that
            // nothing of the request is echoed.
            Fail::new(
                StatusCode::BAD_REQUEST,
                IssueCode::Structure,
                "The body is not a valid FHIR R4 resource",
            )
        })
}

/// The canonical FHIR JSON of `text` (element order of the specification, `resourceType`
/// first), or `text` itself if it does not parse.
pub fn canonical(text: String) -> String {
    match fhir_types::json::parse_resource(text.as_bytes()) {
        Ok(r) => String::from_utf8(fhir_types::json::to_vec(&r)).unwrap_or(text),
        Err(_) => text,
    }
}

/// Parses a JSON request body, refusing duplicate member names at every depth.
///
/// `serde_json::Value` keeps the last of two equal keys, so a body naming another patient first
/// and the caller's own patient second would be judged on one and stored as the other: the
/// duplicate is refused here, before anything looks at the body (threats.md §5).
pub fn parse_json(bytes: &[u8]) -> Result<Value, Fail> {
    serde_json::from_slice::<strict::NoDuplicates>(bytes)
        .map(|v| v.0)
        .map_err(|_| {
            Fail::new(
                StatusCode::BAD_REQUEST,
                IssueCode::Structure,
                "The body is not valid JSON",
            )
        })
}

mod strict {
    //! A `serde_json::Value` reader that refuses duplicate member names.

    use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number, Value};
    use std::fmt;

    /// A JSON value read with duplicate member names refused.
    pub struct NoDuplicates(pub Value);

    impl<'de> Deserialize<'de> for NoDuplicates {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(StrictVisitor).map(NoDuplicates)
        }
    }

    struct StrictVisitor;

    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<Value, E> {
            Number::from_f64(v)
                .map(Value::Number)
                .ok_or_else(|| E::custom("not a finite number"))
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
            while let Some(NoDuplicates(item)) = seq.next_element()? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut members = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let NoDuplicates(value) = map.next_value()?;
                // Keys are compared after unescaping, so `"st\u0061tus"` equals `"status"`.
                if members.insert(key, value).is_some() {
                    return Err(A::Error::custom("duplicate member name"));
                }
            }
            Ok(Value::Object(members))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_json;

    #[test]
    fn duplicate_members_are_refused_at_every_depth_and_after_unescaping() {
        assert!(parse_json(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        assert!(parse_json(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_json(br#"{"a":1,"\u0061":2}"#).is_err());
        assert!(parse_json(br#"{"x":{"b":[{"c":1,"c":1}]}}"#).is_err());
        assert!(parse_json(br#"[{"s":"p"},{"s":"q","s":"p"}]"#).is_err());
    }
}
