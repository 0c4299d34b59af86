//! JSON Patch (RFC 6902) over JSON Pointer (RFC 6901), applied to a copy: a failed patch leaves
//! nothing half-done.

use serde_json::Value;

use super::json;

/// Most operations in one patch document.
pub const MAX_OPERATIONS: usize = 1_000;

/// Most bytes (about: strings, keys and one per value) one patch document may copy. `copy`
/// is the one operation whose result outgrows the request: copying the root doubles it.
pub const MAX_COPIED_BYTES: usize = 4 * 1024 * 1024;

/// Most array elements one patch document may move. An insertion or removal in an array moves
/// every element after it: a thousand at the front of a stored array of a million elements
/// would move a billion.
pub const MAX_SHIFTED: usize = 1 << 22;

/// Why a patch was not applied (the text goes into an OperationOutcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchError(pub &'static str);

/// Applies the patch document `patch` to `doc`, returning the patched copy.
pub fn apply(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = patch
        .as_array()
        .ok_or(PatchError("A JSON Patch document is an array"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(PatchError("Too many patch operations"));
    }
    let mut out = doc.clone();
    let mut budgets = (MAX_COPIED_BYTES, MAX_SHIFTED);
    for op in ops {
        apply_one(&mut out, op, &mut budgets)?;
    }
    Ok(out)
}

/// Takes the size of `v` from `budget`, or fails once it is spent (without walking further).
fn spend(v: &Value, budget: &mut usize) -> Result<(), PatchError> {
    let spent = PatchError("The patch copies too much");
    let cost = match v {
        Value::String(s) => s.len(),
        _ => 1,
    };
    *budget = budget.checked_sub(cost).ok_or(spent)?;
    match v {
        Value::Array(items) => items.iter().try_for_each(|i| spend(i, budget)),
        Value::Object(m) => m.iter().try_for_each(|(k, i)| {
            *budget = budget.checked_sub(k.len()).ok_or(spent)?;
            spend(i, budget)
        }),
        _ => Ok(()),
    }
}

fn str_field<'a>(op: &'a Value, name: &str) -> Result<&'a str, PatchError> {
    op.get(name)
        .and_then(Value::as_str)
        .ok_or(PatchError("Malformed patch operation"))
}

/// Applies one operation; `copy_budget` and `shifts` are what is left of [`MAX_COPIED_BYTES`]
/// and [`MAX_SHIFTED`].
fn apply_one(
    doc: &mut Value,
    op: &Value,
    (copy_budget, shifts): &mut (usize, usize),
) -> Result<(), PatchError> {
    let path = parse_pointer(str_field(op, "path")?)?;
    match str_field(op, "op")? {
        "add" => add(doc, &path, value(op)?.clone(), shifts),
        "remove" => remove(doc, &path, shifts).map(drop),
        "replace" => {
            remove(doc, &path, shifts)?;
            add(doc, &path, value(op)?.clone(), shifts)
        }
        "move" => {
            let from = parse_pointer(str_field(op, "from")?)?;
            if path.len() > from.len() && path[..from.len()] == from[..] {
                return Err(PatchError("Cannot move a value into itself"));
            }
            let v = remove(doc, &from, shifts)?;
            add(doc, &path, v, shifts)
        }
        "copy" => {
            let from = parse_pointer(str_field(op, "from")?)?;
            let v = get(doc, &from)?;
            spend(v, copy_budget)?;
            let v = v.clone();
            add(doc, &path, v, shifts)
        }
        "test" => {
            if same(get(doc, &path)?, value(op)?) {
                Ok(())
            } else {
                Err(PatchError("Patch test failed"))
            }
        }
        _ => Err(PatchError("Unknown patch operation")),
    }
}

