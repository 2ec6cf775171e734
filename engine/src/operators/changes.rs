//! [`Changes`]: what one micro-batch changed, to be committed as one unit.

use freshet_storage::online::OnlineRow;
use freshet_storage::state::WriteBatch;

use super::SkippedRows;

/// A micro-batch's state changes and the online rows that mirror them.
#[derive(Debug, Default)]
pub struct Changes {
    /// Operator state (and, added by the runtime, source positions).
    pub state: WriteBatch,
    /// The same feature states, for the online store.
    pub online: Vec<OnlineRow>,
    /// Rows each feature table (`name@vN`) skipped in this commit, for the log and
    /// metrics once it is written (the running totals are in `state`).
    pub skipped: Vec<(String, SkippedRows)>,
}
