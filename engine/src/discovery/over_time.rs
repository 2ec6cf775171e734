//! [`stats_over_time`]: the statistics of what a feature version served at
//! the end of each recent time bucket, each instant evaluated as a training
//! set evaluates a label row, so exact for any past instant (operator state
//! holds only what reads from the watermark on need).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use freshet_sql::types::ColumnType;

use super::{value_stats, ValueStatistics};
use crate::ipc_stream::write_stream;
use crate::training::{LabelRows, TrainingRequest, TrainingSets, ValueColumn};
use crate::value::{value_at, Value};
use crate::{EngineError, Result};

/// Most buckets one request asks for.
pub const MAX_BUCKETS: usize = 30;

/// The label rows' instant column (never a key column or feature name).
const AT: &str = "__freshet_bucket_end";

/// Which buckets to describe: `count` of them, `width` µs wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// Each bucket's width, in µs.
    pub width: i64,
    /// How many, the last ending at the evaluation time.
    pub count: usize,
}

impl Buckets {
    /// The buckets' ends, oldest first, the last at `at` (µs).
    pub fn ends(self, at: i64) -> Vec<i64> {
        (0..self.count as i64)
            .rev()
            .map(|back| at - back * self.width)
            .collect()
    }
}

/// The statistics of one bucket: of the values served at `end` (µs).
#[derive(Debug, Clone, PartialEq)]
pub struct BucketStatistics {
    /// The bucket's end, the instant its values are evaluated at.
    pub end: i64,
    /// The statistics of the values of every key at `end`.
    pub values: ValueStatistics,
}

/// Statistics of `feature` (`name@vN`) at each of `ends` (µs, oldest
/// first) over `keys` (of the entity whose key column is `key_column`,
/// typed `key_type`): each key's value at each end, as a training set
/// computes it, summarised per end.
pub async fn stats_over_time(
    training: &TrainingSets,
    feature: &str,
    key_column: &str,
    key_type: ColumnType,
    keys: &[Value],
    ends: &[i64],
) -> Result<Vec<BucketStatistics>> {
    if ends.len() > MAX_BUCKETS {
        return Err(EngineError::InvalidRequest(format!(
            "{} buckets: at most {MAX_BUCKETS}",
            ends.len()
        )));
    }
    if keys.is_empty() {
        return Ok(ends
            .iter()
            .map(|end| BucketStatistics {
                end: *end,
                values: value_stats(std::iter::empty()),
            })
            .collect());
    }
    // Every key at every end, end by end.
    let rows = keys.len() * ends.len();
    let mut key_column_values = ValueColumn::new(rows);
    let mut instants = Vec::with_capacity(rows);
    for (b, end) in ends.iter().enumerate() {
        for (k, key) in keys.iter().enumerate() {
            key_column_values.set(b * keys.len() + k, Some(key.clone()));
            instants.push(*end);
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new(key_column, key_type.arrow_type(), false),
        Field::new(AT, DataType::Timestamp(TimeUnit::Microsecond, None), false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        key_column_values.to_array(key_type),
        Arc::new(TimestampMicrosecondArray::from(instants)),
    ];
    let labels = RecordBatch::try_new(schema, columns)?;
    let ipc = write_stream(&labels)?;
    let request = TrainingRequest {
        training_set: None,
        label: None,
        features: vec![feature.to_string()],
        rows: LabelRows::Inline(ipc),
        timestamp_column: Some(AT.to_string()),
        feature_offset: None,
        entities: BTreeMap::new(),
    };
    let set = training.generate(&request, Arc::new(|_| {})).await?;
    // The rows come back in label order; the feature is the last column.
    let values = tokio::task::spawn_blocking(move || -> Result<Vec<Option<Value>>> {
        let mut values = Vec::with_capacity(rows);
        for batch in set.batches {
            let batch = batch?;
            let column = batch.column(batch.num_columns() - 1);
            for row in 0..batch.num_rows() {
                values.push(value_at(column, row)?);
            }
        }
        Ok(values)
    })
    .await
    .map_err(|e| EngineError::Internal(format!("bucket statistics: {e}")))??;
    Ok(ends
        .iter()
        .zip(values.chunks(keys.len()))
        .map(|(end, values)| BucketStatistics {
            end: *end,
            values: value_stats(values.iter().cloned()),
        })
        .collect())
}
