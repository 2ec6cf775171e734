//! [`SlicedState`]: one entity's events for a windowed feature, grouped into
//! event-time slices of a fixed width, each slice with the partial aggregate of
//! its events. A read at `t` merges the partials of the slices wholly inside
//! `(t - W, t]` and folds raw events only for the slices the bounds cut, so its
//! cost follows the number of slices, not the number of events in the window.
//!
//! Slice `k` of width `s` holds the event times in `(k·s, (k+1)·s]`, the same
//! left-open, right-closed shape as a window. A slice's partial is always the
//! fold of its events in (event time, arrival) order: an event that arrives in
//! time order is folded into it, a late one makes it refold its slice. Two
//! states fed the same events therefore hold the same partials bit for bit, and
//! evaluate to the same bits: the online operator (which evaluates its feature
//! at every event for value statistics) and training sets (which replay those
//! evaluations) share this code and this merge order.
//!
//! ```
//! # use freshet_engine::aggregate::{Aggregation, Retention, SlicedState};
//! # use freshet_engine::value::Value;
//! # use freshet_sql::aggregate::AggregateFunction;
//! let aggregation = Aggregation {
//!     function: AggregateFunction::Sum,
//!     integer_input: true,
//!     retention: Retention { window: Some(100), lateness: 0 },
//! };
//! let mut state = SlicedState::new(10);
//! for t in [5, 10, 11, 55, 99, 100, 104] {
//!     state.insert(&aggregation, t, t, Value::Int(t));
//! }
//! // (4, 104]: slices (10, 20] to (90, 100] merge their partials, the cut
//! // slices (0, 10] and (100, 110] fold their events inside the window.
//! let all = 5 + 10 + 11 + 55 + 99 + 100 + 104;
//! assert_eq!(state.evaluate(&aggregation, 104), Some(Value::Int(all)));
//! // Watermark 104 expires through 4: nothing stored is older.
//! assert_eq!(state.kept(), 7);
//! ```

use std::collections::VecDeque;

use super::{Accumulator, Aggregation};
use crate::value::Value;

const SECOND: i64 = 1_000_000;
/// The units a slice width is rounded to, largest first.
const UNITS: [i64; 4] = [86_400 * SECOND, 3_600 * SECOND, 60 * SECOND, SECOND];
/// About how many slices a window spans.
const SLICES_PER_WINDOW: i64 = 32;

/// The slice width of a window of `window` µs: about `W / 32`, rounded down to
/// a whole number of the largest unit (day, hour, minute, second) that fits in
/// it; below 32 seconds, `W / 32` µs (at least 1).
pub fn slice_width(window: i64) -> i64 {
    let target = (window / SLICES_PER_WINDOW).max(1);
    match UNITS.iter().find(|unit| **unit <= target) {
        Some(unit) => target / unit * unit,
        None => target,
    }
}

/// One slice: its events and their partial.
#[derive(Debug, Clone, PartialEq)]
struct Slice {
    /// `k`: the slice holds times in `(k·width, (k+1)·width]`.
    index: i64,
    /// The events, by event time; equal times in arrival order.
    events: Vec<(i64, Value)>,
    /// The fold of `events` in order, while `whole`.
    partial: Accumulator,
    /// False once expiry removed some of the slice's events: its partial no
    /// longer describes the slice, and no read that must be exact merges it.
    whole: bool,
}

/// One entity's events for a windowed feature, in slices with partials.
#[derive(Debug, Clone, PartialEq)]
pub struct SlicedState {
    width: i64,
    /// By index, ascending.
    slices: VecDeque<Slice>,
}

impl SlicedState {
    /// An empty state with slices `width` µs wide (at least 1).
    pub fn new(width: i64) -> SlicedState {
        SlicedState {
            width: width.max(1),
            slices: VecDeque::new(),
        }
    }

