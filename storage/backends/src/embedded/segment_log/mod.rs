//! [`SegmentLog`]: the embedded event log.
//!
//! Layout on disk: `DIR/TOPIC/topic.json` records the partition count and
//! `DIR/TOPIC/PARTITION/BASE.seg` holds frames (see [`frame`]) whose rows start at
//! row offset `BASE`. Each append is one frame holding the batch as an Arrow IPC
//! stream, so events are decoded and validated once, at ingest, and replay reads
//! columns straight back. Appends fsync with group commit; reopening truncates a
//! torn tail and never loses an acknowledged frame. Without an archive nothing is
//! ever deleted; with one ([`archive`]), sealed segments are uploaded and local
//! files past the retention removed, and reads of their rows go to the archive.

mod archive;
mod frame;
mod partition;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use partition::{sync_dir, Partition};

pub use archive::Archive;

use freshet_storage::log::{AppendAck, EventLog, LogBatch, PartitionRanges, Position};
use freshet_storage::{Result, StorageError};

/// Tuning of the segment log.
#[derive(Clone)]
pub struct SegmentLogOptions {
    /// A segment file is closed and a new one started once it reaches this size.
    pub segment_bytes: u64,
    /// Where sealed segments are archived; `None`: nowhere, all stay local.
    pub archive: Option<Arc<Archive>>,
}

impl Default for SegmentLogOptions {
    fn default() -> Self {
        SegmentLogOptions {
            segment_bytes: freshet_storage::config::DEFAULT_LOG_SEGMENT_BYTES,
            archive: None,
        }
    }
}

/// What one archiving pass over every partition did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ArchivePass {
    /// Segments uploaded and verified.
    pub uploaded: usize,
    /// Local segment files removed.
    pub removed: usize,
}

/// The `topic.json` of a topic.
#[derive(Serialize, Deserialize)]
struct TopicMeta {
    partitions: u32,
}

/// The embedded [`EventLog`]: a directory of append-only segment files.
pub struct SegmentLog {
    dir: PathBuf,
    options: SegmentLogOptions,
    topics: RwLock<HashMap<String, Arc<Vec<Arc<Partition>>>>>,
}

fn check_topic_name(topic: &str) -> Result<()> {
    let valid = !topic.is_empty()
        && topic.len() <= 200
        && !topic.starts_with('.')
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid {
        Ok(())
    } else {
        Err(StorageError::InvalidArgument(format!(
            "topic name '{topic}' must be 1-200 characters of letters, digits, '_', '-' or '.', not starting with '.'"
        )))
    }
}

impl SegmentLog {
    /// Opens the log in `dir` with default options, recovering every topic found there.
    pub fn open(dir: impl AsRef<Path>) -> Result<SegmentLog> {
        Self::open_with(dir, SegmentLogOptions::default())
    }

