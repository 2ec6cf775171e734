//! [`StorageConfig`]: which backend serves each storage trait, as data.
//!
//! The configuration only describes; `freshet_backends::open` is the one place
//! that reads it and opens the backends. A server names no backend type itself.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where a server keeps its event log, operator state and online store.
///
/// Each trait picks its backend on its own, so a deployment can keep state on
/// local disk while the log is on Pulsar and the online store on ScyllaDB (those
/// variants come with their backends). Today every backend is embedded, under
/// `data_dir`.
///
/// In a YAML config file every backend field may be left out (embedded):
///
/// ```
/// # use freshet_storage::config::{LogBackend, StorageConfig};
/// let config: StorageConfig = serde_yaml::from_str("data_dir: /var/lib/freshet\n").unwrap();
/// assert_eq!(config, StorageConfig::embedded("/var/lib/freshet"));
/// assert_eq!(config.log, LogBackend::Embedded);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// The folder of everything this process keeps on its own disk: the embedded
    /// backends' files (under `log/`, `state/` and, for a separate online store,
    /// `online/`).
    pub data_dir: PathBuf,
    /// The backend of the event log.
    #[serde(default)]
    pub log: LogBackend,
    /// The backend of operator state, source positions and the registry.
    #[serde(default)]
    pub state: StateBackend,
    /// The backend of the online store.
    #[serde(default)]
    pub online: OnlineBackend,
    /// Bytes the embedded state store's RocksDB may hold in memory: its block
    /// cache and memtables, half each.
    #[serde(default = "default_state_memory")]
    pub state_memory: usize,
    /// The embedded log's segment size: a segment file is sealed (and can be
    /// archived) once it reaches this many bytes.
    #[serde(default = "default_log_segment_bytes")]
    pub log_segment_bytes: u64,
    /// Where the embedded log's sealed segments are archived, and how much of
    /// the log stays on local disk; `None`: no archive, everything stays local.
    #[serde(default)]
    pub archive: Option<ArchiveConfig>,
}

/// The embedded log's segment size by default: 256 MiB.
pub const DEFAULT_LOG_SEGMENT_BYTES: u64 = 256 << 20;

fn default_log_segment_bytes() -> u64 {
    DEFAULT_LOG_SEGMENT_BYTES
}

/// The log archive: sealed segments of the embedded log uploaded to an object
/// store, so that retention is infinite while local disk stays bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveConfig {
    /// `s3://BUCKET/PREFIX`, or `file:///ABSOLUTE/FOLDER` (tests, one machine).
    pub uri: String,
    /// How much of the log stays on local disk once archived; `None`: all of
    /// it (the archive is then a copy).
    #[serde(default)]
    pub local_retention: Option<LocalRetention>,
}

/// How much of an archived log a partition keeps on local disk. The segment
/// being appended to, and any segment not yet archived, always stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalRetention {
    /// Archived segments last written longer ago than this are removed.
    Age(std::time::Duration),
    /// The oldest archived segments are removed while the partition's
    /// segments take more than this many bytes.
    Bytes(u64),
}

/// The memory of the embedded state store's RocksDB by default: 256 MiB.
pub const DEFAULT_STATE_MEMORY: usize = 256 << 20;

fn default_state_memory() -> usize {
    DEFAULT_STATE_MEMORY
}

impl StorageConfig {
    /// Every backend embedded, under `data_dir`: what `freshet serve` runs on by
    /// default.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> StorageConfig {
        StorageConfig {
            data_dir: data_dir.into(),
            log: LogBackend::Embedded,
            state: StateBackend::Embedded,
            online: OnlineBackend::OperatorState,
            state_memory: DEFAULT_STATE_MEMORY,
            log_segment_bytes: DEFAULT_LOG_SEGMENT_BYTES,
            archive: None,
        }
    }

    /// The folder of the embedded event log.
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("log")
    }

    /// The folder of the embedded state store.
    pub fn state_dir(&self) -> PathBuf {
        self.data_dir.join("state")
    }

    /// The folder of the embedded online store (when [`OnlineBackend::Embedded`]).
    pub fn online_dir(&self) -> PathBuf {
        self.data_dir.join("online")
    }
}

/// Which backend serves [`crate::log::EventLog`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogBackend {
    /// The embedded segment log in [`StorageConfig::log_dir`].
    #[default]
    Embedded,
}

/// Which backend serves [`crate::state::StateStore`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateBackend {
    /// RocksDB in [`StorageConfig::state_dir`].
    #[default]
    Embedded,
}

/// Where served feature values live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnlineBackend {
    /// No second copy: serving reads the operator state the engine commits,
    /// which holds every feature value already. What a single process runs on
    /// by default.
    #[default]
    OperatorState,
    /// A [`crate::online::OnlineStore`] of its own: RocksDB in
    /// [`StorageConfig::online_dir`], written after each commit of operator
    /// state (reads then never wait on ingest's compactions).
    Embedded,
}
