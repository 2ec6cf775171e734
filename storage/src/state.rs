//! Operator state, source positions and the registry: a key-value store with named
//! column families and atomic, durable write batches.
//!
//! The engine's exactly-once guarantee rests on [`StateStore::write`]: a batch that
//! carries an operator's state change and the source positions it reflects is
//! applied entirely or not at all.
//!
//! Keys and values are opaque bytes to the store. Their layouts belong to the
//! writers: the engine's operators (timed lists of events, bincode-encoded
//! `StoredFeature`s and feature statistics under `f/TABLE\0KEY`, view groups
//! under `v/VIEW\0GROUP`), the engine's checkpoints (encoded
//! [`crate::log::Position`]s), its counters (big-endian integers) and the
//! registry (JSON). A store keeps every byte as written; the one value it
//! builds itself is a timed list, from the appends merged into it
//! ([`crate::timed_list`]).

use crate::Result;

/// The column families every state store is opened with.
pub mod column_family {
    /// Versioned definitions (owned by the registry).
    pub const REGISTRY: &str = "registry";
    /// Keyed operator state (owned by the engine's operators).
    pub const OPERATOR_STATE: &str = "operator_state";
    /// The source positions the operator state reflects.
    pub const SOURCE_POSITIONS: &str = "source_positions";
    /// Durable counters (rejected events and the like).
    pub const COUNTERS: &str = "counters";
    /// All of them, in the order stores create them.
    pub const ALL: &[&str] = &[REGISTRY, OPERATOR_STATE, SOURCE_POSITIONS, COUNTERS];
}

/// One change inside a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Sets `key` to `value` in `column_family`.
    Put {
        /// The column family.
        column_family: &'static str,
        /// The key.
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
    },
    /// Removes `key` from `column_family`.
    Delete {
        /// The column family.
        column_family: &'static str,
        /// The key.
        key: Vec<u8>,
    },
    /// Merges the timed list `list` into the one stored at `key` (see
    /// [`crate::timed_list`]): the stored records and the new ones, by time,
    /// minus those expired. The store does not read the stored list to do so.
    AppendTimed {
        /// The column family.
        column_family: &'static str,
        /// The key.
        key: Vec<u8>,
        /// An encoded [`crate::timed_list::TimedList`].
        list: Vec<u8>,
    },
    /// Removes every key of `column_family` that starts with `prefix`.
    DeletePrefix {
        /// The column family.
        column_family: &'static str,
        /// The prefix.
        prefix: Vec<u8>,
    },
}

/// The smallest key above every key that starts with `prefix` (`None` when the
/// prefix is all `0xff`, which nothing follows).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Changes applied together, across column families, entirely or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put.
    pub fn put(
        &mut self,
        column_family: &'static str,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) {
        self.ops.push(WriteOp::Put {
            column_family,
            key: key.into(),
            value: value.into(),
        });
    }

    /// Adds a delete.
    pub fn delete(&mut self, column_family: &'static str, key: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Delete {
            column_family,
            key: key.into(),
        });
    }

    /// Adds the merge of an encoded timed list into the one at `key` (a key
    /// with no value, or deleted, holds an empty list; a put replaces what
    /// earlier appends built).
    pub fn append_timed(
        &mut self,
        column_family: &'static str,
        key: impl Into<Vec<u8>>,
        list: Vec<u8>,
    ) {
        self.ops.push(WriteOp::AppendTimed {
            column_family,
            key: key.into(),
            list,
        });
    }

    /// Adds the removal of every key that starts with `prefix`.
    pub fn delete_prefix(&mut self, column_family: &'static str, prefix: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::DeletePrefix {
            column_family,
            prefix: prefix.into(),
        });
    }

    /// Adds every change of `other`, after those already here.
    pub fn append(&mut self, other: WriteBatch) {
        self.ops.extend(other.ops);
    }

    /// The changes, in the order they were added (a later one wins on the same key).
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// Whether the batch holds no change.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A durable key-value store with the column families of [`column_family::ALL`].
///
/// Contract for every backend:
/// - Column families are separate key spaces; naming one not in
///   [`column_family::ALL`] is an error ([`crate::StorageError::UnknownColumnFamily`]).
/// - Keys and values are opaque bytes, stored and returned exactly. The store
///   never decodes a value other than a timed list it merges appends into;
///   the engine and the registry encode and decode their own (see the
///   [module docs](self)).
/// - [`StateStore::write`] is atomic and durable across column families; ops
///   apply in order, so a later put or delete on the same key wins, and
///   [`WriteOp::AppendTimed`] merges into what the ops before it left; `get`
///   and scans return a timed list with every append merged, byte for byte
///   what [`crate::timed_list::merge`] gives. [`StateStore::commit`]
///   is atomic too, and durable as a prefix (see its docs).
/// - [`StateStore::scan_prefix`] returns keys in byte order.
///
/// ```
/// # use freshet_storage::state::{StateStore, WriteBatch, column_family as cf};
/// # use freshet_backends::embedded::RocksStateStore;
/// let dir = tempfile::tempdir().unwrap();
/// let store = RocksStateStore::open(dir.path()).unwrap();
/// let mut batch = WriteBatch::new();
/// batch.put(cf::OPERATOR_STATE, b"user/42".to_vec(), b"17".to_vec());
/// batch.put(cf::SOURCE_POSITIONS, b"purchases/0".to_vec(), b"0:100".to_vec());
/// store.write(batch).unwrap();
/// assert_eq!(store.get(cf::OPERATOR_STATE, b"user/42").unwrap(), Some(b"17".to_vec()));
/// ```
pub trait StateStore: Send + Sync {
    /// The value of `key`, if any.
    fn get(&self, column_family: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// The values of many keys of one column family, in the order of `keys`
    /// (`None` where a key has no value): the batched read of serving.
    fn multi_get(&self, column_family: &str, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        keys.iter()
            .map(|key| self.get(column_family, key))
            .collect()
    }

    /// All entries whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, column_family: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// The first `limit` entries of [`StateStore::scan_prefix`]: a scan
    /// whose memory is bounded however many keys share the prefix.
    fn scan_prefix_limit(
        &self,
        column_family: &str,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut entries = self.scan_prefix(column_family, prefix)?;
        entries.truncate(limit);
        Ok(entries)
    }

    /// Applies the batch atomically and durably: after it returns, a crash keeps all
    /// of it; if it fails or the process dies during it, none of it is visible.
    fn write(&self, batch: WriteBatch) -> Result<()>;

    /// Applies the batch atomically, visible when it returns, without waiting
    /// for it to reach the disk: a crash of the machine may lose the latest
    /// commits, always whole and newest first (what survives is every
    /// [`StateStore::write`] and a prefix of the commits, never a commit
    /// without those before it). A `write` makes every earlier commit durable.
    /// The engine commits micro-batches this way: their state and source
    /// positions are one batch, so a lost commit is replayed from the log.
    fn commit(&self, batch: WriteBatch) -> Result<()>;
}
