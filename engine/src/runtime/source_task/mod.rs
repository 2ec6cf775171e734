//! One stream source's processing loop. Live lanes read micro-batches at the
//! head and commit each one atomically with their positions ([`live`]).
//! Backfilling lanes replay the log behind them in small steps, only while the
//! live lanes keep up, committing every [`BackfillConfig::checkpoint_rows`] rows;
//! a backfill that reaches the live position is made live, and its versions
//! active, in one write ([`backfill`]). Which lanes exist is decided when the
//! task opens ([`reconcile`]).

mod backfill;
mod commit;
mod context;
mod join;
mod live;
mod reconcile;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use freshet_registry::Registry;
use freshet_sql::model::{Feature, Kind};
use freshet_sql::resolved::StreamSource;
use freshet_storage::log::Position;
use freshet_storage::state::WriteBatch;
use futures::future::select_all;
use tokio::sync::watch;
use tracing::info;

pub use context::{BackfillConfig, MicroBatchLimits, RuntimeConfig, TaskContext};

use super::board::LaneInfo;
use super::checkpoint::Checkpoint;
use super::lane::{remove_feature_state, Lane, LaneRecord};
use crate::catalog::upstream;
use crate::catalog::LatestSet;
use crate::Result;

/// Rows a backfill reads per step, at most: small enough that a step delays the
/// live lanes by well under a second.
pub const BACKFILL_STEP_ROWS: usize = 1 << 18;

/// A lane in the loop, with its replay pace.
struct Running {
    lane: Lane,
    opened: Instant,
    replayed: u64,
    next_partition: u32,
}

/// Everything one source's loop works with.
pub struct SourceTask {
    source: StreamSource,
    topic: String,
    partitions: u32,
    lanes: Vec<Running>,
    context: Arc<TaskContext>,
    active: Arc<LatestSet>,
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
    /// Reconciles the source's lanes with the registry (see [`reconcile`]),
    /// writes the outcome, and opens the lanes.
    pub async fn open(
        active: Arc<LatestSet>,
        source: &StreamSource,
        context: Arc<TaskContext>,
        progress: watch::Sender<Vec<Position>>,
    ) -> Result<SourceTask> {
        let topic = source.topic.clone();
        let partitions = context.log.partitions(&topic).await?.max(source.partitions);
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
        let mut heads = Vec::new();
        let mut counts = Vec::new();
        for partition in 0..partitions {
            heads.push(context.log.head(&topic, partition).await?);
            counts.push(context.log.row_count(&topic, partition).await?);
        }
        let records = LaneRecord::load_all(context.state.as_ref(), &source.name)?;
        let decided =
            reconcile::reconcile(records, &wanted, partitions, Checkpoint::at(&heads, counts));
        let mut batch = WriteBatch::new();
        for table in &decided.dropped {
            remove_feature_state(table, &mut batch);
        }
        for record in &decided.changed {
            record.write(&source.name, &mut batch);
        }
        for record in &decided.emptied {
            record.remove(&source.name, &decided.held_views, &mut batch);
        }
        if let Some(lane) = decided.started_backfill {
            info!(source = %source.name, lane, "backfill starts");
        }
        if !batch.is_empty() {
            context.state.write(batch)?;
        }
        for table in &decided.dropped {
            context.online.drop_table(table).await?;
        }
        let records = decided.records;
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
