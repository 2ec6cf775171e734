//! One stream source's processing loop. Live lanes read micro-batches at the
//! head and commit each one atomically with their positions. Backfilling lanes
//! replay the log behind them in small steps, only while the live lanes keep up,
//! committing every [`BackfillConfig::checkpoint_rows`] rows; a backfill that
//! reaches the live position is made live, and its versions active, in one write.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use freshet_sql::model::{Feature, Kind, Source};
use freshet_sql::registry::{Registry, Retirement};
use freshet_storage::log::{EventLog, Position};
use freshet_storage::online::OnlineStore;
use freshet_storage::state::{StateStore, WriteBatch};
use futures::future::select_all;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::active::{feature_table, ActiveSet};
use super::board::{LaneBoard, LaneInfo};
use super::checkpoint::Checkpoint;
use super::lane::{remove_feature_state, upstream, Lane, LaneRecord};
use crate::metrics::Metrics;
use crate::operators::Changes;
use crate::{EngineError, Result};

/// Rows read per partition per live micro-batch, at most (a batch may overshoot
/// by one appended frame).
pub const MAX_BATCH_ROWS: usize = 1 << 20;

/// Rows a backfill reads per step, at most: small enough that a step delays the
/// live lanes by well under a second.
pub const BACKFILL_STEP_ROWS: usize = 1 << 18;

/// How backfills run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackfillConfig {
    /// A backfill commits its state and position every this many rows.
    pub checkpoint_rows: u64,
    /// Events per second a backfill replays at most; 0 for no cap.
    pub max_rate: u64,
}

impl Default for BackfillConfig {
    fn default() -> Self {
        BackfillConfig {
            checkpoint_rows: 4_000_000,
            max_rate: 0,
        }
    }
}

/// What every source task shares.
pub struct TaskContext {
    /// The event log.
    pub log: Arc<dyn EventLog>,
    /// Operator state, lane records and the registry.
    pub state: Arc<dyn StateStore>,
    /// Feature values for serving.
    pub online: Arc<dyn OnlineStore>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The definitions and their versions.
    pub registry: Arc<Registry>,
    /// Backfill settings.
    pub backfill: BackfillConfig,
    /// Where lanes are reported.
    pub board: Arc<LaneBoard>,
}

/// A lane in the loop, with its replay pace.
struct Running {
    lane: Lane,
    opened: Instant,
    replayed: u64,
    next_partition: u32,
}

/// Everything one source's loop works with.
pub struct SourceTask {
    source: Source,
    topic: String,
    partitions: u32,
    lanes: Vec<Running>,
    context: Arc<TaskContext>,
    active: Arc<ActiveSet>,
    progress: watch::Sender<Vec<Position>>,
}

/// Whether `feature` reads stream `source`, directly or through transformations.
fn reads_stream(registry: &Registry, feature: &Feature, source: &str) -> Result<bool> {
    if feature.source == source {
        return Ok(true);
    }
    Ok(upstream(registry, std::slice::from_ref(feature))?
        .values()
        .any(|t| freshet_sql::lineage::reads(&t.object.sql).contains(source)))
}