    /// A state holding `events` (by event time, equal times in arrival order)
    /// that were kept after expiring everything at or before `expire_through`.
    pub fn from_events(
        aggregation: &Aggregation,
        width: i64,
        events: impl IntoIterator<Item = (i64, Value)>,
        expire_through: i64,
    ) -> SlicedState {
        let mut state = SlicedState::new(width);
        for (time, value) in events {
            state.add(aggregation, time, value);
        }
        if let Some(first) = state.slices.front_mut() {
            if slice_low(first.index, state.width) < expire_through {
                first.whole = false;
            }
        }
        state
    }

    /// Adds one event, then drops what the watermark (the largest event time
    /// the lane has seen, including this event) has made unreachable: every
    /// event that no read at `t >= watermark - lateness` covers.
    pub fn insert(
        &mut self,
        aggregation: &Aggregation,
        watermark: i64,
        event_time: i64,
        value: Value,
    ) {
        self.add(aggregation, event_time, value);
        if let Some(expired) = aggregation.retention.expire_through(watermark) {
            self.expire_through(expired);
        }
    }

    fn add(&mut self, aggregation: &Aggregation, event_time: i64, value: Value) {
        let index = event_time.saturating_sub(1).div_euclid(self.width);
        let at = self.slices.partition_point(|slice| slice.index < index);
        if self.slices.get(at).is_none_or(|slice| slice.index != index) {
            self.slices.insert(
                at,
                Slice {
                    index,
                    events: Vec::new(),
                    partial: aggregation.accumulator(),
                    whole: true,
                },
            );
        }
        let slice = &mut self.slices[at];
        let place = slice.events.partition_point(|(t, _)| *t <= event_time);
        if place == slice.events.len() {
            slice.partial.update(event_time, &value);
            slice.events.push((event_time, value));
        } else {
            slice.events.insert(place, (event_time, value));
            let mut partial = aggregation.accumulator();
            for (t, v) in &slice.events {
                partial.update(*t, v);
            }
            slice.partial = partial;
        }
    }

    /// Drops every event at or before `expired`, and the slices left empty.
    fn expire_through(&mut self, expired: i64) {
        while let Some(first) = self.slices.front_mut() {
            if slice_high(first.index, self.width) <= expired {
                self.slices.pop_front();
                continue;
            }
            let gone = first.events.partition_point(|(t, _)| *t <= expired);
            if gone > 0 {
                first.events.drain(..gone);
                first.whole = false;
                if first.events.is_empty() {
                    self.slices.pop_front();
                    continue;
                }
            }
            break;
        }
    }

    /// The aggregate over `(at - W, at]`; NULL when no value falls in it (count
    /// gives 0). Whole slices inside the window contribute their partials, in
    /// slice order; the others their events inside the window.
    pub fn evaluate(&self, aggregation: &Aggregation, at: i64) -> Option<Value> {
        let lower = aggregation
            .retention
            .window
            .map_or(i64::MIN, |window| at.saturating_sub(window));
        let mut accumulator = aggregation.accumulator();
        for slice in &self.slices {
            let (low, high) = (
                slice_low(slice.index, self.width),
                slice_high(slice.index, self.width),
            );
            if high <= lower {
                continue;
            }
            if low >= at {
                break;
            }
            if slice.whole && low >= lower && high <= at {
                accumulator.merge(&slice.partial);
            } else {
                for (t, v) in &slice.events {
                    if *t > lower && *t <= at {
                        accumulator.update(*t, v);
                    }
                }
            }
        }
        accumulator.finish(aggregation.function)
    }

    /// How many events are kept.
    pub fn kept(&self) -> usize {
        self.slices.iter().map(|slice| slice.events.len()).sum()
    }

    /// The kept events, by event time (equal times in arrival order).
    pub fn events(&self) -> impl Iterator<Item = &(i64, Value)> {
        self.slices.iter().flat_map(|slice| slice.events.iter())
    }
}

