//! [`ServeConfig`]: where the server keeps its data and listens, from a config file,
//! the environment and flags (flags win over the environment, which wins over the
//! file).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{ApiError, Result};

/// The server's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// Folder of the embedded storage.
    pub data_dir: PathBuf,
    /// Address to listen on (`127.0.0.1:50051`; port 0 picks a free one).
    pub listen: String,
    /// A definitions file applied at start.
    pub apply: Option<PathBuf>,
    /// Address of the Prometheus endpoint (`/metrics`); port 0 picks a free one.
    pub metrics_listen: String,
    /// Bytes of feature events a training-set build holds in memory before it
    /// spills to disk.
    pub training_memory: usize,
}

/// The config file (YAML), every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    apply: Option<PathBuf>,
    metrics_listen: Option<String>,
    training_memory: Option<usize>,
}

/// The default data folder.
pub const DEFAULT_DATA_DIR: &str = "./freshet-data";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// The default Prometheus endpoint address.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";
/// The default memory budget of a training-set build: 1 GiB.
pub const DEFAULT_TRAINING_MEMORY: usize = 1 << 30;

impl ServeConfig {
    /// Merges the config file (if any) under the values given by flags or the
    /// environment (already merged by the argument parser).
    pub fn resolve(
        file: Option<&Path>,
        data_dir: Option<PathBuf>,
        listen: Option<String>,
        apply: Option<PathBuf>,
        metrics_listen: Option<String>,
        training_memory: Option<usize>,
    ) -> Result<ServeConfig> {
        let from_file = match file {
            None => ConfigFile::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ApiError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                serde_yaml::from_str(&text)
                    .map_err(|e| ApiError::Config(format!("{}: {e}", path.display())))?
            }
        };
        Ok(ServeConfig {
            data_dir: data_dir
                .or(from_file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            listen: listen
                .or(from_file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
            apply: apply.or(from_file.apply),
            metrics_listen: metrics_listen
                .or(from_file.metrics_listen)
                .unwrap_or_else(|| DEFAULT_METRICS_LISTEN.to_string()),
            training_memory: training_memory
                .or(from_file.training_memory)
                .unwrap_or(DEFAULT_TRAINING_MEMORY),
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
        let config = ServeConfig::resolve(
            Some(&file),
            None,
            Some("127.0.0.1:9".into()),
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/freshet"));
        assert_eq!(config.listen, "127.0.0.1:9");
        let defaults = ServeConfig::resolve(None, None, None, None, None, None).unwrap();
        assert_eq!(defaults.training_memory, DEFAULT_TRAINING_MEMORY);
        assert_eq!(defaults.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(defaults.listen, DEFAULT_LISTEN);
        std::fs::write(&file, "dta_dir: x\n").unwrap();
        let error = ServeConfig::resolve(Some(&file), None, None, None, None, None).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `dta_dir`"),
            "{error}"
        );
    }
}
