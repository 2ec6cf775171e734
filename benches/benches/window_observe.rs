//! Criterion micro-benchmark of evaluating a windowed feature at every event,
//! what the operator does for features whose value transforms gather
//! statistics (and what training sets replay): a key that receives `n` events
//! per 1-hour window, with its window already full, takes 1,000 more events,
//! each inserted and then evaluated at its own time. `full_fold` is the
//! earlier evaluation (`KeyState`: fold every event of the window);
//! `sliced` is `SlicedState` (merge the partials of about 32 slices, fold
//! the events of the two slices the window cuts).
//!
//! Run: `cargo bench --workspace --bench window_observe`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use freshet_engine::aggregate::{slice_width, Aggregation, KeyState, Retention, SlicedState};
use freshet_engine::value::Value;
use freshet_sql::aggregate::AggregateFunction;

const HOUR: i64 = 3_600_000_000;
const EVENTS: u64 = 1_000;

fn aggregation() -> Aggregation {
    Aggregation {
        function: AggregateFunction::Sum,
        integer_input: false,
        retention: Retention {
            window: Some(HOUR),
            lateness: 0,
        },
    }
}

/// Event `i` of a key that receives `per_window` events an hour.
fn event(i: i64, per_window: i64) -> (i64, Value) {
    (
        i * (HOUR / per_window),
        Value::Float((i % 97) as f64 * 1.25),
    )
}

/// The two evaluations measured: insert an event, evaluate at its time.
trait Observe: Clone {
    fn observe(&mut self, aggregation: &Aggregation, t: i64, value: Value);
}

impl Observe for KeyState {
    fn observe(&mut self, aggregation: &Aggregation, t: i64, value: Value) {
        self.insert(aggregation, t, t, value);
        black_box(self.evaluate(aggregation, t));
    }
}

impl Observe for SlicedState {
    fn observe(&mut self, aggregation: &Aggregation, t: i64, value: Value) {
        self.insert(aggregation, t, t, value);
        black_box(self.evaluate(aggregation, t));
    }
}

/// Times `more` events observed by copies of `start`.
fn bench<S: Observe>(
    b: &mut criterion::Bencher,
    start: &S,
    aggregation: &Aggregation,
    more: &[(i64, Value)],
) {
    b.iter_batched(
        || start.clone(),
        |mut state| {
            for (t, v) in more {
                state.observe(aggregation, *t, v.clone());
            }
        },
        BatchSize::LargeInput,
    )
}

fn window_observe(c: &mut Criterion) {
    let aggregation = aggregation();
    let mut group = c.benchmark_group("observe_each_event");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    for per_window in [100i64, 1_000, 10_000] {
        let mut full = KeyState::default();
        let mut sliced = SlicedState::new(slice_width(HOUR));
        for i in 0..per_window {
            let (t, v) = event(i, per_window);
            full.insert(&aggregation, t, t, v.clone());
            sliced.insert(&aggregation, t, t, v);
        }
        let more: Vec<(i64, Value)> = (per_window..per_window + EVENTS as i64)
            .map(|i| event(i, per_window))
            .collect();
        group.bench_function(format!("full_fold/{per_window}_per_window"), |b| {
            bench(b, &full, &aggregation, &more)
        });
        group.bench_function(format!("sliced/{per_window}_per_window"), |b| {
            bench(b, &sliced, &aggregation, &more)
        });
    }
    group.finish();
}

criterion_group!(benches, window_observe);
criterion_main!(benches);
