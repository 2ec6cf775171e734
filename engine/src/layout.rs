//! The version of the state layout a data directory was written in, checked
//! when a [`crate::store::FeatureStore`] opens it.
//!
//! Version 2 keeps windowed features as event-time slices with partial
//! aggregates ([`crate::aggregate::KeyState`]); version 1 (before the `layout`
//! record existed) kept one event list per key. A store written in another
//! version is refused, naming how to rebuild it: the definitions and the log are
//! enough to recompute every feature, so nothing is lost by rebuilding.

use freshet_storage::state::column_family::{COUNTERS, REGISTRY};
use freshet_storage::state::{StateStore, WriteBatch};

use crate::state_keys::layout_key;
use crate::{EngineError, Result};

/// The state layout this build reads and writes.
pub const LAYOUT: u32 = 2;

/// Checks that `store` is in [`LAYOUT`], marking a fresh store (one with no
/// definitions yet) as such; a store in another layout is refused.
pub fn check_layout(store: &dyn StateStore) -> Result<()> {
    let found = match store.get(COUNTERS, &layout_key())? {
        Some(bytes) => {
            let bytes: [u8; 4] = bytes.as_slice().try_into().map_err(|_| {
                EngineError::Corrupt(format!("layout record of {} bytes", bytes.len()))
            })?;
            u32::from_be_bytes(bytes)
        }
        None if store.scan_prefix(REGISTRY, b"active/")?.is_empty() => {
            let mut batch = WriteBatch::new();
            batch.put(COUNTERS, layout_key(), LAYOUT.to_be_bytes().to_vec());
            store.write(batch)?;
            return Ok(());
        }
        None => 1,
    };
    if found == LAYOUT {
        return Ok(());
    }
    Err(EngineError::Refused(format!(
        "this data directory holds feature state in layout {found}; this freshet \
         reads layout {LAYOUT} (windowed features as event-time slices). Rebuild it from \
         the retained log: stop freshet, move the data directory's `state` and `online` \
         folders aside (keep `log`), start freshet on the same data directory and apply \
         your definitions again; every feature is backfilled from the log"
    )))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use freshet_backends::embedded::RocksStateStore;
    use freshet_storage::state::column_family::REGISTRY;

    use super::*;

    #[test]
    fn a_fresh_store_is_marked_and_an_older_one_is_refused_with_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let fresh: Arc<dyn StateStore> = Arc::new(RocksStateStore::open(dir.path()).unwrap());
        check_layout(fresh.as_ref()).unwrap();
        assert_eq!(
            fresh.get(COUNTERS, &layout_key()).unwrap(),
            Some(LAYOUT.to_be_bytes().to_vec())
        );
        // Marked: a second open passes, definitions or not.
        check_layout(fresh.as_ref()).unwrap();

        // Definitions but no layout record: written before slices.
        let dir = tempfile::tempdir().unwrap();
        let old = RocksStateStore::open(dir.path()).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(REGISTRY, b"active/feature/spend".to_vec(), b"1".to_vec());
        old.write(batch).unwrap();
        let error = check_layout(&old).unwrap_err().to_string();
        assert!(
            error.contains("layout 1") && error.contains("layout 2"),
            "{error}"
        );
        assert!(error.contains("apply your definitions again"), "{error}");
    }
}
