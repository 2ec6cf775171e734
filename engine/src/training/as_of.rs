//! Feature values as of each label's time, for one partition of entity keys: the
//! partition's events sorted by (key, event time, arrival), each label evaluated
//! over its key's events with the online operator's own fold ([`fold_until`]),
//! and, for features whose transforms need statistics, the value each event
//! produced when it arrived (what the online operator fed its statistics).

use crate::aggregate::{fold_until, slice_width, Accumulator, Aggregation, SlicedState};
use crate::value::Value;

use super::spill::EventRow;

/// One label row as a partition sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabelPoint {
    /// The entity key's number.
    pub key: u32,
    /// The time the features are computed as of (label time minus the offset).
    pub at: i64,
    /// The label's row number.
    pub index: u32,
}

/// The feature value right after one event, for the version's statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// The event's time.
    pub time: i64,
    /// Its order of arrival.
    pub seq: u64,
    /// The feature's value.
    pub value: f64,
}

/// What one feature's partition gave: a raw value per label (by row number), and
/// observations when asked for.
#[derive(Debug, Default)]
pub struct PartitionValues {
    /// (label row, aggregate before transforms).
    pub values: Vec<(u32, Option<Value>)>,
    /// The values events produced on arrival.
    pub observations: Vec<Observation>,
}

/// Puts a partition's events in the order evaluation reads them: by key, event
/// time, then arrival. The keys of one partition are `partitions` apart, so
/// they are grouped by a counting sort on `key / partitions`; each key's events
/// keep their order and are sorted by (time, arrival) only when they arrived out
/// of time order.
pub fn sort_events(events: &mut Vec<EventRow>, partitions: usize) {
    let stride = partitions.max(1) as u32;
    let Some(largest) = events.iter().map(|e| e.key / stride).max() else {
        return;
    };
    let mut counts = vec![0usize; largest as usize + 1];
    for event in events.iter() {
        counts[(event.key / stride) as usize] += 1;
    }
    let mut groups: Vec<Vec<EventRow>> = counts.iter().map(|n| Vec::with_capacity(*n)).collect();
    for event in events.drain(..) {
        groups[(event.key / stride) as usize].push(event);
    }
    for mut group in groups {
        if !group.is_sorted_by_key(|e| (e.time, e.seq)) {
            group.sort_unstable_by_key(|e| (e.time, e.seq));
        }
        events.append(&mut group);
    }
}

/// Evaluates one feature for the labels of one partition. `labels` are sorted
/// (by key, time, row); `events` are every event of the partition's keys, in
/// [`sort_events`] order.
pub fn evaluate_partition(
    events: &[EventRow],
    labels: &[LabelPoint],
    aggregation: &Aggregation,
    observe: bool,
) -> PartitionValues {
    let mut out = PartitionValues {
        values: Vec::with_capacity(labels.len()),
        observations: Vec::new(),
    };
    let (mut e, mut l) = (0, 0);
    while e < events.len() || l < labels.len() {
        let key = match (events.get(e), labels.get(l)) {
            (Some(ev), Some(label)) => ev.key.min(label.key),
            (Some(ev), None) => ev.key,
            (None, Some(label)) => label.key,
            (None, None) => break,
        };
        let e_end = e + events[e..].partition_point(|ev| ev.key == key);
        let l_end = l + labels[l..].partition_point(|label| label.key == key);
        let series = &events[e..e_end];
        evaluate_key(series, &labels[l..l_end], aggregation, &mut out.values);
        if observe {
            observe_key(series, aggregation, &mut out.observations);
        }
        (e, l) = (e_end, l_end);
    }
    out
}

/// One key: windowed features fold the window's events afresh at each label;
/// lifetime features carry one accumulator forward through the label times, as
/// the online state folds everything older than its horizon.
fn evaluate_key(
    series: &[EventRow],
    labels: &[LabelPoint],
    aggregation: &Aggregation,
    out: &mut Vec<(u32, Option<Value>)>,
) {
    match aggregation.retention.window {
        Some(window) => {
            for label in labels {
                let lower = label.at.saturating_sub(window);
                let start = series.partition_point(|ev| ev.time <= lower);
                let value = fold_until(
                    None,
                    aggregation,
                    series[start..].iter().map(|ev| (ev.time, &ev.value)),
                    label.at,
                );
                out.push((label.index, value));
            }
        }
        None => {
            let mut folded: Accumulator = aggregation.accumulator();
            let mut next = 0;
            for label in labels {
                while next < series.len() && series[next].time <= label.at {
                    folded.update(series[next].time, &series[next].value);
                    next += 1;
                }
                out.push((label.index, folded.finish(aggregation.function)));
            }
        }
    }
}

