//! Point-in-time-correct training sets: for every label row (entity key, time,
//! label values), each requested feature version as of the label's time.
//!
//! The build replays the retained log of every stream the features read through
//! the engine's own pipelines, each feature version through one over the
//! transformation versions it was defined over ([`pipelines`], [`replay`]),
//! partitions the resulting feature
//! events by entity key and spills them past a memory budget ([`spill`]),
//! evaluates each partition with the online operator's fold ([`as_of`]), then
//! applies the value transforms with the statistics the version had gathered up
//! to each label's time, and writes Arrow batches ([`output`]).

mod as_of;
mod keys;
mod labels;
mod log_chunks;
mod output;
mod pipelines;
mod replay;
mod rows;
mod spill;
mod value_bits;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::AsArray;
use arrow::datatypes::{Field, Int64Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use freshet_registry::Registry;
use freshet_sql::aggregate::AggregateFunction;
use freshet_sql::duration::parse_duration;
use freshet_sql::model::{Feature, Label, TrainingSet as TrainingSetDefinition};
use freshet_sql::validate::RelationKind;
use freshet_storage::log::EventLog;
use tracing::info;

pub use as_of::{evaluate_partition, sort_events, LabelPoint, Observation, PartitionValues};
pub use keys::KeyIds;
pub use labels::{
    check_columns, open_label_file, prepare, read_label_ipc, EntityColumn, LabelColumns, LabelFile,
    Labels,
};
pub use output::{output_type, ValueColumn};
pub use pipelines::{plan, ReplayPipeline, LATEST};
pub use replay::{replay, Collector, FeatureFeed, PipelineSet};
pub use rows::{FeatureColumn, TrainingRows};
pub use spill::{
    run_schema, write_batches, BatchFile, Detached, EventRow, RunMerge, RunWriter, Spill, RUN_ROWS,
};

use crate::aggregate::{fold_until, Aggregation, Retention};
use crate::catalog::{FeatureCatalog, LatestSet, ResolvedVersion};
use crate::operators::{FeatureInput, FeatureStats};
use crate::pipeline::{Pipeline, VIEW_TIME};
use crate::transforms::finish;
use crate::value::{value_at, Value};
use crate::{EngineError, Result};

/// Rows per output record batch.
pub const OUTPUT_ROWS: usize = 65_536;

/// Rows of the log a replay worker runs through the SQL at a time.
const REPLAY_CHUNK_ROWS: usize = 1 << 18;

/// The most workers a replay runs its SQL on.
const MAX_REPLAY_WORKERS: usize = 4;

/// How training-set builds use memory and disk.
#[derive(Debug, Clone)]
pub struct TrainingConfig {
    /// Where spill files go (one folder per build, removed after it).
    pub spill_dir: PathBuf,
    /// Bytes of feature events held in memory before they are written to disk.
    pub memory_budget: usize,
    /// Entity-key partitions; one is evaluated at a time.
    pub partitions: usize,
}

/// Where label rows come from.
#[derive(Debug, Clone)]
pub enum LabelRows {
    /// The registry label's own source.
    Registry,
    /// A file: `file:///abs/path` or a path.
    Uri(String),
    /// An Arrow IPC stream.
    Inline(Vec<u8>),
}

/// What to build.
#[derive(Debug, Clone)]
pub struct TrainingRequest {
    /// A registry training set (`name` or `name@vN`): its label and features.
    pub training_set: Option<String>,
    /// A registry label (`name` or `name@vN`).
    pub label: Option<String>,
    /// Feature references, in output order (without a training set).
    pub features: Vec<String>,
    /// Where the label rows come from.
    pub rows: LabelRows,
    /// Without a registry label: the rows' timestamp column.
    pub timestamp_column: Option<String>,
    /// Features are computed as of `t - offset` (a duration such as `5m`).
    pub feature_offset: Option<String>,
    /// The label column holding each entity's keys, by entity, over the
    /// training set's own; an entity not named here is read from the column
    /// named as its key.
    pub entities: BTreeMap<String, String>,
}

/// How far a build has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Label rows whose features are computed.
    pub rows_done: u64,
    /// All label rows.
    pub rows_total: u64,
}

