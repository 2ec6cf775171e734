//! [`FeatureCatalog`]: resolving `name` or `name@vN` to a feature version ready
//! to evaluate — its table, key and value types, how its state is evaluated,
//! its default, its state (servable or not) — against the latest definitions.
//! Serving and training share one catalog, and with it one cache of resolved
//! versions, cleared whenever the definitions or version states change.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use freshet_registry::Registry;
use freshet_sql::model::{Feature, Kind};
use freshet_sql::resolved::ResolvedFeature;
use freshet_sql::types::ColumnType;

use super::{feature_table, frozen_table, upstream, LatestSet, VersionState};
use crate::operators::FeatureInput;
use crate::transforms::default_value;
use crate::value::Value;
use crate::{EngineError, Result};

/// A feature version resolved for evaluation (online or in a training set).
#[derive(Debug, Clone)]
pub struct ResolvedVersion {
    /// `name@vN`.
    pub table: String,
    /// Where its values are read, and at which instant: its own table at the
    /// read time, or, while frozen, the snapshot taken at the freeze.
    pub frozen: Option<(String, i64)>,
    /// The definition of that version.
    pub feature: Feature,
    /// Its entity's key column (`user_id`): what training sets name the key.
    pub key_column: String,
    /// The type of its entity's key column.
    pub key_type: ColumnType,
    /// The type of the values served.
    pub value_type: ColumnType,
    /// How its state is evaluated.
    pub input: FeatureInput,
    /// Whether its value transforms need statistics of its values.
    pub needs_stats: bool,
    /// Served when the value is missing after any fill.
    pub default: Option<Value>,
    /// Its state when it was resolved (unknown for a version applied since).
    pub state: Option<VersionState>,
    /// Its backfill's progress then: events done and in the log.
    pub progress: (u64, u64),
}

impl ResolvedVersion {
    /// Refuses versions that cannot serve online: backfilling, failed, retired.
    pub fn check_servable(&self, reference: &str) -> Result<()> {
        let table = &self.table;
        match &self.state {
            Some(VersionState::Backfilling) => Err(invalid(format!(
                "feature '{reference}' ({table}) is BACKFILLING ({} of {} events replayed); \
                 it is served once caught up",
                self.progress.0, self.progress.1
            ))),
            Some(VersionState::Failed(cause)) => Err(invalid(format!(
                "feature '{reference}' ({table}) FAILED: {cause}"
            ))),
            Some(VersionState::Retired) => Err(invalid(format!(
                "feature '{reference}' ({table}) is RETIRED; its state was freed"
            ))),
            _ => Ok(()),
        }
    }
}

/// The latest definitions and the versions resolved against them.
pub struct FeatureCatalog {
    registry: Arc<Registry>,
    latest: RwLock<Arc<LatestSet>>,
    resolved: RwLock<HashMap<String, Arc<ResolvedVersion>>>,
}

fn invalid(message: String) -> EngineError {
    EngineError::InvalidRequest(message)
}

impl FeatureCatalog {
    /// A catalog resolving names in `registry` against `latest`.
    pub fn new(registry: Arc<Registry>, latest: Arc<LatestSet>) -> Self {
        FeatureCatalog {
            registry,
            latest: RwLock::new(latest),
            resolved: RwLock::new(HashMap::new()),
        }
    }

