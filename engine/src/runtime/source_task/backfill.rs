//! The backfilling lanes' side of a source task: small replay steps under the
//! rate cap, checkpoints every `checkpoint_rows`, catching up (merging into the
//! live lane, or going live alone) and failing.

use std::collections::BTreeSet;
use std::time::Duration;

use freshet_registry::{Registry, Retirement};
use freshet_sql::model::Kind;
use freshet_storage::state::WriteBatch;
use tracing::{debug, info, warn};

use super::commit::commit;
use super::join::{join, promotes, Joining};
use super::{SourceTask, BACKFILL_STEP_ROWS};
use crate::catalog::feature_table;
use crate::operators::Changes;
use crate::runtime::checkpoint::Checkpoint;
use crate::runtime::lane::{remove_feature_state, Lane, LaneRecord};
use crate::Result;

impl SourceTask {
    /// One step of each backfilling lane, towards the first live lane's position.
    /// Returns whether any made progress, and how long to pause when every
    /// pending one is held back by the rate cap.
    pub(super) async fn step_backfills(&mut self) -> Result<(bool, Option<Duration>)> {
        let target = self.live_checkpoint();
        let max_rate = self.context.config.backfill.max_rate;
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
        if running.lane.uncommitted_rows >= context.config.backfill.checkpoint_rows {
            let mut changes = Changes::default();
            running.lane.flush(context.state.as_ref(), &mut changes)?;
            commit(&context, &self.source.name, changes).await?;
            debug!(source = %self.source.name, lane = running.lane.record.id, done = running.lane.committed_rows, "backfill checkpoint");
        }
        Ok(true)
    }

    /// Lane `index` has reached the first live lane's position: merge it into
    /// that lane when both run the same transformation versions, else make it
    /// live on its own; either way its versions newer than their serving ones
    /// become the serving ones, in the same write.
    pub(super) async fn catch_up(&mut self, index: usize, target: &Checkpoint) -> Result<()> {
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
        running.lane.flush(context.state.as_ref(), &mut changes)?;
        let registry = context.registry.as_ref();
        for (name, version) in &running.lane.record.features {
            if promotes(*version, registry.serving_version(Kind::Feature, name)?) {
                Registry::put_serving(&mut changes.state, Kind::Feature, name, *version);
            }
        }
        let versions: Vec<String> = running.lane.record.feature_tables();
        let live = &self.lanes[live_index].lane;
        match join(
            &live.record,
            &live.transformations,
            &running.lane.record,
            &running.lane.transformations,
            target,
        ) {
            Joining::Merged { record, keep_views } => {
                running
                    .lane
                    .record
                    .remove(&self.source.name, &keep_views, &mut changes.state);
                record.write(&self.source.name, &mut changes.state);
                commit(&context, &self.source.name, changes).await?;
                let records: Vec<LaneRecord> =
                    self.lanes.iter().map(|r| r.lane.record.clone()).collect();
                let reopened =
                    Lane::open(registry, &self.active, &self.source, record, &records).await?;
                self.lanes[live_index].lane = reopened;
                info!(source = %self.source.name, versions = ?versions, "backfill caught up; merged into the live lane");
            }
            Joining::Alone => {
                commit(&context, &self.source.name, changes).await?;
                info!(source = %self.source.name, versions = ?versions, "backfill caught up; runs as its own live lane");
                self.lanes.push(running);
            }
        }
        self.publish(true).await?;
        self.progress.send_replace(self.live_positions());
        Ok(())
    }

    /// Records the versions of `record` as failed with `cause`, and removes the
    /// lane and their state.
    pub(super) async fn fail(&mut self, record: &LaneRecord, cause: &str) -> Result<()> {
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
}