/// A built training set.
#[derive(Debug)]
pub struct TrainingSet {
    /// Key, label time, label values, then one column per feature.
    pub schema: SchemaRef,
    /// The rows in label order, [`OUTPUT_ROWS`] at a time, put together as
    /// they are read (reading blocks on local files).
    pub batches: TrainingRows,
    /// How many rows it has (one per label row).
    pub rows: u64,
    /// Label rows whose key no event of any requested feature had.
    pub unknown_keys: u64,
    /// The feature versions used, in output order (`name@vN`).
    pub feature_versions: Vec<String>,
    /// Source events replayed from the log.
    pub events_replayed: u64,
}

/// Progress reports go here.
pub type ProgressSink = Arc<dyn Fn(Progress) + Send + Sync>;

/// Builds training sets from the log, the registry and the served features.
///
/// ```
/// # use std::sync::Arc;
/// # use freshet_backends::embedded::{RocksStateStore, SegmentLog};
/// # use freshet_engine::{FeatureStore, ingest::{IngestOptions, PayloadFormat}};
/// # use freshet_engine::{metrics::Metrics, runtime::RuntimeConfig};
/// # use freshet_engine::training::{LabelRows, TrainingConfig, TrainingRequest};
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
/// let events = "{\"user_id\": 7, \"ts\": \"2026-01-01T10:00:00Z\"}\n{\"user_id\": 7, \"ts\": \"2026-01-01T10:30:00Z\"}";
/// store.ingest("clicks", PayloadFormat::JsonLines, events.as_bytes(), IngestOptions::default(), true).await.unwrap();
/// // Labels at 10:15 and 11:20: one click in the hour before the first, one
/// // (10:30) in the hour before the second; 10:00 is out of (10:20, 11:20].
/// let labels = dir.path().join("labels.csv");
/// std::fs::write(&labels, "user_id,ts\n7,2026-01-01T10:15:00Z\n7,2026-01-01T11:20:00Z\n").unwrap();
/// let request = TrainingRequest {
///     training_set: None,
///     label: None,
///     features: vec!["clicks_1h".into()],
///     rows: LabelRows::Uri(format!("file://{}", labels.display())),
///     timestamp_column: Some("ts".into()),
///     feature_offset: None,
///     entities: Default::default(), // each entity's keys in the column named as its key
/// };
/// let set = store.training().generate(&request, Arc::new(|_| {})).await.unwrap();
/// let batches: Vec<_> = set.batches.collect::<Result<_, _>>().unwrap();
/// let column = batches[0].column_by_name("clicks_1h").unwrap();
/// let counts = column.as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
/// assert_eq!(counts.values().to_vec(), vec![1, 1]);
/// # });
/// ```
pub struct TrainingSets {
    log: Arc<dyn EventLog>,
    registry: Arc<Registry>,
    catalog: Arc<FeatureCatalog>,
    config: TrainingConfig,
}

fn invalid(message: String) -> EngineError {
    EngineError::InvalidRequest(message)
}

/// What a request resolved to.
struct Resolved {
    features: Vec<String>,
    served: Vec<Arc<ResolvedVersion>>,
    aggregations: Vec<Aggregation>,
    /// The distinct feeds; features reading the same column of the same relation
    /// share one.
    feeds: Vec<FeatureFeed>,
    /// Each feature's feed.
    feed_of: Vec<usize>,
    /// Each feature's entity, as an index into `columns.entities`.
    entity_of: Vec<usize>,
    /// The pipelines the feeds read from.
    pipelines: Vec<ReplayPipeline>,
    label: Option<Label>,
    columns: LabelColumns,
    offset: i64,
}

impl TrainingSets {
    /// Builds over `log`, resolving names in `registry` and `catalog` as serving does.
    pub fn new(
        log: Arc<dyn EventLog>,
        registry: Arc<Registry>,
        catalog: Arc<FeatureCatalog>,
        config: TrainingConfig,
    ) -> Self {
        TrainingSets {
            log,
            registry,
            catalog,
            config,
        }
    }

