//! The read workload: replay a partition from `Position::START` to its head.

use std::time::Instant;

use freshet_backends::embedded::SegmentLog;
use freshet_storage::log::{EventLog, Position};

use crate::BenchResult;

/// What a replay did.
#[derive(Debug, Clone, Copy)]
pub struct ReplayOutcome {
    /// Records read.
    pub records: u64,
    /// Batches (frames) returned.
    pub batches: u64,
    /// `read` calls made, the last one returning nothing.
    pub reads: u64,
    /// Seconds the replay took.
    pub secs: f64,
}

/// Reads partition 0 of `topic` with `read(.., max_rows)` until the head, and
/// checks every acknowledged row came back.
pub async fn replay(log: &SegmentLog, topic: &str, max_rows: usize) -> BenchResult<ReplayOutcome> {
    let expected = log.row_count(topic, 0).await?;
    let mut outcome = ReplayOutcome {
        records: 0,
        batches: 0,
        reads: 0,
        secs: 0.0,
    };
    let mut from = Position::START;
    let start = Instant::now();
    loop {
        let batches = log.read(topic, 0, from, max_rows).await?;
        outcome.reads += 1;
        let Some(last) = batches.last() else { break };
        from = last.next;
        outcome.batches += batches.len() as u64;
        outcome.records += batches
            .iter()
            .map(|b| b.batch.num_rows() as u64)
            .sum::<u64>();
    }
    outcome.secs = start.elapsed().as_secs_f64();
    if outcome.records != expected {
        return Err(format!(
            "replay of '{topic}' returned {} rows, the partition holds {expected}",
            outcome.records
        )
        .into());
    }
    Ok(outcome)
}
