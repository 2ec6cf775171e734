//! Ingest: events arrive for a stream source, are decoded and validated against the
//! source's schema ([`decode`]), and the valid rows are appended to the source's
//! log topic. Refused rows either refuse the whole request (the default) or, on
//! request, go to the source's rejected-events topic; either way they are counted.

mod cell;
mod decode;
mod late;
mod rejected;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use freshet_sql::resolved::StreamSource;
use freshet_storage::log::{AppendAck, EventLog, PartitionRanges, Position};
use freshet_storage::state::{column_family::COUNTERS, StateStore, WriteBatch};
use tracing::{debug, info};

pub use cell::parse_timestamp;
pub use decode::{PayloadFormat, RowError};

use decode::decode;

use crate::metrics::Metrics;
use crate::state_keys::{late_counter_key, rejected_counter_key, watermark_key};
use crate::Result;

/// How an ingest request treats rows that do not fit the schema.
#[derive(Debug, Clone, Copy, Default)]
pub struct IngestOptions {
    /// Keep the good rows and move the bad ones to the rejected-events topic,
    /// instead of refusing the whole request.
    pub skip_bad_rows: bool,
    /// Decode and validate only; write and count nothing.
    pub validate_only: bool,
}

/// What became of an ingest request.
#[derive(Debug, Clone)]
pub struct IngestReport {
    /// Rows appended to the source's topic.
    pub accepted: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Whether the request was refused as a whole (no row was written).
    pub batch_rejected: bool,
    /// Every problem found, by row.
    pub errors: Vec<RowError>,
    /// Where the accepted rows went, if any were written.
    pub ack: Option<AppendAck>,
    /// The partition they went to.
    pub partition: u32,
    /// Rows refused as later than the source's allowed lateness (kept in the
    /// rejected-events topic, not counted in `rejected`).
    pub late: u64,
}

/// A stream source's ingest status, all derived from durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    /// Each partition's head position.
    pub heads: Vec<Position>,
    /// Each partition's local and archived ranges.
    pub ranges: Vec<PartitionRanges>,
    /// Rows in the source's topic.
    pub accepted: u64,
    /// Rows ever refused, whether the request was refused whole or the rows were kept.
    pub rejected: u64,
    /// Refused rows kept in the rejected-events topic (malformed and late).
    pub rejected_kept: u64,
    /// Rows refused as late.
    pub late: u64,
}

/// The name of the topic that keeps a source topic's refused rows.
pub fn rejected_topic(topic: &str) -> String {
    format!("{topic}.rejected")
}

/// Turns requests into log appends.
pub struct Ingestor {
    log: Arc<dyn EventLog>,
    state: Arc<dyn StateStore>,
    metrics: Arc<Metrics>,
    counter_lock: tokio::sync::Mutex<()>,
    /// Held from the lateness decision to the append, so each source's watermark
    /// moves in append order.
    append_lock: tokio::sync::Mutex<()>,
    next_partition: AtomicU32,
}

impl Ingestor {
    /// An ingestor writing to `log`, counting in `state` and `metrics`.
    pub fn new(log: Arc<dyn EventLog>, state: Arc<dyn StateStore>, metrics: Arc<Metrics>) -> Self {
        Ingestor {
            log,
            state,
            metrics,
            counter_lock: tokio::sync::Mutex::new(()),
            append_lock: tokio::sync::Mutex::new(()),
            next_partition: AtomicU32::new(0),
        }
    }

