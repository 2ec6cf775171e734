//! [`RocksStateStore`]: the embedded [`StateStore`] on RocksDB.

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode,
    MergeOperands, Options, WriteOptions, DB,
};

use freshet_storage::config::DEFAULT_STATE_MEMORY;
use freshet_storage::state::{column_family, prefix_end, StateStore, WriteBatch, WriteOp};
use freshet_storage::{timed_list, Result, StorageError};
use tracing::error;

use super::rocks_error;

/// Operator state, source positions, counters and the registry in one RocksDB
/// database, one column family each, so a write batch spans them atomically.
///
/// Serving reads operator state too, so the tables carry bloom filters for
/// point lookups. RocksDB's memory is bounded: one block cache and all
/// memtables together take at most the `memory` given to
/// [`RocksStateStore::open_with_memory`] (half each). Timed-list appends are
/// RocksDB merge operands, combined by [`timed_list::merge`] when read,
/// flushed or compacted.
pub struct RocksStateStore {
    db: DB,
}

impl RocksStateStore {
    /// Opens (or creates) the store in `dir`, with RocksDB's memory at
    /// [`DEFAULT_STATE_MEMORY`].
    pub fn open(dir: impl AsRef<Path>) -> Result<RocksStateStore> {
        Self::open_with_memory(dir, DEFAULT_STATE_MEMORY)
    }

    /// Opens (or creates) the store in `dir`; RocksDB's block cache and
    /// memtables take at most `memory` bytes together.
    pub fn open_with_memory(dir: impl AsRef<Path>, memory: usize) -> Result<RocksStateStore> {
        let mut table_options = BlockBasedOptions::default();
        table_options.set_bloom_filter(10.0, false);
        table_options.set_block_cache(&Cache::new_lru_cache(memory / 2));
        table_options.set_cache_index_and_filter_blocks(true);
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        options.set_block_based_table_factory(&table_options);
        options.set_db_write_buffer_size(memory / 2);
        options.set_merge_operator("freshet.timed_list", merge_timed, merge_timed);
        // Every column family takes these options: its tables, compression and
        // merge operator (`open_cf` would give them RocksDB's defaults).
        let families = column_family::ALL
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, options.clone()));
        let db = DB::open_cf_descriptors(&options, dir.as_ref(), families).map_err(rocks_error)?;
        Ok(RocksStateStore { db })
    }

    fn handle(&self, name: &str) -> Result<&ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StorageError::UnknownColumnFamily(name.to_string()))
    }

    /// Applies `batch` atomically; with `sync`, once the WAL is on disk. Without,
    /// the WAL is in the operating system's hands: a killed process loses
    /// nothing, a crashed machine at most the newest unsynced batches, whole
    /// (RocksDB recovers the WAL to a point in time).
    fn apply(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        let mut rocks_batch = rocksdb::WriteBatch::default();
        let ops = batch.ops();
        for op in insertion_order(ops).into_iter().map(|at| &ops[at]) {
            match op {
                WriteOp::Put {
                    column_family,
                    key,
                    value,
                } => rocks_batch.put_cf(self.handle(column_family)?, key, value),
                WriteOp::Delete { column_family, key } => {
                    rocks_batch.delete_cf(self.handle(column_family)?, key)
                }
                WriteOp::AppendTimed {
                    column_family,
                    key,
                    list,
                } => rocks_batch.merge_cf(self.handle(column_family)?, key, list),
                WriteOp::DeletePrefix {
                    column_family,
                    prefix,
                } => {
                    let handle = self.handle(column_family)?;
                    let end = prefix_end(prefix).unwrap_or_else(|| vec![u8::MAX; prefix.len() + 1]);
                    rocks_batch.delete_range_cf(handle, prefix.as_slice(), end.as_slice())
                }
            }
        }
        let mut options = WriteOptions::default();
        options.set_sync(sync);
        self.db
            .write_opt(rocks_batch, &options)
            .map_err(rocks_error)
    }
}

/// The order in which `ops` go into RocksDB's batch: by column family and key,
/// so the memtable's skip list inserts each key next to the previous one
/// instead of searching from its top (a micro-batch's appends arrive in hash
/// order, and their inserts were about a third of a commit's CPU). The sort is
/// stable, so the ops on one key keep their order, and a prefix deletion stays
/// where it is, between the ops before and after it: the batch means what it
/// meant.
fn insertion_order(ops: &[WriteOp]) -> Vec<usize> {
    fn target(op: &WriteOp) -> Option<(&'static str, &[u8])> {
        match op {
            WriteOp::Put {
                column_family, key, ..
            }
            | WriteOp::Delete { column_family, key }
            | WriteOp::AppendTimed {
                column_family, key, ..
            } => Some((*column_family, key.as_slice())),
            WriteOp::DeletePrefix { .. } => None,
        }
    }
    let mut order: Vec<usize> = (0..ops.len()).collect();
    for run in order.split_mut(|at| target(&ops[*at]).is_none()) {
        run.sort_by_key(|at| target(&ops[*at]));
    }
    order
}

/// The merge operator: the stored list (if any) and the appends, oldest first,
/// merged. A list that does not decode fails the merge, which RocksDB reports
/// as corruption to the read, flush or compaction that needed it.
fn merge_timed(key: &[u8], stored: Option<&[u8]>, appends: &MergeOperands) -> Option<Vec<u8>> {
    match timed_list::merge(stored.into_iter().chain(appends)) {
        Ok(merged) => Some(merged),
        Err(failure) => {
            error!(key = %String::from_utf8_lossy(key), %failure, "timed list merge failed");
            None
        }
    }
}

impl StateStore for RocksStateStore {
    fn get(&self, column_family: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db
            .get_cf(self.handle(column_family)?, key)
            .map_err(rocks_error)
    }

    fn multi_get(&self, column_family: &str, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        let handle = self.handle(column_family)?;
        self.db
            .batched_multi_get_cf(handle, keys, false)
            .into_iter()
            .map(|value| {
                value
                    .map(|found| found.map(|slice| slice.to_vec()))
                    .map_err(rocks_error)
            })
            .collect()
    }

    fn scan_prefix(&self, column_family: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.scan_prefix_limit(column_family, prefix, usize::MAX)
    }

    fn scan_prefix_limit(
        &self,
        column_family: &str,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let handle = self.handle(column_family)?;
        let mut out = Vec::new();
        for entry in self
            .db
            .iterator_cf(handle, IteratorMode::From(prefix, Direction::Forward))
            .take(limit)
        {
            let (key, value) = entry.map_err(rocks_error)?;
            if !key.starts_with(prefix) {
                break;
            }
            out.push((key.into_vec(), value.into_vec()));
        }
        Ok(out)
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        self.apply(batch, true)
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        self.apply(batch, false)
    }
}
