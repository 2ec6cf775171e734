//! The one error type of every storage trait and every backend.
//!
//! Backends map their own errors onto these variants where one fits (an unknown
//! topic, a bad argument, I/O on a named file) and wrap the rest in
//! [`StorageError::Backend`], so nothing above the storage layer sees a backend's
//! error type.

use std::path::PathBuf;

/// Everything that can go wrong in a storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An operating-system I/O call failed on `path`.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Bytes on disk failed their checksum or framing somewhere other than a torn tail.
    #[error("corrupt log data in {path} at byte {byte_offset}: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Where the bad frame starts.
        byte_offset: u64,
        /// What was wrong with it.
        reason: String,
    },
    /// A topic that was never created.
    #[error("unknown topic '{0}'")]
    UnknownTopic(String),
    /// A partition index at or beyond the topic's partition count.
    #[error("topic '{topic}' has {partitions} partition(s); partition {partition} does not exist")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The index asked for.
        partition: u32,
        /// How many partitions the topic has.
        partitions: u32,
    },
    /// A caller passed an argument the backend cannot accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A position that does not belong to this log (beyond its head, or malformed).
    #[error("position {position} is out of range for {topic}/{partition} (head {head})")]
    PositionOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The position asked for.
        position: String,
        /// The partition's current head.
        head: String,
    },
    /// Arrow could not encode or decode a batch.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A backend's own client or engine reported an error that no other variant
    /// describes (a RocksDB status, a broker or database error).
    #[error("{backend} error: {source}")]
    Backend {
        /// Which backend: `rocksdb`, `pulsar`, `scylla`, `redis`, ...
        backend: &'static str,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored value is not in the encoding its writer uses (a timed list that
    /// does not decode, say).
    #[error("corrupt value: {0}")]
    CorruptValue(String),
    /// A column family that the store was not opened with.
    #[error("unknown column family '{0}'")]
    UnknownColumnFamily(String),
    /// An object of the log archive is missing, unreadable or corrupt, or
    /// could not be written: a replay fails rather than skip its rows.
    #[error("log archive object {object}: {reason}")]
    Archive {
        /// The object's URI.
        object: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A blocking task was cancelled or panicked.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The result type of the storage crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

impl StorageError {
    /// Wraps a backend's own error; `backend` names the backend (`rocksdb`).
    pub fn backend(
        backend: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StorageError::Backend {
            backend,
            source: source.into(),
        }
    }

    /// Wraps an I/O error with the path it concerned.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }
}
