//! The definitions a lane's pipeline runs, resolved once per distinct set of
//! transformation versions rather than once per lane opening.
//!
//! A lane may run older (or newer) transformation versions than the latest set
//! while a backfill catches up, so its pipeline is resolved over exactly the
//! versions it reads. Source tasks re-open their lanes after every failure and
//! every backfill step; the cache makes those re-openings cost no validation.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use freshet_registry::{Registry, Versioned};
use freshet_sql::model::{Definitions, Feature, Transformation};
use freshet_sql::resolved::Resolved;

use super::resolve_stored;
use crate::{EngineError, Result};

/// Resolved lane definitions by the transformation versions they hold.
#[derive(Debug, Default)]
pub struct LaneResolutions {
    resolved: Mutex<HashMap<BTreeMap<String, u32>, Arc<Resolved>>>,
}

impl LaneResolutions {
    /// The sources and entities of `latest` with exactly `transformations` (by
    /// name, as [`upstream`] gives them), resolved; no features, labels or
    /// training sets, since a lane's feature operators are built from their own
    /// versions.
    pub async fn resolve(
        &self,
        latest: &Resolved,
        transformations: &BTreeMap<String, Versioned<Transformation>>,
    ) -> Result<Arc<Resolved>> {
        let key: BTreeMap<String, u32> = transformations
            .iter()
            .map(|(name, t)| (name.clone(), t.version))
            .collect();
        if let Some(found) = self.lock().get(&key) {
            return Ok(found.clone());
        }
        let definitions = Definitions {
            sources: latest.definitions.sources.clone(),
            transformations: transformations.values().map(|t| t.object.clone()).collect(),
            entities: latest.definitions.entities.clone(),
            features: Vec::new(),
            labels: Vec::new(),
            training_sets: Vec::new(),
        };
        let lane = Arc::new(resolve_stored(&definitions).await?);
        Ok(self.lock().entry(key).or_insert(lane).clone())
    }

    /// A resolution made so far that holds every one of `versions` (a lane's
    /// transformations include those of each of its features), if any.
    pub fn covering(&self, versions: &BTreeMap<String, u32>) -> Option<Arc<Resolved>> {
        self.lock()
            .iter()
            .find(|(held, _)| versions.iter().all(|(n, v)| held.get(n) == Some(v)))
            .map(|(_, resolved)| resolved.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BTreeMap<String, u32>, Arc<Resolved>>> {
        self.resolved.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The transformation versions a set of feature versions is computed from,
/// following each version's recorded inputs upstream, by name.
pub fn upstream(
    registry: &Registry,
    features: &[Feature],
) -> Result<BTreeMap<String, Versioned<Transformation>>> {
    let mut found: BTreeMap<String, Versioned<Transformation>> = BTreeMap::new();
    let mut pending: Vec<(String, u32)> = features
        .iter()
        .flat_map(|f| f.inputs.iter().map(|(n, v)| (n.clone(), *v)))
        .collect();
    while let Some((name, version)) = pending.pop() {
        if let Some(existing) = found.get(&name) {
            if existing.version != version {
                return Err(EngineError::Unsupported(format!(
                    "one lane cannot read both '{name}@v{}' and '{name}@v{version}'",
                    existing.version
                )));
            }
            continue;
        }
        let transformation = registry.resolve_version::<Transformation>(&name, version)?;
        pending.extend(
            transformation
                .object
                .inputs
                .iter()
                .map(|(n, v)| (n.clone(), *v)),
        );
        found.insert(name, transformation);
    }
    Ok(found)
}
