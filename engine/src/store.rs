//! [`FeatureStore`]: the engine's one entry point. It owns the registry, ingest,
//! the runtime, serving and training over the configured storage, and keeps them
//! in step: an apply restarts the runtime on the newly resolved definitions and
//! points serving at them; a lane that catches up or fails moves serving with it.
//! Protocol layers (gRPC, Flight, the CLI) only translate to and from its calls.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use freshet_registry::{Plan, Registry, RegistryError, Versioned};
use freshet_sql::model::{
    Definitions, Entity, Feature, Kind, Label, Source, TrainingSet, Transformation,
};
use freshet_sql::resolved::StreamSource;
use freshet_storage::log::{EventLog, PartitionRanges, Position};
use freshet_storage::online::OnlineStore;
use freshet_storage::state::column_family::OPERATOR_STATE;
use freshet_storage::state::StateStore;
use tracing::warn;

use crate::catalog::{feature_table, FeatureCatalog, VersionStatus};
use crate::discovery::{
    self, value_stats, Buckets, FeatureDetail, FeatureStatistics, FeatureSummary, ListFilter,
    ObjectSummary,
};
use crate::ingest::{IngestOptions, IngestReport, Ingestor, PayloadFormat};
use crate::metrics::Metrics;
use crate::operators::FeatureStats;
use crate::runtime::{Engine, RuntimeConfig};
use crate::serving::{stored_value, FeatureServer, OnlineValues, StateOnline};
use crate::state_keys::feature_state_key;
use crate::training::{TrainingConfig, TrainingSets};
use crate::transforms::finish;
use crate::value::Value;
use crate::{EngineError, Result};

/// Most entity keys a statistics request reads.
pub const MAX_STATS_KEYS: usize = 100_000;

/// Where one source stands, as `GetStatus` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceReport {
    /// The source.
    pub name: String,
    /// Its latest version.
    pub version: u32,
    /// The stream part, for a stream source (a file source has none).
    pub stream: Option<StreamReport>,
}

/// A stream source's log and processing.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamReport {
    /// Each partition's head.
    pub heads: Vec<Position>,
    /// Each partition's local and archived ranges.
    pub ranges: Vec<PartitionRanges>,
    /// Events in its log.
    pub accepted: u64,
    /// Events ever refused.
    pub rejected: u64,
    /// Refused events kept in the rejected-events topic.
    pub rejected_kept: u64,
    /// Events refused as late.
    pub late: u64,
    /// Events the live lanes have processed and committed (the least of them).
    pub processed: u64,
    /// Events not yet processed.
    pub lag: u64,
}

/// Everything `GetStatus` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreStatus {
    /// Every active source.
    pub sources: Vec<SourceReport>,
    /// Every stored feature version.
    pub features: Vec<VersionStatus>,
}

