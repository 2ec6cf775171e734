//! The brute-force window reference: an aggregate computed straight from the
//! events, with nothing shared with the engine's operators, so that tests can
//! hold the engine (online reads, training sets, backfills) against it.
//!
//! The semantics are the design's (DESIGN.md §4.1): a window `W` evaluated at `t`
//! covers the events with `t - W < event_time <= t`; a lifetime feature covers
//! every event with `event_time <= t`. An empty window gives NULL, except that
//! `count` and `count_distinct` give 0; the feature's default then applies
//! ([`Val::or`]).
//!
//! ```
//! use freshet_testkit::reference::{evaluate, Function};
//! use freshet_testkit::values::Val;
//!
//! // (event time, value) of one entity, in arrival order.
//! let events = [(10, Val::F(1.0)), (20, Val::F(2.0)), (30, Val::F(4.0))];
//! assert_eq!(evaluate(Function::Sum, Some(15), 30, events.clone()), Val::F(6.0));
//! assert_eq!(evaluate(Function::Count, Some(5), 29, events.clone()), Val::I(0));
//! assert_eq!(evaluate(Function::Max, None, 25, events), Val::F(2.0));
//! ```

use std::collections::BTreeSet;

use crate::values::Val;

/// The aggregate functions of a feature, as the reference computes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// The number of covered events.
    Count,
    /// The number of distinct covered values.
    CountDistinct,
    /// The sum, as a float.
    Sum,
    /// The mean, as a float.
    Avg,
    /// The smallest value, as a float.
    Min,
    /// The largest value, as a float.
    Max,
    /// The value of the earliest event (on a tie, the first to arrive).
    First,
    /// The value of the latest event (on a tie, the last to arrive).
    Last,
    /// The sample variance (NULL below two events).
    Var,
    /// The sample standard deviation (NULL below two events).
    Stddev,
}

/// Whether an event at `event_time` is in the window of length `window` (`None`:
/// lifetime) evaluated at `t`: `t - window < event_time <= t`.
pub fn covers(window: Option<i64>, t: i64, event_time: i64) -> bool {
    event_time <= t && window.is_none_or(|w| event_time > t - w)
}

/// `function` over the `(event time, value)` events of one entity that the
/// window covers at `t`, brute force. `events` come in arrival order (it breaks
/// `first`/`last` ties); values are never [`Val::Null`], and numeric functions
/// take [`Val::I`] or [`Val::F`].
pub fn evaluate(
    function: Function,
    window: Option<i64>,
    t: i64,
    events: impl IntoIterator<Item = (i64, Val)>,
) -> Val {
    let covered: Vec<(i64, Val)> = events
        .into_iter()
        .filter(|(event_time, _)| covers(window, t, *event_time))
        .collect();
    match function {
        Function::Count => return Val::I(covered.len() as i64),
        Function::CountDistinct => {
            let distinct: BTreeSet<Distinct> = covered.iter().map(|(_, v)| distinct(v)).collect();
            return Val::I(distinct.len() as i64);
        }
        _ if covered.is_empty() => return Val::Null,
        Function::First => {
            // The earliest event time; on a tie, the first to arrive.
            let mut first = &covered[0];
            for event in &covered[1..] {
                if event.0 < first.0 {
                    first = event;
                }
            }
            return first.1.clone();
        }
        Function::Last => {
            // The latest event time; on a tie, the last to arrive.
            let mut last = &covered[0];
            for event in &covered[1..] {
                if event.0 >= last.0 {
                    last = event;
                }
            }
            return last.1.clone();
        }
        _ => {}
    }
    let values: Vec<f64> = covered.iter().map(|(_, v)| number(v)).collect();
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    match function {
        Function::Sum => Val::F(sum),
        Function::Avg => Val::F(sum / n),
        Function::Min => Val::F(values.iter().copied().fold(f64::INFINITY, f64::min)),
        Function::Max => Val::F(values.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        Function::Var | Function::Stddev => {
            if values.len() < 2 {
                return Val::Null;
            }
            let mean = sum / n;
            let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
            Val::F(if function == Function::Stddev {
                var.sqrt()
            } else {
                var
            })
        }
        Function::Count | Function::CountDistinct | Function::First | Function::Last => {
            unreachable!("answered above")
        }
    }
}

/// A value as a numeric aggregate reads it.
fn number(value: &Val) -> f64 {
    match value {
        Val::I(v) => *v as f64,
        Val::F(v) => *v,
        other => panic!("a numeric aggregate over {other:?}"),
    }
}

/// A value as `count_distinct` tells values apart (floats by their bits).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Distinct {
    I(i64),
    F(u64),
    S(String),
}

fn distinct(value: &Val) -> Distinct {
    match value {
        Val::I(v) => Distinct::I(*v),
        Val::F(v) => Distinct::F(v.to_bits()),
        Val::S(v) => Distinct::S(v.clone()),
        Val::Null => panic!("the reference takes no NULL values"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_bounds_are_exclusive_below_and_inclusive_above() {
        assert!(covers(Some(10), 100, 100));
        assert!(!covers(Some(10), 100, 101), "never the future");
        assert!(covers(Some(10), 100, 91));
        assert!(!covers(Some(10), 100, 90), "t - W is outside");
        assert!(covers(None, 100, i64::MIN));
    }

    #[test]
    fn ties_and_empty_windows() {
        let events = vec![
            (5, Val::S("a".into())),
            (5, Val::S("b".into())),
            (3, Val::S("c".into())),
        ];
        assert_eq!(
            evaluate(Function::First, None, 10, events.clone()),
            Val::S("c".into())
        );
        assert_eq!(
            evaluate(Function::Last, None, 10, events.clone()),
            Val::S("b".into())
        );
        assert_eq!(
            evaluate(Function::CountDistinct, None, 10, events.clone()),
            Val::I(3)
        );
        assert_eq!(evaluate(Function::Last, None, 2, events.clone()), Val::Null);
        assert_eq!(
            evaluate(Function::CountDistinct, None, 2, events),
            Val::I(0)
        );
        let one = vec![(1, Val::F(2.0))];
        assert_eq!(evaluate(Function::Var, None, 1, one.clone()), Val::Null);
        assert_eq!(evaluate(Function::Avg, None, 1, one), Val::F(2.0));
    }
}
