//! [`Lane`]: one pass over a stream source's log. A lane runs the transformation
//! versions its members read and folds the rows into the state of its member
//! feature versions and of the view versions it holds, from its own checkpoint.
//!
//! A source has one *live* lane at the log's head, and one *backfilling* lane per
//! apply that created stateful versions, replaying the log from its start. A
//! backfilling lane that reaches the live lane's position merges into it, or
//! becomes live itself when it runs different versions of a transformation.

use std::collections::{BTreeMap, BTreeSet};

use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;
use freshet_registry::Registry;
use freshet_sql::model::Feature;
use freshet_sql::resolved::{ResolvedFeature, StreamSource};
use freshet_storage::log::{EventLog, LogBatch, Position};
use freshet_storage::state::column_family::{OPERATOR_STATE, SOURCE_POSITIONS};
use freshet_storage::state::{StateStore, WriteBatch};
use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use crate::catalog::{feature_table, private_view_table, upstream, LatestSet};
use crate::operators::{Changes, FeatureInput, FeatureOperator, SkippedRows, ViewOperator};
use crate::pipeline::Pipeline;
use crate::state_keys::{
    feature_state_key, lane_key, lane_prefix, skipped_rows_key, view_state_key,
};
use crate::value::timestamps;
use crate::{EngineError, Result};

/// What a lane maintains and where it stands; stored under
/// `lane/SOURCE/ID` in the source-positions column family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaneRecord {
    /// Unique among the source's lanes; a newer lane has a larger id.
    pub id: u64,
    /// The feature versions it folds, as (name, version).
    pub features: BTreeSet<(String, u32)>,
    /// The view versions it folds (`name@vN`), each with the state table it folds
    /// into: `name@vN` for the lane that holds the view, `name@vN#laneID` for a
    /// private copy while another lane holds it.
    pub views: BTreeMap<String, String>,
    /// Whether it has caught up with the live position (it then stays at the head).
    pub live: bool,
    /// Its committed progress.
    pub checkpoint: Checkpoint,
}

impl LaneRecord {
    /// Every lane of `source`, by id.
    pub fn load_all(store: &dyn StateStore, source: &str) -> Result<Vec<LaneRecord>> {
        store
            .scan_prefix(SOURCE_POSITIONS, &lane_prefix(source))?
            .into_iter()
            .map(|(key, bytes)| {
                bincode::deserialize(&bytes).map_err(|e| {
                    EngineError::Corrupt(format!("lane {}: {e}", String::from_utf8_lossy(&key)))
                })
            })
            .collect()
    }

    /// Adds the record to `batch`.
    pub fn write(&self, source: &str, batch: &mut WriteBatch) {
        batch.put(
            SOURCE_POSITIONS,
            lane_key(source, self.id),
            bincode::serialize(self).expect("a lane record serializes"),
        );
    }

    /// Adds to `batch` the removal of the record and of the state of the view
    /// tables it holds that `keep` does not name.
    pub fn remove(&self, source: &str, keep: &BTreeSet<String>, batch: &mut WriteBatch) {
        batch.delete(SOURCE_POSITIONS, lane_key(source, self.id));
        for table in self.views.values().filter(|t| !keep.contains(*t)) {
            batch.delete_prefix(OPERATOR_STATE, view_state_key(table, b""));
        }
    }

    /// The member tables, `name@vN`.
    pub fn feature_tables(&self) -> Vec<String> {
        self.features
            .iter()
            .map(|(name, version)| feature_table(name, *version))
            .collect()
    }
}

/// A lane opened for processing: its record, pipeline and operators.
pub struct Lane {
    /// What it maintains and its progress in memory (ahead of the committed
    /// record while a backfill holds uncommitted state).
    pub record: LaneRecord,
    /// The versions of each transformation its pipeline runs.
    pub transformations: BTreeMap<String, u32>,
    /// Rows folded since the last commit.
    pub uncommitted_rows: u64,
    /// Rows the record held when the lane was opened or last committed.
    pub committed_rows: u64,
    source: StreamSource,
    pipeline: Pipeline,
    views: Vec<ViewOperator>,
    features: Vec<FeatureOperator>,
}

impl Lane {
    /// Opens `record` for `source`. View versions the record does not list yet
    /// are added: as the held table when no lane of `others` holds it, else as a
    /// private copy.
    pub async fn open(
        registry: &Registry,
        active: &LatestSet,
        source: &StreamSource,
        mut record: LaneRecord,
        others: &[LaneRecord],
    ) -> Result<Lane> {
        let features: Vec<Feature> = record
            .features
            .iter()
            .map(|(name, version)| Ok(registry.resolve_version::<Feature>(name, *version)?.object))
            .collect::<Result<_>>()?;
        let transformations = upstream(registry, &features)?;
        let versions: BTreeMap<String, u32> = transformations
            .iter()
            .map(|(name, t)| (name.clone(), t.version))
            .collect();
        let lane_set = active.lanes.resolve(active, &transformations).await?;
        let pipeline = Pipeline::build(&lane_set.definitions, &source.name).await?;
        let held: BTreeSet<&String> = others
            .iter()
            .filter(|o| o.id != record.id)
            .flat_map(|o| o.views.values())
            .collect();
        let mut views = Vec::new();
        for (name, plan) in pipeline.views() {
            let version = versions.get(name).copied().unwrap_or(1);
            let view = feature_table(name, version);
            let table = record
                .views
                .entry(view.clone())
                .or_insert_with(|| match held.contains(&view) {
                    true => private_view_table(&view, record.id),
                    false => view.clone(),
                })
                .clone();
            views.push(ViewOperator::new(table, name.clone(), plan.clone()));
        }
        let relations: Vec<String> = pipeline.relations().iter().map(|r| r.to_string()).collect();
        let mut operators = Vec::new();
        for (feature, (name, version)) in features.iter().zip(&record.features) {
            if !relations.contains(&feature.source) {
                return Err(EngineError::Unsupported(format!(
                    "feature '{name}@v{version}' does not read stream '{}'",
                    source.name
                )));
            }
            let key_column = lane_set.entity_key(&feature.entity).ok_or_else(|| {
                EngineError::Unsupported(format!("feature '{name}': unknown entity"))
            })?;
            // Resolved against the tables of this lane's transformation versions,
            // which may differ from the newest ones.
            let resolved = ResolvedFeature::resolve(feature, key_column, &lane_set.catalog)?;
            operators.push(FeatureOperator::new(
                feature_table(name, *version),
                feature.source.clone(),
                resolved.key_column.clone(),
                FeatureInput::of(&resolved, source.lateness_micros())?,
                resolved.needs_stats(),
            ));
        }
        let committed_rows = record.checkpoint.total_processed();
        Ok(Lane {
            record,
            transformations: versions,
            uncommitted_rows: 0,
            committed_rows,
            source: source.clone(),
            pipeline,
            views,
            features: operators,
        })
    }

