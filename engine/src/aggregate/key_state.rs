//! [`KeyState`]: one entity's state for one feature, kept exactly as long as some
//! read can still need it: for a windowed feature, event-time slices each holding
//! their events and the partial aggregate of those events; for a lifetime feature,
//! one folded accumulator and the events newer than the lateness horizon.

use std::collections::BTreeMap;

use freshet_sql::aggregate::AggregateFunction;
use serde::{Deserialize, Serialize};

use super::Accumulator;
use crate::value::Value;

const MICROS_PER_UNIT: [i64; 6] = [
    86_400_000_000,
    3_600_000_000,
    60_000_000,
    1_000_000,
    1_000,
    1,
];

/// The slice width for a window of `window` microseconds: about `window / 32`,
/// rounded down to a whole number of the largest unit (day, hour, minute,
/// second, millisecond, microsecond) that fits, so a window spans 32 to 64
/// slices. Never less than one microsecond.
pub fn slice_width(window: i64) -> i64 {
    let target = window / 32;
    MICROS_PER_UNIT
        .iter()
        .find(|unit| **unit <= target)
        .map_or(1, |unit| target / unit * unit)
}

/// How long a feature keeps events, in microseconds, and how it slices them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The window W; `None` for a lifetime aggregate.
    pub window: Option<i64>,
    /// The source's allowed lateness.
    pub lateness: i64,
    /// The width of a windowed feature's event-time slices (see [`slice_width`]);
    /// unused for a lifetime aggregate.
    pub slice: i64,
}

impl Retention {
    /// The retention of a window (or lifetime) under a source's lateness, with
    /// the window's default slice width.
    pub fn new(window: Option<i64>, lateness: i64) -> Retention {
        Retention {
            window,
            lateness,
            slice: window.map_or(1, slice_width),
        }
    }

    /// The slice holding event time `t`.
    pub fn slice_of(&self, t: i64) -> i64 {
        t.div_euclid(self.slice.max(1))
    }
}

/// One event-time slice of a windowed feature: its events and, once computed
/// in memory, their partial aggregate, folded in (event time, arrival) order.
///
/// The partial is not stored: in the one-value-per-key layout a read decodes
/// every event anyway, and storing partials beside them cost 1.47× the bytes
/// per event in `engine_bench`. It is rebuilt when the slice is next written,
/// and a read folds the slice's events the same way the partial would.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    /// The events, by event time; equal times in arrival order.
    events: Vec<(i64, Value)>,
    /// The aggregate of `events`, folded in their order, when known.
    #[serde(skip)]
    partial: Option<Accumulator>,
}

impl Slice {
    /// The slice as [`evaluate_slices`] reads it; `None` when it holds nothing.
    fn view(&self) -> Option<SliceView<'_, impl Iterator<Item = (i64, &Value)>>> {
        Some(SliceView {
            first: self.events.first()?.0,
            last: self.events.last()?.0,
            partial: self.partial.as_ref(),
            events: self.events.iter().map(|(t, v)| (*t, v)),
        })
    }
}

/// One entity's state for one feature.
///
/// Reads at any time `t >= watermark - lateness` are exact: a windowed feature
/// keeps every slice holding an event with `event_time > watermark - lateness - W`
/// (older ones can no longer fall in any such window); a lifetime feature folds
/// events older than `watermark - lateness` into one accumulator and keeps the
/// newer ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    /// Windowed features: the slices, by slice number (event time div width).
    slices: BTreeMap<i64, Slice>,
    /// Lifetime features: kept events, by event time; equal times in arrival order.
    events: Vec<(i64, Value)>,
    /// Lifetime features: the events folded so far.
    folded: Option<Accumulator>,
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

/// Inserts `(event_time, value)` into time-ordered `events` after those with the
/// same time; returns whether it went at the end.
fn insert_ordered(events: &mut Vec<(i64, Value)>, event_time: i64, value: Value) -> bool {
    let at = events.partition_point(|(t, _)| *t <= event_time);
    events.insert(at, (event_time, value));
    at + 1 == events.len()
}