impl SourceTask {
    /// Reconciles the source's lanes with the registry (a lane for versions no
    /// lane folds yet, retired or failed versions removed with their state, a live
    /// lane at the head when there is none) and opens them.
    pub async fn open(
        active: Arc<ActiveSet>,
        source: &Source,
        context: Arc<TaskContext>,
        progress: watch::Sender<Vec<Position>>,
    ) -> Result<SourceTask> {
        let stream = source.stream.as_ref().ok_or_else(|| {
            EngineError::Unsupported(format!("'{}' is not a stream source", source.name))
        })?;
        let topic = stream.topic.clone().unwrap_or_else(|| source.name.clone());
        let partitions = context.log.partitions(&topic).await?.max(stream.partitions);
        let registry = context.registry.as_ref();
        let mut wanted = BTreeSet::new();
        for version in registry.all_versions::<Feature>()? {
            let name = &version.object.name;
            if registry
                .retirement(Kind::Feature, name, version.version)?
                .is_none()
                && reads_stream(registry, &version.object, &source.name)?
            {
                wanted.insert((name.clone(), version.version));
            }
        }
        let mut records = LaneRecord::load_all(context.state.as_ref(), &source.name)?;
        let mut batch = WriteBatch::new();
        let mut dropped = Vec::new();
        for record in &mut records {
            record.checkpoint.resize(partitions);
            let before = record.features.len();
            for gone in record
                .features
                .iter()
                .filter(|f| !wanted.contains(*f))
                .cloned()
                .collect::<Vec<_>>()
            {
                let table = feature_table(&gone.0, gone.1);
                remove_feature_state(&table, &mut batch);
                dropped.push(table);
                record.features.remove(&gone);
            }
            if record.features.len() != before {
                record.write(&source.name, &mut batch);
            }
        }
        let live_kept = records.iter().filter(|r| r.live).map(|r| r.id).min();
        let (kept, emptied): (Vec<_>, Vec<_>) = records
            .into_iter()
            .partition(|r| !r.features.is_empty() || Some(r.id) == live_kept);
        let held: BTreeSet<String> = kept
            .iter()
            .flat_map(|r| r.views.values().cloned())
            .collect();
        for record in &emptied {
            record.remove(&source.name, &held, &mut batch);
        }
        let mut records = kept;
        let mut next_id = records.iter().map(|r| r.id + 1).max().unwrap_or(1);
        if !records.iter().any(|r| r.live) {
            let mut heads = Vec::new();
            let mut counts = Vec::new();
            for partition in 0..partitions {
                heads.push(context.log.head(&topic, partition).await?);
                counts.push(context.log.row_count(&topic, partition).await?);
            }
            let record = LaneRecord {
                id: next_id,
                features: BTreeSet::new(),
                views: Default::default(),
                live: true,
                checkpoint: Checkpoint::at(&heads, counts),
            };
            next_id += 1;
            record.write(&source.name, &mut batch);
            records.push(record);
        }
        let folded: BTreeSet<(String, u32)> = records
            .iter()
            .flat_map(|r| r.features.iter().cloned())
            .collect();
        let new: BTreeSet<(String, u32)> = wanted.difference(&folded).cloned().collect();
        if !new.is_empty() {
            info!(source = %source.name, lane = next_id, versions = ?new, "backfill starts");
            let record = LaneRecord {
                id: next_id,
                features: new,
                views: Default::default(),
                live: false,
                checkpoint: Checkpoint::start(partitions),
            };
            record.write(&source.name, &mut batch);
            records.push(record);
        }
        if !batch.is_empty() {
            context.state.write(batch)?;
        }
        for table in dropped {
            context.online.drop_table(&table).await?;
        }
        records.sort_by_key(|r| (!r.live, r.id));
        let mut task = SourceTask {
            source: source.clone(),
            topic,
            partitions,
            lanes: Vec::new(),
            context,
            active,
            progress,
        };
        for record in records.clone() {
            let live = record.live;
            let opened = Lane::open(
                task.context.registry.as_ref(),
                &task.active,
                source,
                record.clone(),
                &records,
            )
            .await;
            match opened {
                Ok(lane) => {
                    let mut opened = WriteBatch::new();
                    if lane.record.views != record.views {
                        lane.record.write(&source.name, &mut opened);
                        task.context.state.write(opened)?;
                    }
                    task.lanes.push(Running {
                        lane,
                        opened: Instant::now(),
                        replayed: 0,
                        next_partition: 0,
                    });
                }
                Err(error) if !live => task.fail(&record, &error.to_string()).await?,
                Err(error) => return Err(error),
            }
        }
        task.settle().await?;
        task.publish(true).await?;
        task.progress.send_replace(task.live_positions());
        Ok(task)
    }

    /// Makes live, before any event is read, every backfill that has nothing to
    /// replay (it starts where the live lane stands, as on an empty log), so that
    /// versions applied before the first event are active when the apply returns.
    async fn settle(&mut self) -> Result<()> {
        let target = self.live_checkpoint();
        while let Some(index) = self.lanes.iter().position(|r| {
            !r.lane.record.live && r.lane.record.checkpoint.positions() == target.positions()
        }) {
            self.catch_up(index, &target).await?;
        }
        Ok(())
    }

    /// The first live lane's checkpoint: where backfills catch up.
    fn live_checkpoint(&self) -> Checkpoint {
        self.lanes
            .iter()
            .find(|r| r.lane.record.live)
            .expect("a source always has a live lane")
            .lane
            .record
            .checkpoint
            .clone()
    }

