//! Readers for primitive values, the `_name` element half, and primitive arrays.

use super::format;
use super::{DecimalValue, Primitive, PrimitiveElement};
use crate::datatypes::Extension;
use crate::json::error::{ErrorKind, ParseError};
use crate::json::parser::Parser;

type Result<T> = std::result::Result<T, ParseError>;

fn checked(p: &mut Parser<'_>, what: &str, ok: fn(&str) -> bool) -> Result<String> {
    let s = p.string()?;
    if s.is_empty() {
        return Err(p.err(ErrorKind::Empty, format!("empty {what}")));
    }
    if !ok(&s) {
        return Err(p.err(ErrorKind::InvalidPrimitive, format!("not a valid {what}")));
    }
    Ok(s.into_owned())
}

/// R4: "strings SHALL NOT exceed 1MB (1024*1024 characters) in size"; `code`, `id` and
/// `markdown` are strings too. (`uri`, `base64Binary` and `xhtml` are not.)
const MAX_STRING_CHARS: usize = 1024 * 1024;

/// [`checked`] for `string` and the types derived from it, which R4 bounds in size.
fn checked_string(p: &mut Parser<'_>, what: &str, ok: fn(&str) -> bool) -> Result<String> {
    let s = checked(p, what, ok)?;
    if s.len() > MAX_STRING_CHARS && s.chars().count() > MAX_STRING_CHARS {
        return Err(p.err(
            ErrorKind::StringTooLong,
            format!("{what} of more than 1024*1024 characters, R4's limit for strings"),
        ));
    }
    Ok(s)
}

macro_rules! string_readers {
    ($($name:ident => $what:literal, $check:path;)*) => {$(
        #[doc = concat!("Reads a FHIR `", $what, "`.")]
        pub(crate) fn $name(p: &mut Parser<'_>) -> Result<String> {
            checked(p, $what, $check)
        }
    )*};
}

/// Reads a FHIR `string`.
pub(crate) fn string(p: &mut Parser<'_>) -> Result<String> {
    checked_string(p, "string", format::is_string)
}

/// Reads a FHIR `markdown`.
pub(crate) fn markdown(p: &mut Parser<'_>) -> Result<String> {
    checked_string(p, "markdown", format::is_string)
}

/// Reads a FHIR `code`.
pub(crate) fn code(p: &mut Parser<'_>) -> Result<String> {
    checked_string(p, "code", format::is_code)
}

string_readers! {
    uri => "uri", format::is_uri;
    url => "url", format::is_uri;
    canonical => "canonical", format::is_uri;
    id => "id", format::is_id;
    oid => "oid", format::is_oid;
    uuid => "uuid", format::is_uuid;
    base64_binary => "base64Binary", format::is_base64;
    date => "date", format::is_date;
    date_time => "dateTime", format::is_date_time;
    instant => "instant", format::is_instant;
    time => "time", format::is_time;
}

/// Reads a FHIR `xhtml` (`Narrative.div`), checking txt-1 and txt-2.
pub(crate) fn xhtml(p: &mut Parser<'_>) -> Result<String> {
    let s = checked(p, "xhtml", format::is_string)?;
    match crate::narrative::check_div(&s) {
        Ok(()) => Ok(s),
        Err(e) => Err(p.err(ErrorKind::InvalidNarrative, e.to_string())),
    }
}

/// Reads `Element.id`: a plain, non-empty string.
pub(crate) fn plain_string(p: &mut Parser<'_>) -> Result<String> {
    checked_string(p, "string", format::is_string)
}

/// Reads a FHIR `boolean`.
pub(crate) fn boolean(p: &mut Parser<'_>) -> Result<bool> {
    p.boolean()
}

/// Reads a FHIR `decimal`, keeping its text.
pub(crate) fn decimal(p: &mut Parser<'_>) -> Result<DecimalValue> {
    let text = p.number_text()?;
    Ok(DecimalValue::from_checked(text))
}

fn integer_text<'a>(p: &mut Parser<'a>, what: &str) -> Result<&'a str> {
    let text = p.number_text()?;
    if text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return Err(p.err(
            ErrorKind::InvalidPrimitive,
            format!("{what} must be a whole number"),
        ));
    }
    Ok(text)
}

/// Reads a FHIR `integer` (32-bit signed). `-0` matches R4's regex but an `i32` cannot keep
/// it apart from `0`: refused rather than written back as `0` (the round trip is lossless).
pub(crate) fn integer(p: &mut Parser<'_>) -> Result<i32> {
    let text = integer_text(p, "integer")?;
    if text == "-0" {
        return Err(p.err(ErrorKind::InvalidPrimitive, "integer -0: write 0"));
    }
    text.parse()
        .map_err(|_| p.err(ErrorKind::InvalidPrimitive, "integer out of 32-bit range"))
}

/// Reads a FHIR `unsignedInt` (0 ..= 2^31-1).
pub(crate) fn unsigned_int(p: &mut Parser<'_>) -> Result<u32> {
    let text = integer_text(p, "unsignedInt")?;
    match text.parse::<u32>() {
        Ok(v) if v <= i32::MAX as u32 => Ok(v),
        _ => Err(p.err(
            ErrorKind::InvalidPrimitive,
            "unsignedInt out of range 0..=2147483647",
        )),
    }
}

