//! [`ServeConfig`]: where the server keeps its data and listens, from a config file,
//! the environment and flags (flags win over the environment, which wins over the
//! file). The storage backends are chosen in the file only (`log`, `state`,
//! `online`; each embedded when left out) and reach the backends crate as one
//! [`StorageConfig`].

use std::path::{Path, PathBuf};

use freshet_engine::runtime::MicroBatchLimits;
use freshet_sql::duration::parse_interval;
use freshet_sql::files::S3Settings;
use freshet_storage::config::{
    ArchiveConfig, LocalRetention, LogBackend, OnlineBackend, StateBackend,
    DEFAULT_LOG_SEGMENT_BYTES, DEFAULT_STATE_MEMORY,
};
use freshet_storage::StorageConfig;
use serde::Deserialize;

use crate::{ApiError, Result};

/// The server's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// The storage backends and the folder of what is kept on local disk.
    pub storage: StorageConfig,
    /// Address to listen on (`127.0.0.1:50051`; port 0 picks a free one).
    pub listen: String,
    /// A definitions file applied at start.
    pub apply: Option<PathBuf>,
    /// Address of the Prometheus endpoint (`/metrics`); port 0 picks a free one.
    pub metrics_listen: String,
    /// Bytes of feature events a training-set build holds in memory before it
    /// spills to disk.
    pub training_memory: usize,
    /// A backfill commits its state and position every this many replayed rows.
    pub backfill_checkpoint_rows: u64,
    /// Events per second a backfill replays at most; 0 for no cap.
    pub backfill_max_rate: u64,
    /// Rows one live micro-batch of one partition folds at most.
    pub micro_batch_rows: usize,
    /// Bytes of decoded events one live micro-batch of one partition folds at
    /// most (whole appended batches; at least one).
    pub micro_batch_bytes: usize,
    /// How `s3://` files are reached, beyond the `AWS_*` environment.
    pub s3: S3Settings,
}

/// The settings given as flags or in the environment, each overriding the
/// config file; also the config file's shape (YAML, every field optional).
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ServeOptions {
    /// Folder of the embedded storage [default: ./freshet-data].
    #[arg(long, env = "FRESHET_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:50051].
    #[arg(long, env = "FRESHET_LISTEN")]
    pub listen: Option<String>,
    /// A definitions file to apply at start.
    #[arg(long)]
    pub apply: Option<PathBuf>,
    /// Address of the Prometheus endpoint [default: 127.0.0.1:9464].
    #[arg(long, env = "FRESHET_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Bytes of feature events a training-set build holds in memory before
    /// it spills to disk [default: 1073741824].
    #[arg(long, env = "FRESHET_TRAINING_MEMORY")]
    pub training_memory: Option<usize>,
    /// A backfill commits its state and position every this many replayed
    /// rows, so a restart resumes from there [default: 4000000].
    #[arg(long, env = "FRESHET_BACKFILL_CHECKPOINT_ROWS")]
    pub backfill_checkpoint_rows: Option<u64>,
    /// Events per second a backfill replays at most; 0 for no cap [default: 0].
    #[arg(long, env = "FRESHET_BACKFILL_MAX_RATE")]
    pub backfill_max_rate: Option<u64>,
    /// Rows one live micro-batch of one partition folds at most: a lane that
    /// is caught up commits what just arrived, one with a backlog up to this
    /// many rows per commit [default: 1048576].
    #[arg(long, env = "FRESHET_MICRO_BATCH_ROWS")]
    pub micro_batch_rows: Option<usize>,
    /// Bytes of decoded events one live micro-batch of one partition folds at
    /// most, bounding its working set [default: 268435456].
    #[arg(long, env = "FRESHET_MICRO_BATCH_BYTES")]
    pub micro_batch_bytes: Option<usize>,
    /// Bytes the embedded state store's RocksDB may hold in memory, block
    /// cache and memtables half each [default: 268435456].
    #[arg(long, env = "FRESHET_STATE_MEMORY")]
    pub state_memory: Option<usize>,
    /// An S3-compatible endpoint for s3:// files (MinIO, Ceph, a test
    /// server), addressed path-style; AWS itself when unset. Credentials come
    /// from the AWS_* environment or the instance's metadata.
    #[arg(long, env = "FRESHET_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The S3 region, when not from AWS_REGION.
    #[arg(long, env = "FRESHET_S3_REGION")]
    pub s3_region: Option<String>,
    /// How often a file source on S3 is checked for a new ETag; 0ms checks
    /// before every micro-batch [default: 10s].
    #[arg(long, env = "FRESHET_S3_POLL_INTERVAL")]
    pub s3_poll_interval: Option<String>,
    /// Where sealed segments of the embedded log are archived:
    /// s3://BUCKET/PREFIX, or file:///ABSOLUTE/FOLDER; no archive when unset.
    #[arg(long, env = "FRESHET_ARCHIVE")]
    pub archive: Option<String>,
    /// How much of the archived log stays on local disk per partition: an age
    /// (7d: segments last written longer ago are removed once archived) or a
    /// size (10GiB, or bytes); everything when unset. Needs --archive.
    #[arg(long, env = "FRESHET_LOG_LOCAL_RETENTION")]
    pub log_local_retention: Option<String>,
    /// Bytes at which a segment of the embedded log is sealed (and can be
    /// archived) [default: 268435456].
    #[arg(long, env = "FRESHET_LOG_SEGMENT_BYTES")]
    pub log_segment_bytes: Option<u64>,
    /// The event log's backend (config file only) [default: embedded].
    #[arg(skip)]
    pub log: Option<LogBackend>,
    /// The operator state's backend (config file only) [default: embedded].
    #[arg(skip)]
    pub state: Option<StateBackend>,
    /// The online store's backend (config file only) [default: operator_state].
    #[arg(skip)]
    pub online: Option<OnlineBackend>,
}

