//! [`open`]: from a [`StorageConfig`] to the backends it names.

use std::sync::{Arc, Weak};
use std::time::Duration;

use freshet_storage::config::{LogBackend, OnlineBackend, StateBackend};
use freshet_storage::log::EventLog;
use freshet_storage::online::OnlineStore;
use freshet_storage::state::StateStore;
use freshet_storage::{Result, StorageConfig, StorageError};
use tracing::{info, warn};

use crate::embedded::{Archive, RocksOnlineStore, RocksStateStore, SegmentLog, SegmentLogOptions};

/// How often the archiver looks for sealed segments (and for local ones past
/// an age retention) while all goes well.
const ARCHIVE_EVERY: Duration = Duration::from_secs(1);
/// The longest wait between archiving passes after failures (the wait doubles
/// from [`ARCHIVE_EVERY`] with each failed pass).
const ARCHIVE_BACKOFF_MAX: Duration = Duration::from_secs(60);

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
        LogBackend::Embedded => {
            let archive = match &config.archive {
                Some(archive) => Some(Archive::new(
                    freshet_objects::store_at(&archive.uri)
                        .map_err(|e| StorageError::InvalidArgument(format!("--archive {e}")))?,
                    archive.local_retention,
                )),
                None => None,
            };
            let archiving = archive.is_some();
            let log = Arc::new(SegmentLog::open_with(
                config.log_dir(),
                SegmentLogOptions {
                    segment_bytes: config.log_segment_bytes,
                    archive,
                },
            )?);
            if archiving {
                tokio::spawn(run_archiver(Arc::downgrade(&log)));
            }
            log
        }
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

/// Archives sealed segments in the background until the log is closed,
/// backing off after failed passes (whose segments stay local).
async fn run_archiver(log: Weak<SegmentLog>) {
    let mut wait = ARCHIVE_EVERY;
    loop {
        tokio::time::sleep(wait).await;
        let Some(log) = log.upgrade() else {
            return;
        };
        wait = match log.archive_pass().await {
            Ok(pass) => {
                if pass.uploaded + pass.removed > 0 {
                    info!(
                        uploaded = pass.uploaded,
                        removed = pass.removed,
                        "archive pass"
                    );
                }
                ARCHIVE_EVERY
            }
            Err(error) => {
                let next = (wait * 2).min(ARCHIVE_BACKOFF_MAX);
                warn!(%error, retry_in_ms = next.as_millis() as u64, "archiving failed; the segments stay local");
                next
            }
        };
    }
}
