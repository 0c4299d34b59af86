//! One shared reader and small shared writers for the JSON objects of all generated types.
//!
//! Each generated type has a static [`Keys`] table (its JSON keys, sorted) and a
//! [`ReadFields::read_field`] that reads the value of the key with a given index. The object loop
//! itself (key lookup, duplicate keys, unknown keys, two variants of one choice element, required
//! elements) exists once, here, instead of once per type: a large generated `match` with a `?`
//! per arm in each of the ~650 types was most of the crate's compile time.
//!
//! The writers are the out-of-line counterparts for `write`: one call per field in the generated
//! code, generic only over the element type, so the buffer handling is not inlined ~10,000 times.

use super::error::{ErrorKind, ParseError};
use super::parser::Parser;
use super::writer::Writer;
use crate::primitive::write::write_prim;
use crate::primitive::Primitive;

type Result<T> = std::result::Result<T, ParseError>;

/// Most choice elements one type has (ElementDefinition has 5; checked by the generator).
const MAX_CHOICES: usize = 16;

/// One JSON key of a type.
pub(crate) struct Key {
    /// The key as it appears in JSON (`birthDate`, `_birthDate`, `valueQuantity`).
    pub(crate) name: &'static str,
    /// For a variant of a choice element: 1 + the index of the element in [`Keys::choices`].
    pub(crate) choice: u8,
    /// For a variant of a choice element: its number (1-based) within the element.
    pub(crate) variant: u8,
}

impl Key {
    /// A key that is not part of a choice element.
    pub(crate) const fn plain(name: &'static str) -> Key {
        Key {
            name,
            choice: 0,
            variant: 0,
        }
    }

    /// A key of variant `variant` of choice element number `choice` (both 1-based).
    pub(crate) const fn choice(name: &'static str, choice: u8, variant: u8) -> Key {
        Key {
            name,
            choice,
            variant,
        }
    }
}

/// A required element: present if any of its keys was seen.
pub(crate) struct Required {
    /// The element's name for the error (`status`, `value[x]`).
    pub(crate) name: &'static str,
    /// Indexes into [`Keys::keys`] (a primitive's value and `_` keys, a choice's variants).
    pub(crate) keys: &'static [u16],
}

/// The JSON keys of one type.
pub(crate) struct Keys {
    /// Sorted by length, then bytewise (as the generator writes them); a key's index is its
    /// bit in the `seen` set.
    pub(crate) keys: &'static [Key],
    /// The JSON names of the type's choice elements, without `[x]` (`value`).
    pub(crate) choices: &'static [&'static str],
    /// The required elements.
    pub(crate) required: &'static [Required],
}

/// The index of `name` in `keys`: a binary search on the length (integer compares), then a
/// byte compare among the few keys of that length.
#[inline]
fn find(keys: &[Key], name: &str) -> Option<usize> {
    let len = name.len();
    let start = keys.partition_point(|e| e.name.len() < len);
    keys[start..]
        .iter()
        .take_while(|e| e.name.len() == len)
        .position(|e| e.name.as_bytes() == name.as_bytes())
        .map(|i| start + i)
}

