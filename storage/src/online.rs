//! The online store: the latest feature values, keyed by table and entity key, read
//! in batches on the serving path. A single process on the embedded defaults
//! serves straight from operator state (the engine's `StateOnline` implements
//! this trait over it); a store of its own receives a copy of every committed
//! feature entry.
//!
//! Two things the engine relies on, which every backend must keep (the
//! conformance suite checks both):
//!
//! - **Values are opaque bytes, encoded by the engine.** The engine writes each
//!   entity's whole entry: for a windowed aggregate the events it still needs
//!   (a [`crate::timed_list`] of event times and values,
//!   `engine::aggregate::event_list`), for a lifetime aggregate or a view's
//!   current value a bincode `StoredFeature` (`engine::operators::stored`),
//!   evaluated at read time. The same bytes are in operator state, where
//!   micro-batches append to the lists instead of rewriting them. A backend
//!   stores and returns the bytes exactly; it never decodes, merges or
//!   re-encodes them.
//! - **The empty key holds the table's statistics.** Besides one row per entity,
//!   the engine keeps one row per table under the empty key (`b""`): the
//!   feature's value statistics (bincode `FeatureStats`), written in the same
//!   [`OnlineStore::put`] as the values they describe and read by serving to
//!   apply value transforms (fill, scale, clip). A backend must accept the empty
//!   key like any other (a database that refuses empty keys must map it), and
//!   [`OnlineStore::drop_table`] removes it with the rest of the table.

use async_trait::async_trait;

use crate::Result;

/// One value to store: `value` under `key` in `table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineRow {
    /// The table (a feature version, say `user_spend_7d@v2`).
    pub table: String,
    /// The entity key, encoded by the caller; empty for the table's statistics row.
    pub key: Vec<u8>,
    /// The encoded value (opaque to the store, see the [module docs](self)).
    pub value: Vec<u8>,
}

/// Serves the latest value per (table, key).
///
/// Contract for every backend: `put` is atomic across its rows and durable when it
/// returns, and a later row on the same (table, key) wins; `multi_get` answers in
/// the order of `keys`, `None` where a key has no value; tables are separate
/// namespaces, even when one name is a prefix of another; keys and values are
/// stored exactly, the empty key included (see the [module docs](self)).
///
/// ```
/// # use freshet_storage::online::{OnlineRow, OnlineStore};
/// # use freshet_backends::embedded::RocksOnlineStore;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let store = RocksOnlineStore::open(dir.path()).unwrap();
/// store.put(vec![
///     OnlineRow { table: "spend@v1".into(), key: b"42".to_vec(), value: b"9.5".to_vec() },
///     // The table's statistics row, under the empty key.
///     OnlineRow { table: "spend@v1".into(), key: Vec::new(), value: b"stats".to_vec() },
/// ]).await.unwrap();
/// let values = store.multi_get("spend@v1", &[b"42".to_vec(), b"43".to_vec(), Vec::new()]).await.unwrap();
/// assert_eq!(values, vec![Some(b"9.5".to_vec()), None, Some(b"stats".to_vec())]);
/// # });
/// ```
#[async_trait]
pub trait OnlineStore: Send + Sync {
    /// Writes the rows atomically and durably.
    async fn put(&self, rows: Vec<OnlineRow>) -> Result<()>;

    /// Looks up many keys of one table in one batched call.
    async fn multi_get(&self, table: &str, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>>;

    /// Removes every value of `table`, its statistics row included, durably.
    async fn drop_table(&self, table: &str) -> Result<()>;
}
