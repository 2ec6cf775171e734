//! [`KeyState`]: one entity's events for one feature, kept exactly as long as some
//! read can still need them.

use std::borrow::Borrow;

use freshet_sql::aggregate::AggregateFunction;
use serde::{Deserialize, Serialize};

use super::Accumulator;
use crate::value::Value;

/// How long a feature keeps events, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The window W; `None` for a lifetime aggregate.
    pub window: Option<i64>,
    /// The source's allowed lateness.
    pub lateness: i64,
}

/// One entity's state for one feature.
///
/// Reads at any time `t >= watermark - lateness` are exact: a windowed feature
/// keeps every event with `event_time > watermark - lateness - W` (older ones can
/// no longer fall in any such window); a lifetime feature folds events older than
/// `watermark - lateness` into one accumulator and keeps the newer ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    /// Kept events, by event time; equal times in arrival order.
    events: Vec<(i64, Value)>,
    /// Lifetime features: the events folded so far.
    folded: Option<Accumulator>,
}

impl Retention {
    /// The earliest read time that must stay exact once the lane's largest
    /// event time is `watermark`: `watermark - lateness`.
    pub fn horizon(&self, watermark: i64) -> i64 {
        watermark.saturating_sub(self.lateness)
    }

    /// Events with a time at or before this can be dropped once the lane's
    /// largest event time is `watermark`: no read at or after the
    /// [horizon](Retention::horizon) reaches them. `None` for a lifetime
    /// aggregate, which folds them instead.
    pub fn expire_through(&self, watermark: i64) -> Option<i64> {
        self.window
            .map(|window| self.horizon(watermark).saturating_sub(window))
    }
}

/// What a feature's state holds and how it aggregates: the operator's fixed part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aggregation {
    /// The function.
    pub function: AggregateFunction,
    /// Whether the input column is an integer (for `sum`).
    pub integer_input: bool,
    /// How long events are kept.
    pub retention: Retention,
}

impl Aggregation {
    /// An empty accumulator for this aggregation.
    pub fn accumulator(&self) -> Accumulator {
        Accumulator::new(self.function, self.integer_input)
    }
}

impl KeyState {
    /// Adds one event, then drops or folds what the watermark (the largest event
    /// time the lane has seen over all partitions, including this event) has made unreachable.
    pub fn insert(
        &mut self,
        aggregation: &Aggregation,
        watermark: i64,
        event_time: i64,
        value: Value,
    ) {
        let at = self.events.partition_point(|(t, _)| *t <= event_time);
        self.events.insert(at, (event_time, value));
        match aggregation.retention.expire_through(watermark) {
            Some(expired) => {
                let keep_from = self.events.partition_point(|(t, _)| *t <= expired);
                self.events.drain(..keep_from);
            }
            None => {
                let horizon = aggregation.retention.horizon(watermark);
                let fold_until = self.events.partition_point(|(t, _)| *t <= horizon);
                if fold_until > 0 {
                    let folded = self.folded.get_or_insert_with(|| aggregation.accumulator());
                    for (t, v) in self.events.drain(..fold_until) {
                        folded.update(t, &v);
                    }
                }
            }
        }
    }

    /// The aggregate over `(at - W, at]` (or everything up to `at` for a lifetime
    /// aggregate); NULL when no value falls in it (count gives 0).
    pub fn evaluate(&self, aggregation: &Aggregation, at: i64) -> Option<Value> {
        let start = match aggregation.retention.window {
            Some(window) => {
                let lower = at.saturating_sub(window);
                self.events.partition_point(|(t, _)| *t <= lower)
            }
            None => 0,
        };
        fold_until(
            self.folded.as_ref(),
            aggregation,
            self.events[start..].iter().map(|(t, v)| (*t, v)),
            at,
        )
    }

    /// How many events are kept (not folded).
    pub fn kept(&self) -> usize {
        self.events.len()
    }
}

/// Folds `events` (by event time, starting inside the window) on top of `folded`
/// until the first one after `at`, and finishes the aggregate: the one evaluation
/// shared by online reads and training sets.
pub fn fold_until<V: Borrow<Value>>(
    folded: Option<&Accumulator>,
    aggregation: &Aggregation,
    events: impl Iterator<Item = (i64, V)>,
    at: i64,
) -> Option<Value> {
    let mut accumulator = folded.cloned().unwrap_or_else(|| aggregation.accumulator());
    for (t, v) in events {
        if t > at {
            break;
        }
        accumulator.update(t, v.borrow());
    }
    accumulator.finish(aggregation.function)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn sum(window: Option<i64>, lateness: i64) -> Aggregation {
        Aggregation {
            function: AggregateFunction::Sum,
            integer_input: true,
            retention: Retention { window, lateness },
        }
    }

    #[test]
    fn window_bounds_exclude_t_minus_w_and_include_t() {
        // Lateness of an hour keeps reads at t >= watermark - 1h exact.
        let aggregation = sum(Some(HOUR), HOUR);
        let mut state = KeyState::default();
        state.insert(&aggregation, 0, 0, Value::Int(1));
        state.insert(&aggregation, HOUR, HOUR, Value::Int(10));
        // (0, HOUR]: the event at 0 is at t - W, excluded; the one at t included.
        assert_eq!(state.evaluate(&aggregation, HOUR), Some(Value::Int(10)));
        // (-1, HOUR - 1]: only the event at 0.
        assert_eq!(state.evaluate(&aggregation, HOUR - 1), Some(Value::Int(1)));
        assert_eq!(state.evaluate(&aggregation, 3 * HOUR), None);
    }

    #[test]
    fn expired_events_are_dropped_and_lifetime_folds_them() {
        let windowed = sum(Some(HOUR), 0);
        let lifetime = sum(None, 0);
        let mut w = KeyState::default();
        let mut l = KeyState::default();
        for (i, t) in [0, HOUR / 2, 3 * HOUR].into_iter().enumerate() {
            w.insert(&windowed, t, t, Value::Int(i as i64 + 1));
            l.insert(&lifetime, t, t, Value::Int(i as i64 + 1));
        }
        assert_eq!(w.kept(), 1);
        assert_eq!(w.evaluate(&windowed, 3 * HOUR), Some(Value::Int(3)));
        assert_eq!(l.kept(), 0);
        assert_eq!(l.evaluate(&lifetime, 3 * HOUR), Some(Value::Int(6)));
    }

    #[test]
    fn late_events_within_lateness_are_placed_by_event_time() {
        let aggregation = Aggregation {
            function: AggregateFunction::Last,
            integer_input: true,
            retention: Retention {
                window: Some(HOUR),
                lateness: HOUR,
            },
        };
        let mut state = KeyState::default();
        state.insert(&aggregation, 100, 100, Value::Int(1));
        state.insert(&aggregation, 100, 50, Value::Int(2));
        assert_eq!(state.evaluate(&aggregation, 100), Some(Value::Int(1)));
        assert_eq!(state.evaluate(&aggregation, 60), Some(Value::Int(2)));
    }
}