/// RFC 6902 §4.6 equality: numbers by value (plain or raw, see [`super::json`]), objects
/// regardless of member order, arrays element by element.
fn same(a: &Value, b: &Value) -> bool {
    if json::is_number(a) || json::is_number(b) {
        return match (json::raw_number(a), json::raw_number(b)) {
            (Some(x), Some(y)) if x == y => true,
            _ => json::as_f64(a).is_some_and(|x| json::as_f64(b) == Some(x)),
        };
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}

/// The members of an object a pointer may step into: none for a raw number, which is a number.
fn members(v: &Value) -> Option<&serde_json::Map<String, Value>> {
    v.as_object().filter(|_| json::raw_number(v).is_none())
}

fn members_mut(v: &mut Value) -> Option<&mut serde_json::Map<String, Value>> {
    if json::raw_number(v).is_some() {
        return None;
    }
    v.as_object_mut()
}

fn value(op: &Value) -> Result<&Value, PatchError> {
    op.get("value")
        .ok_or(PatchError("Malformed patch operation"))
}

fn parse_pointer(p: &str) -> Result<Vec<String>, PatchError> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let rest = p
        .strip_prefix('/')
        .ok_or(PatchError("Malformed JSON Pointer"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index(token: &str, len: usize, allow_end: bool) -> Result<usize, PatchError> {
    let bad = PatchError("Invalid array index in patch");
    if token == "-" && allow_end {
        return Ok(len);
    }
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) {
        return Err(bad);
    }
    let i: usize = token.parse().map_err(|_| bad)?;
    if i < len || (allow_end && i == len) {
        Ok(i)
    } else {
        Err(bad)
    }
}

fn get<'a>(doc: &'a Value, path: &[String]) -> Result<&'a Value, PatchError> {
    let missing = PatchError("Patch path does not exist");
    path.iter().try_fold(doc, |cur, t| match cur {
        Value::Array(a) => Ok(&a[index(t, a.len(), false)?]),
        _ => members(cur).and_then(|m| m.get(t)).ok_or(missing),
    })
}

fn parent_mut<'a>(doc: &'a mut Value, path: &[String]) -> Result<&'a mut Value, PatchError> {
    let missing = PatchError("Patch path does not exist");
    let mut cur = doc;
    for t in path {
        cur = match cur {
            Value::Array(a) => {
                let i = index(t, a.len(), false)?;
                &mut a[i]
            }
            _ => members_mut(cur).and_then(|m| m.get_mut(t)).ok_or(missing)?,
        };
    }
    Ok(cur)
}

/// Takes the `n` array elements an insertion or removal moves from `shifts`.
fn shift(shifts: &mut usize, n: usize) -> Result<(), PatchError> {
    *shifts = shifts
        .checked_sub(n)
        .ok_or(PatchError("The patch moves too many array elements"))?;
    Ok(())
}

fn add(doc: &mut Value, path: &[String], v: Value, shifts: &mut usize) -> Result<(), PatchError> {
    let Some((last, parent)) = path.split_last() else {
        *doc = v;
        return Ok(());
    };
    match parent_mut(doc, parent)? {
        Value::Array(a) => {
            let i = index(last, a.len(), true)?;
            shift(shifts, a.len() - i)?;
            a.insert(i, v);
            Ok(())
        }
        p => {
            let m = members_mut(p).ok_or(PatchError("Patch path does not exist"))?;
            m.insert(last.clone(), v);
            Ok(())
        }
    }
}