    /// Decodes `data`, then appends the valid rows to the source's topic (one durable
    /// append), unless a row is bad and `options.skip_bad_rows` is off, in which case
    /// nothing is written.
    pub async fn ingest(
        &self,
        source: &StreamSource,
        format: PayloadFormat,
        data: &[u8],
        options: IngestOptions,
    ) -> Result<IngestReport> {
        let decoded = decode(format, data, &source.schema, &source.event_time)?;
        let bad = decoded.bad_rows.len() as u64;
        if options.validate_only {
            let refused = bad > 0 && !options.skip_bad_rows;
            return Ok(IngestReport {
                accepted: if refused {
                    0
                } else {
                    decoded.valid.num_rows() as u64
                },
                rejected: if refused { decoded.total_rows } else { bad },
                batch_rejected: refused,
                errors: decoded.errors,
                ack: None,
                partition: 0,
                late: 0,
            });
        }
        if bad > 0 && !options.skip_bad_rows {
            self.count_rejected(&source.name, decoded.total_rows)
                .await?;
            info!(source = %source.name, rows = decoded.total_rows, bad, "ingest request refused");
            return Ok(IngestReport {
                accepted: 0,
                rejected: decoded.total_rows,
                batch_rejected: true,
                errors: decoded.errors,
                ack: None,
                partition: 0,
                late: 0,
            });
        }
        if bad > 0 {
            let batch = rejected::rejected_rows(&decoded)?;
            self.log
                .append(&rejected_topic(&source.topic), 0, batch)
                .await?;
            self.count_rejected(&source.name, bad).await?;
        }
        let bad_rows: std::collections::HashSet<u64> =
            decoded.bad_rows.iter().map(|(row, _)| *row).collect();
        let row_numbers: Vec<u64> = (0..decoded.total_rows)
            .filter(|row| !bad_rows.contains(row))
            .collect();
        let _ordered = self.append_lock.lock().await;
        let watermark = self.watermark(&source.name)?;
        let split = late::split_late(
            decoded.valid,
            &row_numbers,
            &source.event_time,
            source.lateness_micros(),
            watermark,
        )?;
        if let Some(late_rows) = split.late {
            self.log
                .append(&rejected_topic(&source.topic), 0, late_rows)
                .await?;
        }
        let accepted = split.on_time.num_rows() as u64;
        let partition = self.next_partition.fetch_add(1, Ordering::Relaxed) % source.partitions;
        let ack = if accepted > 0 {
            let ack = self
                .log
                .append(&source.topic, partition, split.on_time)
                .await?;
            debug!(source = %source.name, partition, rows = accepted, next = %ack.next, "appended");
            Some(ack)
        } else {
            None
        };
        if split.late_rows > 0 || split.watermark != watermark {
            let mut batch = WriteBatch::new();
            batch.put(
                COUNTERS,
                watermark_key(&source.name),
                split.watermark.to_be_bytes().to_vec(),
            );
            if split.late_rows > 0 {
                let late_total = self.counter(&late_counter_key(&source.name))? + split.late_rows;
                batch.put(
                    COUNTERS,
                    late_counter_key(&source.name),
                    late_total.to_be_bytes().to_vec(),
                );
                self.metrics
                    .late
                    .with_label_values(&[&source.name])
                    .inc_by(split.late_rows);
                info!(source = %source.name, late = split.late_rows, "late events kept in the rejected topic");
            }
            self.state.write(batch)?;
        }
        self.metrics
            .events_in
            .with_label_values(&[&source.name])
            .inc_by(accepted);
        Ok(IngestReport {
            accepted,
            rejected: bad,
            batch_rejected: false,
            errors: decoded.errors,
            ack,
            partition,
            late: split.late_rows,
        })
    }

    fn counter(&self, key: &[u8]) -> Result<u64> {
        Ok(self
            .state
            .get(COUNTERS, key)?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    fn watermark(&self, source: &str) -> Result<i64> {
        Ok(self
            .state
            .get(COUNTERS, &watermark_key(source))?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
            .map(i64::from_be_bytes)
            .unwrap_or(i64::MIN))
    }

    async fn count_rejected(&self, source: &str, rows: u64) -> Result<()> {
        let _serialised = self.counter_lock.lock().await;
        let key = rejected_counter_key(source);
        self.metrics
            .rejected
            .with_label_values(&[source])
            .inc_by(rows);
        let total = self.rejected_count(source)? + rows;
        let mut batch = WriteBatch::new();
        batch.put(COUNTERS, key, total.to_be_bytes().to_vec());
        self.state.write(batch)?;
        Ok(())
    }

    fn rejected_count(&self, source: &str) -> Result<u64> {
        self.counter(&rejected_counter_key(source))
    }

    /// The source's heads and counts.
    pub async fn status(&self, source: &StreamSource) -> Result<SourceStatus> {
        let mut heads = Vec::new();
        let mut ranges = Vec::new();
        let mut accepted = 0;
        for partition in 0..source.partitions {
            heads.push(self.log.head(&source.topic, partition).await?);
            ranges.push(self.log.ranges(&source.topic, partition).await?);
            accepted += self.log.row_count(&source.topic, partition).await?;
        }
        Ok(SourceStatus {
            heads,
            ranges,
            accepted,
            rejected: self.rejected_count(&source.name)?,
            rejected_kept: self
                .log
                .row_count(&rejected_topic(&source.topic), 0)
                .await?,
            late: self.counter(&late_counter_key(&source.name))?,
        })
    }
}