/// A generated type that reads the value of one of its keys.
pub(crate) trait ReadFields {
    /// Reads the value of key `key` (an index into the type's [`Keys::keys`]) into `self`.
    /// `seen` holds the keys read so far in this object, this one included.
    fn read_field(&mut self, p: &mut Parser<'_>, key: usize, seen: &[u64]) -> Result<()>;
}

/// Reads one JSON object into `target`: every key must be one of `keys` and appear once, at
/// most one variant of each choice element may be given, and required elements must be present.
/// `seen` must have a bit for every key and be all zeros.
pub(crate) fn read_object(
    p: &mut Parser<'_>,
    keys: &Keys,
    seen: &mut [u64],
    target: &mut dyn ReadFields,
) -> Result<()> {
    let mut chosen = [0u8; MAX_CHOICES];
    let mut skipped = false;
    // `_name` halves without extensions: each needs its value (ele-1). Rare, so rarely allocated.
    let mut bare_halves = Vec::new();
    p.begin_object()?;
    while let Some(k) = p.next_key()? {
        let Some(i) = find(keys.keys, &k) else {
            p.unknown_key(&k)?;
            skipped = true;
            continue;
        };
        p.mark(seen, i)?;
        let key = &keys.keys[i];
        if key.choice != 0 {
            let c = usize::from(key.choice - 1);
            p.choice(&mut chosen[c], key.variant, keys.choices[c])?;
        }
        target.read_field(p, i, seen)?;
        if std::mem::take(&mut p.bare_half) {
            bare_halves.push(i);
        }
    }
    for r in keys.required {
        if !r.keys.iter().any(|&k| p.marked(seen, usize::from(k))) {
            return Err(p.missing(r.name));
        }
    }
    check_ele1(p, keys, seen, skipped, &bare_halves)
}

/// ele-1, "All FHIR elements must have a @value or children": an element whose only child is
/// its `id` (`{"id": "a"}`), or a primitive's `_name` half with no extension and no value
/// (`"_birthDate": {"id": "a"}`), is empty in all but name. Positions of primitive arrays are
/// checked by `check_list`. An element that had keys skipped as unknown (lenient mode) is not
/// judged: it had children in the document.
fn check_ele1(
    p: &Parser<'_>,
    keys: &Keys,
    seen: &[u64],
    skipped: bool,
    bare_halves: &[usize],
) -> Result<()> {
    const RULE: &str = "ele-1: an element needs a value or children other than its id";
    let only_id = !skipped
        && seen.iter().map(|w| w.count_ones()).sum::<u32>() == 1
        && find(keys.keys, "id").is_some_and(|i| p.marked(seen, i));
    if only_id {
        return Err(p.err(ErrorKind::Empty, RULE));
    }
    for &i in bare_halves {
        let half = keys.keys[i].name;
        let value = half
            .strip_prefix('_')
            .and_then(|name| find(keys.keys, name));
        if !value.is_some_and(|v| p.marked(seen, v)) {
            return Err(p.err_at(ErrorKind::Empty, half, None, RULE));
        }
    }
    Ok(())
}

/// ext-1, "Must have either extensions or value[x], not both", checked after an `Extension`.
/// In lenient mode an extension may be left with neither: its value may have been of a type this
/// model does not know, skipped as unknown.
pub(crate) fn check_ext1(p: &Parser<'_>, has_value: bool, has_extensions: bool) -> Result<()> {
    let detail = match (has_value, has_extensions) {
        (true, true) => "ext-1: an extension has a value or nested extensions, not both",
        (false, false) if !p.lenient() => "ext-1: an extension needs a value or nested extensions",
        _ => return Ok(()),
    };
    Err(p.err(ErrorKind::InvalidExtension, detail))
}

/// `"key": value` for a required complex value.
#[inline(never)]
pub(crate) fn write_one<T>(w: &mut Writer, key: &str, v: &T, write: fn(&T, &mut Writer)) {
    w.key(key);
    write(v, w);
}

/// `"key": value` if present.
#[inline(never)]
pub(crate) fn write_opt<T>(w: &mut Writer, key: &str, v: &Option<T>, write: fn(&T, &mut Writer)) {
    if let Some(v) = v {
        w.key(key);
        write(v, w);
    }
}

/// `"key": value` if present, for a boxed value.
#[inline(never)]
pub(crate) fn write_opt_box<T>(
    w: &mut Writer,
    key: &str,
    v: &Option<Box<T>>,
    write: fn(&T, &mut Writer),
) {
    if let Some(v) = v {
        w.key(key);
        write(v, w);
    }
}

/// `"key": [values]` unless there are none.
#[inline(never)]
pub(crate) fn write_many<T>(w: &mut Writer, key: &str, list: &[T], write: fn(&T, &mut Writer)) {
    if list.is_empty() {
        return;
    }
    w.key(key);
    w.begin_array();
    for v in list {
        write(v, w);
    }
    w.end_array();
}

/// `"key": "text"` if present (`Element.id`, `Extension.url`).
#[inline(never)]
pub(crate) fn write_opt_str(w: &mut Writer, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        w.key(key);
        w.str(v);
    }
}

/// `"key": "text"` (a required plain string).
#[inline(never)]
pub(crate) fn write_one_str(w: &mut Writer, key: &str, v: &str) {
    w.key(key);
    w.str(v);
}

/// A primitive's `key` and `_key` halves, each if present.
#[inline(never)]
pub(crate) fn write_one_prim<T>(
    w: &mut Writer,
    key: &str,
    ext_key: &str,
    v: &Primitive<T>,
    write: fn(&mut Writer, &T),
) {
    write_prim(w, key, ext_key, v, write);
}

/// An optional primitive's `key` and `_key` halves, each if present.
#[inline(never)]
pub(crate) fn write_opt_prim<T>(
    w: &mut Writer,
    key: &str,
    ext_key: &str,
    v: &Option<Primitive<T>>,
    write: fn(&mut Writer, &T),
) {
    if let Some(v) = v {
        write_prim(w, key, ext_key, v, write);
    }
}
