//! The catalog: [`LatestSet`], the latest version of every definition, resolved
//! once, with the status of every feature version — what the runtime, serving
//! and training are built from — and the naming of the tables that hold
//! versions' values.

mod lanes;
mod resolve;
mod tables;
mod versions;

pub use lanes::{upstream, LaneResolutions};
pub use resolve::{FeatureCatalog, ResolvedVersion};
pub use tables::{feature_table, frozen_table, private_view_table};
pub use versions::{VersionState, VersionStatus};

use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use freshet_registry::Registry;
use freshet_sql::model::Definitions;
use freshet_sql::resolved::Resolved;
use freshet_sql::validate::validate;

use crate::Result;

/// The newest definitions, resolved, and the status of every feature version.
/// Dereferences to the [`Resolved`] definitions.
#[derive(Debug, Clone)]
pub struct LatestSet {
    /// The newest version of every definition, resolved (shared: resolved once
    /// per apply, however many readers).
    pub resolved: Arc<Resolved>,
    /// The status of every feature version, by table (`name@vN`).
    pub statuses: BTreeMap<String, VersionStatus>,
    /// Lane pipelines' definitions resolved so far over these latest ones.
    pub lanes: Arc<LaneResolutions>,
}

impl Deref for LatestSet {
    type Target = Resolved;

    fn deref(&self) -> &Resolved {
        &self.resolved
    }
}

impl LatestSet {
    /// Reads the active set from the registry (no version statuses).
    pub async fn load(registry: &Registry) -> Result<LatestSet> {
        LatestSet::validated(registry.latest_definitions()?).await
    }

    /// Validates and resolves `definitions` (as stored, so file URIs are
    /// absolute); no versions.
    pub async fn validated(definitions: Definitions) -> Result<LatestSet> {
        Ok(LatestSet {
            resolved: Arc::new(resolve_stored(&definitions).await?),
            statuses: BTreeMap::new(),
            lanes: Arc::default(),
        })
    }
}

/// Validates and resolves definitions as the registry stores them (file URIs
/// already absolute).
async fn resolve_stored(definitions: &Definitions) -> Result<Resolved> {
    Ok(validate(definitions, "registry", Path::new("/")).await?)
}
