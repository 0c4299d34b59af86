//! Bundles (search, history, `$everything`) whose entries carry stored resources as their
//! stored text. Parsing each stored resource into a `Value` only to serialize it again was a
//! fifth of a search's CPU; the stored text is the server's own serialization of a validated
//! resource (a read answers with it as is), so it is written into the Bundle unchanged.

use serde_json::Value;

/// A Bundle: its own elements, then its entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Spliced {
    envelope: Value,
    entries: Vec<Entry>,
}

/// One `Bundle.entry`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The entry's elements other than `resource` (a JSON object).
    fields: Value,
    /// The stored JSON text of the entry's resource, if it has one.
    resource: Option<String>,
}

impl Entry {
    /// An entry of `fields` (a JSON object) and the stored text of its resource.
    pub fn new(fields: Value, resource: Option<String>) -> Entry {
        debug_assert!(fields.is_object());
        Entry { fields, resource }
    }
}

impl Spliced {
    /// A Bundle of `envelope` (a JSON object without `entry`) and `entries`.
    pub fn new(envelope: Value, entries: Vec<Entry>) -> Spliced {
        debug_assert!(envelope.is_object() && envelope.get("entry").is_none());
        Spliced { envelope, entries }
    }

    /// About how long [`Spliced::to_vec`] is: the stored texts, and a little for the rest.
    pub fn approx_len(&self) -> usize {
        let stored: usize = self
            .entries
            .iter()
            .filter_map(|e| e.resource.as_ref())
            .map(String::len)
            .sum();
        512 + stored + 128 * self.entries.len()
    }

    /// The Bundle as compact JSON.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.approx_len());
        super::json::write(&self.envelope, &mut out);
        if self.entries.is_empty() {
            return out;
        }
        open_member(&mut out, "entry");
        out.push(b'[');
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            super::json::write(&e.fields, &mut out);
            if let Some(resource) = &e.resource {
                open_member(&mut out, "resource");
                out.extend_from_slice(resource.as_bytes());
                out.push(b'}');
            }
        }
        out.extend_from_slice(b"]}");
        out
    }

    /// The Bundle as a `Value` (a batch entry's `resource`, tests).
    pub fn to_value(&self) -> Value {
        super::json::parse(&self.to_vec()).unwrap_or(Value::Null)
    }
}

/// Reopens the JSON object that `out` ends with for a member `key` (which needs no escaping):
/// the caller writes the value and the closing `}`.
fn open_member(out: &mut Vec<u8>, key: &str) {
    debug_assert_eq!(out.last(), Some(&b'}'));
    out.pop();
    if out.last() != Some(&b'{') {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_and_resources_are_members_of_their_objects() {
        let resource = r#"{"resourceType":"Patient","id":"a","multipleBirthInteger":1.50}"#;
        let bundle = Spliced::new(
            json!({"resourceType": "Bundle", "type": "searchset", "total": 2}),
            vec![
                Entry::new(
                    json!({"fullUrl": "http://x/fhir/Patient/a", "search": {"mode": "match"}}),
                    Some(resource.to_owned()),
                ),
                Entry::new(json!({"request": {"method": "DELETE"}}), None),
                Entry::new(json!({}), Some(resource.to_owned())),
            ],
        );
        let text = String::from_utf8(bundle.to_vec()).unwrap();
        // The stored text is written as is (its number keeps its trailing zero).
        assert_eq!(text.matches(resource).count(), 2);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        let expected_resource: Value = serde_json::from_str(resource).unwrap();
        assert_eq!(
            parsed,
            json!({
                "resourceType": "Bundle", "type": "searchset", "total": 2,
                "entry": [
                    {"fullUrl": "http://x/fhir/Patient/a", "search": {"mode": "match"},
                     "resource": expected_resource},
                    {"request": {"method": "DELETE"}},
                    {"resource": expected_resource},
                ]
            })
        );
        assert_eq!(
            bundle.to_value(),
            super::super::json::parse(text.as_bytes()).unwrap()
        );
    }

    #[test]
    fn a_bundle_without_entries_has_no_entry_element() {
        let bundle = Spliced::new(json!({"resourceType": "Bundle", "total": 0}), Vec::new());
        let parsed: Value = serde_json::from_slice(&bundle.to_vec()).unwrap();
        assert_eq!(parsed, json!({"resourceType": "Bundle", "total": 0}));
    }
}
