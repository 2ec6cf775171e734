//! Property test of the feature operators: random event sequences (random keys,
//! timestamps, values, out of order within the allowed lateness), split into random
//! micro-batches, committed to a real RocksDB state store after each batch, then
//! read back and evaluated at random read times `t`. Every aggregate must equal a
//! brute-force computation directly over the events with `t - W < event_time <= t`.
//! A windowed feature's stored events are checked too: exactly the key's events
//! after the expiry of the last batch that touched it (nothing a read at
//! `t >= watermark - lateness` needs is dropped, nothing older is kept).

use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use freshet_backends::embedded::RocksStateStore;
use freshet_engine::aggregate::{Aggregation, Retention};
use freshet_engine::operators::{Changes, FeatureInput, FeatureOperator};
use freshet_engine::serving::stored_value;
use freshet_engine::state_keys::feature_state_key;
use freshet_engine::value::Value;
use freshet_sql::aggregate::AggregateFunction;
use freshet_storage::state::{column_family::OPERATOR_STATE, StateStore};
use freshet_storage::timed_list;
use freshet_testkit::reference::{self, Function};
use freshet_testkit::values::{close, Val};
use proptest::prelude::*;

const SECOND: i64 = 1_000_000;
const LATENESS: i64 = 30 * SECOND;
const STEP: i64 = 5 * SECOND;

/// One event in arrival order.
#[derive(Debug, Clone)]
struct Event {
    key: i64,
    ts: i64,
    value: f64,
}

/// Events whose times move forward by STEP on average but jitter by up to
/// LATENESS / 2 either way, so every event is within the lateness of all before it.
fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec((0i64..4, -LATENESS / 2..LATENESS / 2, 0u8..12), 1..160).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (key, jitter, value))| Event {
                key,
                ts: 1_000 * SECOND + i as i64 * STEP + jitter,
                // A small set of values, so that ties and repeats happen.
                value: value as f64 * 1.5 - 4.0,
            })
            .collect()
    })
}

/// The aggregate computed directly over the events of `key` in the window, by
/// the test kit's brute-force reference.
fn brute_force(
    function: AggregateFunction,
    window: Option<i64>,
    events: &[Event],
    key: i64,
    t: i64,
) -> Val {
    let events = events
        .iter()
        .filter(|e| e.key == key)
        .map(|e| (e.ts, Val::F(e.value)));
    reference::evaluate(reference_function(function), window, t, events)
}

/// The reference's name for an aggregate function.
fn reference_function(function: AggregateFunction) -> Function {
    use AggregateFunction::*;
    match function {
        Count => Function::Count,
        CountDistinct => Function::CountDistinct,
        Sum => Function::Sum,
        Avg => Function::Avg,
        Min => Function::Min,
        Max => Function::Max,
        First => Function::First,
        Last => Function::Last,
        Var => Function::Var,
        Stddev => Function::Stddev,
    }
}

/// An evaluated aggregate as the test kit compares values.
fn val(value: Option<Value>) -> Val {
    match value {
        None => Val::Null,
        Some(Value::Int(v)) => Val::I(v),
        Some(Value::Float(v)) => Val::F(v),
        Some(Value::Str(v)) => Val::S(v),
        Some(other) => panic!("an aggregate of floats gave {other:?}"),
    }
}

fn batch(events: &[Event]) -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "user_id",
            Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.key))) as _,
        ),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                events.iter().map(|e| e.ts),
            )) as _,
        ),
        (
            "v",
            Arc::new(Float64Array::from_iter_values(
                events.iter().map(|e| e.value),
            )) as _,
        ),
    ])
    .unwrap()
}