/// A local retention as written: a duration (`7d`, `0s`) or a size (`10GiB`,
/// `512MiB`, or a number of bytes).
fn parse_local_retention(text: &str) -> std::result::Result<LocalRetention, String> {
    let text = text.trim();
    let units: [(&str, u64); 5] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("", 1),
    ];
    for (unit, scale) in units {
        if let Some(number) = text.strip_suffix(unit) {
            if let Ok(amount) = number.trim().parse::<u64>() {
                return amount
                    .checked_mul(scale)
                    .map(LocalRetention::Bytes)
                    .ok_or_else(|| format!("'{text}' is too large"));
            }
        }
    }
    parse_interval(text).map(LocalRetention::Age).map_err(|_| {
        format!("'{text}' is neither an age (7d, 12h, 0s) nor a size (10GiB, 512MiB, bytes)")
    })
}

/// The default data folder.
pub const DEFAULT_DATA_DIR: &str = "./freshet-data";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// The default Prometheus endpoint address.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";
/// The default memory budget of a training-set build: 1 GiB.
pub const DEFAULT_TRAINING_MEMORY: usize = 1 << 30;
/// The default rows between a backfill's commits.
pub const DEFAULT_BACKFILL_CHECKPOINT_ROWS: u64 = 4_000_000;

impl ServeConfig {
    /// Merges the config file (if any) under `given`, the values of flags or the
    /// environment (already merged by the argument parser).
    pub fn resolve(file: Option<&Path>, given: ServeOptions) -> Result<ServeConfig> {
        let from_file = match file {
            None => ServeOptions::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ApiError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                serde_yaml::from_str(&text)
                    .map_err(|e| ApiError::Config(format!("{}: {e}", path.display())))?
            }
        };
        let defaults = MicroBatchLimits::default();
        let s3_defaults = S3Settings::default();
        let local_retention = match given.log_local_retention.or(from_file.log_local_retention) {
            Some(text) => Some(
                parse_local_retention(&text)
                    .map_err(|reason| ApiError::Config(format!("log_local_retention: {reason}")))?,
            ),
            None => None,
        };
        let archive = match (given.archive.or(from_file.archive), local_retention) {
            (Some(uri), local_retention) => Some(ArchiveConfig {
                uri,
                local_retention,
            }),
            (None, Some(_)) => {
                return Err(ApiError::Config(
                    "log_local_retention: local segments are removed only once archived; set --archive too".into(),
                ))
            }
            (None, None) => None,
        };
        let poll_interval = match given.s3_poll_interval.or(from_file.s3_poll_interval) {
            Some(text) => parse_interval(&text)
                .map_err(|reason| ApiError::Config(format!("s3_poll_interval: {reason}")))?,
            None => s3_defaults.poll_interval,
        };
        Ok(ServeConfig {
            storage: StorageConfig {
                data_dir: given
                    .data_dir
                    .or(from_file.data_dir)
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
                log: from_file.log.unwrap_or_default(),
                state: from_file.state.unwrap_or_default(),
                online: from_file.online.unwrap_or_default(),
                state_memory: given
                    .state_memory
                    .or(from_file.state_memory)
                    .unwrap_or(DEFAULT_STATE_MEMORY),
                log_segment_bytes: given
                    .log_segment_bytes
                    .or(from_file.log_segment_bytes)
                    .unwrap_or(DEFAULT_LOG_SEGMENT_BYTES),
                archive,
            },
            listen: given
                .listen
                .or(from_file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
            apply: given.apply.or(from_file.apply),
            metrics_listen: given
                .metrics_listen
                .or(from_file.metrics_listen)
                .unwrap_or_else(|| DEFAULT_METRICS_LISTEN.to_string()),
            training_memory: given
                .training_memory
                .or(from_file.training_memory)
                .unwrap_or(DEFAULT_TRAINING_MEMORY),
            backfill_checkpoint_rows: given
                .backfill_checkpoint_rows
                .or(from_file.backfill_checkpoint_rows)
                .unwrap_or(DEFAULT_BACKFILL_CHECKPOINT_ROWS)
                .max(1),
            backfill_max_rate: given
                .backfill_max_rate
                .or(from_file.backfill_max_rate)
                .unwrap_or(0),
            micro_batch_rows: given
                .micro_batch_rows
                .or(from_file.micro_batch_rows)
                .unwrap_or(defaults.rows)
                .max(1),
            micro_batch_bytes: given
                .micro_batch_bytes
                .or(from_file.micro_batch_bytes)
                .unwrap_or(defaults.bytes)
                .max(1),
            s3: S3Settings {
                endpoint: given.s3_endpoint.or(from_file.s3_endpoint),
                region: given.s3_region.or(from_file.s3_region),
                poll_interval,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("freshet.yaml");
        std::fs::write(&file, "data_dir: /var/lib/freshet\nlisten: 0.0.0.0:7000\n").unwrap();
        let given = ServeOptions {
            listen: Some("127.0.0.1:9".into()),
            ..Default::default()
        };
        let config = ServeConfig::resolve(Some(&file), given).unwrap();
        assert_eq!(config.storage, StorageConfig::embedded("/var/lib/freshet"));
        assert_eq!(config.listen, "127.0.0.1:9");
        let defaults = ServeConfig::resolve(None, ServeOptions::default()).unwrap();
        assert_eq!(defaults.training_memory, DEFAULT_TRAINING_MEMORY);
        assert_eq!(
            defaults.backfill_checkpoint_rows,
            DEFAULT_BACKFILL_CHECKPOINT_ROWS
        );
        assert_eq!(defaults.storage, StorageConfig::embedded(DEFAULT_DATA_DIR));
        assert_eq!(defaults.listen, DEFAULT_LISTEN);
        assert_eq!(
            (defaults.micro_batch_rows, defaults.micro_batch_bytes),
            (1 << 20, 256 << 20)
        );

        // Micro-batch bounds and the state store's memory, from the file and
        // from flags; a bound of 0 still lets one row through.
        std::fs::write(
            &file,
            "micro_batch_rows: 5000\nmicro_batch_bytes: 1000000\nstate_memory: 33554432\n",
        )
        .unwrap();
        let given = ServeOptions {
            micro_batch_rows: Some(0),
            ..Default::default()
        };
        let config = ServeConfig::resolve(Some(&file), given).unwrap();
        assert_eq!(
            (config.micro_batch_rows, config.micro_batch_bytes),
            (1, 1_000_000)
        );
        assert_eq!(config.storage.state_memory, 32 << 20);

        std::fs::write(&file, "dta_dir: x\n").unwrap();
        let error = ServeConfig::resolve(Some(&file), ServeOptions::default()).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `dta_dir`"),
            "{error}"
        );
    }

    #[test]
    fn the_archive_and_its_local_retention_as_an_age_or_a_size() {
        let given = |archive: Option<&str>, retention: &str| ServeOptions {
            archive: archive.map(String::from),
            log_local_retention: Some(retention.into()),
            log_segment_bytes: Some(4096),
            ..Default::default()
        };
        let resolve = |options| ServeConfig::resolve(None, options).map(|c| c.storage);
        let storage = resolve(given(Some("s3://logs/freshet"), "7d")).unwrap();
        assert_eq!(storage.log_segment_bytes, 4096);
        assert_eq!(
            storage.archive,
            Some(ArchiveConfig {
                uri: "s3://logs/freshet".into(),
                local_retention: Some(LocalRetention::Age(std::time::Duration::from_secs(
                    7 * 86_400
                ))),
            })
        );
        let sized = |text| {
            resolve(given(Some("file:///a"), text))
                .unwrap()
                .archive
                .unwrap()
                .local_retention
        };
        assert_eq!(sized("10GiB"), Some(LocalRetention::Bytes(10 << 30)));
        assert_eq!(sized("4096"), Some(LocalRetention::Bytes(4096)));
        assert_eq!(
            sized("0s"),
            Some(LocalRetention::Age(std::time::Duration::ZERO))
        );
        let error = resolve(given(Some("file:///a"), "7 weeks")).unwrap_err();
        assert!(
            error.to_string().contains("'7 weeks' is neither an age"),
            "{error}"
        );
        let error = resolve(given(None, "7d")).unwrap_err();
        assert!(error.to_string().contains("set --archive too"), "{error}");
    }

    #[test]
    fn the_file_names_the_backends_and_an_unknown_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("freshet.yaml");
        std::fs::write(
            &file,
            "data_dir: /d\nlog: embedded\nonline: operator_state\n",
        )
        .unwrap();
        let config = ServeConfig::resolve(Some(&file), ServeOptions::default()).unwrap();
        assert_eq!(config.storage, StorageConfig::embedded("/d"));
        std::fs::write(&file, "data_dir: /d\nonline: embedded\n").unwrap();
        let config = ServeConfig::resolve(Some(&file), ServeOptions::default()).unwrap();
        assert_eq!(config.storage.online, OnlineBackend::Embedded);
        std::fs::write(&file, "log: kafka\n").unwrap();
        let error = ServeConfig::resolve(Some(&file), ServeOptions::default()).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("freshet.yaml") && text.contains("unknown variant `kafka`"),
            "{text}"
        );
    }
}
