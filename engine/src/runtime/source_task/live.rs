//! The live lanes' side of a source task: one micro-batch per partition at the
//! head, committed with its positions; whether the live lanes keep up (the lag);
//! and what wakes the task when the log grows.

use std::time::Instant;

use freshet_storage::log::{LogBatch, Position};
use tracing::debug;

use super::commit::commit;
use super::{MicroBatchLimits, SourceTask};
use crate::operators::Changes;
use crate::Result;

impl SourceTask {
    /// Futures that resolve when any partition grows beyond the first live lane.
    pub(super) fn live_waits(
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
    pub(super) async fn step_live(&mut self) -> Result<u64> {
        let mut total = 0;
        let context = self.context.clone();
        let limits = context.config.micro_batch;
        for running in self.lanes.iter_mut().filter(|r| r.lane.record.live) {
            for partition in 0..self.partitions {
                let batches = running
                    .lane
                    .read(
                        context.log.as_ref(),
                        &self.topic,
                        partition,
                        limits.rows,
                        None,
                    )
                    .await?;
                let batches = within_bytes(batches, &limits);
                if batches.is_empty() {
                    continue;
                }
                let started = Instant::now();
                let rows = running
                    .lane
                    .fold(context.state.as_ref(), partition, batches)
                    .await?;
                let mut changes = Changes::default();
                running.lane.flush(context.state.as_ref(), &mut changes)?;
                commit(&context, &self.source.name, changes).await?;
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
    pub(super) async fn live_keeps_up(&self) -> Result<bool> {
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
        Ok(worst <= self.context.config.micro_batch.rows as u64)
    }
}

/// The leading frames of `batches` whose decoded data fits `limits.bytes`
/// (at least one frame, so a batch larger than the bound still moves).
fn within_bytes(mut batches: Vec<LogBatch>, limits: &MicroBatchLimits) -> Vec<LogBatch> {
    let mut bytes = 0;
    let keep = batches
        .iter()
        .position(|frame| {
            bytes += frame.batch.get_array_memory_size();
            bytes > limits.bytes
        })
        .map_or(batches.len(), |over| over.max(1));
    batches.truncate(keep);
    batches
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::record_batch::RecordBatch;
    use freshet_storage::log::{LogBatch, Position};

    use super::*;

    fn frames(rows: &[usize]) -> Vec<LogBatch> {
        let mut at = 0u64;
        rows.iter()
            .map(|n| {
                let values = Int64Array::from_iter_values(0..*n as i64);
                let batch = RecordBatch::try_from_iter([("v", Arc::new(values) as _)]).unwrap();
                let frame = LogBatch {
                    position: Position::from_parts(0, at),
                    next: Position::from_parts(0, at + *n as u64),
                    batch,
                };
                at += *n as u64;
                frame
            })
            .collect()
    }

    #[test]
    fn a_micro_batch_keeps_whole_frames_within_its_bytes_and_at_least_one() {
        let size = |rows: usize| frames(&[rows])[0].batch.get_array_memory_size();
        let limits = MicroBatchLimits {
            rows: usize::MAX,
            bytes: size(100) + size(100),
        };
        // Two frames of 100 rows fit; the third does not.
        assert_eq!(within_bytes(frames(&[100, 100, 100]), &limits).len(), 2);
        // A frame larger than the bound still moves, alone.
        assert_eq!(within_bytes(frames(&[100_000, 10]), &limits).len(), 1);
        assert_eq!(within_bytes(frames(&[10, 10]), &limits).len(), 2);
        assert!(within_bytes(Vec::new(), &limits).is_empty());
    }
}