    /// Reads up to `max_rows` rows of `partition` from the lane's position, not
    /// past `limit`.
    pub async fn read(
        &self,
        log: &dyn EventLog,
        topic: &str,
        partition: u32,
        max_rows: usize,
        limit: Option<Position>,
    ) -> Result<Vec<LogBatch>> {
        let from = self.record.checkpoint.position(partition);
        if limit.is_some_and(|limit| from >= limit) {
            return Ok(Vec::new());
        }
        let mut batches = log.read(topic, partition, from, max_rows).await?;
        if let Some(limit) = limit {
            batches.retain(|b| b.position < limit);
        }
        Ok(batches)
    }

    /// Folds one partition's batches into the operators' working state (not
    /// committed); returns the row count.
    pub async fn fold(
        &mut self,
        store: &dyn StateStore,
        partition: u32,
        batches: Vec<LogBatch>,
    ) -> Result<u64> {
        let Some(next) = batches.last().map(|b| b.next) else {
            return Ok(0);
        };
        let parts: Vec<RecordBatch> = batches.into_iter().map(|b| b.batch).collect();
        let batch = concat_batches(&parts[0].schema(), &parts)?;
        let rows = batch.num_rows() as u64;
        let batch_high = batch
            .column_by_name(&self.source.event_time)
            .map(timestamps)
            .transpose()?
            .and_then(|times| arrow::compute::max(&times));
        let outputs = self.pipeline.run(batch).await?;
        for view in &mut self.views {
            let Some(rows) = outputs.get(&view.name) else {
                continue;
            };
            for changed in view.apply_rows(store, rows)? {
                for feature in &mut self.features {
                    let FeatureInput::View { column } = &feature.input else {
                        continue;
                    };
                    if feature.relation != view.name {
                        continue;
                    }
                    let key = changed.iter().find(|(name, _)| *name == feature.key_column);
                    let value = changed
                        .iter()
                        .find(|(name, _)| name == column)
                        .and_then(|(_, v)| v.clone());
                    if let Some((_, Some(key))) = key {
                        feature.set_current(store, &key.key_bytes(), value)?;
                    }
                }
            }
        }
        let watermark = self.record.checkpoint.watermark;
        // Each feature version folds its own state: one thread each.
        let outputs = &outputs;
        let folded: Vec<Result<SkippedRows>> = std::thread::scope(|scope| {
            let folds: Vec<_> = self
                .features
                .iter_mut()
                .filter_map(|feature| {
                    let rows = outputs.get(&feature.relation)?;
                    Some(scope.spawn(move || feature.apply_rows(store, rows, watermark)))
                })
                .collect();
            folds
                .into_iter()
                .map(|fold| fold.join().expect("a feature fold does not panic"))
                .collect()
        });
        for result in folded {
            result?;
        }
        if let Some(high) = batch_high {
            self.record.checkpoint.watermark = watermark.max(high);
        }
        self.record.checkpoint.advance(partition, next, rows);
        self.uncommitted_rows += rows;
        Ok(rows)
    }

    /// Moves the working state and the record into `changes` (the caller
    /// commits them as one).
    pub fn flush(&mut self, store: &dyn StateStore, changes: &mut Changes) -> Result<()> {
        for view in &mut self.views {
            view.flush(changes);
        }
        // Encoding every touched key's state is the bulk of a commit: one
        // thread per feature version.
        let parts: Vec<Result<Changes>> = std::thread::scope(|scope| {
            let flushes: Vec<_> = self
                .features
                .iter_mut()
                .map(|feature| {
                    scope.spawn(move || {
                        let mut part = Changes::default();
                        feature.flush(store, &mut part)?;
                        Ok(part)
                    })
                })
                .collect();
            flushes
                .into_iter()
                .map(|flush| flush.join().expect("a feature flush does not panic"))
                .collect()
        });
        for part in parts {
            let part = part?;
            changes.state.append(part.state);
            changes.skipped.extend(part.skipped);
        }
        self.record.write(&self.source.name, &mut changes.state);
        self.committed_rows = self.record.checkpoint.total_processed();
        self.uncommitted_rows = 0;
        Ok(())
    }
}

/// Adds to `batch` the removal of the state of feature table `table`.
pub fn remove_feature_state(table: &str, batch: &mut WriteBatch) {
    batch.delete_prefix(OPERATOR_STATE, feature_state_key(table, b""));
    batch.delete(OPERATOR_STATE, skipped_rows_key(table));
}
