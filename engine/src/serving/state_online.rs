//! [`StateOnline`]: the online store as a view of operator state, so a single
//! process serves the feature entries it commits instead of a second copy.

use std::sync::Arc;

use async_trait::async_trait;
use freshet_storage::online::{OnlineRow, OnlineStore};
use freshet_storage::state::{column_family::OPERATOR_STATE, StateStore, WriteBatch};

use crate::state_keys::feature_state_key;

/// An [`OnlineStore`] over operator state: table `T`, key `K` is the state
/// entry `feature_state_key(T, K)` (`f/T\0K`), the very entry the feature's
/// operator commits. Serving reads it with one batched multi-get; the engine
/// writes no online rows beside its state when serving reads this.
///
/// ```
/// # use std::sync::Arc;
/// # use freshet_backends::embedded::RocksStateStore;
/// # use freshet_engine::serving::StateOnline;
/// # use freshet_storage::online::{OnlineRow, OnlineStore};
/// # use freshet_storage::state::{column_family::OPERATOR_STATE, StateStore};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let state = Arc::new(RocksStateStore::open(dir.path()).unwrap());
/// let online = StateOnline::new(state.clone());
/// online.put(vec![OnlineRow { table: "spend@v1".into(), key: b"42".to_vec(), value: b"9.5".to_vec() }]).await.unwrap();
/// // The row is the operator-state entry of that table and key.
/// assert_eq!(state.get(OPERATOR_STATE, b"f/spend@v1\x0042").unwrap(), Some(b"9.5".to_vec()));
/// # });
/// ```
pub struct StateOnline {
    state: Arc<dyn StateStore>,
}

impl StateOnline {
    /// Serves the feature entries of `state`.
    pub fn new(state: Arc<dyn StateStore>) -> StateOnline {
        StateOnline { state }
    }
}

#[async_trait]
impl OnlineStore for StateOnline {
    async fn put(&self, rows: Vec<OnlineRow>) -> freshet_storage::Result<()> {
        let mut batch = WriteBatch::new();
        for row in rows {
            batch.put(
                OPERATOR_STATE,
                feature_state_key(&row.table, &row.key),
                row.value,
            );
        }
        self.state.write(batch)
    }

    async fn multi_get(
        &self,
        table: &str,
        keys: &[Vec<u8>],
    ) -> freshet_storage::Result<Vec<Option<Vec<u8>>>> {
        let keys: Vec<Vec<u8>> = keys
            .iter()
            .map(|key| feature_state_key(table, key))
            .collect();
        self.state.multi_get(OPERATOR_STATE, &keys)
    }

    async fn drop_table(&self, table: &str) -> freshet_storage::Result<()> {
        let mut batch = WriteBatch::new();
        batch.delete_prefix(OPERATOR_STATE, feature_state_key(table, b""));
        self.state.write(batch)
    }
}