/// Freshet's engine behind one facade.
///
/// ```
/// # use std::sync::Arc;
/// # use freshet_engine::{FeatureStore, ingest::{IngestOptions, PayloadFormat}};
/// # use freshet_engine::{metrics::Metrics, runtime::RuntimeConfig, training::TrainingConfig, value::Value};
/// # use freshet_backends::embedded::{RocksStateStore, SegmentLog};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let store = FeatureStore::open(
///     Arc::new(SegmentLog::open(dir.path().join("log")).unwrap()),
///     Arc::new(RocksStateStore::open(dir.path().join("state")).unwrap()),
///     None, // serve from operator state
///     Arc::new(Metrics::new()),
///     TrainingConfig { spill_dir: dir.path().join("spill"), memory_budget: 1 << 30, partitions: 4 },
///     RuntimeConfig::default(),
/// ).await.unwrap();
/// let definitions = freshet_sql::load::parse_definitions(
///     "sources:\n  - { name: clicks, stream: {}, schema: { user_id: int64, ts: timestamp }, event_time: ts }\n\
///      entities:\n  - { name: user, key: user_id }\n\
///      features:\n  - { name: clicks_1h, entity: user, source: clicks, aggregate: count(*), window: 1h }\n",
///     "clicks.yaml",
/// ).unwrap();
/// store.apply(&definitions, "clicks.yaml", dir.path(), false).await.unwrap();
/// let now = chrono::Utc::now().timestamp_micros();
/// let event = format!(r#"{{"user_id": 7, "ts": {}}}"#, now / 1000);
/// let report = store
///     .ingest("clicks", PayloadFormat::JsonLines, event.as_bytes(), IngestOptions::default(), true)
///     .await
///     .unwrap();
/// assert_eq!(report.accepted, 1);
/// let values = store.get_online(&["clicks_1h".into()], "user", &[Value::Int(7)], now).await.unwrap();
/// assert_eq!(values.rows, vec![vec![Some(Value::Int(1))]]);
/// # });
/// ```
pub struct FeatureStore {
    registry: Arc<Registry>,
    state: Arc<dyn StateStore>,
    ingestor: Ingestor,
    engine: Arc<Engine>,
    catalog: Arc<FeatureCatalog>,
    server: FeatureServer,
    training: Arc<TrainingSets>,
    metrics: Arc<Metrics>,
}

impl FeatureStore {
    /// Opens the store over `log`, `state` and `online` (`None`: serving reads
    /// operator state, through [`StateOnline`]), and starts processing the
    /// applied definitions; a state store in another layout than this build's
    /// is refused ([`crate::layout`]). Micro-batches and backfills run as `runtime` says;
    /// training sets are built as `training` says.
    pub async fn open(
        log: Arc<dyn EventLog>,
        state: Arc<dyn StateStore>,
        online: Option<Arc<dyn OnlineStore>>,
        metrics: Arc<Metrics>,
        training: TrainingConfig,
        runtime: RuntimeConfig,
    ) -> Result<FeatureStore> {
        crate::layout::check(state.as_ref())?;
        let registry = Arc::new(Registry::new(state.clone()));
        let online_copy = online.is_some();
        let online = online.unwrap_or_else(|| Arc::new(StateOnline::new(state.clone())));
        let engine = Arc::new(Engine::new(
            log.clone(),
            state.clone(),
            online.clone(),
            online_copy,
            metrics.clone(),
            registry.clone(),
            runtime,
        ));
        let catalog = Arc::new(FeatureCatalog::new(
            registry.clone(),
            Arc::new(engine.latest_set()?),
        ));
        spawn_catalog_follower(engine.clone(), catalog.clone());
        let store = FeatureStore {
            ingestor: Ingestor::new(log.clone(), state.clone(), metrics.clone()),
            state,
            training: Arc::new(TrainingSets::new(
                log,
                registry.clone(),
                catalog.clone(),
                training,
            )),
            server: FeatureServer::new(online, catalog.clone()),
            catalog,
            engine,
            registry,
            metrics,
        };
        store.restart().await?;
        Ok(store)
    }

    /// (Re)starts the runtime on the applied definitions and points serving at
    /// them.
    async fn restart(&self) -> Result<()> {
        let started = self.engine.start().await;
        self.reload_serving()?;
        started
    }

    /// Points serving at the running definitions and the versions' statuses now.
    fn reload_serving(&self) -> Result<()> {
        self.catalog.set_latest(Arc::new(self.engine.latest_set()?));
        Ok(())
    }

    /// Reloads serving unless it already holds the states of `statuses`, so
    /// that a version about to be reported ACTIVE is the one bare names read.
    fn sync_serving(&self, statuses: &[VersionStatus]) -> Result<()> {
        let served = self.catalog.latest();
        let current = statuses.iter().all(|s| {
            served
                .statuses
                .get(&feature_table(&s.name, s.version))
                .is_some_and(|t| t.state == s.state && t.frozen_at == s.frozen_at)
        });
        if !current {
            self.reload_serving()?;
        }
        Ok(())
    }

