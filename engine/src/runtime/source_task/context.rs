//! What a source task is configured with and shares with the others: the
//! storage, metrics and registry, micro-batch bounds and backfill settings, and
//! the lane board.

use std::sync::Arc;

use freshet_registry::Registry;
use freshet_storage::log::EventLog;
use freshet_storage::online::OnlineStore;
use freshet_storage::state::StateStore;

use crate::metrics::Metrics;
use crate::runtime::board::LaneBoard;

/// How the runtime processes: the bounds of live micro-batches and how
/// backfills run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RuntimeConfig {
    /// The bounds of one live micro-batch.
    pub micro_batch: MicroBatchLimits,
    /// How backfills run.
    pub backfill: BackfillConfig,
}

/// How large one live micro-batch of one partition may grow: a read stops at
/// whichever bound it reaches first (whole appended frames; at least one). A
/// lane that is caught up folds and commits what just arrived at once (small
/// batches, fresh values); one with a backlog folds up to the bounds per commit
/// (fewer, larger commits), and the working set of a batch stays within them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MicroBatchLimits {
    /// Rows, at most.
    pub rows: usize,
    /// Bytes of decoded Arrow data, at most.
    pub bytes: usize,
}

impl Default for MicroBatchLimits {
    fn default() -> Self {
        MicroBatchLimits {
            rows: 1 << 20,
            bytes: 256 << 20,
        }
    }
}

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
    /// Feature values for serving: a store of its own, or operator state seen
    /// as one ([`crate::serving::StateOnline`]).
    pub online: Arc<dyn OnlineStore>,
    /// Whether `online` is a store of its own, to which each commit copies the
    /// feature entries it writes to state; false when it reads operator state.
    pub online_copy: bool,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The definitions and their versions.
    pub registry: Arc<Registry>,
    /// Micro-batch bounds and backfill settings.
    pub config: RuntimeConfig,
    /// Where lanes are reported.
    pub board: Arc<LaneBoard>,
}
