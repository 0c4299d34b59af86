//! Loading FHIR Bundles into the store at start (`--data`, and the demo data).

use std::path::Path;

use serde_json::Value;

use crate::fhir::access::Unrestricted;
use crate::fhir::bundle;
use crate::fhir::outcome::Fail;
use crate::store::{Store, Tx};

/// Most entries in one `--data` Bundle. Larger than a request's limit
/// ([`bundle::MAX_ENTRIES`]): a Synthea patient's transaction often has a few thousand, and
/// the file is the operator's, not a client's; still bounded.
pub const MAX_DATA_ENTRIES: usize = 100_000;

/// The demo data: official FHIR R4 examples around `Patient/example`, and `Patient/pat-2`.
pub const DEMO: &str = include_str!("../data/demo.json");

/// Loads a Bundle: `transaction` and `batch` run as posted to the base; a `collection` is stored
/// entry by entry (with each resource's own id, or a new one).
pub fn load(store: &Store, bytes: &[u8]) -> Result<usize, String> {
    let mut b: Value = crate::fhir::json::parse(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if b.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err("not a Bundle".into());
    }
    if b.get("type").and_then(Value::as_str) == Some("collection") {
        let entries = b.get_mut("entry").and_then(Value::as_array_mut);
        for e in entries.into_iter().flatten() {
            let r = e.get("resource").cloned().unwrap_or(Value::Null);
            let t = r.get("resourceType").and_then(Value::as_str).unwrap_or("");
            let request = match r.get("id").and_then(Value::as_str) {
                Some(id) => serde_json::json!({"method": "PUT", "url": format!("{t}/{id}")}),
                None => serde_json::json!({"method": "POST", "url": t}),
            };
            e["request"] = request;
        }
        b["type"] = Value::String("transaction".into());
    }
    let unchanged = drop_unchanged(store, &mut b);
    let allow = |_: &bundle::Entry| -> Result<Box<dyn crate::fhir::access::Access + Send>, Fail> {
        Ok(Box::new(Unrestricted))
    };
    let now = chrono::Utc::now();
    let done = bundle::run(
        store,
        store.base(),
        &b,
        (&allow, &|_, _| {}),
        now,
        bundle::Bounds {
            entries: MAX_DATA_ENTRIES,
            response_bytes: usize::MAX,
        },
    )
    .map_err(|f| format!("refused: {}", f.text))?;
    let Value::Array(entries) = &done_json(&done)["entry"] else {
        return Ok(unchanged);
    };
    let failed: Vec<&Value> = entries
        .iter()
        .filter(|e| {
            !e["response"]["status"]
                .as_str()
                .unwrap_or("")
                .starts_with('2')
        })
        .collect();
    if let Some(f) = failed.first() {
        return Err(format!("an entry failed: {}", f["response"]["outcome"]));
    }
    Ok(entries.len() + unchanged)
}

/// Drops the PUT entries whose resource is what the store already holds (apart from
/// `meta.versionId` and `meta.lastUpdated`), so that loading a file again (every start with
/// the same `--data`, or the demo data on an existing `--db`) writes no new versions. Entries
/// with a `urn:` fullUrl stay: other entries may refer to them by it. Returns how many went.
fn drop_unchanged(store: &Store, bundle: &mut Value) -> usize {
    let Some(entries) = bundle.get_mut("entry").and_then(Value::as_array_mut) else {
        return 0;
    };
    if entries.len() > MAX_DATA_ENTRIES {
        return 0; // refused whole by the run
    }
    let before = entries.len();
    store.read(|tx| entries.retain(|e| !unchanged(tx, e)));
    before - entries.len()
}

fn unchanged(tx: &Tx<'_>, entry: &Value) -> bool {
    let placeholder = entry["fullUrl"]
        .as_str()
        .is_some_and(|u| u.starts_with("urn:"));
    let target = entry["request"]["url"]
        .as_str()
        .and_then(|u| u.split_once('/'));
    let (Some((t, id)), false) = (target, placeholder) else {
        return false;
    };
    if entry["request"]["method"] != "PUT" || id.contains(['/', '?']) {
        return false;
    }
    match tx.current(t, id) {
        Ok(Some(current)) if !current.deleted => current.json().is_some_and(|stored| {
            without_version(stored) == without_version(entry["resource"].clone())
        }),
        _ => false,
    }
}

/// `resource` without the `meta` elements the store sets.
fn without_version(mut resource: Value) -> Value {
    if let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) {
        meta.remove("versionId");
        meta.remove("lastUpdated");
        if meta.is_empty() {
            resource.as_object_mut().map(|r| r.remove("meta"));
        }
    }
    resource
}

fn done_json(done: &crate::fhir::outcome::Done) -> Value {
    match &done.payload {
        crate::fhir::outcome::Payload::Json(v) => v.clone(),
        _ => Value::Null,
    }
}

/// Loads a Bundle file.
pub fn load_file(store: &Store, path: &Path) -> Result<usize, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    load(store, &bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collection(n: usize) -> Vec<u8> {
        let entries: Vec<Value> = (0..n)
            .map(|i| serde_json::json!({"resource": {"resourceType": "Patient", "id": format!("p{i}")}}))
            .collect();
        serde_json::to_vec(
            &serde_json::json!({"resourceType": "Bundle", "type": "collection",
            "entry": entries}),
        )
        .unwrap()
    }

    #[test]
    fn data_files_may_hold_more_entries_than_a_request_but_not_unboundedly() {
        let store = Store::open(None, "http://localhost/fhir").unwrap();
        let n = bundle::MAX_ENTRIES + 1;
        assert_eq!(load(&store, &collection(n)), Ok(n));
        let too_many = load(&store, &collection(MAX_DATA_ENTRIES + 1)).unwrap_err();
        assert!(too_many.contains("Too many Bundle entries"), "{too_many}");
    }

    #[test]
    fn loading_the_same_resources_again_writes_versions_only_for_changed_ones() {
        let store = Store::open(None, "http://localhost/fhir").unwrap();
        let version =
            |id: &str| store.read(|tx| tx.current("Patient", id).unwrap().unwrap().version);
        assert_eq!(load(&store, DEMO.as_bytes()), load(&store, DEMO.as_bytes()));
        assert_eq!(load(&store, &collection(2)), Ok(2));
        assert_eq!(load(&store, &collection(2)), Ok(2));
        assert_eq!(
            (version("example"), version("p0"), version("p1")),
            (1, 1, 1)
        );
        let changed = serde_json::json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p0"}},
            {"resource": {"resourceType": "Patient", "id": "p1", "active": true}},
        ]});
        assert_eq!(load(&store, &serde_json::to_vec(&changed).unwrap()), Ok(2));
        assert_eq!((version("p0"), version("p1")), (1, 2));
    }
}