    /// Validates `definitions` (read from `file`; relative file URIs resolve
    /// against `base_dir`) with the applied ones, stores new versions of what
    /// changed and, unless `dry_run`, restarts processing on the result. The
    /// caller is not named ([`FeatureStore::apply_as`] names them).
    pub async fn apply(
        &self,
        definitions: &Definitions,
        file: &str,
        base_dir: &Path,
        dry_run: bool,
    ) -> Result<Plan> {
        self.apply_as(definitions, file, base_dir, dry_run, "")
            .await
    }

    /// [`FeatureStore::apply`], recording `by` (the caller's name) and the
    /// time with every version made or whose metadata changed.
    pub async fn apply_as(
        &self,
        definitions: &Definitions,
        file: &str,
        base_dir: &Path,
        dry_run: bool,
        by: &str,
    ) -> Result<Plan> {
        let (plan, _catalog) = self
            .registry
            .apply_as(definitions, file, base_dir, dry_run, by)
            .await?;
        if !dry_run {
            self.restart().await?;
        }
        Ok(plan)
    }

    /// Decodes and appends `data` to stream source `source` (see
    /// [`Ingestor::ingest`]). A refused request is `Ok` with `batch_rejected`
    /// set. With `wait`, returns once the accepted events (or, with none, every
    /// event so far) are reflected in online values.
    pub async fn ingest(
        &self,
        source: &str,
        format: PayloadFormat,
        data: &[u8],
        options: IngestOptions,
        wait: bool,
    ) -> Result<IngestReport> {
        let source = self.stream_source(source)?;
        let report = self.ingestor.ingest(&source, format, data, options).await?;
        if report.batch_rejected {
            warn!(source = %source.name, rows = report.rejected, "ingest refused");
            return Ok(report);
        }
        if wait && !options.validate_only {
            match report.ack {
                Some(ack) => {
                    self.engine
                        .wait_for(&source.name, report.partition, ack.next)
                        .await?
                }
                None => {
                    self.engine
                        .wait_caught_up(&source.name, &source.topic)
                        .await?
                }
            }
        }
        Ok(report)
    }

    /// The stream source `name` of the served definitions; a file source or an
    /// unknown name is refused, naming it.
    fn stream_source(&self, name: &str) -> Result<StreamSource> {
        let active = self.catalog.latest();
        if let Some(stream) = active.stream(name) {
            return Ok(stream.clone());
        }
        Err(match active.source(name) {
            Some(_) => EngineError::NotAStream {
                source_name: name.to_string(),
                reason: "is a file source; only stream sources take events".into(),
            },
            None => EngineError::Registry(RegistryError::NotFound {
                kind: "source",
                reference: name.to_string(),
                hint: String::new(),
            }),
        })
    }

    /// Every active source's log and processing, and every feature version's
    /// state; serving is brought up to date with the states reported.
    pub async fn status(&self) -> Result<StoreStatus> {
        let lanes = self.engine.board().snapshot();
        let served = self.catalog.latest();
        let mut sources = Vec::new();
        for Versioned { version, object } in self.registry.latest_versions::<Source>()? {
            let stream = match served.stream(&object.name) {
                None => None,
                Some(stream) => {
                    let found = self.ingestor.status(stream).await?;
                    let processed = lanes
                        .get(&object.name)
                        .and_then(|lanes| lanes.iter().filter(|l| l.live).map(|l| l.done).min())
                        .unwrap_or(0);
                    Some(StreamReport {
                        lag: found.accepted.saturating_sub(processed),
                        heads: found.heads,
                        ranges: found.ranges,
                        accepted: found.accepted,
                        rejected: found.rejected,
                        rejected_kept: found.rejected_kept,
                        late: found.late,
                        processed,
                    })
                }
            };
            sources.push(SourceReport {
                name: object.name,
                version,
                stream,
            });
        }
        let features = self.engine.version_statuses()?;
        self.sync_serving(&features)?;
        Ok(StoreStatus { sources, features })
    }

