//! The layout of operator state a data directory holds, checked when the
//! store opens: this build writes layout 2 (windowed features as appended
//! event lists, [`crate::aggregate::event_list`]) and refuses a directory whose
//! feature state an earlier layout wrote, saying how to rebuild it, rather than
//! misreading it.

use freshet_storage::state::column_family::{COUNTERS, OPERATOR_STATE};
use freshet_storage::state::{StateStore, WriteBatch};

use crate::state_keys::{state_layout_key, FEATURE_STATE_PREFIX};
use crate::{EngineError, Result};

/// The layout this build reads and writes.
pub const STATE_LAYOUT: u32 = 2;

/// Checks the layout of `state`, recording [`STATE_LAYOUT`] in a store that
/// holds no feature state yet.
pub fn check(state: &dyn StateStore) -> Result<()> {
    match state.get(COUNTERS, &state_layout_key())? {
        Some(bytes) => {
            let found = <[u8; 4]>::try_from(bytes.as_slice())
                .map(u32::from_be_bytes)
                .map_err(|_| EngineError::Corrupt("the state layout record".into()))?;
            if found == STATE_LAYOUT {
                Ok(())
            } else {
                Err(refusal(found))
            }
        }
        None if !state
            .scan_prefix(OPERATOR_STATE, FEATURE_STATE_PREFIX)?
            .is_empty() =>
        {
            Err(refusal(1))
        }
        None => {
            let mut batch = WriteBatch::new();
            batch.put(
                COUNTERS,
                state_layout_key(),
                STATE_LAYOUT.to_be_bytes().to_vec(),
            );
            Ok(state.write(batch)?)
        }
    }
}

fn refusal(found: u32) -> EngineError {
    EngineError::Unsupported(format!(
        "the data directory's operator state has layout {found}, and this build reads only \
         layout {STATE_LAYOUT} (windowed features stored as appended event lists); rebuild it: \
         start a new data directory, apply the same definitions and ingest the events again \
         (every feature is recomputed from them)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_keys::feature_state_key;
    use freshet_backends::embedded::RocksStateStore;

    #[test]
    fn a_new_store_is_marked_and_an_old_one_refused() {
        let fresh = tempfile::tempdir().unwrap();
        let state = RocksStateStore::open(fresh.path()).unwrap();
        check(&state).unwrap();
        check(&state).unwrap();
        assert_eq!(
            state.get(COUNTERS, &state_layout_key()).unwrap(),
            Some(STATE_LAYOUT.to_be_bytes().to_vec())
        );

        let old = tempfile::tempdir().unwrap();
        let state = RocksStateStore::open(old.path()).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(
            OPERATOR_STATE,
            feature_state_key("spend@v1", b"42"),
            b"old".to_vec(),
        );
        state.write(batch).unwrap();
        let refused = check(&state).unwrap_err().to_string();
        assert!(refused.contains("layout 1"), "{refused}");
        assert!(refused.contains("new data directory"), "{refused}");
    }
}
