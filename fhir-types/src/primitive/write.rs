//! Writers for primitive values and primitive arrays.

use super::{DecimalValue, Primitive};
use crate::json::writer::Writer;

#[allow(clippy::ptr_arg)] // must match `fn(&mut Writer, &T)` with `T = String`
pub(crate) fn w_str(w: &mut Writer, v: &String) {
    w.str(v);
}

pub(crate) fn w_boolean(w: &mut Writer, v: &bool) {
    w.raw(if *v { "true" } else { "false" });
}

pub(crate) fn w_integer(w: &mut Writer, v: &i32) {
    w.raw(&v.to_string());
}

pub(crate) fn w_unsigned(w: &mut Writer, v: &u32) {
    w.raw(&v.to_string());
}

pub(crate) fn w_decimal(w: &mut Writer, v: &DecimalValue) {
    w.raw(v.as_str());
}

fn element<T>(w: &mut Writer, v: &Primitive<T>) {
    w.begin_object();
    if let Some(id) = v.id() {
        w.key("id");
        w.str(id);
    }
    if !v.extension().is_empty() {
        w.key("extension");
        w.begin_array();
        for e in v.extension() {
            e.write(w);
        }
        w.end_array();
    }
    w.end_object();
}

/// Writes `"name": value` and `"_name": {...}`, each only if present.
pub(crate) fn write_prim<T>(
    w: &mut Writer,
    key: &str,
    ext_key: &str,
    v: &Primitive<T>,
    f: fn(&mut Writer, &T),
) {
    if let Some(value) = &v.value {
        w.key(key);
        f(w, value);
    }
    if v.has_element() {
        w.key(ext_key);
        element(w, v);
    }
}

/// Writes a repeating primitive as `name` and `_name` arrays aligned by position with `null`s.
pub(crate) fn write_prims<T>(
    w: &mut Writer,
    key: &str,
    ext_key: &str,
    list: &[Primitive<T>],
    f: fn(&mut Writer, &T),
) {
    if list.iter().any(|v| v.value.is_some()) {
        w.key(key);
        w.begin_array();
        for v in list {
            match &v.value {
                Some(value) => f(w, value),
                None => w.null(),
            }
        }
        w.end_array();
    }
    if list.iter().any(Primitive::has_element) {
        w.key(ext_key);
        w.begin_array();
        for v in list {
            if v.has_element() {
                element(w, v);
            } else {
                w.null();
            }
        }
        w.end_array();
    }
}
