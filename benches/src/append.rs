//! The append workload: `appenders` tokio tasks appending the same batch to one
//! partition until a count or a time budget runs out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use freshet_backends::embedded::SegmentLog;
use freshet_storage::log::EventLog;

use crate::BenchResult;

/// How an append run goes.
#[derive(Debug, Clone, Copy)]
pub struct AppendPlan {
    /// Concurrent appender tasks, all on partition 0.
    pub appenders: usize,
    /// Stop after this many appends in total...
    pub max_appends: u64,
    /// ...or once this much time has passed, whichever comes first.
    pub time_budget: Duration,
}

/// What an append run did.
#[derive(Debug)]
pub struct AppendOutcome {
    /// Appends acknowledged.
    pub appends: u64,
    /// Records they held.
    pub records: u64,
    /// Seconds the run took.
    pub secs: f64,
    /// How long each acknowledged append took, in no particular order.
    pub latencies: Vec<Duration>,
    /// Whether the time budget, not `max_appends`, ended the run.
    pub stopped_by_time: bool,
}

/// Appends `batch` to partition 0 of `topic` per `plan`. Must run inside a
/// multi-thread tokio runtime so the appenders overlap and group commit is used.
pub async fn run_appends(
    log: Arc<SegmentLog>,
    topic: &str,
    batch: RecordBatch,
    plan: AppendPlan,
) -> BenchResult<AppendOutcome> {
    let claimed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(plan.appenders);
    for _ in 0..plan.appenders.max(1) {
        let (log, topic, batch, claimed) = (
            log.clone(),
            topic.to_string(),
            batch.clone(),
            claimed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut timed_out = false;
            loop {
                if start.elapsed() >= plan.time_budget {
                    timed_out = true;
                    break;
                }
                if claimed.fetch_add(1, Ordering::Relaxed) >= plan.max_appends {
                    break;
                }
                let began = Instant::now();
                log.append(&topic, 0, batch.clone()).await?;
                latencies.push(began.elapsed());
            }
            Ok::<_, freshet_storage::StorageError>((latencies, timed_out))
        }));
    }
    let mut latencies = Vec::new();
    let mut stopped_by_time = false;
    for task in tasks {
        let (task_latencies, timed_out) = task.await??;
        latencies.extend(task_latencies);
        stopped_by_time |= timed_out;
    }
    let secs = start.elapsed().as_secs_f64();
    let appends = latencies.len() as u64;
    Ok(AppendOutcome {
        appends,
        records: appends * batch.num_rows() as u64,
        secs,
        latencies,
        stopped_by_time,
    })
}