    /// Processes the source forever (until the task is aborted or a live lane fails).
    pub async fn run(mut self) -> Result<()> {
        let mut rate_started = Instant::now();
        let mut rate_rows = 0u64;
        loop {
            let live_rows = self.step_live().await?;
            rate_rows += live_rows;
            let elapsed = rate_started.elapsed().as_secs_f64();
            if elapsed >= 1.0 || live_rows == 0 {
                self.context
                    .metrics
                    .events_per_second
                    .with_label_values(&[&self.source.name])
                    .set(if elapsed > 0.0 {
                        rate_rows as f64 / elapsed
                    } else {
                        0.0
                    });
                rate_started = Instant::now();
                rate_rows = 0;
            }
            let (backfilled, throttled) = if self.live_keeps_up().await? {
                self.step_backfills().await?
            } else {
                (false, None)
            };
            self.publish(false).await?;
            if live_rows > 0 || backfilled {
                continue;
            }
            let waits = self.live_waits();
            match throttled {
                Some(pause) => {
                    tokio::select! {
                        waited = select_all(waits) => { waited.0?; }
                        _ = tokio::time::sleep(pause) => {}
                    }
                }
                None => {
                    select_all(waits).await.0?;
                }
            }
            rate_started = Instant::now();
        }
    }

    /// Futures that resolve when any partition grows beyond the first live lane.
    fn live_waits(
        &self,
    ) -> Vec<
        std::pin::Pin<
            Box<dyn std::future::Future<Output = freshet_storage::Result<Position>> + Send>,
        >,
    > {
        let live = self
            .lanes
            .iter()
            .find(|r| r.lane.record.live)
            .expect("a source always has a live lane");
        (0..self.partitions)
            .map(|partition| {
                let log = self.context.log.clone();
                let topic = self.topic.clone();
                let from = live.lane.record.checkpoint.position(partition);
                Box::pin(async move { log.wait_beyond(&topic, partition, from).await })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
            })
            .collect()
    }

    /// One micro-batch per partition for each live lane; returns the rows.
    async fn step_live(&mut self) -> Result<u64> {
        let mut total = 0;
        let context = self.context.clone();
        for running in self.lanes.iter_mut().filter(|r| r.lane.record.live) {
            for partition in 0..self.partitions {
                let batches = running
                    .lane
                    .read(
                        context.log.as_ref(),
                        &self.topic,
                        partition,
                        MAX_BATCH_ROWS,
                        None,
                    )
                    .await?;
                if batches.is_empty() {
                    continue;
                }
                let started = Instant::now();
                let rows = running
                    .lane
                    .fold(context.state.as_ref(), partition, batches)
                    .await?;
                let mut changes = Changes::default();
                running.lane.flush(&mut changes);
                commit(&context, changes).await?;
                let source = self.source.name.as_str();
                context
                    .metrics
                    .batch_seconds
                    .with_label_values(&[source])
                    .observe(started.elapsed().as_secs_f64());
                context
                    .metrics
                    .events_processed
                    .with_label_values(&[source])
                    .inc_by(rows);
                debug!(
                    source,
                    lane = running.lane.record.id,
                    partition,
                    rows,
                    "committed"
                );
                total += rows;
            }
        }
        if total > 0 {
            self.progress.send_replace(self.live_positions());
        }
        Ok(total)
    }

    /// Whether every live lane is within one micro-batch of the head (backfills
    /// step only then, so live lag stays bounded); updates the lag metric.
    async fn live_keeps_up(&self) -> Result<bool> {
        let mut worst = 0u64;
        for running in self.lanes.iter().filter(|r| r.lane.record.live) {
            for partition in 0..self.partitions {
                let head = self.context.log.row_count(&self.topic, partition).await?;
                let done = running.lane.record.checkpoint.processed[partition as usize];
                worst = worst.max(head.saturating_sub(done));
            }
        }
        self.context
            .metrics
            .lag
            .with_label_values(&[&self.source.name])
            .set(worst as i64);
        Ok(worst <= MAX_BATCH_ROWS as u64)
    }