    async fn resolve(&self, request: &TrainingRequest) -> Result<Resolved> {
        let (label_ref, features, mut entity_columns) = match &request.training_set {
            Some(name) => {
                if !request.features.is_empty() {
                    return Err(invalid(format!(
                        "training set '{name}' names its own features; do not list features too"
                    )));
                }
                let set = self
                    .registry
                    .resolve::<TrainingSetDefinition>(name)
                    .map_err(EngineError::Registry)?
                    .object;
                (Some(set.label), set.features, set.entities)
            }
            None => (
                request.label.clone(),
                request.features.clone(),
                BTreeMap::new(),
            ),
        };
        entity_columns.extend(request.entities.clone());
        if features.is_empty() {
            return Err(invalid("no features requested".into()));
        }
        let label = label_ref
            .map(|name| {
                self.registry
                    .resolve::<Label>(&name)
                    .map(|v| v.object)
                    .map_err(EngineError::Registry)
            })
            .transpose()?;
        let definitions: Vec<Feature> = features
            .iter()
            .map(|f| {
                self.registry
                    .resolve::<Feature>(f)
                    .map(|v| v.object)
                    .map_err(EngineError::Registry)
            })
            .collect::<Result<_>>()?;
        let active = self.catalog.latest();
        // Planned before the features resolve, so each resolves against the
        // relations of its own transformation versions.
        let (pipelines, pipeline_of) = plan(&self.registry, &active, &definitions).await?;
        let served: Vec<Arc<ResolvedVersion>> = features
            .iter()
            .map(|f| self.catalog.resolve_definition(f))
            .collect::<Result<_>>()?;
        let entities = label_entities(&active, &entity_columns, label.as_ref(), &served)?;
        let mut aggregations = Vec::new();
        let mut feeds: Vec<FeatureFeed> = Vec::new();
        let mut feed_of = Vec::new();
        let mut entity_of = Vec::new();
        for (feature, pipeline) in served.iter().zip(pipeline_of) {
            let entity = &feature.feature.entity;
            entity_of.push(
                entities
                    .iter()
                    .position(|e| e.entity == *entity)
                    .expect("every feature's entity is a label entity"),
            );
            let key_column = active
                .entity_key(entity)
                .ok_or_else(|| invalid(format!("unknown entity '{entity}'")))?
                .to_string();
            let feed = match &feature.input {
                FeatureInput::Events {
                    aggregation,
                    time_column,
                    value_column,
                } => {
                    aggregations.push(*aggregation);
                    FeatureFeed {
                        pipeline,
                        relation: feature.feature.source.clone(),
                        key_column,
                        time_column: time_column.clone(),
                        value_column: value_column.clone(),
                        from_view: false,
                    }
                }
                FeatureInput::View { column } => {
                    if feature.needs_stats {
                        return Err(EngineError::Unsupported(format!(
                            "feature '{}' reads the view '{}' and its value transforms need \
                             statistics, which training sets do not gather over views yet",
                            feature.table, feature.feature.source
                        )));
                    }
                    // The value as of t: the last value the group took at or before t.
                    aggregations.push(Aggregation {
                        function: AggregateFunction::Last,
                        integer_input: false,
                        retention: Retention {
                            window: None,
                            lateness: 0,
                        },
                    });
                    FeatureFeed {
                        pipeline,
                        relation: feature.feature.source.clone(),
                        key_column,
                        time_column: VIEW_TIME.to_string(),
                        value_column: Some(column.clone()),
                        from_view: true,
                    }
                }
            };
            match feeds.iter().position(|f| *f == feed) {
                Some(shared) => feed_of.push(shared),
                None => {
                    feed_of.push(feeds.len());
                    feeds.push(feed);
                }
            }
        }
        let columns = LabelColumns {
            entities,
            time_column: match (&label, &request.timestamp_column) {
                (Some(label), _) => label.event_time.clone(),
                (None, Some(column)) => column.clone(),
                (None, None) => {
                    return Err(invalid(
                        "labels without a registry label need their timestamp column named".into(),
                    ))
                }
            },
            value_columns: label.as_ref().map(|l| l.value.clone()),
        };
        let offset = match request.feature_offset.as_deref() {
            None | Some("") => 0,
            Some(text) => parse_duration(text)
                .map_err(|e| invalid(format!("feature offset '{text}': {e}")))?
                .as_micros() as i64,
        };
        Ok(Resolved {
            features,
            served,
            aggregations,
            feeds,
            feed_of,
            entity_of,
            pipelines,
            label,
            columns,
            offset,
        })
    }

