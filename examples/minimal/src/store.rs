//! The embedded store: resources held in memory, loaded from FHIR Bundles at start and
//! read-only afterwards. It knows nothing of tokens; what may leave it is decided by the
//! [`Authorized`](secure_fhir::Authorized) request in [`crate::fhir`].

use std::collections::BTreeMap;

use fhir_types::json;
use fhir_types::reference::ReferenceTarget;
use fhir_types::resources::BundleEntry;
use fhir_types::{Resource, ResourceType};

/// Most resources loaded: the store is for trying things, not for data sets.
const MAX_RESOURCES: usize = 100_000;

/// A resource and its JSON as loaded.
pub struct Stored {
    /// The typed resource, for the checks.
    pub resource: Resource,
    /// Its JSON, returned as it is.
    pub json: serde_json::Value,
}

/// Resources by type and id.
#[derive(Default)]
pub struct Store {
    resources: BTreeMap<(ResourceType, String), Stored>,
}

impl Store {
    /// Adds every entry of a Bundle (collection, batch or transaction; entries need an id).
    pub fn load_bundle(&mut self, bytes: &[u8]) -> Result<usize, String> {
        let Resource::Bundle(bundle) = json::parse_resource(bytes).map_err(|e| e.to_string())?
        else {
            return Err("not a Bundle".into());
        };
        let mut loaded = 0;
        for entry in bundle
            .entry
            .iter()
            .filter_map(|e: &BundleEntry| e.resource.as_ref())
        {
            let id = entry.id().ok_or("a Bundle entry without an id")?.to_owned();
            if self.resources.len() >= MAX_RESOURCES {
                return Err(format!("more than {MAX_RESOURCES} resources"));
            }
            let text = json::to_vec(entry);
            let json = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
            let key = (entry.resource_type(), id);
            self.resources.insert(
                key,
                Stored {
                    resource: entry.clone(),
                    json,
                },
            );
            loaded += 1;
        }
        Ok(loaded)
    }

    /// The resource `ty`/`id`, if stored.
    pub fn get(&self, ty: ResourceType, id: &str) -> Option<&Stored> {
        self.resources.get(&(ty, id.to_owned()))
    }

    /// The types of the resources held, in order.
    pub fn types(&self) -> Vec<&'static str> {
        let mut types: Vec<&'static str> = self.resources.keys().map(|(t, _)| t.as_str()).collect();
        types.dedup();
        types
    }

    /// Every resource of type `ty`, in id order.
    pub fn of_type(&self, ty: ResourceType) -> impl Iterator<Item = &Stored> {
        self.resources
            .range((ty, String::new())..)
            .take_while(move |((t, _), _)| *t == ty)
            .map(|(_, s)| s)
    }
}

/// Whether `resource` matches the reference search parameter `code` with `value` (`123`,
/// `Patient/123`): one of the elements the parameter's R4 expression selects refers to it.
/// A parameter the type does not have, or that is no reference, matches nothing.
pub fn matches_reference(resource: &Resource, code: &str, value: &str) -> bool {
    let ty = resource.resource_type();
    let Some(def) = fhir_types::search::search_param(ty, code) else {
        return false;
    };
    let wanted = match value.split_once('/') {
        Some((t, id)) => (ResourceType::from_name(t), id),
        None => (None, value),
    };
    let mut found = false;
    resource.visit_references(&mut |path, r| {
        let Some(target) = r
            .reference
            .as_ref()
            .and_then(|v| v.value.as_deref())
            .and_then(ReferenceTarget::parse)
        else {
            return;
        };
        // Relative references only: an absolute one names another server's resource.
        let local = target.base.is_none();
        let on_path = def
            .paths
            .iter()
            .any(|p| p.path == path && p.resolves_to.is_none_or(|t| t == target.resource_type));
        let same_type = wanted.0.is_none_or(|t| t == target.resource_type)
            && def.targets.contains(&target.resource_type);
        found |= local && on_path && same_type && target.id == wanted.1;
    });
    found
}