fn remove(doc: &mut Value, path: &[String], shifts: &mut usize) -> Result<Value, PatchError> {
    let missing = PatchError("Patch path does not exist");
    let (last, parent) = path
        .split_last()
        .ok_or(PatchError("Cannot remove the whole document"))?;
    match parent_mut(doc, parent)? {
        Value::Array(a) => {
            let i = index(last, a.len(), false)?;
            shift(shifts, a.len() - i - 1)?;
            Ok(a.remove(i))
        }
        p => members_mut(p).and_then(|m| m.remove(last)).ok_or(missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc6902_appendix_a_examples() {
        let doc = json!({"foo": "bar"});
        let out = apply(
            &doc,
            &json!([{"op": "add", "path": "/baz", "value": "qux"}]),
        )
        .unwrap();
        assert_eq!(out, json!({"foo": "bar", "baz": "qux"}));

        let doc = json!({"foo": ["bar", "baz"]});
        let out = apply(
            &doc,
            &json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
        )
        .unwrap();
        assert_eq!(out, json!({"foo": ["bar", "qux", "baz"]}));

        let out = apply(&doc, &json!([{"op": "remove", "path": "/foo/0"}])).unwrap();
        assert_eq!(out, json!({"foo": ["baz"]}));

        let doc = json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}});
        let out = apply(
            &doc,
            &json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})
        );

        let doc = json!({"foo": ["bar"]});
        let out = apply(
            &doc,
            &json!([{"op": "add", "path": "/foo/-", "value": ["abc"]}]),
        )
        .unwrap();
        assert_eq!(out, json!({"foo": ["bar", ["abc"]]}));

        let doc = json!({"/": 1, "~": 2});
        assert!(apply(&doc, &json!([{"op": "test", "path": "/~1", "value": 1}])).is_ok());
        assert!(apply(&doc, &json!([{"op": "test", "path": "/~0", "value": 2}])).is_ok());
    }

    #[test]
    fn raw_numbers_are_numbers_to_patches() {
        let doc = json::parse(br#"{"v":{"value":1.50},"w":[2.50]}"#).unwrap();
        let ops = json::parse(
            br#"[{"op":"test","path":"/v/value","value":1.5},
                {"op":"test","path":"/w","value":[2.5]},
                {"op":"copy","from":"/v/value","path":"/w/-"},
                {"op":"replace","path":"/v/value","value":0.10}]"#,
        )
        .unwrap();
        let out = apply(&doc, &ops).unwrap();
        assert_eq!(
            json::to_string(&out),
            r#"{"v":{"value":0.10},"w":[2.50,1.50]}"#
        );
        // A pointer cannot step into a raw number to rewrite its text.
        let key = json::RAW_NUMBER_KEY.replace('~', "~0").replace('/', "~1");
        let sneak = serde_json::json!([{"op": "replace", "path": format!("/v/value/{key}"), "value": "1}"}]);
        assert!(apply(&doc, &sneak).is_err());
        let sneak = serde_json::json!([{"op": "add", "path": format!("/v/value/x"), "value": 1}]);
        assert!(apply(&doc, &sneak).is_err());
    }

    #[test]
    fn copies_cannot_grow_a_document_without_bound() {
        // Each copy of the root doubles the document: 1,000 of them (the most a patch may
        // hold) would ask for 2^1000 times its size. 16 doublings of 2 KiB (128 MiB) already
        // copy more than any body could carry; the patch is refused instead.
        let doc = json!({"resourceType": "Basic", "text": "x".repeat(2048)});
        let doubling: Vec<Value> = (0..16)
            .map(|i| json!({"op": "copy", "from": "", "path": format!("/c{i}")}))
            .collect();
        let refused = apply(&doc, &Value::Array(doubling)).map(drop);
        assert_eq!(refused, Err(PatchError("The patch copies too much")));
        // Copies of what a body may hold still apply.
        let ops: Vec<Value> = (0..100)
            .map(|i| json!({"op": "copy", "from": "/text", "path": format!("/c{i}")}))
            .collect();
        assert_eq!(
            apply(&doc, &Value::Array(ops))
                .unwrap()
                .as_object()
                .unwrap()
                .len(),
            102
        );
    }

    #[test]
    fn array_shifts_are_bounded_in_all() {
        // Each insertion at the front of an array moves every element after it: a thousand
        // into an array of 100,000 move 100 million (a stored array may hold a million).
        let doc = json!({"a": vec![0; 100_000]});
        let ops = |path: &str| {
            let op = json!({"op": "add", "path": path, "value": 1});
            Value::Array(vec![op; MAX_OPERATIONS])
        };
        let refused = apply(&doc, &ops("/a/0")).map(drop);
        assert_eq!(
            refused,
            Err(PatchError("The patch moves too many array elements"))
        );
        let removals = Value::Array(vec![
            json!({"op": "remove", "path": "/a/0"});
            MAX_OPERATIONS
        ]);
        assert!(apply(&doc, &removals).is_err());
        // Appending moves nothing; a few insertions in front are what patches do.
        assert!(apply(&doc, &ops("/a/-")).is_ok());
        let few = Value::Array(vec![json!({"op": "add", "path": "/a/0", "value": 1}); 10]);
        assert!(apply(&doc, &few).is_ok());
    }

    #[test]
    fn failures_leave_no_trace() {
        let doc = json!({"a": 1});
        assert!(apply(&doc, &json!([{"op": "add", "path": "/b/c", "value": 1}])).is_err());
        assert!(apply(&doc, &json!([{"op": "test", "path": "/a", "value": 2}])).is_err());
        assert!(apply(&doc, &json!([{"op": "remove", "path": "/x"}])).is_err());
        assert!(apply(&doc, &json!([{"op": "frobnicate", "path": "/a"}])).is_err());
        assert!(apply(&doc, &json!({"op": "add"})).is_err());
        let arr = json!({"a": [1]});
        assert!(apply(&arr, &json!([{"op": "add", "path": "/a/01", "value": 0}])).is_err());
        assert!(apply(&arr, &json!([{"op": "add", "path": "/a/5", "value": 0}])).is_err());
        assert!(apply(&doc, &json!([{"op": "move", "from": "/a", "path": "/a/b"}])).is_err());
        assert_eq!(doc, json!({"a": 1}));
    }
}