    /// Builds the training set `request` asks for, reporting progress as
    /// partitions finish.
    pub async fn generate(
        &self,
        request: &TrainingRequest,
        progress: ProgressSink,
    ) -> Result<TrainingSet> {
        let resolved = self.resolve(request).await?;
        let active = self.catalog.latest();
        // A label file is opened (its columns checked) now, and read once the
        // log is replayed, so its rows and the replay's are not held together.
        let (label_relation, label_input, origin) = match &request.rows {
            LabelRows::Uri(uri) => (
                None,
                LabelInput::File(open_label_file(uri).await?),
                format!("'{uri}'"),
            ),
            LabelRows::Inline(bytes) => (
                None,
                LabelInput::Rows(read_label_ipc(bytes)?),
                "(inline)".into(),
            ),
            LabelRows::Registry => {
                let label = resolved.label.as_ref().ok_or_else(|| {
                    invalid("name a label, a labels file or inline labels".into())
                })?;
                let origin = format!("of label '{}' (from '{}')", label.name, label.source);
                let kind = active
                    .catalog
                    .relations
                    .get(&label.source)
                    .map(|r| r.kind)
                    .ok_or_else(|| {
                        invalid(format!(
                            "label '{}': its source '{}' is not defined",
                            label.name, label.source
                        ))
                    })?;
                match kind {
                    RelationKind::File => {
                        let uri = active
                            .definitions
                            .sources
                            .iter()
                            .find(|s| s.name == label.source)
                            .and_then(|s| s.file.as_ref())
                            .map(|f| f.uri.clone())
                            .ok_or_else(|| {
                                EngineError::Unsupported(format!(
                                    "label '{}': '{}' is a file-only transformation; labels read a source or a stream transformation",
                                    label.name, label.source
                                ))
                            })?;
                        (None, LabelInput::File(open_label_file(&uri).await?), origin)
                    }
                    RelationKind::Stream | RelationKind::Transformation => {
                        (Some(label.source.clone()), LabelInput::Collected, origin)
                    }
                    RelationKind::View => {
                        return Err(EngineError::Unsupported(format!(
                        "label '{}' reads the view '{}'; labels read sources or transformations",
                        label.name, label.source
                    )))
                    }
                }
            }
        };

        let early_schema = match &label_input {
            LabelInput::File(file) => Some(file.schema.clone()),
            LabelInput::Rows(rows) => rows.first().map(|batch| batch.schema()),
            LabelInput::Collected => None,
        };
        if let Some(schema) = early_schema {
            check_columns(&resolved.columns, &schema, &origin)?;
        }
        let mut keys = KeyIds::default();
        let mut spill = Spill::new(
            &self.config.spill_dir,
            resolved.feeds.len(),
            self.config.partitions,
            self.config.memory_budget,
        );
        let mut collector = Collector::new(
            &resolved.feeds,
            &mut keys,
            &mut spill,
            label_relation.as_deref(),
        );
        let mut fed: Vec<bool> = vec![false; resolved.feeds.len()];
        for source in active.streams.values() {
            // One pass over the source's log, through each pipeline it feeds,
            // with a set of those pipelines per replay worker.
            let label = label_relation.as_deref();
            let first = source_pipelines(&resolved, &source.name, label, &mut fed).await?;
            if first.is_empty() {
                continue;
            }
            let mut workers = vec![first];
            for _ in 1..replay_workers() {
                let mut scratch = vec![false; fed.len()];
                workers.push(source_pipelines(&resolved, &source.name, label, &mut scratch).await?);
            }
            replay(
                self.log.as_ref(),
                source,
                workers,
                REPLAY_CHUNK_ROWS,
                &mut collector,
            )
            .await?;
        }
        if let Some(missing) = fed.iter().position(|done| !done) {
            let feature = resolved
                .feed_of
                .iter()
                .position(|f| *f == missing)
                .unwrap_or(0);
            return Err(EngineError::Unsupported(format!(
                "feature '{}': its source '{}' is not fed by a stream",
                resolved.served[feature].table, resolved.feeds[missing].relation
            )));
        }
        let events_replayed = collector.events;
        let collected = std::mem::take(&mut collector.label_rows);
        drop(collector);
        spill.seal()?;
        let label_batches = match label_input {
            LabelInput::File(file) => file.read().await?,
            LabelInput::Rows(rows) => rows,
            LabelInput::Collected => collected,
        };
        // The batches are freed column by column as the labels take them.
        let labels = prepare(&resolved.columns, label_batches, &origin)?;
        info!(
            labels = labels.batch.num_rows(),
            features = resolved.features.len(),
            events = events_replayed,
            spilled = spill.spilled_rows(),
            "training set: events collected"
        );
        let schema = output_schema(&resolved, &labels)?;
        let computed = tokio::task::spawn_blocking(move || {
            compute(&resolved, labels, &keys, &mut spill, progress)
                .map(|computed| (resolved, spill, computed))
        })
        .await
        .map_err(|e| EngineError::Internal(format!("training-set build stopped: {e}")))?;
        let (resolved, spill, computed) = computed?;
        Ok(TrainingSet {
            schema: schema.clone(),
            batches: TrainingRows::new(
                schema,
                computed.labels,
                computed.rows,
                computed.features,
                computed.merges,
                spill,
            ),
            rows: computed.rows as u64,
            unknown_keys: computed.unknown_keys,
            feature_versions: resolved.served.iter().map(|s| s.table.clone()).collect(),
            events_replayed,
        })
    }
}

