//! A training set larger than its output batches and its value runs: the rows
//! come out in label order, each with the values a brute-force fold of the
//! events gives, for features written to runs (integers, floats filled where
//! the window is empty, text) and for one held whole for its statistics.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use freshet_backends::embedded::{RocksStateStore, SegmentLog};
use freshet_engine::ingest::{IngestOptions, PayloadFormat};
use freshet_engine::metrics::Metrics;
use freshet_engine::runtime::RuntimeConfig;
use freshet_engine::training::{LabelRows, TrainingConfig, TrainingRequest, OUTPUT_ROWS, RUN_ROWS};
use freshet_engine::FeatureStore;

const DEFINITIONS: &str = "\
sources:
  - { name: clicks, stream: {}, schema: { user_id: int64, amount: float64, category: string, ts: timestamp }, event_time: ts }
entities:
  - { name: user, key: user_id }
features:
  - { name: clicks_1h, entity: user, source: clicks, aggregate: count(*), window: 1h }
  - { name: spend_1h, entity: user, source: clicks, aggregate: sum(amount), window: 1h, transform: { fill: 99.0 } }
  - { name: last_category_1h, entity: user, source: clicks, aggregate: last(category), window: 1h }
  - { name: avg_1d, entity: user, source: clicks, aggregate: avg(amount), window: 1d, transform: { fill: mean } }
";

const EVENTS: i64 = 3_000;
const USERS: i64 = 500;
const LABELS: i64 = 140_000;
/// 2026-01-01T00:00:00Z in seconds.
const BASE: i64 = 1_767_225_600;
const HOUR: i64 = 3_600;

fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Event `i`: (user, time in seconds, amount, category); times are distinct
/// and ascend.
fn event(i: i64) -> (i64, i64, f64, String) {
    (
        (i * 7_919) % USERS,
        BASE + i * 37,
        (i % 17) as f64,
        format!("c{}", i % 5),
    )
}

/// Label `j`: (user, time in seconds); users from `USERS` on have no events,
/// and some times fall exactly on event times.
fn label(j: i64) -> (i64, i64) {
    ((j * 31) % (USERS + 100), BASE + (j * 13) % (33 * HOUR))
}

#[tokio::test]
async fn a_training_set_larger_than_its_batches_comes_out_in_label_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = FeatureStore::open(
        Arc::new(SegmentLog::open(dir.path().join("log")).unwrap()),
        Arc::new(RocksStateStore::open(dir.path().join("state")).unwrap()),
        None,
        Arc::new(Metrics::new()),
        TrainingConfig {
            spill_dir: dir.path().join("spill"),
            memory_budget: 64 << 10,
            partitions: 4,
        },
        RuntimeConfig::default(),
    )
    .await
    .unwrap();
    let definitions = freshet_sql::load::parse_definitions(DEFINITIONS, "clicks.yaml").unwrap();
    store
        .apply(&definitions, "clicks.yaml", dir.path(), false)
        .await
        .unwrap();
    let mut lines = String::new();
    for i in 0..EVENTS {
        let (user, time, amount, category) = event(i);
        lines.push_str(&format!(
            "{{\"user_id\": {user}, \"amount\": {amount:.1}, \"category\": \"{category}\", \"ts\": \"{}\"}}\n",
            rfc3339(time)
        ));
    }
    store
        .ingest(
            "clicks",
            PayloadFormat::JsonLines,
            lines.as_bytes(),
            IngestOptions::default(),
            true,
        )
        .await
        .unwrap();
    let mut csv = String::from("user_id,ts\n");
    for j in 0..LABELS {
        let (user, time) = label(j);
        csv.push_str(&format!("{user},{}\n", rfc3339(time)));
    }
    let labels = dir.path().join("labels.csv");
    std::fs::write(&labels, csv).unwrap();
    let request = TrainingRequest {
        training_set: None,
        label: None,
        features: ["clicks_1h", "spend_1h", "last_category_1h", "avg_1d"]
            .map(String::from)
            .to_vec(),
        rows: LabelRows::Uri(format!("file://{}", labels.display())),
        timestamp_column: Some("ts".into()),
        feature_offset: None,
        entities: Default::default(),
    };
    let set = store
        .training()
        .generate(&request, Arc::new(|_| {}))
        .await
        .unwrap();
    assert_eq!(set.rows, LABELS as u64);
    assert_eq!(
        set.unknown_keys,
        (0..LABELS).filter(|j| label(*j).0 >= USERS).count() as u64
    );
    let batches: Vec<RecordBatch> = set.batches.collect::<Result<_, _>>().unwrap();
    // Several output batches, and more label rows per partition than a run batch holds.
    assert!(batches.len() > 2 && LABELS as usize / 4 > 2 * RUN_ROWS);
    assert!(batches.iter().all(|b| b.num_rows() <= OUTPUT_ROWS));

    let mut by_user: HashMap<i64, Vec<(i64, f64, String)>> = HashMap::new();
    for i in 0..EVENTS {
        let (user, time, amount, category) = event(i);
        by_user
            .entry(user)
            .or_default()
            .push((time, amount, category));
    }
    let mut row = 0i64;
    for batch in &batches {
        let users = batch
            .column_by_name("user_id")
            .unwrap()
            .as_primitive::<Int64Type>();
        let times = batch
            .column_by_name("ts")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let counts = batch
            .column_by_name("clicks_1h")
            .unwrap()
            .as_primitive::<Int64Type>();
        let spend = batch
            .column_by_name("spend_1h")
            .unwrap()
            .as_primitive::<Float64Type>();
        let last = batch
            .column_by_name("last_category_1h")
            .unwrap()
            .as_string::<i32>();
        let avg = batch
            .column_by_name("avg_1d")
            .unwrap()
            .as_primitive::<Float64Type>();
        for at in 0..batch.num_rows() {
            let (user, time) = label(row);
            assert_eq!(
                (users.value(at), times.value(at)),
                (user, time * 1_000_000),
                "row {row}"
            );
            let events = by_user.get(&user).map(Vec::as_slice).unwrap_or_default();
            let within = |window: i64| {
                events
                    .iter()
                    .filter(move |(t, _, _)| *t > time - window && *t <= time)
            };
            let hour: Vec<_> = within(HOUR).collect();
            assert_eq!(counts.value(at), hour.len() as i64, "clicks_1h, row {row}");
            let sum: f64 = hour.iter().map(|(_, amount, _)| amount).sum();
            let expected = if hour.is_empty() { 99.0 } else { sum };
            assert_eq!(spend.value(at), expected, "spend_1h, row {row}");
            match hour.last() {
                Some((_, _, category)) => assert_eq!(last.value(at), category, "row {row}"),
                None => assert!(last.is_null(at), "last_category_1h, row {row}"),
            }
            let day: Vec<f64> = within(24 * HOUR).map(|(_, amount, _)| *amount).collect();
            if !day.is_empty() {
                let mean = day.iter().sum::<f64>() / day.len() as f64;
                assert!(
                    (avg.value(at) - mean).abs() <= 1e-9 * mean.abs().max(1.0),
                    "avg_1d, row {row}"
                );
            } else {
                assert!(avg.is_valid(at), "avg_1d is filled, row {row}");
            }
            row += 1;
        }
    }
    assert_eq!(row, LABELS);
}
