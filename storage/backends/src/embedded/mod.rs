//! The embedded backends: what a single `freshet serve` process runs on by default.
//!
//! - [`SegmentLog`]: the event log as append-only segment files with checksummed
//!   frames and group-committed fsync.
//! - [`RocksStateStore`]: operator state, source positions and the registry in RocksDB.
//! - [`RocksOnlineStore`]: served feature values in RocksDB.

mod rocks_online;
mod rocks_state;
mod segment_log;

pub use rocks_online::RocksOnlineStore;
pub use rocks_state::RocksStateStore;
pub use segment_log::{Archive, ArchivePass, SegmentLog, SegmentLogOptions};

use freshet_storage::StorageError;

/// A RocksDB status as the storage error every backend shares.
fn rocks_error(error: rocksdb::Error) -> StorageError {
    StorageError::backend("rocksdb", error)
}
