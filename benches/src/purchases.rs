//! Rows shaped like a purchases event: `user_id int64, item_id int64,
//! amount float64, ts timestamp(us)`.

use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

/// 2026-01-01T00:00:00Z in microseconds since the epoch.
const BASE_TS_US: i64 = 1_767_225_600_000_000;

/// The schema of a purchases event.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("item_id", DataType::Int64, false),
        Field::new("amount", DataType::Float64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ]))
}

/// A small deterministic generator (xorshift64*), so runs write the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A batch of `rows` purchases with pseudo-random ids and amounts and increasing
/// timestamps; the same `seed` gives the same batch.
pub fn batch(rows: usize, seed: u64) -> RecordBatch {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut user_id = Vec::with_capacity(rows);
    let mut item_id = Vec::with_capacity(rows);
    let mut amount = Vec::with_capacity(rows);
    let mut ts = Vec::with_capacity(rows);
    for row in 0..rows {
        user_id.push((rng.next() % 1_000_000) as i64);
        item_id.push((rng.next() % 50_000) as i64);
        amount.push((rng.next() % 100_000) as f64 / 100.0);
        ts.push(BASE_TS_US + row as i64 * 1_000 + (rng.next() % 1_000) as i64);
    }
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(user_id)),
            Arc::new(Int64Array::from(item_id)),
            Arc::new(Float64Array::from(amount)),
            Arc::new(TimestampMicrosecondArray::from(ts)),
        ],
    )
    .expect("purchases columns match the schema")
}