impl KeyState {
    /// Adds one event, then drops or folds what the watermark (the largest event
    /// time the lane has seen over all partitions, including this event) has made
    /// unreachable.
    pub fn insert(
        &mut self,
        aggregation: &Aggregation,
        watermark: i64,
        event_time: i64,
        value: Value,
    ) {
        let retention = aggregation.retention;
        let horizon = watermark.saturating_sub(retention.lateness);
        match retention.window {
            Some(window) => {
                let slice = self
                    .slices
                    .entry(retention.slice_of(event_time))
                    .or_insert_with(|| Slice {
                        events: Vec::new(),
                        partial: Some(aggregation.accumulator()),
                    });
                let at_end = insert_ordered(&mut slice.events, event_time, value);
                match (&mut slice.partial, at_end) {
                    (Some(partial), true) => {
                        let (t, v) = slice.events.last().expect("just inserted");
                        partial.update(*t, v);
                    }
                    // A late event inside the slice, or a slice just decoded:
                    // refold in event-time order, so the partial is the same
                    // whatever order events arrived in.
                    _ => {
                        let mut partial = aggregation.accumulator();
                        for (t, v) in &slice.events {
                            partial.update(*t, v);
                        }
                        slice.partial = Some(partial);
                    }
                }
                // A slice goes once its last instant is at or before the expiry
                // horizon: every event in it is then out of every readable window.
                let expired = horizon.saturating_sub(window);
                let width = retention.slice.max(1);
                while let Some(entry) = self.slices.first_entry() {
                    let last_instant = entry.key().saturating_mul(width).saturating_add(width - 1);
                    if last_instant > expired {
                        break;
                    }
                    entry.remove();
                }
            }
            None => {
                insert_ordered(&mut self.events, event_time, value);
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
        let retention = aggregation.retention;
        match retention.window {
            Some(window) => {
                let lower = at.saturating_sub(window);
                let first = retention.slice_of(lower);
                let last = retention.slice_of(at);
                evaluate_slices(
                    aggregation,
                    self.slices
                        .range(first..=last)
                        .filter_map(|(_, slice)| slice.view()),
                    at,
                )
            }
            None => fold_until(
                self.folded.as_ref(),
                aggregation,
                self.events.iter().map(|(t, v)| (*t, v)),
                at,
            ),
        }
    }

    /// How many events are kept (not folded).
    pub fn kept(&self) -> usize {
        self.events.len() + self.slices.values().map(|s| s.events.len()).sum::<usize>()
    }
}

/// One slice as [`evaluate_slices`] reads it: the event times of its first and
/// last events, its partial, and its events in order.
pub struct SliceView<'a, E> {
    /// The earliest event time in the slice.
    pub first: i64,
    /// The latest event time in the slice.
    pub last: i64,
    /// The aggregate of all its events, when known (else it is folded from
    /// `events`, giving the same bits).
    pub partial: Option<&'a Accumulator>,
    /// Its events, by event time.
    pub events: E,
}

/// The windowed aggregate over `(at - W, at]` from non-empty slices given in
/// ascending order: a slice whose events all fall inside the window contributes
/// its partial; a slice the window's bounds cut contributes its events inside
/// the bounds (so raw events are read only for the slice holding `at - W` and a
/// newest slice holding events after `at`). Either way a slice's contribution
/// is the fold of its events inside the window, in order, from empty, merged in
/// slice order: the result depends only on the events inside the window. The
/// one evaluation of windowed features shared by online reads, statistics and
/// training sets, so they agree bit for bit.
pub fn evaluate_slices<'a, S, E>(aggregation: &Aggregation, slices: S, at: i64) -> Option<Value>
where
    S: IntoIterator<Item = SliceView<'a, E>>,
    E: IntoIterator<Item = (i64, &'a Value)>,
{
    let lower = at.saturating_sub(aggregation.retention.window.unwrap_or(i64::MAX));
    let mut accumulator = aggregation.accumulator();
    for slice in slices {
        if slice.last <= lower {
            continue;
        }
        if slice.first > at {
            break;
        }
        if let (Some(partial), true) = (slice.partial, slice.first > lower && slice.last <= at) {
            accumulator.merge(partial);
        } else {
            // Folded from empty, then merged: the same bits the slice's partial
            // has when all its events are inside, so the result depends only on
            // the events inside the window, not on later events of the slice.
            let mut inside = aggregation.accumulator();
            for (t, v) in slice.events {
                if t > lower && t <= at {
                    inside.update(t, v);
                }
            }
            accumulator.merge(&inside);
        }
    }
    accumulator.finish(aggregation.function)
}

/// Folds `events` (by event time) on top of `folded` until the first one after
/// `at`, and finishes the aggregate: the evaluation of lifetime features shared
/// by online reads and training sets.
pub fn fold_until<'a>(
    folded: Option<&Accumulator>,
    aggregation: &Aggregation,
    events: impl Iterator<Item = (i64, &'a Value)>,
    at: i64,
) -> Option<Value> {
    let mut accumulator = folded.cloned().unwrap_or_else(|| aggregation.accumulator());
    for (t, v) in events {
        if t > at {
            break;
        }
        accumulator.update(t, v);
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
            retention: Retention::new(window, lateness),
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
            retention: Retention::new(Some(HOUR), HOUR),
        };
        let mut state = KeyState::default();
        state.insert(&aggregation, 100, 100, Value::Int(1));
        state.insert(&aggregation, 100, 50, Value::Int(2));
        assert_eq!(state.evaluate(&aggregation, 100), Some(Value::Int(1)));
        assert_eq!(state.evaluate(&aggregation, 60), Some(Value::Int(2)));
    }

    #[test]
    fn default_slices_are_a_whole_unit_near_a_32nd_of_the_window() {
        const MINUTE: i64 = 60_000_000;
        const DAY: i64 = 24 * HOUR;
        // 7d / 32 = 5.25h: 5 hours. 1h / 32 = 112.5s: 1 minute. 30d / 32 = 22.5h.
        assert_eq!(slice_width(7 * DAY), 5 * HOUR);
        assert_eq!(slice_width(HOUR), MINUTE);
        assert_eq!(slice_width(30 * DAY), 22 * HOUR);
        assert_eq!(slice_width(64 * DAY), 2 * DAY);
        assert_eq!(slice_width(10), 1);
    }

    #[test]
    fn a_read_merges_inner_slices_and_folds_only_the_cut_ones() {
        // Slices of 10: [0,9], [10,19], [20,29]. Window 15 at t=24: (9, 24] takes
        // the slice [10,19] whole and the events 20..=24 of the cut slice [20,29]
        // (it holds 25, after t).
        let aggregation = Aggregation {
            function: AggregateFunction::Sum,
            integer_input: true,
            retention: Retention {
                slice: 10,
                ..Retention::new(Some(15), 100)
            },
        };
        let mut state = KeyState::default();
        for (t, v) in [
            (9, 1),
            (10, 10),
            (19, 100),
            (20, 1_000),
            (24, 10_000),
            (25, 100_000),
        ] {
            state.insert(&aggregation, 25, t, Value::Int(v));
        }
        assert_eq!(state.evaluate(&aggregation, 24), Some(Value::Int(11_110)));
        // (10, 25]: 19, 20, 24, 25; the slice [10,19] is cut at 10.
        assert_eq!(state.evaluate(&aggregation, 25), Some(Value::Int(111_100)));
    }

    #[test]
    fn a_read_does_not_change_when_later_events_join_its_slices() {
        // Online reads `now` before later events arrive; training reads the same
        // instant with them in the log. Both must give the same bits.
        let aggregation = Aggregation {
            function: AggregateFunction::Sum,
            integer_input: false,
            retention: Retention {
                slice: 100,
                ..Retention::new(Some(250), 1_000)
            },
        };
        let mut state = KeyState::default();
        for (t, v) in [(150, 0.1), (210, 0.7), (220, 0.2), (230, 0.3)] {
            state.insert(&aggregation, t, t, Value::Float(v));
        }
        let before = [230, 240, 380].map(|at| state.evaluate(&aggregation, at));
        state.insert(&aggregation, 290, 290, Value::Float(0.6));
        let after = [230, 240, 380].map(|at| state.evaluate(&aggregation, at));
        assert_eq!(before[..2], after[..2]);
        // 380 sees (130, 380]: all five.
        assert_ne!(before[2], after[2]);
    }

    proptest::proptest! {
        /// After random inserts (out of order within the lateness) the state holds
        /// exactly the slices a read at `t >= watermark - lateness` can reach —
        /// those holding an event whose last instant is after
        /// `watermark - lateness - W` — each with all of its events; a lifetime
        /// state keeps exactly the events after `watermark - lateness` and folds
        /// the rest.
        #[test]
        fn expiry_keeps_exactly_what_a_read_can_need(
            steps in proptest::collection::vec((0i64..60, -20i64..20), 1..120),
            window in 1i64..50,
            slice in 1i64..30,
            lateness in 0i64..25,
        ) {
            let windowed = Aggregation {
                function: AggregateFunction::Count,
                integer_input: true,
                retention: Retention { slice, ..Retention::new(Some(window), lateness) },
            };
            let lifetime = Aggregation {
                retention: Retention::new(None, lateness),
                ..windowed
            };
            let (mut w, mut l) = (KeyState::default(), KeyState::default());
            let mut inserted: Vec<i64> = Vec::new();
            let mut watermark = i64::MIN;
            let mut clock = 0;
            for (advance, jitter) in steps {
                clock += advance;
                // Within the lateness of the watermark, as ingest guarantees.
                let t = (clock + jitter).max(watermark.saturating_sub(lateness));
                watermark = watermark.max(t);
                inserted.push(t);
                w.insert(&windowed, watermark, t, Value::Int(t));
                l.insert(&lifetime, watermark, t, Value::Int(t));

                let horizon = watermark - lateness;
                let expired = horizon - window;
                let needed = |index: i64| index * slice + slice - 1 > expired;
                let mut expected: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
                for &e in &inserted {
                    let index = e.div_euclid(slice);
                    if needed(index) {
                        expected.entry(index).or_default().push(e);
                    }
                }
                let held: BTreeMap<i64, Vec<i64>> = w
                    .slices
                    .iter()
                    .map(|(index, s)| (*index, s.events.iter().map(|(t, _)| *t).collect()))
                    .collect();
                for events in expected.values_mut() {
                    events.sort();
                }
                proptest::prop_assert_eq!(&held, &expected);
                for (index, s) in &w.slices {
                    proptest::prop_assert_eq!(
                        s.partial.as_ref().and_then(|p| p.finish(AggregateFunction::Count)),
                        Some(Value::Int(expected[index].len() as i64))
                    );
                }

                let mut kept: Vec<i64> = inserted.iter().copied().filter(|e| *e > horizon).collect();
                kept.sort();
                let held: Vec<i64> = l.events.iter().map(|(t, _)| *t).collect();
                proptest::prop_assert_eq!(held, kept);
                let folded = inserted.iter().filter(|e| **e <= horizon).count() as i64;
                let got = l.folded.as_ref().and_then(|f| f.finish(AggregateFunction::Count));
                proptest::prop_assert_eq!(got.unwrap_or(Value::Int(0)), Value::Int(folded));
            }
        }
    }
}
