//! Out-of-line helpers for the generated `visit_refs` methods: one call per field, generic only
//! over the element type, so the path bookkeeping exists once per type instead of once per field.

use crate::datatypes::Reference;

/// A type's `visit_refs`.
pub(crate) type Visit<T> = fn(&T, &mut String, &mut dyn FnMut(&str, &Reference));

/// Visits `v` with `seg` (`.subject`) appended to `path`.
#[inline(never)]
pub(crate) fn visit_one<T>(
    path: &mut String,
    f: &mut dyn FnMut(&str, &Reference),
    seg: &str,
    v: &T,
    visit: Visit<T>,
) {
    let n = path.len();
    path.push_str(seg);
    visit(v, path, f);
    path.truncate(n);
}

/// Visits `v`, if present, with `seg` appended to `path`.
#[inline(never)]
pub(crate) fn visit_opt<T>(
    path: &mut String,
    f: &mut dyn FnMut(&str, &Reference),
    seg: &str,
    v: &Option<T>,
    visit: Visit<T>,
) {
    if let Some(v) = v {
        let n = path.len();
        path.push_str(seg);
        visit(v, path, f);
        path.truncate(n);
    }
}

/// Visits a boxed `v`, if present, with `seg` appended to `path`.
#[inline(never)]
pub(crate) fn visit_opt_box<T>(
    path: &mut String,
    f: &mut dyn FnMut(&str, &Reference),
    seg: &str,
    v: &Option<Box<T>>,
    visit: Visit<T>,
) {
    if let Some(v) = v {
        let n = path.len();
        path.push_str(seg);
        visit(v, path, f);
        path.truncate(n);
    }
}

/// Visits every item of `list` with `seg` appended to `path` (no index: element paths).
#[inline(never)]
pub(crate) fn visit_many<T>(
    path: &mut String,
    f: &mut dyn FnMut(&str, &Reference),
    seg: &str,
    list: &[T],
    visit: Visit<T>,
) {
    if list.is_empty() {
        return;
    }
    let n = path.len();
    path.push_str(seg);
    for v in list {
        visit(v, path, f);
    }
    path.truncate(n);
}

/// A `Reference` element: reports it, then what it holds (its extensions, its identifier's
/// assigner).
pub(crate) fn reference(v: &Reference, path: &mut String, f: &mut dyn FnMut(&str, &Reference)) {
    f(path, v);
    v.visit_refs(path, f);
}
