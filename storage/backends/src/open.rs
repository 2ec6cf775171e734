//! [`open`]: from a [`StorageConfig`] to the backends it names.

use std::sync::Arc;

use freshet_storage::config::{LogBackend, OnlineBackend, StateBackend};
use freshet_storage::log::EventLog;
use freshet_storage::online::OnlineStore;
use freshet_storage::state::StateStore;
use freshet_storage::{Result, StorageConfig, StorageError};
use tracing::info;

use crate::embedded::{RocksOnlineStore, RocksStateStore, SegmentLog};

/// The opened backends of one server: what the engine runs on. Each is shared
/// (`Arc`) and closed when its last handle is dropped.
#[derive(Clone)]
pub struct Storage {
    /// The event log.
    pub log: Arc<dyn EventLog>,
    /// Operator state, source positions and the registry.
    pub state: Arc<dyn StateStore>,
    /// The online store; `None` when serving reads operator state
    /// ([`OnlineBackend::OperatorState`]).
    pub online: Option<Arc<dyn OnlineStore>>,
}

/// Opens (creating where needed) the backends `config` names. The only function
/// above which no code names a backend type.
pub async fn open(config: &StorageConfig) -> Result<Storage> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|error| StorageError::io(&config.data_dir, error))?;
    let log: Arc<dyn EventLog> = match config.log {
        LogBackend::Embedded => Arc::new(SegmentLog::open(config.log_dir())?),
    };
    let state: Arc<dyn StateStore> = match config.state {
        StateBackend::Embedded => Arc::new(RocksStateStore::open_with_memory(
            config.state_dir(),
            config.state_memory,
        )?),
    };
    let online: Option<Arc<dyn OnlineStore>> = match config.online {
        OnlineBackend::OperatorState => None,
        OnlineBackend::Embedded => Some(Arc::new(RocksOnlineStore::open(config.online_dir())?)),
    };
    info!(
        data_dir = %config.data_dir.display(),
        log = ?config.log,
        state = ?config.state,
        online = ?config.online,
        "storage opened"
    );
    Ok(Storage { log, state, online })
}
