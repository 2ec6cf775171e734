//! [`SkippedRows`]: rows that reached a feature version without an entity key or
//! an event time, so could not be placed. They are never dropped silently: the
//! count is committed with the feature's state (exactly once, like the state it
//! explains), reported by `GetStatus` and exported as a metric.

use freshet_storage::state::column_family::OPERATOR_STATE;
use freshet_storage::state::{StateStore, WriteBatch};
use serde::{Deserialize, Serialize};

use crate::state_keys::skipped_rows_key;
use crate::{EngineError, Result};

/// Rows a feature version could not place, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRows {
    /// Rows whose entity key was null.
    pub no_key: u64,
    /// Rows whose event time was null.
    pub no_event_time: u64,
}

impl SkippedRows {
    /// Whether nothing was skipped.
    pub fn is_empty(&self) -> bool {
        self.no_key == 0 && self.no_event_time == 0
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: SkippedRows) {
        self.no_key += other.no_key;
        self.no_event_time += other.no_event_time;
    }

    /// The committed counts of `table` (zero when none were recorded).
    pub fn load(store: &dyn StateStore, table: &str) -> Result<SkippedRows> {
        match store.get(OPERATOR_STATE, &skipped_rows_key(table))? {
            None => Ok(SkippedRows::default()),
            Some(bytes) => bincode::deserialize(&bytes)
                .map_err(|e| EngineError::Corrupt(format!("skipped-row counts of '{table}': {e}"))),
        }
    }

    /// Adds to `batch` the write of these counts as `table`'s.
    pub fn write(&self, table: &str, batch: &mut WriteBatch) {
        batch.put(
            OPERATOR_STATE,
            skipped_rows_key(table),
            bincode::serialize(self).expect("two integers serialize"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_by_reason() {
        let mut total = SkippedRows::default();
        assert!(total.is_empty());
        total.add(SkippedRows {
            no_key: 2,
            no_event_time: 0,
        });
        total.add(SkippedRows {
            no_key: 1,
            no_event_time: 3,
        });
        assert_eq!(
            total,
            SkippedRows {
                no_key: 3,
                no_event_time: 3
            }
        );
        assert!(!total.is_empty());
    }
}
