//! The columnar form of spilled events: a chunk of [`EventRow`]s as one Arrow
//! batch (key, event time, arrival, and the value as a type tag, its 64 bits
//! and, for text, the string), so spill files are Arrow IPC, compressed per
//! buffer, and read back a column at a time.

use std::sync::{Arc, OnceLock};

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, StringArray, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::datatypes::{
    DataType, Field, Int64Type, Schema, SchemaRef, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::EventRow;
use crate::training::value_bits::{join, tag_bits};
use crate::value::Value;

/// The schema of every spilled chunk.
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(Schema::new(vec![
                Field::new("key", DataType::UInt32, false),
                Field::new("time", DataType::Int64, false),
                Field::new("seq", DataType::UInt64, false),
                Field::new("tag", DataType::UInt8, false),
                Field::new("bits", DataType::UInt64, false),
                Field::new("text", DataType::Utf8, true),
            ]))
        })
        .clone()
}

/// A chunk of events as one batch of [`schema`].
pub fn encode(rows: &[EventRow]) -> Result<RecordBatch, ArrowError> {
    let (tags, bits): (Vec<u8>, Vec<u64>) = rows.iter().map(|r| tag_bits(Some(&r.value))).unzip();
    let texts = StringArray::from_iter(rows.iter().map(|r| match &r.value {
        Value::Str(text) => Some(text.as_str()),
        _ => None,
    }));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.key))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.time))),
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.seq))),
        Arc::new(UInt8Array::from(tags)),
        Arc::new(UInt64Array::from(bits)),
        Arc::new(texts),
    ];
    RecordBatch::try_new(schema(), columns)
}

/// Appends a chunk's events to `into`; the reason when the batch is not one
/// [`encode`] writes.
pub fn decode(batch: &RecordBatch, into: &mut Vec<EventRow>) -> Result<(), String> {
    if batch.schema() != schema() {
        return Err(format!("unexpected chunk schema {}", batch.schema()));
    }
    let keys = batch.column(0).as_primitive::<UInt32Type>();
    let times = batch.column(1).as_primitive::<Int64Type>();
    let seqs = batch.column(2).as_primitive::<UInt64Type>();
    let tags = batch.column(3).as_primitive::<UInt8Type>();
    let bits = batch.column(4).as_primitive::<UInt64Type>();
    let texts = batch.column(5).as_string::<i32>();
    into.reserve(batch.num_rows());
    for row in 0..batch.num_rows() {
        let value = join(tags.value(row), bits.value(row), |_| {
            texts.value(row).to_string()
        })
        .map_err(|tag| format!("row {row}: unknown value tag {tag}"))?
        .ok_or_else(|| format!("row {row}: an event without a value"))?;
        if texts.is_null(row) == matches!(value, Value::Str(_)) {
            return Err(format!("row {row}: text does not match the value tag"));
        }
        into.push(EventRow {
            key: keys.value(row),
            time: times.value(row),
            seq: seqs.value(row),
            value,
        });
    }
    Ok(())
}
