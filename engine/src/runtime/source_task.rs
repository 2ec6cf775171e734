//! One stream source's processing loop: read a micro-batch from each partition,
//! run the pipeline and the operators, then commit the state change and the new
//! positions in one atomic write.

use std::sync::Arc;
use std::time::Instant;

use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;
use freshet_sql::model::Source;
use freshet_storage::log::{EventLog, LogBatch, Position};
use freshet_storage::online::OnlineStore;
use freshet_storage::state::StateStore;
use futures::future::select_all;
use tokio::sync::watch;
use tracing::debug;

use super::active::{feature_table, needs_stats, ActiveSet};
use super::checkpoint::Checkpoint;
use crate::metrics::Metrics;
use crate::operators::{Changes, FeatureInput, FeatureOperator, ViewOperator};
use crate::pipeline::Pipeline;
use crate::value::timestamps;
use crate::{EngineError, Result};

/// Rows read per partition per micro-batch, at most (a batch may overshoot by
/// one appended frame).
pub const MAX_BATCH_ROWS: usize = 1 << 20;

/// Everything one source's loop works with.
pub struct SourceTask {
    source: Source,
    topic: String,
    partitions: u32,
    pipeline: Pipeline,
    views: Vec<ViewOperator>,
    features: Vec<FeatureOperator>,
    log: Arc<dyn EventLog>,
    state: Arc<dyn StateStore>,
    online: Arc<dyn OnlineStore>,
    metrics: Arc<Metrics>,
    progress: watch::Sender<Vec<Position>>,
}

impl SourceTask {
    /// Builds the pipeline and operators of `source` from the active set.
    #[allow(clippy::too_many_arguments)]
    pub async fn build(
        active: &ActiveSet,
        source: &Source,
        log: Arc<dyn EventLog>,
        state: Arc<dyn StateStore>,
        online: Arc<dyn OnlineStore>,
        metrics: Arc<Metrics>,
        progress: watch::Sender<Vec<Position>>,
    ) -> Result<SourceTask> {
        let stream = source.stream.as_ref().ok_or_else(|| {
            EngineError::Unsupported(format!("'{}' is not a stream source", source.name))
        })?;
        let pipeline = Pipeline::build(&active.definitions, &source.name).await?;
        let relations: Vec<String> = pipeline.relations().iter().map(|r| r.to_string()).collect();
        let lateness = ActiveSet::lateness(source);
        let views = pipeline
            .views()
            .iter()
            .map(|(name, plan)| {
                let version = active
                    .transformation_versions
                    .get(name)
                    .copied()
                    .unwrap_or(1);
                ViewOperator::new(feature_table(name, version), name.clone(), plan.clone())
            })
            .collect();
        let mut features = Vec::new();
        for feature in &active.definitions.features {
            if !relations.contains(&feature.source) {
                continue;
            }
            let version = active
                .feature_versions
                .get(&feature.name)
                .copied()
                .unwrap_or(1);
            let key_column = active
                .entity_key(&feature.entity)
                .map(str::to_string)
                .ok_or_else(|| {
                    EngineError::Unsupported(format!("feature '{}': unknown entity", feature.name))
                })?;
            features.push(FeatureOperator::new(
                feature_table(&feature.name, version),
                feature.source.clone(),
                key_column,
                active.feature_input(feature, lateness)?,
                needs_stats(feature),
            ));
        }
        Ok(SourceTask {
            topic: stream.topic.clone().unwrap_or_else(|| source.name.clone()),
            partitions: stream.partitions,
            source: source.clone(),
            pipeline,
            views,
            features,
            log,
            state,
            online,
            metrics,
            progress,
        })
    }

    /// Processes the source forever (until the task is aborted or fails).
    pub async fn run(mut self) -> Result<()> {
        let mut checkpoint =
            Checkpoint::load(self.state.as_ref(), &self.source.name, self.partitions)?;
        self.progress.send_replace(checkpoint.positions());
        let mut rate_started = Instant::now();
        let mut rate_rows = 0u64;
        loop {
            let mut processed = false;
            for partition in 0..self.partitions {
                let from = checkpoint.position(partition);
                let batches = self
                    .log
                    .read(&self.topic, partition, from, MAX_BATCH_ROWS)
                    .await?;
                if batches.is_empty() {
                    continue;
                }
                processed = true;
                let started = Instant::now();
                let rows = self.process(&mut checkpoint, partition, batches).await?;
                let source = self.source.name.as_str();
                self.metrics
                    .batch_seconds
                    .with_label_values(&[source])
                    .observe(started.elapsed().as_secs_f64());
                self.metrics
                    .events_processed
                    .with_label_values(&[source])
                    .inc_by(rows);
                rate_rows += rows;
                let elapsed = rate_started.elapsed().as_secs_f64();
                if elapsed >= 1.0 {
                    self.metrics
                        .events_per_second
                        .with_label_values(&[source])
                        .set(rate_rows as f64 / elapsed);
                    rate_started = Instant::now();
                    rate_rows = 0;
                }
                let head_rows = self.log.row_count(&self.topic, partition).await?;
                let lag = head_rows.saturating_sub(checkpoint.processed[partition as usize]);
                self.metrics
                    .lag
                    .with_label_values(&[source])
                    .set(lag as i64);
                self.progress.send_replace(checkpoint.positions());
            }
            if !processed {
                self.metrics
                    .events_per_second
                    .with_label_values(&[&self.source.name])
                    .set(0.0);
                let waits = (0..self.partitions).map(|partition| {
                    let log = self.log.clone();
                    let topic = self.topic.clone();
                    let from = checkpoint.position(partition);
                    Box::pin(async move { log.wait_beyond(&topic, partition, from).await })
                });
                select_all(waits).await.0?;
                rate_started = Instant::now();
            }
        }
    }

    /// Runs one partition's micro-batch and commits it; returns its row count.
    async fn process(
        &mut self,
        checkpoint: &mut Checkpoint,
        partition: u32,
        batches: Vec<LogBatch>,
    ) -> Result<u64> {
        let next = batches.last().map(|b| b.next).expect("at least one batch");
        let parts: Vec<RecordBatch> = batches.into_iter().map(|b| b.batch).collect();
        let batch = concat_batches(&parts[0].schema(), &parts)?;
        let rows = batch.num_rows() as u64;
        let batch_high = self
            .source
            .event_time
            .as_deref()
            .and_then(|column| batch.column_by_name(column))
            .map(timestamps)
            .transpose()?
            .and_then(|times| arrow::compute::max(&times));
        let outputs = self.pipeline.run(batch).await?;
        let store = self.state.as_ref();
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
        for feature in &mut self.features {
            if let Some(rows) = outputs.get(&feature.relation) {
                feature.apply_rows(store, rows, checkpoint.watermark)?;
            }
        }
        if let Some(high) = batch_high {
            checkpoint.watermark = checkpoint.watermark.max(high);
        }
        checkpoint.advance(partition, next, rows);
        let mut changes = Changes::default();
        for view in &mut self.views {
            view.flush(&mut changes);
        }
        for feature in &mut self.features {
            feature.flush(&mut changes);
        }
        checkpoint.write(&self.source.name, &mut changes.state);
        if !changes.online.is_empty() {
            self.online.put(std::mem::take(&mut changes.online)).await?;
        }
        self.state.write(changes.state)?;
        debug!(source = %self.source.name, partition, rows, next = %next, "committed");
        Ok(rows)
    }
}