/// Where a build's label rows come from.
enum LabelInput {
    /// A file, read once the log is replayed.
    File(LabelFile),
    /// Rows the request carried.
    Rows(Vec<RecordBatch>),
    /// A relation's rows, collected by the replay.
    Collected,
}

/// How many workers run a replay's SQL: one per core, at most
/// [`MAX_REPLAY_WORKERS`].
fn replay_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_REPLAY_WORKERS)
}

/// The pipelines of `resolved` that a pass over `source`'s log runs, with their
/// indices: those feeding a requested feature (marked in `fed`) and, for the
/// latest one, those yielding the label rows of `label_relation`.
async fn source_pipelines(
    resolved: &Resolved,
    source: &str,
    label_relation: Option<&str>,
    fed: &mut [bool],
) -> Result<PipelineSet> {
    let mut pipelines = Vec::new();
    for (index, planned) in resolved.pipelines.iter().enumerate() {
        let mut pipeline = Pipeline::build(&planned.resolved.definitions, source).await?;
        if resolved
            .feeds
            .iter()
            .any(|f| f.pipeline == index && f.from_view)
        {
            pipeline.time_views(&planned.resolved.catalog)?;
        }
        let relations = pipeline.relations();
        let mut needed = index == LATEST && label_relation.is_some_and(|r| relations.contains(&r));
        for (feed, done) in resolved.feeds.iter().zip(fed.iter_mut()) {
            if feed.pipeline == index && relations.contains(&feed.relation.as_str()) {
                *done = true;
                needed = true;
            }
        }
        if needed {
            pipelines.push((index, pipeline));
        }
    }
    Ok(pipelines)
}

/// The entities whose keys the label rows carry, each with its column: the
/// label's entity first (when there is a label), then every feature's entity
/// in request order. A column named in `columns` overrides the entity's key
/// name; naming an entity that is not defined, or that no requested feature
/// describes, is refused, as is a label whose entity no requested feature
/// describes.
fn label_entities(
    active: &LatestSet,
    columns: &BTreeMap<String, String>,
    label: Option<&Label>,
    served: &[Arc<ResolvedVersion>],
) -> Result<Vec<EntityColumn>> {
    for entity in columns.keys() {
        if active.entity_key(entity).is_none() {
            return Err(invalid(format!(
                "entities: '{entity}' is not a defined entity"
            )));
        }
        if !served.iter().any(|s| s.feature.entity == *entity) {
            return Err(invalid(format!(
                "entities: no requested feature describes entity '{entity}'"
            )));
        }
    }
    if let Some(label) = label {
        if !served.iter().any(|s| s.feature.entity == label.entity) {
            return Err(invalid(format!(
                "label '{}' is about entity '{}', which no requested feature describes",
                label.name, label.entity
            )));
        }
    }
    let mut entities: Vec<EntityColumn> = Vec::new();
    let order = label
        .map(|l| l.entity.as_str())
        .into_iter()
        .chain(served.iter().map(|s| s.feature.entity.as_str()));
    for entity in order {
        if entities.iter().any(|e| e.entity == entity) {
            continue;
        }
        let feature = served
            .iter()
            .find(|s| s.feature.entity == entity)
            .expect("checked above: a feature describes it");
        let column = match columns.get(entity) {
            Some(column) => column.clone(),
            None => active
                .entity_key(entity)
                .ok_or_else(|| invalid(format!("unknown entity '{entity}'")))?
                .to_string(),
        };
        entities.push(EntityColumn {
            entity: entity.to_string(),
            column,
            key_type: feature.key_type,
        });
    }
    Ok(entities)
}