fn check(
    events: Vec<Event>,
    cuts: Vec<usize>,
    window: Option<i64>,
    reads: Vec<i64>,
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store = RocksStateStore::open(dir.path()).unwrap();
    let mut operators: Vec<(AggregateFunction, Aggregation, FeatureOperator)> =
        AggregateFunction::ALL
            .iter()
            .map(|&function| {
                let aggregation = Aggregation {
                    function,
                    integer_input: false,
                    retention: Retention {
                        window,
                        lateness: LATENESS,
                    },
                };
                let operator = FeatureOperator::new(
                    format!("{}@v1", function.name()),
                    "purchases".into(),
                    "user_id".into(),
                    FeatureInput::Events {
                        aggregation,
                        time_column: "ts".into(),
                        value_column: Some("v".into()),
                    },
                    false,
                );
                (function, aggregation, operator)
            })
            .collect();
    let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % (events.len() + 1)).collect();
    bounds.push(0);
    bounds.push(events.len());
    bounds.sort();
    bounds.dedup();
    let mut watermark = i64::MIN;
    let mut reads = reads.into_iter();
    // Per key: the expiry of the last batch that touched it.
    let mut expiry = [None::<i64>; 4];
    for range in bounds.windows(2) {
        let slice = &events[range[0]..range[1]];
        let mut changes = Changes::default();
        for (_, _, operator) in &mut operators {
            operator
                .apply_rows(&store, &[batch(slice)], watermark)
                .unwrap();
            operator.flush(&store, &mut changes).unwrap();
        }
        store.write(changes.state).unwrap();
        watermark = watermark.max(slice.iter().map(|e| e.ts).max().unwrap_or(i64::MIN));
        let seen = &events[..range[1]];
        if let Some(window) = window {
            for event in slice {
                expiry[event.key as usize] = Some(watermark - LATENESS - window);
            }
        }
        // A read time the state must answer exactly: at or after watermark - lateness.
        let t = watermark - LATENESS + reads.next().unwrap_or(0);
        // Read times on window bounds too: at an event's own time (included)
        // and at its time plus W (excluded), where they are still exact.
        let mut times = vec![t];
        for event in slice.iter().rev().take(2) {
            times.push(event.ts);
            times.extend(window.map(|w| event.ts + w));
        }
        times.retain(|t| *t >= watermark - LATENESS);
        for (function, aggregation, _) in &operators {
            for key in 0..4i64 {
                let stored = store
                    .get(
                        OPERATOR_STATE,
                        &feature_state_key(
                            &format!("{}@v1", function.name()),
                            &Value::Int(key).key_bytes(),
                        ),
                    )
                    .unwrap();
                if let (Some(expire), Some(bytes)) = (expiry[key as usize], &stored) {
                    let kept: Vec<(i64, Value)> = timed_list::decode(bytes)
                        .unwrap()
                        .records
                        .iter()
                        .map(|(t, payload)| (*t, Value::from_key_bytes(payload).unwrap()))
                        .collect();
                    let mut needed: Vec<(i64, Value)> = seen
                        .iter()
                        .filter(|e| e.key == key && e.ts > expire)
                        .map(|e| (e.ts, Value::Float(e.value)))
                        .collect();
                    needed.sort_by_key(|(ts, _)| *ts);
                    prop_assert_eq!(&kept, &needed, "stored events of key {}", key);
                }
                let input = FeatureInput::Events {
                    aggregation: *aggregation,
                    time_column: "ts".into(),
                    value_column: Some("v".into()),
                };
                for &t in &times {
                    let engine = val(match &stored {
                        Some(bytes) => stored_value(&input, Some(bytes), t).unwrap(),
                        None => never_seen(*function),
                    });
                    let expected = brute_force(*function, window, seen, key, t);
                    prop_assert!(
                        close(&engine, &expected),
                        "{} window {:?} key {} at t={}: engine {:?}, reference {:?}",
                        function.name(),
                        window,
                        key,
                        t,
                        engine,
                        expected
                    );
                }
            }
        }
    }
    Ok(())
}

/// What a key that never had an event reads as.
fn never_seen(function: AggregateFunction) -> Option<Value> {
    match function {
        AggregateFunction::Count | AggregateFunction::CountDistinct => Some(Value::Int(0)),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn windowed_aggregates_equal_brute_force(
        events in events(),
        cuts in prop::collection::vec(0usize..200, 0..6),
        window_seconds in prop::sample::select(vec![1i64, 10, 60, 300]),
        reads in prop::collection::vec(0i64..400 * SECOND, 8),
    ) {
        check(events, cuts, Some(window_seconds * SECOND), reads)?;
    }

    #[test]
    fn lifetime_aggregates_equal_brute_force(
        events in events(),
        cuts in prop::collection::vec(0usize..200, 0..6),
        reads in prop::collection::vec(0i64..400 * SECOND, 8),
    ) {
        check(events, cuts, None, reads)?;
    }
}
