//! [`Engine`]: one processing task per stream source, restarted whenever the
//! definitions change; the lanes those tasks run (live and backfilling); and the
//! committed progress that read-after-write waits on.

mod board;
mod checkpoint;
mod lane;
mod manage;
mod source_task;
mod versions;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use freshet_registry::Registry;
use freshet_sql::resolved::Resolved;
use freshet_storage::log::{EventLog, Position};
use freshet_storage::online::OnlineStore;
use freshet_storage::state::StateStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info};

pub use board::{LaneBoard, LaneInfo};
pub use checkpoint::Checkpoint;
pub use source_task::{
    BackfillConfig, MicroBatchLimits, RuntimeConfig, SourceTask, TaskContext, BACKFILL_STEP_ROWS,
};
pub use versions::version_statuses;

use crate::catalog::{feature_table, LaneResolutions, LatestSet, VersionStatus};
use crate::ingest::rejected_topic;
use crate::metrics::Metrics;
use crate::{EngineError, Result};

/// How long a failed source task waits before it is rebuilt and retried.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The stream processing of every active source.
pub struct Engine {
    context: Arc<TaskContext>,
    /// The definitions the tasks run, resolved when they were last started, with
    /// their lanes' resolutions.
    resolved: RwLock<(Arc<Resolved>, Arc<LaneResolutions>)>,
    tasks: tokio::sync::Mutex<Vec<JoinHandle<()>>>,
    progress: RwLock<HashMap<String, watch::Receiver<Vec<Position>>>>,
}

impl Engine {
    /// An engine over the given storage and registry; nothing runs until
    /// [`Engine::start`]. With `online_copy` each commit also writes its feature
    /// entries to `online`; without, `online` reads operator state.
    pub fn new(
        log: Arc<dyn EventLog>,
        state: Arc<dyn StateStore>,
        online: Arc<dyn OnlineStore>,
        online_copy: bool,
        metrics: Arc<Metrics>,
        registry: Arc<Registry>,
        config: RuntimeConfig,
    ) -> Engine {
        Engine {
            context: Arc::new(TaskContext {
                log,
                state,
                online,
                online_copy,
                metrics,
                registry,
                config,
                board: Arc::new(LaneBoard::default()),
            }),
            resolved: RwLock::new(Default::default()),
            tasks: tokio::sync::Mutex::new(Vec::new()),
            progress: RwLock::new(HashMap::new()),
        }
    }

    /// Stops whatever runs, resolves the registry's newest definitions (once; the
    /// serving side reads the same resolution), creates the log topics of their
    /// stream sources, and starts one task per stream source. Each task first reconciles its lanes with the registry
    /// (a backfill for new versions, retired ones removed), then resumes every lane
    /// from its committed checkpoint. A source whose live lane cannot be opened is
    /// retried in the background and reported as the error.
    pub async fn start(&self) -> Result<()> {
        let mut tasks = self.tasks.lock().await;
        for task in tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
        let active = Arc::new(LatestSet::load(&self.context.registry).await?);
        for source in active.streams.values() {
            let log = &self.context.log;
            log.ensure_topic(&source.topic, source.partitions).await?;
            log.ensure_topic(&rejected_topic(&source.topic), 1).await?;
        }
        *self.resolved.write().unwrap_or_else(|p| p.into_inner()) =
            (active.resolved.clone(), active.lanes.clone());
        let mut progress = HashMap::new();
        let mut failure = None;
        for source in active.streams.values() {
            let (sender, receiver) = watch::channel(Vec::new());
            progress.insert(source.name.clone(), receiver);
            let first = match SourceTask::open(
                active.clone(),
                source,
                self.context.clone(),
                sender.clone(),
            )
            .await
            {
                Ok(task) => Some(task),
                Err(e) => {
                    error!(source = %source.name, error = %e, "cannot open the source task");
                    failure.get_or_insert(e);
                    None
                }
            };
            let (source, active, context) = (source.clone(), active.clone(), self.context.clone());
            info!(source = %source.name, "source task started");
            tasks.push(tokio::spawn(async move {
                let mut next = first;
                loop {
                    let current = match next.take() {
                        Some(task) => task,
                        None => match SourceTask::open(active.clone(), &source, context.clone(), sender.clone()).await {
                            Ok(task) => task,
                            Err(e) => {
                                error!(source = %source.name, error = %e, "cannot open the source task");
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
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The definitions the engine runs (as resolved at the last start) with the
    /// status of every feature version now: what serving resolves names against.
    pub fn latest_set(&self) -> Result<LatestSet> {
        let (resolved, lanes) = self
            .resolved
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Ok(LatestSet {
            resolved,
            lanes,
            statuses: self
                .version_statuses()?
                .into_iter()
                .map(|s| (feature_table(&s.name, s.version), s))
                .collect(),
        })
    }

    /// The status of every stored feature version.
    pub fn version_statuses(&self) -> Result<Vec<VersionStatus>> {
        version_statuses(
            &self.context.registry,
            self.context.state.as_ref(),
            &self.context.board.snapshot(),
        )
    }

    /// The lanes of every source and the counter their changes move.
    pub fn board(&self) -> &Arc<LaneBoard> {
        &self.context.board
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
                EngineError::Stopped(format!("source '{source}' is not being processed"))
            })?;
        receiver
            .wait_for(|positions| {
                positions
                    .get(partition as usize)
                    .is_some_and(|p| *p >= position)
            })
            .await
            .map_err(|_| {
                EngineError::Stopped(format!(
                    "processing of '{source}' restarted while waiting; retry"
                ))
            })?;
        Ok(())
    }

    /// Waits until the state of `source` reflects every row its log holds now.
    pub async fn wait_caught_up(&self, source: &str, topic: &str) -> Result<()> {
        let log = &self.context.log;
        let partitions = log.partitions(topic).await?;
        for partition in 0..partitions {
            let head = log.head(topic, partition).await?;
            self.wait_for(source, partition, head).await?;
        }
        Ok(())
    }

    /// The metrics the engine updates.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.context.metrics
    }
}