/// What [`compute`] leaves for the output.
struct Computed {
    /// The label columns, written out [`OUTPUT_ROWS`] rows a batch.
    labels: BatchFile,
    /// How many label rows there are.
    rows: usize,
    /// Where each feature's column comes from.
    features: Vec<FeatureColumn>,
    /// Per entity, its features' runs, opened to be read back (`None` when
    /// none of its features was written to runs).
    merges: Vec<Option<RunMerge>>,
    /// Label rows whose key no event of any requested feature had.
    unknown_keys: u64,
}

/// Every feature's final value per label row. A feature without statistics
/// is finished as each key partition is evaluated, and its values go to a
/// run per (entity, partition), so they are not held for every label row; a
/// feature whose transforms need statistics is held whole and finished in
/// label-time order once every partition is evaluated. The label columns are
/// written to a file before any row is placed (placing keeps only the key and
/// time columns), and read back as the output is put together.
fn compute(
    resolved: &Resolved,
    labels: Labels,
    keys: &KeyIds,
    spill: &mut Spill,
    progress: ProgressSink,
) -> Result<Computed> {
    let offset = resolved.offset;
    // The label columns go to a file first; placing rows needs only the key
    // and time columns, so the others are freed before the label points are
    // made.
    let label_file = write_batches(spill.path_for("labels.arrow")?, &labels.batch, OUTPUT_ROWS)?;
    let labels = labels.placing()?;
    let times = labels.times();
    let total = times.len();
    let entities = labels.entities;
    // Per entity: the label points of each key partition, and the rows whose
    // key of that entity no event had.
    let mut by_partition: Vec<Vec<Vec<LabelPoint>>> =
        vec![vec![Vec::new(); spill.partitions()]; entities];
    let mut unknown: Vec<Vec<(u32, i64)>> = vec![Vec::new(); entities];
    let mut unknown_rows = vec![false; total];
    // Each partition's points are counted before they are placed, so the
    // lists are allocated at their size rather than grown by doubling.
    const UNKNOWN: u32 = u32::MAX;
    for entity in 0..entities {
        let array = labels.keys(entity);
        let ints = array.as_primitive_opt::<Int64Type>();
        let ids = (0..total)
            .map(|index| {
                let id = match ints {
                    Some(ints) => keys.get(&Value::Int(ints.value(index))),
                    None => value_at(array, index)?.and_then(|key| keys.get(&key)),
                };
                Ok(id.unwrap_or(UNKNOWN))
            })
            .collect::<Result<Vec<u32>>>()?;
        let mut counts = vec![0usize; spill.partitions()];
        for id in ids.iter().filter(|id| **id != UNKNOWN) {
            counts[spill.partition_of(*id)] += 1;
        }
        for (points, count) in by_partition[entity].iter_mut().zip(counts) {
            points.reserve_exact(count);
        }
        for (index, (id, time)) in ids.into_iter().zip(times).enumerate() {
            let at = time.saturating_sub(offset);
            if id == UNKNOWN {
                unknown[entity].push((index as u32, at));
                unknown_rows[index] = true;
            } else {
                by_partition[entity][spill.partition_of(id)].push(LabelPoint {
                    key: id,
                    at,
                    index: index as u32,
                });
            }
        }
    }
    let features = resolved.aggregations.len();
    let observe: Vec<bool> = resolved.served.iter().map(|s| s.needs_stats).collect();
    // Features with statistics are finished in label-time order at the end.
    let order: Vec<(i64, u32)> = match observe.iter().any(|o| *o) {
        true => {
            let mut order: Vec<(i64, u32)> = times
                .iter()
                .enumerate()
                .map(|(index, time)| (time.saturating_sub(offset), index as u32))
                .collect();
            order.sort_unstable();
            order
        }
        false => Vec::new(),
    };
    drop(labels);
    // Per entity, the features written to runs.
    let mut run_features: Vec<Vec<usize>> = vec![Vec::new(); entities];
    for f in (0..features).filter(|f| !observe[*f]) {
        run_features[resolved.entity_of[f]].push(f);
    }
    let runs = Runs {
        resolved,
        schemas: run_features
            .iter()
            .map(|fs| {
                let types: Vec<_> = fs
                    .iter()
                    .map(|f| output_type(resolved.served[*f].value_type))
                    .collect();
                run_schema(&types)
            })
            .collect(),
        features: &run_features,
    };
    let mut run_files: Vec<Vec<PathBuf>> = vec![Vec::new(); entities];
    let mut held: Vec<Option<ValueColumn>> = observe
        .iter()
        .map(|o| o.then(|| ValueColumn::new(total)))
        .collect();
    let mut observations: Vec<Vec<Observation>> = vec![Vec::new(); features];
    for (entity, rows) in unknown.iter().enumerate() {
        let empty = |f: usize, at: i64| {
            fold_until(
                None,
                &resolved.aggregations[f],
                std::iter::empty::<(i64, Value)>(),
                at,
            )
        };
        for f in (0..features).filter(|f| resolved.entity_of[*f] == entity) {
            if let Some(column) = held[f].as_mut() {
                for (index, at) in rows {
                    column.set(*index as usize, empty(f, *at));
                }
            }
        }
        let values = run_features[entity]
            .iter()
            .map(|f| rows.iter().map(|(_, at)| empty(*f, *at)).collect())
            .collect();
        let rows = rows.iter().map(|(index, _)| *index).collect();
        let name = format!("run-e{entity}-unknown.arrow");
        run_files[entity].extend(runs.write(spill, entity, &name, rows, values)?);
    }
    // Progress counts (row, entity) pairs, reported in rows.
    let pairs = (total * entities) as u64;
    let mut done: u64 = unknown.iter().map(|u| u.len() as u64).sum();
    let report = |done: u64| {
        progress(Progress {
            rows_done: done * total as u64 / pairs.max(1),
            rows_total: total as u64,
        })
    };
    report(done);
    let partitions = spill.partitions();
    // Partition p + 1's events are read back and put in order while p is
    // evaluated, so reading spill files overlaps evaluation.
    let mut loading = Some(load_partition(spill, resolved.feeds.len(), 0)?);
    for partition in 0..partitions {
        for entity_points in by_partition.iter_mut() {
            entity_points[partition].sort_unstable();
        }
        let events = loading
            .take()
            .expect("a load is started for every partition")
            .join()?;
        if partition + 1 < partitions {
            loading = Some(load_partition(spill, resolved.feeds.len(), partition + 1)?);
        }
        let results: Vec<PartitionValues> = std::thread::scope(|scope| {
            let handles: Vec<_> = resolved
                .aggregations
                .iter()
                .zip(&resolved.feed_of)
                .zip(&observe)
                .zip(&resolved.entity_of)
                .map(|(((aggregation, feed), observe), entity)| {
                    let points = &by_partition[*entity][partition];
                    let events = &events[*feed];
                    scope.spawn(move || evaluate_partition(events, points, aggregation, *observe))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("evaluation does not panic"))
                .collect()
        });
        let mut results: Vec<Option<PartitionValues>> = results.into_iter().map(Some).collect();
        for f in 0..features {
            let Some(column) = held[f].as_mut() else {
                continue;
            };
            if let Some(result) = results[f].take() {
                for (index, value) in result.values {
                    column.set(index as usize, value);
                }
                observations[f].extend(result.observations);
            }
        }
        for (entity, files) in run_files.iter_mut().enumerate() {
            // The features of one entity evaluate the same label points, in
            // their order.
            let rows: Vec<u32> = by_partition[entity][partition]
                .iter()
                .map(|point| point.index)
                .collect();
            let values = run_features[entity]
                .iter()
                .map(|f| {
                    results[*f]
                        .take()
                        .map(|r| r.values.into_iter().map(|(_, value)| value).collect())
                        .unwrap_or_default()
                })
                .collect();
            let name = format!("run-e{entity}-p{partition}.arrow");
            files.extend(runs.write(spill, entity, &name, rows, values)?);
        }
        done += by_partition
            .iter()
            .map(|points| points[partition].len() as u64)
            .sum::<u64>();
        for entity_points in by_partition.iter_mut() {
            entity_points[partition] = Vec::new();
        }
        report(done);
    }
    if !order.is_empty() {
        for (f, served) in resolved.served.iter().enumerate() {
            let Some(column) = held[f].as_mut() else {
                continue;
            };
            let mut seen = std::mem::take(&mut observations[f]);
            seen.sort_unstable_by_key(|o| (o.time, o.seq));
            let mut stats = FeatureStats::default();
            let mut next = 0;
            for (at, index) in &order {
                while next < seen.len() && seen[next].time <= *at {
                    stats.observe(seen[next].value);
                    next += 1;
                }
                let row = *index as usize;
                column.set(row, finish(served, column.get(row), &stats));
            }
        }
    }
    let columns = (0..features)
        .map(|f| match held[f].take() {
            Some(column) => FeatureColumn::Held(column.to_array(resolved.served[f].value_type)),
            None => {
                let entity = resolved.entity_of[f];
                let column = run_features[entity]
                    .iter()
                    .position(|g| *g == f)
                    .unwrap_or_default();
                FeatureColumn::Run { entity, column }
            }
        })
        .collect();
    let merges = run_files
        .into_iter()
        .zip(&run_features)
        .map(|(files, features)| match features.is_empty() {
            true => Ok(None),
            false => RunMerge::open(files, features.len()).map(Some),
        })
        .collect::<Result<_>>()?;
    Ok(Computed {
        labels: BatchFile::open(label_file)?,
        rows: total,
        features: columns,
        merges,
        unknown_keys: unknown_rows.iter().filter(|u| **u).count() as u64,
    })
}

/// How a build writes runs: per entity, its run features and their schema.
struct Runs<'a> {
    resolved: &'a Resolved,
    schemas: Vec<SchemaRef>,
    features: &'a [Vec<usize>],
}

