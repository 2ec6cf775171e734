//! [`objects`]: the registry's objects of one kind (sources, entities,
//! training sets, ...) at their newest versions, for listings.

use freshet_registry::{Registry, Versioned};
use freshet_sql::model::Object;

use crate::Result;

/// A registry object at its newest version.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSummary {
    /// Its name.
    pub name: String,
    /// Its newest version.
    pub version: u32,
    /// Every version stored, oldest first.
    pub versions: Vec<u32>,
    /// Its free text, if it has one.
    pub description: Option<String>,
    /// Its definition as applied.
    pub definition: serde_json::Value,
}

/// Every object of kind `T`, by name.
pub fn objects<T: Object>(registry: &Registry) -> Result<Vec<ObjectSummary>> {
    let mut found = Vec::new();
    for Versioned { version, object } in registry.latest_versions::<T>()? {
        let definition = serde_json::to_value(&object).expect("definitions serialise to JSON");
        found.push(ObjectSummary {
            name: object.name().to_string(),
            version,
            versions: registry.versions(T::KIND, object.name())?,
            description: definition["description"].as_str().map(str::to_string),
            definition,
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}