    /// A summary of every feature at its newest version, by name.
    fn feature_summaries(&self) -> Result<Vec<FeatureSummary>> {
        let statuses = self.engine.version_statuses()?;
        let mut all = Vec::new();
        for Versioned { version, object } in self.registry.latest_versions::<Feature>()? {
            let reference = format!("{}@v{version}", object.name);
            let value_type = self
                .catalog
                .resolve_definition(&reference)
                .ok()
                .map(|resolved| resolved.value_type.name().to_string());
            let upstream = discovery::upstream(&self.registry, &object)?
                .into_iter()
                .map(|table| table.name)
                .collect();
            all.push(FeatureSummary {
                upstream,
                versions: self.registry.versions(Kind::Feature, &object.name)?,
                state: discovery::state_of(&statuses, &object.name, version),
                name: object.name,
                version,
                entity: object.entity,
                source: object.source,
                aggregate: object.aggregate,
                window: object.window,
                value_type,
                description: object.description,
                owner: object.owner,
                tags: object.tags,
            });
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// One page of the features `filter` matches, by name (see
    /// [`discovery::list`]), and the next page's token.
    pub fn list_features(
        &self,
        filter: &ListFilter,
        page_size: usize,
        page_token: &str,
    ) -> Result<(Vec<FeatureSummary>, Option<String>)> {
        discovery::list(self.feature_summaries()?, filter, page_size, page_token)
    }

    /// The features matching every word of `query`, best first (see
    /// [`discovery::search`]).
    pub fn search_features(&self, query: &str, limit: usize) -> Result<Vec<FeatureSummary>> {
        discovery::search(self.feature_summaries()?, query, limit)
    }

    /// One page of the registry's objects of `kind` (sources, entities,
    /// training sets, transformations or labels; features have
    /// [`FeatureStore::list_features`]) by name, and the next page's token.
    pub fn list_objects(
        &self,
        kind: Kind,
        page_size: usize,
        page_token: &str,
    ) -> Result<(Vec<ObjectSummary>, Option<String>)> {
        let registry = &self.registry;
        let all = match kind {
            Kind::Source => discovery::objects::<Source>(registry)?,
            Kind::Entity => discovery::objects::<Entity>(registry)?,
            Kind::TrainingSet => discovery::objects::<TrainingSet>(registry)?,
            Kind::Transformation => discovery::objects::<Transformation>(registry)?,
            Kind::Label => discovery::objects::<Label>(registry)?,
            Kind::Feature => discovery::objects::<Feature>(registry)?,
        };
        discovery::page(all.into_iter(), |o| &o.name, page_size, page_token)
    }

    /// Statistics of the values the feature `reference` (`name` or
    /// `name@vN`) serves at `at` (µs), over the entity keys its state holds,
    /// at most [`MAX_STATS_KEYS`] of them (in key order): what a read of each
    /// would return, after transforms and defaults. With `buckets`, also the
    /// same over the same keys at the end of each bucket, the last ending at
    /// `at`, each key's value at each end computed as a training set computes
    /// it (see [`discovery::stats_over_time`]).
    pub async fn feature_stats(
        &self,
        reference: &str,
        at: i64,
        buckets: Option<Buckets>,
    ) -> Result<FeatureStatistics> {
        let served = self.catalog.resolve(reference)?;
        let (table, at) = match &served.frozen {
            Some((snapshot, frozen_at)) => (snapshot.as_str(), *frozen_at),
            None => (served.table.as_str(), at),
        };
        let prefix = feature_state_key(table, b"");
        // The table's statistics entry, its keys, and one more to tell
        // whether there were more.
        let entries = self
            .state
            .scan_prefix_limit(OPERATOR_STATE, &prefix, MAX_STATS_KEYS + 2)?;
        let stats = entries
            .iter()
            .find(|(key, _)| *key == prefix)
            .map(|(_, bytes)| FeatureStats::decode(bytes))
            .unwrap_or_default();
        let keyed: Vec<&(Vec<u8>, Vec<u8>)> = entries
            .iter()
            .filter(|(key, _)| key.len() > prefix.len())
            .collect();
        let values = keyed
            .iter()
            .take(MAX_STATS_KEYS)
            .map(|(_, bytes)| {
                Ok(finish(
                    &served,
                    stored_value(&served.input, Some(bytes), at)?,
                    &stats,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let buckets = match buckets {
            None => Vec::new(),
            Some(buckets) => {
                let keys: Vec<Value> = keyed
                    .iter()
                    .take(MAX_STATS_KEYS)
                    .filter_map(|(key, _)| Value::from_key_bytes(&key[prefix.len()..]))
                    .collect();
                discovery::stats_over_time(
                    &self.training,
                    &served.table,
                    &served.key_column,
                    served.key_type,
                    &keys,
                    &buckets.ends(at),
                )
                .await?
            }
        };
        Ok(FeatureStatistics {
            feature: served.table.clone(),
            evaluated_at: at,
            truncated: keyed.len() > MAX_STATS_KEYS,
            values: value_stats(values),
            buckets,
        })
    }

    /// Every version of the feature `name` with its definition, state and
    /// upstream lineage, and the training sets that read it (see
    /// [`discovery::describe`]).
    pub fn describe_feature(&self, name: &str) -> Result<FeatureDetail> {
        let statuses = self.engine.version_statuses()?;
        discovery::describe(&self.registry, &statuses, name)
    }

    /// Reads `features` for `keys` of `entity` at `at` (µs), timing the lookup.
    pub async fn get_online(
        &self,
        features: &[String],
        entity: &str,
        keys: &[Value],
        at: i64,
    ) -> Result<OnlineValues> {
        let started = Instant::now();
        let values = self.server.get(features, entity, keys, at).await?;
        self.metrics
            .lookup_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(values)
    }

    /// The training-set builder (shared with Arrow Flight).
    pub fn training(&self) -> Arc<TrainingSets> {
        self.training.clone()
    }

    /// Waits until the version `reference` names has caught up; serving reads
    /// it from the moment this returns.
    pub async fn wait_for_version(&self, reference: &str) -> Result<VersionStatus> {
        let status = self.engine.wait_for_version(reference).await?;
        self.sync_serving(std::slice::from_ref(&status))?;
        Ok(status)
    }

    /// Retires `name@vN` and frees its state.
    pub async fn retire(&self, reference: &str) -> Result<VersionStatus> {
        let status = self.engine.retire(reference).await?;
        self.reload_serving()?;
        Ok(status)
    }

    /// Freezes the serving version of `reference`'s feature at `at` (µs).
    pub async fn freeze(&self, reference: &str, at: i64) -> Result<VersionStatus> {
        let status = self.engine.freeze(reference, at).await?;
        self.reload_serving()?;
        Ok(status)
    }

    /// Ends a freeze.
    pub async fn unfreeze(&self, reference: &str) -> Result<VersionStatus> {
        let status = self.engine.unfreeze(reference).await?;
        self.reload_serving()?;
        Ok(status)
    }
}

/// Reloads the catalog whenever a lane starts, catches up or fails, so that a
/// version that caught up is served from the moment it is reported ACTIVE.
fn spawn_catalog_follower(engine: Arc<Engine>, catalog: Arc<FeatureCatalog>) {
    let mut changes = engine.board().changes();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            match engine.latest_set() {
                Ok(latest) => catalog.set_latest(Arc::new(latest)),
                Err(error) => warn!(%error, "cannot reload the served versions"),
            }
        }
    });
}