impl Runs<'_> {
    /// Writes entity `entity`'s run `name`: label rows `rows` (in any order)
    /// with each run feature's raw value (one list per feature, aligned with
    /// `rows`), finished. Nothing is written for no rows or no features.
    fn write(
        &self,
        spill: &Spill,
        entity: usize,
        name: &str,
        rows: Vec<u32>,
        mut values: Vec<Vec<Option<Value>>>,
    ) -> Result<Option<PathBuf>> {
        let features = &self.features[entity];
        if rows.is_empty() || features.is_empty() {
            return Ok(None);
        }
        if values.iter().any(|v| v.len() != rows.len()) {
            return Err(EngineError::Internal(format!(
                "training set: run {name} has {} rows but not as many values",
                rows.len()
            )));
        }
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_unstable_by_key(|at| rows[*at]);
        let mut writer = RunWriter::create(spill.path_for(name)?, self.schemas[entity].clone())?;
        let stats = FeatureStats::default();
        for chunk in order.chunks(RUN_ROWS) {
            let arrays = features
                .iter()
                .zip(values.iter_mut())
                .map(|(f, values)| {
                    let served = &self.resolved.served[*f];
                    let mut column = ValueColumn::new(chunk.len());
                    for (at, from) in chunk.iter().enumerate() {
                        column.set(at, finish(served, values[*from].take(), &stats));
                    }
                    column.to_array(served.value_type)
                })
                .collect();
            writer.write(chunk.iter().map(|at| rows[*at]).collect(), arrays)?;
        }
        writer.finish().map(Some)
    }
}

