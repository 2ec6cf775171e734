//! Conformance suites, written once per storage trait and run against every
//! backend (see `embedded.rs`). Each suite takes a way to open the backend on a
//! directory, so durability can be checked by closing and reopening it.

pub mod log;
pub mod online;
pub mod state;

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

/// A batch of rows `n` for n in `range`, with a text column `n-<n>`.
pub fn numbered(range: std::ops::Range<i64>) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
    ]);
    let numbers: Vec<i64> = range.clone().collect();
    let texts: Vec<String> = range.map(|n| format!("n-{n}")).collect();
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from(numbers)),
            Arc::new(StringArray::from(texts)),
        ],
    )
    .expect("numbered batch")
}

/// The `n` column of batches, concatenated.
pub fn numbers<'a>(batches: impl IntoIterator<Item = &'a RecordBatch>) -> Vec<i64> {
    batches
        .into_iter()
        .flat_map(|batch| {
            let column = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("int64 n");
            let texts = batch
                .column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("utf8 text");
            (0..batch.num_rows())
                .map(|i| {
                    assert_eq!(
                        texts.value(i),
                        format!("n-{}", column.value(i)),
                        "row content survives"
                    );
                    column.value(i)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