    /// One step of each backfilling lane, towards the first live lane's position.
    /// Returns whether any made progress, and how long to pause when every
    /// pending one is held back by the rate cap.
    async fn step_backfills(&mut self) -> Result<(bool, Option<Duration>)> {
        let target = self.live_checkpoint();
        let max_rate = self.context.backfill.max_rate;
        let mut progressed = false;
        let mut pause: Option<Duration> = None;
        let mut index = 0;
        while index < self.lanes.len() {
            if self.lanes[index].lane.record.live {
                index += 1;
                continue;
            }
            let running = &mut self.lanes[index];
            let mut step_rows = BACKFILL_STEP_ROWS;
            if max_rate > 0 {
                let allowed = running.opened.elapsed().as_secs_f64() * max_rate as f64;
                step_rows = step_rows.min((allowed - running.replayed as f64).max(1.0) as usize);
                if running.replayed as f64 >= allowed {
                    let wait = Duration::from_secs_f64(
                        (running.replayed as f64 - allowed) / max_rate as f64,
                    )
                    .max(Duration::from_millis(1));
                    pause = Some(pause.map_or(wait, |p| p.min(wait)));
                    index += 1;
                    continue;
                }
            }
            match self.step_backfill(index, &target, step_rows).await {
                Ok(true) => {
                    progressed = true;
                    index += 1;
                }
                Ok(false) => {
                    progressed = true;
                    self.catch_up(index, &target).await?;
                }
                Err(error) => {
                    let failed = self.lanes.remove(index);
                    self.fail(&failed.lane.record, &error.to_string()).await?;
                    progressed = true;
                }
            }
        }
        Ok((progressed, if progressed { None } else { pause }))
    }

    /// Folds one step of lane `index` (about `step_rows` rows) towards
    /// `target`; `false` when it has reached it.
    async fn step_backfill(
        &mut self,
        index: usize,
        target: &Checkpoint,
        step_rows: usize,
    ) -> Result<bool> {
        let context = self.context.clone();
        let partitions = self.partitions;
        let running = &mut self.lanes[index];
        let behind: Vec<u32> = (0..partitions)
            .filter(|p| running.lane.record.checkpoint.position(*p) < target.position(*p))
            .collect();
        let Some(&partition) = behind
            .iter()
            .find(|p| **p >= running.next_partition)
            .or(behind.first())
        else {
            return Ok(false);
        };
        running.next_partition = (partition + 1) % partitions;
        let batches = running
            .lane
            .read(
                context.log.as_ref(),
                &self.topic,
                partition,
                step_rows,
                Some(target.position(partition)),
            )
            .await?;
        let rows = running
            .lane
            .fold(context.state.as_ref(), partition, batches)
            .await?;
        running.replayed += rows;
        context
            .metrics
            .events_replayed
            .with_label_values(&[&self.source.name])
            .inc_by(rows);
        if running.lane.uncommitted_rows >= context.backfill.checkpoint_rows {
            let mut changes = Changes::default();
            running.lane.flush(&mut changes);
            commit(&context, changes).await?;
            debug!(source = %self.source.name, lane = running.lane.record.id, done = running.lane.committed_rows, "backfill checkpoint");
        }
        Ok(true)
    }