/// One partition's events of every feed being read back from a [`Spill`], each
/// feed on its own thread, and put in [`sort_events`] order.
struct Loading(Vec<std::thread::JoinHandle<Result<Vec<EventRow>>>>);

impl Loading {
    /// Waits for every feed's events.
    fn join(self) -> Result<Vec<Vec<EventRow>>> {
        self.0
            .into_iter()
            .map(|handle| {
                handle.join().map_err(|_| {
                    EngineError::Internal("reading spilled training events stopped".into())
                })?
            })
            .collect()
    }
}

/// Starts reading partition `partition` of `feeds` feeds back from the spill.
fn load_partition(spill: &mut Spill, feeds: usize, partition: usize) -> Result<Loading> {
    let partitions = spill.partitions();
    Ok(Loading(
        (0..feeds)
            .map(|feed| {
                let detached = spill.detach(feed, partition)?;
                Ok(std::thread::spawn(move || {
                    let mut events = detached.read()?;
                    sort_events(&mut events, partitions);
                    Ok(events)
                }))
            })
            .collect::<Result<_>>()?,
    ))
}

/// The training set's schema: the label columns, then each feature's column.
fn output_schema(resolved: &Resolved, labels: &Labels) -> Result<SchemaRef> {
    let mut fields: Vec<Field> = labels
        .batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for (name, served) in resolved.features.iter().zip(&resolved.served) {
        if fields.iter().any(|f| f.name() == name) {
            return Err(invalid(format!(
                "feature '{name}' has the name of a label column or of another requested feature"
            )));
        }
        fields.push(Field::new(name, output_type(served.value_type), true));
    }
    Ok(Arc::new(Schema::new(fields)))
}
