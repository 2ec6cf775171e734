//! [`LogChunks`]: a stream source's retained log read for a replay, partition
//! after partition, each up to the rows it held when the replay started, in
//! chunks of about a given number of rows.

use arrow::record_batch::RecordBatch;
use freshet_sql::resolved::StreamSource;
use freshet_storage::log::{EventLog, Position};
use tracing::info;

use crate::Result;

/// Reads a source's partitions one after the other, each up to the rows it
/// held when the replay started, in chunks of about `chunk_rows` rows.
pub struct LogChunks {
    topic: String,
    source: String,
    partitions: u32,
    partition: u32,
    total: u64,
    done: u64,
    from: Position,
    chunk_rows: usize,
}

impl LogChunks {
    /// Starts at the beginning of `source`'s first partition.
    pub async fn start(
        log: &dyn EventLog,
        source: &StreamSource,
        chunk_rows: usize,
    ) -> Result<Self> {
        let topic = source.topic.clone();
        let partitions = log.partitions(&topic).await?;
        let total = match partitions {
            0 => 0,
            _ => log.row_count(&topic, 0).await?,
        };
        Ok(LogChunks {
            topic,
            source: source.name.clone(),
            partitions,
            partition: 0,
            total,
            done: 0,
            from: Position::START,
            chunk_rows,
        })
    }

    /// The next chunk's frames, or `None` once every partition is read.
    pub async fn next(&mut self, log: &dyn EventLog) -> Result<Option<Vec<RecordBatch>>> {
        while self.partition < self.partitions {
            if self.done < self.total {
                let read = log
                    .read(&self.topic, self.partition, self.from, self.chunk_rows)
                    .await?;
                if let Some(last) = read.last() {
                    self.from = last.next;
                    let mut parts = Vec::with_capacity(read.len());
                    for item in read {
                        let left = (self.total - self.done) as usize;
                        if left == 0 {
                            break;
                        }
                        let batch = if item.batch.num_rows() > left {
                            item.batch.slice(0, left)
                        } else {
                            item.batch
                        };
                        self.done += batch.num_rows() as u64;
                        parts.push(batch);
                    }
                    return Ok(Some(parts));
                }
            }
            info!(source = %self.source, partition = self.partition, rows = self.done, "replayed for a training set");
            self.partition += 1;
            self.done = 0;
            self.from = Position::START;
            if self.partition < self.partitions {
                self.total = log.row_count(&self.topic, self.partition).await?;
            }
        }
        Ok(None)
    }
}