    /// Lane `index` has reached the first live lane's position: merge it into
    /// that lane when both run the same transformation versions, else make it
    /// live on its own; either way its versions newer than their serving ones
    /// become the serving ones, in the same write.
    async fn catch_up(&mut self, index: usize, target: &Checkpoint) -> Result<()> {
        let context = self.context.clone();
        let live_index = self
            .lanes
            .iter()
            .position(|r| r.lane.record.live)
            .expect("a source always has a live lane");
        let mut running = self.lanes.remove(index);
        let live_index = if live_index > index {
            live_index - 1
        } else {
            live_index
        };
        let mut changes = Changes::default();
        running.lane.record.live = true;
        running.lane.flush(&mut changes);
        let registry = context.registry.as_ref();
        for (name, version) in &running.lane.record.features {
            let serving = registry.serving_version(Kind::Feature, name)?;
            if serving.is_none_or(|s| *version > s) {
                Registry::put_serving(&mut changes.state, Kind::Feature, name, *version);
            }
        }
        let live = self.lanes[live_index].lane.record.clone();
        let live_transformations = self.lanes[live_index].lane.transformations.clone();
        let compatible = running
            .lane
            .transformations
            .iter()
            .all(|(name, version)| live_transformations.get(name).is_none_or(|v| v == version))
            && running.lane.record.checkpoint.positions() == target.positions();
        let versions: Vec<String> = running.lane.record.feature_tables();
        if compatible {
            let mut merged = live;
            merged
                .features
                .extend(running.lane.record.features.iter().cloned());
            let mut keep = BTreeSet::new();
            for (view, table) in &running.lane.record.views {
                let kept = merged
                    .views
                    .entry(view.clone())
                    .or_insert_with(|| table.clone());
                keep.insert(kept.clone());
            }
            keep.extend(merged.views.values().cloned());
            running
                .lane
                .record
                .remove(&self.source.name, &keep, &mut changes.state);
            merged.write(&self.source.name, &mut changes.state);
            commit(&context, changes).await?;
            let records: Vec<LaneRecord> =
                self.lanes.iter().map(|r| r.lane.record.clone()).collect();
            let reopened =
                Lane::open(registry, &self.active, &self.source, merged, &records).await?;
            self.lanes[live_index].lane = reopened;
            info!(source = %self.source.name, versions = ?versions, "backfill caught up; merged into the live lane");
        } else {
            commit(&context, changes).await?;
            info!(source = %self.source.name, versions = ?versions, "backfill caught up; runs as its own live lane");
            self.lanes.push(running);
        }
        self.publish(true).await?;
        self.progress.send_replace(self.live_positions());
        Ok(())
    }

    /// Records the versions of `record` as failed with `cause`, and removes the
    /// lane and their state.
    async fn fail(&mut self, record: &LaneRecord, cause: &str) -> Result<()> {
        warn!(source = %self.source.name, lane = record.id, cause, "backfill failed");
        let mut batch = WriteBatch::new();
        let failed = Retirement::Failed {
            cause: cause.to_string(),
        };
        for (name, version) in &record.features {
            Registry::put_retirement(&mut batch, Kind::Feature, name, *version, &failed);
            remove_feature_state(&feature_table(name, *version), &mut batch);
        }
        let held: BTreeSet<String> = self
            .lanes
            .iter()
            .flat_map(|r| r.lane.record.views.values().cloned())
            .collect();
        record.remove(&self.source.name, &held, &mut batch);
        self.context.state.write(batch)?;
        for table in record.feature_tables() {
            self.context.online.drop_table(&table).await?;
        }
        self.publish(true).await
    }

    /// Element-wise the least position of the live lanes: what read-after-write
    /// waits on.
    fn live_positions(&self) -> Vec<Position> {
        let mut positions: Option<Vec<Position>> = None;
        for running in self.lanes.iter().filter(|r| r.lane.record.live) {
            let lane = running.lane.record.checkpoint.positions();
            positions = Some(match positions {
                None => lane,
                Some(least) => least.into_iter().zip(lane).map(|(a, b)| a.min(b)).collect(),
            });
        }
        positions.unwrap_or_default()
    }

    /// Reports the lanes on the board.
    async fn publish(&self, changed: bool) -> Result<()> {
        let mut total = 0;
        for partition in 0..self.partitions {
            total += self.context.log.row_count(&self.topic, partition).await?;
        }
        let lanes = self
            .lanes
            .iter()
            .map(|r| {
                let elapsed = r.opened.elapsed().as_secs_f64();
                LaneInfo {
                    id: r.lane.record.id,
                    live: r.lane.record.live,
                    features: r.lane.record.features.iter().cloned().collect(),
                    done: match r.lane.record.live {
                        true => r.lane.record.checkpoint.total_processed(),
                        false => r.lane.committed_rows,
                    },
                    total,
                    rate: if elapsed > 0.0 {
                        r.replayed as f64 / elapsed
                    } else {
                        0.0
                    },
                }
            })
            .collect();
        self.context
            .board
            .publish(&self.source.name, lanes, changed);
        Ok(())
    }
}

/// Writes a commit: online rows first (a replay after a crash rewrites them
/// identically), then the state with the positions.
async fn commit(context: &TaskContext, mut changes: Changes) -> Result<()> {
    if !changes.online.is_empty() {
        context
            .online
            .put(std::mem::take(&mut changes.online))
            .await?;
    }
    context.state.write(changes.state)?;
    Ok(())
}
