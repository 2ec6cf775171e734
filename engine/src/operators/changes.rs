//! [`Changes`]: what one micro-batch changed, to be committed as one unit.

use freshet_storage::state::WriteBatch;

use super::SkippedRows;

/// A micro-batch's state changes. Its feature entries (`f/TABLE\0KEY`) are what
/// serving reads, from state or from a copy in an online store of its own.
#[derive(Debug, Default)]
pub struct Changes {
    /// Operator state (and, added by the runtime, source positions).
    pub state: WriteBatch,
    /// Rows each feature table (`name@vN`) skipped in this commit, for the log and
    /// metrics once it is written (the running totals are in `state`).
    pub skipped: Vec<(String, SkippedRows)>,
}
