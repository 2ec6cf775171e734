//! Lateness at ingest: rows whose event time is older than the source's
//! watermark (the largest event time accepted so far) minus its allowed lateness
//! are split off, to be kept in the rejected-events topic and counted.

use std::sync::Arc;

use arrow::array::{
    BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use arrow::compute::filter_record_batch;
use arrow::json::LineDelimitedWriter;

use super::rejected::rejected_schema;
use crate::value::timestamps;
use crate::Result;

/// Rows split by lateness.
pub struct LateSplit {
    /// The rows on time, in order.
    pub on_time: RecordBatch,
    /// Late rows in rejected-topic form (`row`, `reason`, `raw`, `rejected_at`).
    pub late: Option<RecordBatch>,
    /// How many rows were late.
    pub late_rows: u64,
    /// The watermark after the on-time rows.
    pub watermark: i64,
}

/// Splits `valid` (whose rows are request rows `row_numbers`) against `watermark`.
pub fn split_late(
    valid: RecordBatch,
    row_numbers: &[u64],
    event_time: &str,
    lateness: i64,
    mut watermark: i64,
) -> Result<LateSplit> {
    let Some(column) = valid.column_by_name(event_time) else {
        return Ok(LateSplit {
            on_time: valid,
            late: None,
            late_rows: 0,
            watermark,
        });
    };
    let times = timestamps(column)?;
    let mut keep = Vec::with_capacity(valid.num_rows());
    let mut late = Vec::new();
    for row in 0..valid.num_rows() {
        let t = times.value(row);
        let limit = watermark.saturating_sub(lateness);
        if watermark != i64::MIN && t < limit {
            keep.push(false);
            late.push((row, format!(
                "late: event time {} is more than the allowed lateness behind the source's watermark {}",
                format_micros(t),
                format_micros(watermark)
            )));
        } else {
            keep.push(true);
            watermark = watermark.max(t);
        }
    }
    if late.is_empty() {
        return Ok(LateSplit {
            on_time: valid,
            late: None,
            late_rows: 0,
            watermark,
        });
    }
    let on_time = filter_record_batch(&valid, &BooleanArray::from(keep))?;
    let mut raws = Vec::with_capacity(late.len());
    for (row, _) in &late {
        let mut writer = LineDelimitedWriter::new(Vec::new());
        writer.write(&valid.slice(*row, 1))?;
        writer.finish()?;
        raws.push(
            String::from_utf8_lossy(&writer.into_inner())
                .trim_end()
                .to_string(),
        );
    }
    let now = chrono::Utc::now().timestamp_micros();
    let rejected = RecordBatch::try_new(
        Arc::new(rejected_schema()),
        vec![
            Arc::new(UInt64Array::from_iter_values(
                late.iter().map(|(row, _)| row_numbers[*row]),
            )),
            Arc::new(StringArray::from_iter_values(
                late.iter().map(|(_, reason)| reason.as_str()),
            )),
            Arc::new(StringArray::from(raws)),
            Arc::new(TimestampMicrosecondArray::from(vec![now; late.len()])),
        ],
    )?;
    Ok(LateSplit {
        on_time,
        late: Some(rejected),
        late_rows: late.len() as u64,
        watermark,
    })
}

fn format_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| micros.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, TimestampMicrosecondArray};

    #[test]
    fn rows_behind_the_watermark_by_more_than_the_lateness_are_split_off() {
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as _),
            (
                "ts",
                Arc::new(TimestampMicrosecondArray::from(vec![100, 200, 149, 150])) as _,
            ),
        ])
        .unwrap();
        // Lateness 50: after 200 the limit is 150; 149 is late, 150 is not.
        let split = split_late(batch, &[0, 2, 3, 5], "ts", 50, i64::MIN).unwrap();
        assert_eq!(split.late_rows, 1);
        assert_eq!(split.watermark, 200);
        let ids: Vec<i64> = split
            .on_time
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .values()
            .to_vec();
        assert_eq!(ids, vec![1, 2, 4]);
        let late = split.late.unwrap();
        let rows = late
            .column(0)
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap();
        assert_eq!(rows.value(0), 3, "the request row of the late event");
    }
}