/// Reads a FHIR `positiveInt` (1 ..= 2^31-1).
pub(crate) fn positive_int(p: &mut Parser<'_>) -> Result<u32> {
    let text = integer_text(p, "positiveInt")?;
    match text.parse::<u32>() {
        Ok(v) if (1..=i32::MAX as u32).contains(&v) => Ok(v),
        _ => Err(p.err(
            ErrorKind::InvalidPrimitive,
            "positiveInt out of range 1..=2147483647",
        )),
    }
}

/// Reads the `_name` half of a primitive: `{"id": ..., "extension": [...]}`.
/// One with only an id is noted for the ele-1 check of the object holding it: it is valid only
/// beside a value.
pub(crate) fn element(p: &mut Parser<'_>) -> Result<PrimitiveElement> {
    let mut e = PrimitiveElement::default();
    let mut seen = [0u64; 1];
    let mut skipped = false;
    p.begin_object()?;
    while let Some(k) = p.next_key()? {
        match &*k {
            "id" => {
                p.mark(&mut seen, 0)?;
                e.id = Some(plain_string(p)?);
            }
            "extension" => {
                p.mark(&mut seen, 1)?;
                p.begin_array()?;
                while p.next_item()? {
                    p.charge(std::mem::size_of::<Extension>())?;
                    e.extension.push(Extension::read(p)?);
                }
            }
            _ => {
                p.unknown_key(&k)?;
                skipped = true;
            }
        }
    }
    if e.extension.is_empty() && !skipped {
        p.bare_half = true;
    }
    Ok(e)
}

/// Reads the value array of a repeating primitive (`given`), aligning with `_given` if that came first.
pub(crate) fn values<T>(
    p: &mut Parser<'_>,
    list: &mut Vec<Primitive<T>>,
    read: fn(&mut Parser<'_>) -> Result<T>,
    other_seen: bool,
) -> Result<()> {
    p.begin_array()?;
    let mut n = 0;
    while p.next_item()? {
        p.charge(std::mem::size_of::<Primitive<T>>())?;
        let v = if p.take_null()? { None } else { Some(read(p)?) };
        if other_seen {
            match list.get_mut(n) {
                Some(slot) => slot.value = v,
                None => {
                    return Err(p.err(
                        ErrorKind::PrimitiveArrayMismatch,
                        "more values than `_` entries",
                    ))
                }
            }
        } else {
            list.push(Primitive {
                value: v,
                ..Primitive::default()
            });
        }
        n += 1;
    }
    if other_seen && n != list.len() {
        return Err(p.err(
            ErrorKind::PrimitiveArrayMismatch,
            "fewer values than `_` entries",
        ));
    }
    Ok(())
}

/// Reads the `_given` array of a repeating primitive, aligning with `given` if that came first.
pub(crate) fn elements<T>(
    p: &mut Parser<'_>,
    list: &mut Vec<Primitive<T>>,
    other_seen: bool,
) -> Result<()> {
    p.begin_array()?;
    let mut n = 0;
    while p.next_item()? {
        p.charge(std::mem::size_of::<Primitive<T>>() + std::mem::size_of::<PrimitiveElement>())?;
        let e = if p.take_null()? {
            None
        } else {
            Some(element(p)?)
        };
        if other_seen {
            match (list.get_mut(n), e) {
                (Some(slot), Some(e)) => slot.set_element(e),
                (Some(_), None) => {}
                (None, _) => {
                    return Err(p.err(
                        ErrorKind::PrimitiveArrayMismatch,
                        "more `_` entries than values",
                    ))
                }
            }
        } else {
            list.push(match e {
                Some(e) => Primitive::from_element(e),
                None => Primitive::default(),
            });
        }
        n += 1;
    }
    if other_seen && n != list.len() {
        return Err(p.err(
            ErrorKind::PrimitiveArrayMismatch,
            "fewer `_` entries than values",
        ));
    }
    Ok(())
}

/// After an object: no position of a primitive array may be `null` on both sides, or hold only
/// an id (ele-1).
pub(crate) fn check_list<T>(p: &Parser<'_>, list: &[Primitive<T>], name: &str) -> Result<()> {
    let empty = |v: &Primitive<T>| v.value.is_none() && v.extension().is_empty();
    match list.iter().position(empty) {
        Some(i) if list[i].has_element() => Err(p.err_at(
            ErrorKind::Empty,
            name,
            Some(i),
            "ele-1: an element needs a value or children other than its id",
        )),
        Some(i) => Err(p.err_at(
            ErrorKind::PrimitiveArrayMismatch,
            name,
            Some(i),
            "null with no `_` entry",
        )),
        None => Ok(()),
    }
}

/// Reads a `code` bound (required) to a value set: a valid code that is a member of the set.
pub(crate) fn read_bound_code(
    p: &mut Parser<'_>,
    member: fn(&str) -> bool,
    value_set: &str,
) -> Result<String> {
    let s = p.string()?;
    if s.is_empty() {
        return Err(p.err(ErrorKind::Empty, "empty code"));
    }
    if !member(&s) {
        return Err(p.err(
            ErrorKind::InvalidPrimitive,
            format!("not a code of {value_set}"),
        ));
    }
    Ok(s.into_owned())
}