/// The exclusive lower bound of slice `index`'s times.
fn slice_low(index: i64, width: i64) -> i64 {
    index.saturating_mul(width)
}

/// The inclusive upper bound of slice `index`'s times.
fn slice_high(index: i64, width: i64) -> i64 {
    index.saturating_add(1).saturating_mul(width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Retention;
    use freshet_sql::aggregate::AggregateFunction;
    use freshet_testkit::reference::{self, Function};
    use freshet_testkit::values::{close, Val};
    use proptest::prelude::*;

    const FUNCTIONS: [(AggregateFunction, Function); 10] = [
        (AggregateFunction::Count, Function::Count),
        (AggregateFunction::CountDistinct, Function::CountDistinct),
        (AggregateFunction::Sum, Function::Sum),
        (AggregateFunction::Avg, Function::Avg),
        (AggregateFunction::Min, Function::Min),
        (AggregateFunction::Max, Function::Max),
        (AggregateFunction::First, Function::First),
        (AggregateFunction::Last, Function::Last),
        (AggregateFunction::Var, Function::Var),
        (AggregateFunction::Stddev, Function::Stddev),
    ];

    fn aggregation(function: AggregateFunction, window: i64, lateness: i64) -> Aggregation {
        Aggregation {
            function,
            integer_input: false,
            retention: Retention {
                window: Some(window),
                lateness,
            },
        }
    }

    fn val(value: Option<Value>) -> Val {
        match value {
            None => Val::Null,
            Some(Value::Int(v)) => Val::I(v),
            Some(Value::Float(v)) => Val::F(v),
            Some(other) => panic!("unexpected value {other:?}"),
        }
    }

    #[test]
    fn widths_are_about_a_32nd_of_the_window_in_whole_units() {
        const MINUTE: i64 = 60 * SECOND;
        const HOUR: i64 = 60 * MINUTE;
        const DAY: i64 = 24 * HOUR;
        assert_eq!(slice_width(HOUR), MINUTE); // 112.5 s
        assert_eq!(slice_width(24 * HOUR), 45 * MINUTE);
        assert_eq!(slice_width(7 * DAY), 5 * HOUR); // 5.25 h
        assert_eq!(slice_width(90 * DAY), 2 * DAY); // 2.8 d
        assert_eq!(slice_width(10 * MINUTE), 18 * SECOND); // 18.75 s
        assert_eq!(slice_width(16 * SECOND), SECOND / 2);
        assert_eq!(slice_width(5), 1);
    }

    #[test]
    fn a_late_event_refolds_its_slice_in_time_order() {
        let last = aggregation(AggregateFunction::Last, 100, 100);
        let mut state = SlicedState::new(10);
        state.insert(&last, 19, 19, Value::Int(1));
        state.insert(&last, 19, 12, Value::Int(2));
        // (10, 20] is whole in (0, 20]: its partial's last is the event at 19.
        assert_eq!(state.evaluate(&last, 20), Some(Value::Int(1)));
        assert_eq!(state.evaluate(&last, 15), Some(Value::Int(2)));
        let refolded = SlicedState::from_events(
            &last,
            10,
            [(12, Value::Int(2)), (19, Value::Int(1))],
            i64::MIN,
        );
        assert_eq!(state, refolded);
    }

    /// Events on a small grid of times so that they land on slice and window
    /// boundaries often: (arrival-ordered time offset, value).
    fn grid_events() -> impl Strategy<Value = Vec<(i64, i8)>> {
        prop::collection::vec((0i64..48, -6i8..6), 1..60)
    }

    /// Feeds `raw` (time offset, value) to a new state of slices `width`
    /// wide, in arrival order, refusing what is later than the lateness (as
    /// ingest does); returns the state, the watermark and the accepted events
    /// (time, value as fed) in arrival order.
    fn feed(
        aggregation: &Aggregation,
        width: i64,
        raw: &[(i64, i8)],
        scale: f64,
    ) -> (SlicedState, i64, Vec<(i64, f64)>) {
        let mut state = SlicedState::new(width);
        let mut watermark = i64::MIN;
        let mut accepted = Vec::new();
        for (offset, value) in raw {
            if *offset < watermark.saturating_sub(aggregation.retention.lateness) {
                continue;
            }
            watermark = watermark.max(*offset);
            let value = f64::from(*value) * scale;
            state.insert(aggregation, watermark, *offset, Value::Float(value));
            accepted.push((*offset, value));
        }
        (state, watermark, accepted)
    }

    proptest! {
        /// Every read at a time no earlier than the horizon equals the brute
        /// force over all events, for every aggregate, any slice width and
        /// window, with events late by up to the lateness; and the kept events
        /// are exactly those after the last expiry (nothing a read at
        /// `t >= watermark - lateness` needs is dropped, nothing older kept).
        #[test]
        fn reads_match_the_brute_force_and_expiry_keeps_what_reads_need(
            raw in grid_events(),
            width in 1i64..9,
            window in 1i64..25,
            lateness in 0i64..12,
            probes in prop::collection::vec(0i64..30, 1..6),
        ) {
            for (function, reference_function) in FUNCTIONS {
                let aggregation = aggregation(function, window, lateness);
                let (state, watermark, accepted) = feed(&aggregation, width, &raw, 0.75);
                let accepted: Vec<(i64, Val)> =
                    accepted.into_iter().map(|(t, v)| (t, Val::F(v))).collect();
                let expired = aggregation.retention.expire_through(watermark).unwrap();
                let mut needed: Vec<(usize, i64)> = accepted
                    .iter()
                    .enumerate()
                    .filter(|(_, (t, _))| *t > expired)
                    .map(|(arrival, (t, _))| (arrival, *t))
                    .collect();
                needed.sort_by_key(|(arrival, t)| (*t, *arrival));
                let kept: Vec<(i64, Val)> = state
                    .events()
                    .map(|(t, v)| (*t, val(Some(v.clone()))))
                    .collect();
                let expected: Vec<(i64, Val)> = needed
                    .iter()
                    .map(|(arrival, _)| accepted[*arrival].clone())
                    .collect();
                prop_assert_eq!(kept, expected);
                let horizon = aggregation.retention.horizon(watermark);
                for probe in &probes {
                    let at = horizon + probe;
                    let got = val(state.evaluate(&aggregation, at));
                    let want = reference::evaluate(
                        reference_function,
                        Some(window),
                        at,
                        accepted.iter().cloned(),
                    );
                    prop_assert!(
                        close(&got, &want),
                        "{:?} at {}: {:?} vs {:?}", function, at, got, want
                    );
                }
            }
        }

        /// A state rebuilt from its kept events (a restart) evaluates every
        /// read that must be exact to the same bits as the state that lived
        /// through the inserts.
        #[test]
        fn a_rebuilt_state_evaluates_to_the_same_bits(
            raw in grid_events(),
            width in 1i64..9,
            window in 1i64..25,
            lateness in 0i64..12,
        ) {
            for (function, _) in FUNCTIONS {
                let aggregation = aggregation(function, window, lateness);
                let (state, watermark, _) = feed(&aggregation, width, &raw, 1.0 / 3.0);
                let expired = aggregation.retention.expire_through(watermark).unwrap();
                let rebuilt = SlicedState::from_events(
                    &aggregation,
                    width,
                    state.events().cloned(),
                    expired,
                );
                let horizon = aggregation.retention.horizon(watermark);
                for at in horizon..horizon + 30 {
                    let live = state.evaluate(&aggregation, at);
                    let again = rebuilt.evaluate(&aggregation, at);
                    let bits = |v: &Option<Value>| v.as_ref().map(Value::key_bytes);
                    prop_assert!(
                        bits(&live) == bits(&again),
                        "{:?} at {}: {:?} vs {:?}", function, at, live, again
                    );
                }
            }
        }
    }
}
