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
    /// Who answers for it, if anyone is named.
    pub owner: Option<String>,
    /// Words to find it by.
    pub tags: Vec<String>,
    /// Its definition as applied.
    pub definition: serde_json::Value,
}

/// Every object of kind `T`, by name.
pub fn objects<T: Object>(registry: &Registry) -> Result<Vec<ObjectSummary>> {
    let mut found = Vec::new();
    for Versioned { version, object } in registry.latest_versions::<T>()? {
        let definition = serde_json::to_value(&object).expect("definitions serialise to JSON");
        let metadata = object.metadata();
        found.push(ObjectSummary {
            name: object.name().to_string(),
            version,
            versions: registry.versions(T::KIND, object.name())?,
            description: metadata.description.map(str::to_string),
            owner: metadata.owner.map(str::to_string),
            tags: metadata.tags.to_vec(),
            definition,
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}