    /// Opens the log in `dir`, recovering every topic found there.
    pub fn open_with(dir: impl AsRef<Path>, options: SegmentLogOptions) -> Result<SegmentLog> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| StorageError::io(&dir, e))?;
        let log = SegmentLog {
            dir,
            options,
            topics: RwLock::new(HashMap::new()),
        };
        for entry in std::fs::read_dir(&log.dir).map_err(|e| StorageError::io(&log.dir, e))? {
            let entry = entry.map_err(|e| StorageError::io(&log.dir, e))?;
            let meta_path = entry.path().join("topic.json");
            if !meta_path.exists() {
                continue;
            }
            let text = std::fs::read(&meta_path).map_err(|e| StorageError::io(&meta_path, e))?;
            let meta: TopicMeta =
                serde_json::from_slice(&text).map_err(|e| StorageError::Corrupt {
                    path: meta_path.clone(),
                    byte_offset: 0,
                    reason: e.to_string(),
                })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let partitions = log.open_partitions(&name, meta.partitions)?;
            log.topics
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name, partitions);
        }
        Ok(log)
    }

    fn open_partitions(&self, topic: &str, count: u32) -> Result<Arc<Vec<Arc<Partition>>>> {
        let partitions = (0..count)
            .map(|p| {
                let partition = Partition::open(
                    &self.dir.join(topic).join(p.to_string()),
                    self.options.segment_bytes,
                )?;
                self.check_archive(topic, p, &partition)?;
                Ok(Arc::new(partition))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(partitions))
    }

    /// Refuses a partition whose archived rows this log cannot reach: archived
    /// elsewhere than the configured archive, or with no archive configured
    /// while rows are only archived.
    fn check_archive(&self, topic: &str, number: u32, partition: &Partition) -> Result<()> {
        let manifest = partition.archived();
        if manifest.segments.is_empty() {
            return Ok(());
        }
        let configured = self.options.archive.as_ref().map(|archive| archive.uri());
        let reachable = match configured {
            Some(uri) => uri == manifest.archive,
            None => partition.local_start() == 0,
        };
        if reachable {
            return Ok(());
        }
        Err(StorageError::InvalidArgument(format!(
            "{topic}/{number}: rows 0..{} were archived to {}, but the log archive is {}; start with --archive {}",
            manifest.end(),
            manifest.archive,
            configured.unwrap_or("not set"),
            manifest.archive
        )))
    }

    /// Uploads every partition's sealed, unarchived segments and removes local
    /// ones past the retention. Each partition goes on past another's
    /// failure; the first error is returned after all were tried (the failed
    /// segments stay local for the next pass). Nothing to do without an archive.
    pub async fn archive_pass(&self) -> Result<ArchivePass> {
        let Some(archive) = self.options.archive.clone() else {
            return Ok(ArchivePass::default());
        };
        let topics: Vec<(String, Arc<Vec<Arc<Partition>>>)> = self
            .topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(name, partitions)| (name.clone(), partitions.clone()))
            .collect();
        let mut pass = ArchivePass::default();
        let mut first_error = None;
        for (topic, partitions) in topics {
            for (number, partition) in partitions.iter().enumerate() {
                match archive
                    .archive_partition(&topic, number as u32, partition)
                    .await
                {
                    Ok(report) => {
                        pass.uploaded += report.uploaded;
                        pass.removed += report.removed;
                    }
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(pass),
        }
    }

    fn partition(&self, topic: &str, partition: u32) -> Result<Arc<Partition>> {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        let partitions = topics
            .get(topic)
            .ok_or_else(|| StorageError::UnknownTopic(topic.to_string()))?;
        partitions
            .get(partition as usize)
            .cloned()
            .ok_or_else(|| StorageError::UnknownPartition {
                topic: topic.to_string(),
                partition,
                partitions: partitions.len() as u32,
            })
    }

    fn create_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = topics.get(topic) {
            return check_partition_count(topic, existing.len() as u32, partitions);
        }
        let topic_dir = self.dir.join(topic);
        std::fs::create_dir_all(&topic_dir).map_err(|e| StorageError::io(&topic_dir, e))?;
        let opened = self.open_partitions(topic, partitions)?;
        let meta_path = topic_dir.join("topic.json");
        let tmp_path = topic_dir.join("topic.json.tmp");
        let meta = serde_json::to_vec(&TopicMeta { partitions }).expect("topic meta serialises");
        std::fs::write(&tmp_path, meta).map_err(|e| StorageError::io(&tmp_path, e))?;
        std::fs::File::open(&tmp_path)
            .and_then(|f| f.sync_all())
            .map_err(|e| StorageError::io(&tmp_path, e))?;
        std::fs::rename(&tmp_path, &meta_path).map_err(|e| StorageError::io(&meta_path, e))?;
        sync_dir(&topic_dir)?;
        sync_dir(&self.dir)?;
        topics.insert(topic.to_string(), opened);
        Ok(())
    }
}

fn check_partition_count(topic: &str, existing: u32, asked: u32) -> Result<()> {
    if existing == asked {
        Ok(())
    } else {
        Err(StorageError::InvalidArgument(format!(
            "topic '{topic}' exists with {existing} partition(s), not {asked}"
        )))
    }
}