/// The value of the feature at each event's own time, over that event and the
/// ones that came before it: what the online operator evaluates on arrival,
/// with its code (a windowed feature's [`SlicedState`], a lifetime feature's
/// running fold) and so to the same bits.
fn observe_key(series: &[EventRow], aggregation: &Aggregation, out: &mut Vec<Observation>) {
    let mut folded = aggregation.accumulator();
    let mut sliced = aggregation
        .retention
        .window
        .map(|window| SlicedState::new(slice_width(window)));
    for event in series {
        let value = match sliced.as_mut() {
            Some(state) => {
                state.insert(aggregation, event.time, event.time, event.value.clone());
                state.evaluate(aggregation, event.time)
            }
            None => {
                folded.update(event.time, &event.value);
                folded.finish(aggregation.function)
            }
        };
        if let Some(value) = value.and_then(|v| v.as_f64()) {
            out.push(Observation {
                time: event.time,
                seq: event.seq,
                value,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{KeyState, Retention};
    use freshet_sql::aggregate::AggregateFunction;

    fn aggregation(function: AggregateFunction, window: Option<i64>) -> Aggregation {
        Aggregation {
            function,
            integer_input: true,
            retention: Retention {
                window,
                lateness: i64::MAX / 4,
            },
        }
    }

    /// Labels of two keys, with the online `KeyState` (fed the same events) as
    /// the reference at every label time.
    #[test]
    fn partition_values_equal_the_online_state_at_each_label() {
        let events: Vec<EventRow> = [(1, 10, 5), (2, 10, 7), (1, 20, 1), (1, 30, 9), (2, 35, 2)]
            .iter()
            .enumerate()
            .map(|(seq, &(key, time, v))| EventRow {
                key,
                time,
                seq: seq as u64,
                value: Value::Int(v),
            })
            .collect();
        let mut labels: Vec<LabelPoint> = [(1, 5), (1, 10), (1, 25), (1, 30), (2, 40), (3, 40)]
            .iter()
            .enumerate()
            .map(|(index, &(key, at))| LabelPoint {
                key,
                at,
                index: index as u32,
            })
            .collect();
        labels.sort();
        let mut events = events;
        sort_events(&mut events, 1);
        for function in AggregateFunction::ALL {
            for window in [Some(10), None] {
                let aggregation = aggregation(function, window);
                let got = evaluate_partition(&events, &labels, &aggregation, false);
                for (label, (index, value)) in labels.iter().zip(&got.values) {
                    let mut state = KeyState::default();
                    for ev in events.iter().filter(|e| e.key == label.key) {
                        state.insert(&aggregation, ev.time, ev.time, ev.value.clone());
                    }
                    assert_eq!(*index, label.index);
                    assert_eq!(
                        value,
                        &state.evaluate(&aggregation, label.at),
                        "{function:?} {window:?} at {label:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn sorting_groups_keys_and_orders_late_arrivals_by_time() {
        // One partition of four: keys 1, 5 and 9; arrival (seq) order is not time order.
        let arrivals = [(9, 30), (1, 20), (5, 10), (1, 10), (9, 10), (1, 20)];
        let mut events: Vec<EventRow> = arrivals
            .iter()
            .enumerate()
            .map(|(seq, &(key, time))| EventRow {
                key,
                time,
                seq: seq as u64,
                value: Value::Int(0),
            })
            .collect();
        let mut expected = events.clone();
        expected.sort_by_key(|e| (e.key, e.time, e.seq));
        sort_events(&mut events, 4);
        assert_eq!(events, expected);
    }

    #[test]
    fn observations_are_the_value_each_event_left_behind() {
        let events: Vec<EventRow> = [(0, 1), (5, 2), (5, 3), (20, 4)]
            .iter()
            .enumerate()
            .map(|(seq, &(time, v))| EventRow {
                key: 0,
                time,
                seq: seq as u64,
                value: Value::Int(v),
            })
            .collect();
        let got = evaluate_partition(
            &events,
            &[],
            &aggregation(AggregateFunction::Sum, Some(10)),
            true,
        );
        let values: Vec<f64> = got.observations.iter().map(|o| o.value).collect();
        // (t-10, t]: 1; 1+2; 1+2+3; only 4 (the others are 15 and 20 old).
        assert_eq!(values, [1.0, 3.0, 6.0, 4.0]);
    }
}
