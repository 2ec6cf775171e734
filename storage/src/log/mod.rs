//! The event log: topics split into partitions, each an ordered, durable sequence of
//! Arrow record batches that is retained forever and can be replayed from any position.
//!
//! [`EventLog`] is the trait every backend implements (the embedded segment log now,
//! Pulsar later; both in the `freshet-backends` crate); [`Position`] is the opaque,
//! ordered place of a record in a partition.

mod position;

pub use position::Position;

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;

use crate::Result;

/// What an append returns once the batch is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendAck {
    /// The position of the batch's first row.
    pub first: Position,
    /// The position just after the batch's last row: the partition's head once this
    /// append is acknowledged, unless others followed it.
    pub next: Position,
}

/// One batch read back from a partition.
#[derive(Debug, Clone)]
pub struct LogBatch {
    /// The position of the batch's first row.
    pub position: Position,
    /// The position just after its last row; resume reading here.
    pub next: Position,
    /// The rows, exactly as they were appended (possibly a suffix of an appended batch
    /// when the read started inside it).
    pub batch: RecordBatch,
}

/// Where a partition's rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionRanges {
    /// The first row on the backend's own storage; rows from here to the head.
    pub local_from: Position,
    /// The rows in an archive, `[from, to)`, when there is one (they may
    /// overlap the local ones).
    pub archived: Option<(Position, Position)>,
}

/// An append-only, partitioned, durable log of Arrow record batches.
///
/// Contract for every backend:
/// - `append` returns only once the batch is durable; positions of later appends to
///   the same partition compare greater than those of earlier ones.
/// - `read(from)` returns the rows at and after `from` in append order, never a row
///   that is not yet acknowledged.
/// - Positions survive close and reopen: a position handed out once stays valid.
/// - Rows come back as they went in: same schema, same values. The log does not
///   interpret them; the engine decodes and validates events once, at ingest.
/// - An empty batch, an unknown topic or partition, a topic name the backend
///   cannot hold and a position it did not hand out are errors, never panics.
///
/// ```
/// # use freshet_storage::log::{EventLog, Position};
/// # use freshet_backends::embedded::SegmentLog;
/// # use arrow::array::Int64Array;
/// # use arrow::record_batch::RecordBatch;
/// # use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let log = SegmentLog::open(dir.path()).unwrap();
/// log.ensure_topic("clicks", 1).await.unwrap();
/// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1, 2])) as _)]).unwrap();
/// let ack = log.append("clicks", 0, batch).await.unwrap();
/// let read = log.read("clicks", 0, Position::START, 100).await.unwrap();
/// assert_eq!(read[0].batch.num_rows(), 2);
/// assert_eq!(read[0].next, ack.next);
/// # });
/// ```
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Creates `topic` with `partitions` partitions, or checks that it already has
    /// that many.
    async fn ensure_topic(&self, topic: &str, partitions: u32) -> Result<()>;

    /// The number of partitions of an existing topic.
    async fn partitions(&self, topic: &str) -> Result<u32>;

    /// Appends one batch to a partition and returns once it is durable.
    async fn append(&self, topic: &str, partition: u32, batch: RecordBatch) -> Result<AppendAck>;

    /// Reads batches starting at `from`, stopping after the batch that brings the
    /// total past `max_rows` rows or at the head. An empty result means `from` is the head.
    async fn read(
        &self,
        topic: &str,
        partition: u32,
        from: Position,
        max_rows: usize,
    ) -> Result<Vec<LogBatch>>;

    /// How many rows have been acknowledged in the partition since it was created.
    async fn row_count(&self, topic: &str, partition: u32) -> Result<u64>;

    /// The position after the last acknowledged row of the partition.
    async fn head(&self, topic: &str, partition: u32) -> Result<Position>;

    /// Waits until the partition's head is beyond `after`, and returns the new head:
    /// the way to tail a partition for new records.
    async fn wait_beyond(&self, topic: &str, partition: u32, after: Position) -> Result<Position>;

    /// Where the partition's rows are kept: by default all on the backend's
    /// own storage, none archived. Reads reach every row either way.
    async fn ranges(&self, _topic: &str, _partition: u32) -> Result<PartitionRanges> {
        Ok(PartitionRanges {
            local_from: Position::START,
            archived: None,
        })
    }
}