/// Runs blocking file work off the async executor.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StorageError::Internal(format!("log task failed: {e}")))?
}

fn row_position(offset: u64) -> Position {
    Position::from_parts(0, offset)
}

#[async_trait]
impl EventLog for SegmentLog {
    async fn ensure_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        check_topic_name(topic)?;
        if partitions == 0 {
            return Err(StorageError::InvalidArgument(format!(
                "topic '{topic}' needs at least one partition"
            )));
        }
        self.create_topic(topic, partitions)
    }

    async fn partitions(&self, topic: &str) -> Result<u32> {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        topics
            .get(topic)
            .map(|p| p.len() as u32)
            .ok_or_else(|| StorageError::UnknownTopic(topic.to_string()))
    }

    async fn append(&self, topic: &str, partition: u32, batch: RecordBatch) -> Result<AppendAck> {
        let target = self.partition(topic, partition)?;
        let (first, next) = blocking(move || target.append(&batch)).await?;
        Ok(AppendAck {
            first: row_position(first),
            next: row_position(next),
        })
    }

    async fn read(
        &self,
        topic: &str,
        partition: u32,
        from: Position,
        max_rows: usize,
    ) -> Result<Vec<LogBatch>> {
        let source = self.partition(topic, partition)?;
        let (major, offset) = from.parts();
        let head = source.head();
        if major != 0 || offset > head {
            return Err(StorageError::PositionOutOfRange {
                topic: topic.to_string(),
                partition,
                position: from.to_string(),
                head: row_position(head).to_string(),
            });
        }
        let mut batches = Vec::new();
        let mut rows = 0;
        let mut at = offset;
        while at < head && rows < max_rows.max(1) {
            let wanted = max_rows.max(1) - rows;
            let local = source.clone();
            let read = match blocking(move || local.read(at, wanted)).await? {
                Some(read) => read,
                None => match &self.options.archive {
                    Some(archive) => archive.read(topic, partition, &source, at, wanted).await?,
                    None => {
                        return Err(StorageError::Internal(format!(
                            "row {at} of {topic}/{partition} is not on local disk and no archive is set"
                        )))
                    }
                },
            };
            let Some((last_first, last_batch)) = read.last() else {
                break;
            };
            at = last_first + last_batch.num_rows() as u64;
            rows += read
                .iter()
                .map(|(_, batch)| batch.num_rows())
                .sum::<usize>();
            batches.extend(read);
        }
        Ok(batches
            .into_iter()
            .map(|(first, batch)| LogBatch {
                position: row_position(first),
                next: row_position(first + batch.num_rows() as u64),
                batch,
            })
            .collect())
    }

    async fn ranges(&self, topic: &str, partition: u32) -> Result<PartitionRanges> {
        let source = self.partition(topic, partition)?;
        let archived = source.archived();
        Ok(PartitionRanges {
            local_from: row_position(source.local_start()),
            archived: (!archived.segments.is_empty())
                .then(|| (row_position(0), row_position(archived.end()))),
        })
    }

    async fn row_count(&self, topic: &str, partition: u32) -> Result<u64> {
        Ok(self.partition(topic, partition)?.head())
    }

    async fn head(&self, topic: &str, partition: u32) -> Result<Position> {
        Ok(row_position(self.partition(topic, partition)?.head()))
    }

    async fn wait_beyond(&self, topic: &str, partition: u32, after: Position) -> Result<Position> {
        let (major, after_offset) = after.parts();
        if major != 0 {
            return Err(StorageError::InvalidArgument(format!(
                "position {after} does not belong to the segment log"
            )));
        }
        let mut head = self.partition(topic, partition)?.watch_head();
        let head = head
            .wait_for(|head| *head > after_offset)
            .await
            .map_err(|_| StorageError::Internal("log partition closed".into()))?;
        Ok(row_position(*head))
    }
}