    /// The latest definitions and version states that names resolve against.
    pub fn latest(&self) -> Arc<LatestSet> {
        self.latest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Switches to new definitions or version states (after an apply, a
    /// catch-up, a retire); names resolve anew.
    pub fn set_latest(&self, latest: Arc<LatestSet>) {
        *self.latest.write().unwrap_or_else(|p| p.into_inner()) = latest;
        self.resolved
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Resolves `name` or `name@vN` for an online read: refused unless the
    /// version is READY or ACTIVE.
    pub fn resolve(&self, reference: &str) -> Result<Arc<ResolvedVersion>> {
        let served = self.resolve_definition(reference)?;
        served.check_servable(reference)?;
        Ok(served)
    }

    /// Resolves `name` or `name@vN` whatever its state (training sets replay the
    /// log, so they need no state).
    pub fn resolve_definition(&self, reference: &str) -> Result<Arc<ResolvedVersion>> {
        if let Some(found) = self
            .resolved
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(reference)
        {
            return Ok(found.clone());
        }
        let versioned = self
            .registry
            .resolve::<Feature>(reference)
            .map_err(EngineError::Registry)?;
        let active = self
            .latest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let feature = versioned.object;
        let table = feature_table(&feature.name, versioned.version);
        let status = active.statuses.get(&table);
        let frozen = status
            .and_then(|s| s.frozen_at)
            .map(|at| (frozen_table(&table), at));
        let state = status.map(|s| s.state.clone());
        let progress = status.map_or((0, 0), |s| (s.done, s.total));
        if !active.catalog.relations.contains_key(&feature.source) {
            return Err(invalid(format!(
                "feature '{reference}': its source '{}' is no longer defined",
                feature.source
            )));
        }
        let key_column = active.entity_key(&feature.entity).ok_or_else(|| {
            invalid(format!(
                "feature '{reference}': unknown entity '{}'",
                feature.entity
            ))
        })?;
        // A version reading older (or newer) transformation versions than the
        // latest resolves against its lane's relations, once a lane has opened.
        let versions: BTreeMap<String, u32> =
            upstream(&self.registry, std::slice::from_ref(&feature))?
                .into_iter()
                .map(|(name, t)| (name, t.version))
                .collect();
        let lane = match versions.is_empty() {
            true => None,
            false => active.lanes.covering(&versions),
        };
        // Without a lane, the latest relations are right only for a version that
        // reads the latest transformations; any other answer is not kept, so the
        // lane's resolution is used once the lane opens.
        let mut lasting = true;
        if lane.is_none() {
            for (name, version) in &versions {
                let latest = self.registry.latest_version(Kind::Transformation, name)?;
                lasting &= latest == Some(*version);
            }
        }
        let relations = lane.as_deref().map_or(&active.catalog, |l| &l.catalog);
        let resolved = ResolvedFeature::resolve(&feature, key_column, relations)?;
        let served = Arc::new(ResolvedVersion {
            table,
            frozen,
            state,
            progress,
            input: FeatureInput::of(&resolved, 0)?,
            needs_stats: resolved.needs_stats(),
            default: default_value(feature.default.as_ref(), resolved.value_type),
            key_column: resolved.key_column.clone(),
            key_type: resolved.key_type,
            value_type: resolved.value_type,
            feature,
        });
        if lasting {
            self.resolved
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(reference.to_string(), served.clone());
        }
        Ok(served)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use freshet_backends::embedded::RocksStateStore;
    use freshet_sql::load::parse_definitions;
    use freshet_sql::model::Kind;
    use freshet_storage::state::{StateStore, WriteBatch};

    use super::*;
    use crate::catalog::VersionStatus;

    const V1: &str = "sources:\n  - { name: clicks, stream: {}, schema: { user_id: int64, amount: float64, ts: timestamp }, event_time: ts }\n\
        entities:\n  - { name: user, key: user_id }\n\
        features:\n  - { name: spend, entity: user, source: clicks, aggregate: sum(amount), window: 1h }\n";

    /// A registry holding `spend` v1 (window 1h) and v2 (window 2h).
    async fn two_versions() -> (tempfile::TempDir, Arc<dyn StateStore>, Arc<Registry>) {
        let dir = tempfile::tempdir().unwrap();
        let state: Arc<dyn StateStore> = Arc::new(RocksStateStore::open(dir.path()).unwrap());
        let registry = Arc::new(Registry::new(state.clone()));
        for text in [V1.to_string(), V1.replace("window: 1h", "window: 2h")] {
            let definitions = parse_definitions(&text, "defs.yaml").unwrap();
            registry
                .apply(&definitions, "defs.yaml", Path::new("/"), false)
                .await
                .unwrap();
        }
        (dir, state, registry)
    }

    fn status(version: u32, state: VersionState) -> VersionStatus {
        VersionStatus {
            name: "spend".into(),
            version,
            state,
            done: 3,
            total: 10,
            rate: 0.0,
            eta_seconds: 0.0,
            frozen_at: None,
            skipped: Default::default(),
        }
    }

    async fn catalog(registry: &Arc<Registry>, states: &[(u32, VersionState)]) -> FeatureCatalog {
        let mut latest = LatestSet::load(registry).await.unwrap();
        latest.statuses = states
            .iter()
            .map(|(v, s)| (feature_table("spend", *v), status(*v, s.clone())))
            .collect::<BTreeMap<_, _>>();
        FeatureCatalog::new(registry.clone(), Arc::new(latest))
    }

    fn window(version: &ResolvedVersion) -> Option<i64> {
        match &version.input {
            FeatureInput::Events { aggregation, .. } => aggregation.retention.window,
            FeatureInput::View { .. } => None,
        }
    }

    const HOUR: i64 = 3_600_000_000;

    #[tokio::test]
    async fn a_bare_name_reads_the_serving_version_else_the_latest() {
        let (_dir, state, registry) = two_versions().await;
        let catalog = catalog(
            &registry,
            &[(1, VersionState::Active), (2, VersionState::Ready)],
        )
        .await;
        let latest = catalog.resolve("spend").unwrap();
        assert_eq!(
            (latest.table.as_str(), window(&latest)),
            ("spend@v2", Some(2 * HOUR))
        );

        let mut batch = WriteBatch::new();
        Registry::put_serving(&mut batch, Kind::Feature, "spend", 1);
        state.write(batch).unwrap();
        let catalog = self::catalog(
            &registry,
            &[(1, VersionState::Active), (2, VersionState::Ready)],
        )
        .await;
        let serving = catalog.resolve("spend").unwrap();
        assert_eq!(
            (serving.table.as_str(), window(&serving)),
            ("spend@v1", Some(HOUR))
        );
        let pinned = catalog.resolve("spend@v2").unwrap();
        assert_eq!(
            (pinned.table.as_str(), window(&pinned)),
            ("spend@v2", Some(2 * HOUR))
        );
        assert_eq!(pinned.key_type, ColumnType::Int64);
        assert_eq!(pinned.value_type, ColumnType::Float64);
    }

    #[tokio::test]
    async fn unknown_names_and_versions_are_refused_naming_them() {
        let (_dir, _state, registry) = two_versions().await;
        let catalog = catalog(&registry, &[]).await;
        let error = catalog.resolve("nope").unwrap_err().to_string();
        assert!(
            error.contains("feature 'nope'") && error.contains("not found"),
            "{error}"
        );
        let error = catalog.resolve("spend@v9").unwrap_err().to_string();
        assert!(
            error.contains("spend@v9") && error.contains("v1, v2"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn versions_that_cannot_serve_are_refused_online_but_resolve_for_training() {
        let (_dir, _state, registry) = two_versions().await;
        let catalog = catalog(
            &registry,
            &[(1, VersionState::Backfilling), (2, VersionState::Retired)],
        )
        .await;
        let error = catalog.resolve("spend@v1").unwrap_err().to_string();
        assert!(
            error.contains("BACKFILLING (3 of 10 events replayed)"),
            "{error}"
        );
        let error = catalog.resolve("spend@v2").unwrap_err().to_string();
        assert!(error.contains("RETIRED"), "{error}");
        assert_eq!(
            catalog.resolve_definition("spend@v1").unwrap().table,
            "spend@v1"
        );
    }

    #[tokio::test]
    async fn new_version_states_are_seen_after_set_latest() {
        let (_dir, _state, registry) = two_versions().await;
        let catalog = catalog(&registry, &[(2, VersionState::Backfilling)]).await;
        assert!(catalog.resolve("spend@v2").is_err());
        let mut latest = LatestSet::load(&registry).await.unwrap();
        latest
            .statuses
            .insert(feature_table("spend", 2), status(2, VersionState::Active));
        catalog.set_latest(Arc::new(latest));
        assert_eq!(catalog.resolve("spend@v2").unwrap().table, "spend@v2");
    }

    const OVER_VIEW: &str = "sources:\n  - { name: clicks, stream: {}, schema: { user_id: int64, amount: int64, ts: timestamp }, event_time: ts }\n\
        transformations:\n  - { name: amounts, sql: 'SELECT user_id, amount, ts FROM clicks' }\n\
        entities:\n  - { name: user, key: user_id }\n\
        features:\n  - { name: spend, entity: user, source: amounts, aggregate: sum(amount), window: 1h }\n";

    /// `spend@v1` reads `amounts@v1` (integer amounts, so an integer sum);
    /// `spend@v2` reads `amounts@v2`, which casts them to doubles.
    #[tokio::test]
    async fn a_version_over_older_transformations_resolves_against_its_lane() {
        let dir = tempfile::tempdir().unwrap();
        let state: Arc<dyn StateStore> = Arc::new(RocksStateStore::open(dir.path()).unwrap());
        let registry = Arc::new(Registry::new(state.clone()));
        let v2 = OVER_VIEW.replace(
            "SELECT user_id, amount,",
            "SELECT user_id, CAST(amount AS DOUBLE) AS amount,",
        );
        for text in [OVER_VIEW, v2.as_str()] {
            let definitions = parse_definitions(text, "defs.yaml").unwrap();
            registry
                .apply(&definitions, "defs.yaml", Path::new("/"), false)
                .await
                .unwrap();
        }
        let latest = Arc::new(LatestSet::load(&registry).await.unwrap());
        let catalog = FeatureCatalog::new(registry.clone(), latest.clone());
        // Before any lane holds `amounts@v1`, v1 can only be resolved against the
        // latest relations; that answer is not kept.
        let early = catalog.resolve_definition("spend@v1").unwrap();
        assert_eq!(early.value_type, ColumnType::Float64);

        let v1 = registry
            .resolve_version::<freshet_sql::model::Transformation>("amounts", 1)
            .unwrap();
        let transformations = BTreeMap::from([("amounts".to_string(), v1)]);
        let lane = latest
            .lanes
            .resolve(&latest, &transformations)
            .await
            .unwrap();
        let again = latest
            .lanes
            .resolve(&latest, &transformations)
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&lane, &again), "one resolution per version set");

        let old = catalog.resolve_definition("spend@v1").unwrap();
        let new = catalog.resolve_definition("spend@v2").unwrap();
        assert_eq!(old.value_type, ColumnType::Int64);
        assert_eq!(new.value_type, ColumnType::Float64);
    }
}
