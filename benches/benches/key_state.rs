//! Criterion micro-benchmark of one feature read for one entity: the aggregate
//! over a 7-day window holding N events, as layout 1 computed it (fold every
//! event in the window, [`fold_until`]) and as the sliced state does
//! ([`KeyState::evaluate`]: merge the partials of the slices wholly inside, fold
//! the events of the slices the bounds cut). Both in the same run, on the same
//! events; the ratio is the figure to read.
//!
//! Run: `cargo bench --workspace --bench key_state`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use freshet_engine::aggregate::{fold_until, Aggregation, KeyState, Retention};
use freshet_engine::value::Value;
use freshet_sql::aggregate::AggregateFunction;

const HOUR: i64 = 3_600_000_000;
const WINDOW: i64 = 7 * 24 * HOUR;

fn key_state(c: &mut Criterion) {
    let mut group = c.benchmark_group("read_one_key_7d_window");
    for function in [AggregateFunction::Sum, AggregateFunction::Max] {
        let aggregation = Aggregation {
            function,
            integer_input: false,
            retention: Retention::new(Some(WINDOW), 0),
        };
        for events in [100usize, 1_000, 10_000] {
            // Evenly spread over one window, read at its end.
            let step = WINDOW / events as i64;
            let at = step * events as i64;
            let raw: Vec<(i64, Value)> = (1..=events as i64)
                .map(|i| (i * step, Value::Float((i % 97) as f64 * 0.5)))
                .collect();
            let mut state = KeyState::default();
            for (t, v) in &raw {
                state.insert(&aggregation, *t, *t, v.clone());
            }
            // Same answer both ways (sums within rounding).
            let folded = fold_until(None, &aggregation, raw.iter().map(|(t, v)| (*t, v)), at);
            let sliced = state.evaluate(&aggregation, at);
            match (&folded, &sliced) {
                (Some(Value::Float(a)), Some(Value::Float(b))) => {
                    assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} vs {b}")
                }
                _ => assert_eq!(folded, sliced),
            }
            let name = format!("{}/{events}_events", function.name());
            group.bench_with_input(BenchmarkId::new("fold_window", &name), &raw, |b, raw| {
                b.iter(|| {
                    fold_until(
                        None,
                        &aggregation,
                        black_box(raw).iter().map(|(t, v)| (*t, v)),
                        at,
                    )
                })
            });
            group.bench_with_input(BenchmarkId::new("sliced", &name), &state, |b, state| {
                b.iter(|| black_box(state).evaluate(&aggregation, at))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, key_state);
criterion_main!(benches);
