//! [`RocksOnlineStore`]: the embedded [`OnlineStore`] on RocksDB.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rocksdb::{BlockBasedOptions, Cache, Options, WriteOptions, DB};

use freshet_storage::online::{OnlineRow, OnlineStore};
use freshet_storage::state::prefix_end;
use freshet_storage::Result;

use super::rocks_error;

/// Feature values in RocksDB under `table_len u16 | table | key`, tuned for point
/// lookups (bloom filters, a block cache) and read with batched multi-get.
pub struct RocksOnlineStore {
    db: Arc<DB>,
}

fn storage_key(table: &str, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + table.len() + key.len());
    out.extend_from_slice(&(table.len() as u16).to_be_bytes());
    out.extend_from_slice(table.as_bytes());
    out.extend_from_slice(key);
    out
}

impl RocksOnlineStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<RocksOnlineStore> {
        let mut table_options = BlockBasedOptions::default();
        table_options.set_bloom_filter(10.0, false);
        table_options.set_block_cache(&Cache::new_lru_cache(256 << 20));
        table_options.set_cache_index_and_filter_blocks(true);
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_block_based_table_factory(&table_options);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let db = DB::open(&options, dir.as_ref()).map_err(rocks_error)?;
        Ok(RocksOnlineStore { db: Arc::new(db) })
    }
}

#[async_trait]
impl OnlineStore for RocksOnlineStore {
    async fn put(&self, rows: Vec<OnlineRow>) -> Result<()> {
        let mut batch = rocksdb::WriteBatch::default();
        for row in &rows {
            batch.put(storage_key(&row.table, &row.key), &row.value);
        }
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db.write_opt(batch, &options).map_err(rocks_error)
    }

    async fn multi_get(&self, table: &str, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        let storage_keys: Vec<Vec<u8>> = keys.iter().map(|key| storage_key(table, key)).collect();
        self.db
            .multi_get(&storage_keys)
            .into_iter()
            .map(|value| value.map_err(rocks_error))
            .collect()
    }

    async fn drop_table(&self, table: &str) -> Result<()> {
        let start = storage_key(table, b"");
        let end = prefix_end(&start).expect("a table prefix starts with its length");
        let mut batch = rocksdb::WriteBatch::default();
        batch.delete_range(start, end);
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db.write_opt(batch, &options).map_err(rocks_error)
    }
}
