//! The rows of a rejected-events topic: each refused row's index in its request,
//! why it was refused, its original text, and when.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use super::decode::Decoded;
use crate::Result;

/// One row per refused event: `row`, `reason` (every problem, `column: reason`
/// joined by `; `), `raw` and `rejected_at`.
pub fn rejected_rows(decoded: &Decoded) -> Result<RecordBatch> {
    let mut reasons: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for error in &decoded.errors {
        let text = match &error.column {
            Some(column) => format!("{column}: {}", error.reason),
            None => error.reason.clone(),
        };
        reasons.entry(error.row).or_default().push(text);
    }
    let now = chrono::Utc::now().timestamp_micros();
    let rows: Vec<u64> = decoded.bad_rows.iter().map(|(row, _)| *row).collect();
    let reason: StringArray = rows
        .iter()
        .map(|row| Some(reasons.get(row).map(|r| r.join("; ")).unwrap_or_default()))
        .collect();
    let raw: StringArray = decoded
        .bad_rows
        .iter()
        .map(|(_, raw)| Some(raw.as_str()))
        .collect();
    Ok(RecordBatch::try_new(
        Arc::new(rejected_schema()),
        vec![
            Arc::new(UInt64Array::from(rows.clone())),
            Arc::new(reason),
            Arc::new(raw),
            Arc::new(TimestampMicrosecondArray::from(vec![now; rows.len()])),
        ],
    )?)
}

/// The columns of a rejected-events topic.
pub fn rejected_schema() -> Schema {
    Schema::new(vec![
        Field::new("row", DataType::UInt64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
        Field::new(
            "rejected_at",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ])
}
