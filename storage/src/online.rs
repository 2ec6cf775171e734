//! The online store: the latest feature values, keyed by table and entity key, read
//! in batches on the serving path.

use async_trait::async_trait;

use crate::Result;

/// One value to store: `value` under `key` in `table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineRow {
    /// The table (a feature version, say `user_spend_7d@v2`).
    pub table: String,
    /// The entity key, encoded by the caller.
    pub key: Vec<u8>,
    /// The encoded value.
    pub value: Vec<u8>,
}

/// Serves the latest value per (table, key).
///
/// Contract: `put` is atomic across its rows and durable when it returns;
/// `multi_get` answers in the order of `keys`, `None` where a key has no value.
///
/// ```
/// # use freshet_storage::online::{OnlineRow, OnlineStore};
/// # use freshet_storage::embedded::RocksOnlineStore;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let store = RocksOnlineStore::open(dir.path()).unwrap();
/// store.put(vec![OnlineRow { table: "spend@v1".into(), key: b"42".to_vec(), value: b"9.5".to_vec() }]).await.unwrap();
/// let values = store.multi_get("spend@v1", &[b"42".to_vec(), b"43".to_vec()]).await.unwrap();
/// assert_eq!(values, vec![Some(b"9.5".to_vec()), None]);
/// # });
/// ```
#[async_trait]
pub trait OnlineStore: Send + Sync {
    /// Writes the rows atomically.
    async fn put(&self, rows: Vec<OnlineRow>) -> Result<()>;

    /// Looks up many keys of one table in one batched call.
    async fn multi_get(&self, table: &str, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>>;

    /// Removes every value of `table`, durably.
    async fn drop_table(&self, table: &str) -> Result<()>;
}
