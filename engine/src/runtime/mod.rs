//! [`Engine`]: one processing task per stream source, rebuilt whenever the active
//! definitions change, and the committed progress that read-after-write waits on.

mod active;
mod checkpoint;
mod source_task;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use freshet_storage::log::{EventLog, Position};
use freshet_storage::online::OnlineStore;
use freshet_storage::state::StateStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info};

pub use active::{feature_table, needs_stats, ActiveSet};
pub use checkpoint::Checkpoint;
pub use source_task::{SourceTask, MAX_BATCH_ROWS};

use crate::metrics::Metrics;
use crate::{EngineError, Result};

/// How long a failed source task waits before it is rebuilt and retried.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The stream processing of every active source.
pub struct Engine {
    log: Arc<dyn EventLog>,
    state: Arc<dyn StateStore>,
    online: Arc<dyn OnlineStore>,
    metrics: Arc<Metrics>,
    tasks: tokio::sync::Mutex<Vec<JoinHandle<()>>>,
    progress: RwLock<HashMap<String, watch::Receiver<Vec<Position>>>>,
}

impl Engine {
    /// An engine over the given storage; nothing runs until [`Engine::start`].
    pub fn new(
        log: Arc<dyn EventLog>,
        state: Arc<dyn StateStore>,
        online: Arc<dyn OnlineStore>,
        metrics: Arc<Metrics>,
    ) -> Engine {
        Engine {
            log,
            state,
            online,
            metrics,
            tasks: tokio::sync::Mutex::new(Vec::new()),
            progress: RwLock::new(HashMap::new()),
        }
    }

    /// Stops whatever runs and starts one task per stream source of `active`,
    /// each resuming from its committed checkpoint.
    pub async fn start(&self, active: &ActiveSet) -> Result<()> {
        // Build every task before stopping the running ones, so that definitions
        // the engine cannot run fail the caller and leave processing as it was.
        let mut built = Vec::new();
        let mut progress = HashMap::new();
        for source in active.streams() {
            let (sender, receiver) = watch::channel(Vec::new());
            let task = SourceTask::build(
                active,
                source,
                self.log.clone(),
                self.state.clone(),
                self.online.clone(),
                self.metrics.clone(),
                sender.clone(),
            )
            .await?;
            progress.insert(source.name.clone(), receiver);
            built.push((source.clone(), task, sender));
        }
        let mut tasks = self.tasks.lock().await;
        for task in tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
        for (source, task, sender) in built {
            let active = active.clone();
            let (log, state, online, metrics) = (
                self.log.clone(),
                self.state.clone(),
                self.online.clone(),
                self.metrics.clone(),
            );
            info!(source = %source.name, "source task started");
            tasks.push(tokio::spawn(async move {
                let mut next = Some(task);
                loop {
                    let current = match next.take() {
                        Some(task) => task,
                        None => match SourceTask::build(&active, &source, log.clone(), state.clone(), online.clone(), metrics.clone(), sender.clone()).await {
                            Ok(task) => task,
                            Err(e) => {
                                error!(source = %source.name, error = %e, "cannot rebuild the source task");
                                tokio::time::sleep(RETRY_AFTER).await;
                                continue;
                            }
                        },
                    };
                    if let Err(e) = current.run().await {
                        error!(source = %source.name, error = %e, "source task failed; retrying from the last commit");
                        tokio::time::sleep(RETRY_AFTER).await;
                    }
                }
            }));
        }
        *self.progress.write().unwrap_or_else(|p| p.into_inner()) = progress;
        Ok(())
    }

    /// Waits until the state of `source` reflects every row of `partition` before
    /// `position` (read-after-write for an ingest acknowledged up to `position`).
    pub async fn wait_for(&self, source: &str, partition: u32, position: Position) -> Result<()> {
        let mut receiver = self
            .progress
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(source)
            .cloned()
            .ok_or_else(|| {
                EngineError::Unsupported(format!("source '{source}' is not being processed"))
            })?;
        receiver
            .wait_for(|positions| {
                positions
                    .get(partition as usize)
                    .is_some_and(|p| *p >= position)
            })
            .await
            .map_err(|_| {
                EngineError::Unsupported(format!(
                    "processing of '{source}' restarted while waiting; retry"
                ))
            })?;
        Ok(())
    }

    /// Waits until the state of `source` reflects every row its log holds now.
    pub async fn wait_caught_up(&self, source: &str, topic: &str) -> Result<()> {
        let partitions = self.log.partitions(topic).await?;
        for partition in 0..partitions {
            let head = self.log.head(topic, partition).await?;
            self.wait_for(source, partition, head).await?;
        }
        Ok(())
    }

    /// The metrics the engine updates.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}
