//! [`Accumulator`]: the running state of one aggregate function over values folded
//! in event-time order.

use std::collections::BTreeSet;

use freshet_sql::aggregate::AggregateFunction;
use serde::{Deserialize, Serialize};

use crate::value::Value;

/// The running state of one aggregate function.
///
/// Values are folded with their event time; `first` and `last` keep the value of
/// the earliest and latest event time (on a tie, the first and last folded).
/// Nulls are never folded, so `count(col)` counts non-null values and an
/// accumulator that saw nothing finishes as NULL (count as 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Accumulator {
    /// `count`: how many values.
    Count(u64),
    /// `sum` of integers: the sum, if any value was folded.
    SumInt(Option<i64>),
    /// `sum` of floats.
    SumFloat(Option<f64>),
    /// `avg`: sum and count.
    Avg {
        /// Sum of the values.
        sum: f64,
        /// How many.
        count: u64,
    },
    /// `min`.
    Min(Option<Value>),
    /// `max`.
    Max(Option<Value>),
    /// `first`: event time and value.
    First(Option<(i64, Value)>),
    /// `last`: event time and value.
    Last(Option<(i64, Value)>),
    /// `count_distinct`: the distinct values' key bytes.
    Distinct(BTreeSet<Vec<u8>>),
    /// `var` and `stddev`: Welford's running moments.
    Moments {
        /// How many values.
        count: u64,
        /// Their mean.
        mean: f64,
        /// Sum of squared distances from the mean.
        m2: f64,
    },
}

impl Accumulator {
    /// An empty accumulator; `integer_input` picks integer summing for `sum`.
    pub fn new(function: AggregateFunction, integer_input: bool) -> Accumulator {
        use AggregateFunction::*;
        match function {
            Count => Accumulator::Count(0),
            Sum if integer_input => Accumulator::SumInt(None),
            Sum => Accumulator::SumFloat(None),
            Avg => Accumulator::Avg { sum: 0.0, count: 0 },
            Min => Accumulator::Min(None),
            Max => Accumulator::Max(None),
            First => Accumulator::First(None),
            Last => Accumulator::Last(None),
            CountDistinct => Accumulator::Distinct(BTreeSet::new()),
            Var | Stddev => Accumulator::Moments {
                count: 0,
                mean: 0.0,
                m2: 0.0,
            },
        }
    }

    /// Folds one value with its event time. `count(*)` passes `Value::Bool(true)`.
    pub fn update(&mut self, event_time: i64, value: &Value) {
        match self {
            Accumulator::Count(count) => *count += 1,
            Accumulator::SumInt(sum) => match value {
                Value::Int(v) => *sum = Some(sum.unwrap_or(0).wrapping_add(*v)),
                // A column planned as integer that arrives as float (SQL type
                // coercion at run time) switches to float summing.
                Value::Float(v) => *self = Accumulator::SumFloat(Some(sum.unwrap_or(0) as f64 + v)),
                _ => {}
            },
            Accumulator::SumFloat(sum) => {
                if let Some(v) = value.as_f64() {
                    *sum = Some(sum.unwrap_or(0.0) + v);
                }
            }
            Accumulator::Avg { sum, count } => {
                if let Some(v) = value.as_f64() {
                    *sum += v;
                    *count += 1;
                }
            }
            Accumulator::Min(min) => {
                if min.as_ref().is_none_or(|m| value.total_cmp(m).is_lt()) {
                    *min = Some(value.clone());
                }
            }
            Accumulator::Max(max) => {
                if max.as_ref().is_none_or(|m| value.total_cmp(m).is_gt()) {
                    *max = Some(value.clone());
                }
            }
            Accumulator::First(first) => {
                if first.as_ref().is_none_or(|(t, _)| event_time < *t) {
                    *first = Some((event_time, value.clone()));
                }
            }
            Accumulator::Last(last) => {
                if last.as_ref().is_none_or(|(t, _)| event_time >= *t) {
                    *last = Some((event_time, value.clone()));
                }
            }
            Accumulator::Distinct(seen) => {
                seen.insert(value.key_bytes());
            }
            Accumulator::Moments { count, mean, m2 } => {
                if let Some(v) = value.as_f64() {
                    *count += 1;
                    let delta = v - *mean;
                    *mean += delta / *count as f64;
                    *m2 += delta * (v - *mean);
                }
            }
        }
    }

    /// Merges `later`, the partial of events that come after this one's in
    /// the fold order (a later slice), into this one: afterwards it is the
    /// partial of both. Counts, integer sums, min, max, first, last and the
    /// distinct set are exactly what folding every value in order gives (ties
    /// break as the fold breaks them); float sums, means and moments (merged by
    /// the parallel variance formula) may differ from that fold in the last
    /// bits, as floating-point addition is not associative.
    pub fn merge(&mut self, later: &Accumulator) {
        match (&mut *self, later) {
            (Accumulator::Count(count), Accumulator::Count(more)) => *count += more,
            (Accumulator::SumInt(sum), Accumulator::SumInt(Some(more))) => {
                *sum = Some(sum.unwrap_or(0).wrapping_add(*more));
            }
            // An integer sum that met a float switched to float summing (see
            // `update`); merged with the other kind, it does the same.
            (Accumulator::SumInt(sum), Accumulator::SumFloat(more)) => {
                *self = Accumulator::SumFloat(add_floats(sum.map(|v| v as f64), *more));
            }
            (Accumulator::SumFloat(sum), Accumulator::SumInt(more)) => {
                *sum = add_floats(*sum, more.map(|v| v as f64));
            }
            (Accumulator::SumFloat(sum), Accumulator::SumFloat(more)) => {
                *sum = add_floats(*sum, *more);
            }
            (
                Accumulator::Avg { sum, count },
                Accumulator::Avg {
                    sum: more,
                    count: n,
                },
            ) if *n > 0 => {
                *sum += more;
                *count += n;
            }
            (Accumulator::Min(min), Accumulator::Min(Some(value)))
                if min.as_ref().is_none_or(|m| value.total_cmp(m).is_lt()) =>
            {
                *min = Some(value.clone());
            }
            (Accumulator::Max(max), Accumulator::Max(Some(value)))
                if max.as_ref().is_none_or(|m| value.total_cmp(m).is_gt()) =>
            {
                *max = Some(value.clone());
            }
            (Accumulator::First(first), Accumulator::First(Some((t, value))))
                if first.as_ref().is_none_or(|(at, _)| t < at) =>
            {
                *first = Some((*t, value.clone()));
            }
            (Accumulator::Last(last), Accumulator::Last(Some((t, value))))
                if last.as_ref().is_none_or(|(at, _)| t >= at) =>
            {
                *last = Some((*t, value.clone()));
            }
            (Accumulator::Distinct(seen), Accumulator::Distinct(more)) => {
                seen.extend(more.iter().cloned());
            }
            (
                Accumulator::Moments { count, mean, m2 },
                Accumulator::Moments {
                    count: n,
                    mean: other_mean,
                    m2: other_m2,
                },
            ) => {
                if *n == 0 {
                    return;
                }
                if *count == 0 {
                    (*count, *mean, *m2) = (*n, *other_mean, *other_m2);
                    return;
                }
                let total = *count + n;
                let delta = other_mean - *mean;
                *mean += delta * (*n as f64 / total as f64);
                *m2 += other_m2 + delta * delta * (*count as f64 * *n as f64 / total as f64);
                *count = total;
            }
            // An empty partial, or a min, max, first or last that does not
            // win, adds nothing; accumulators of two functions never meet
            // (one feature, one function).
            _ => {}
        }
    }

    /// The aggregate's value; `function` tells `var` from `stddev`.
    pub fn finish(&self, function: AggregateFunction) -> Option<Value> {
        match self {
            Accumulator::Count(count) => Some(Value::Int(*count as i64)),
            Accumulator::SumInt(sum) => sum.map(Value::Int),
            Accumulator::SumFloat(sum) => sum.map(Value::Float),
            Accumulator::Avg { sum, count } => {
                (*count > 0).then(|| Value::Float(sum / *count as f64))
            }
            Accumulator::Min(value) | Accumulator::Max(value) => value.clone(),
            Accumulator::First(value) | Accumulator::Last(value) => {
                value.as_ref().map(|(_, v)| v.clone())
            }
            Accumulator::Distinct(seen) => Some(Value::Int(seen.len() as i64)),
            Accumulator::Moments { count, m2, .. } => {
                if *count < 2 {
                    return None;
                }
                let variance = m2 / (*count - 1) as f64;
                Some(Value::Float(if function == AggregateFunction::Stddev {
                    variance.sqrt()
                } else {
                    variance
                }))
            }
        }
    }
}

/// The sum of two optional float sums (`None`: nothing summed).
fn add_floats(sum: Option<f64>, more: Option<f64>) -> Option<f64> {
    match (sum, more) {
        (Some(sum), Some(more)) => Some(sum + more),
        (sum, None) => sum,
        (None, more) => more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(function: AggregateFunction, values: &[(i64, Value)]) -> Option<Value> {
        let integer = values.iter().all(|(_, v)| matches!(v, Value::Int(_)));
        let mut accumulator = Accumulator::new(function, integer);
        for (t, v) in values {
            accumulator.update(*t, v);
        }
        accumulator.finish(function)
    }

    #[test]
    fn hand_worked_aggregates() {
        use AggregateFunction::*;
        let values = [
            (10, Value::Float(2.0)),
            (30, Value::Float(4.0)),
            (20, Value::Float(4.0)),
            (30, Value::Float(9.0)),
        ];
        assert_eq!(fold(Count, &values), Some(Value::Int(4)));
        assert_eq!(fold(Sum, &values), Some(Value::Float(19.0)));
        assert_eq!(fold(Avg, &values), Some(Value::Float(4.75)));
        assert_eq!(fold(Min, &values), Some(Value::Float(2.0)));
        assert_eq!(fold(Max, &values), Some(Value::Float(9.0)));
        assert_eq!(fold(First, &values), Some(Value::Float(2.0)));
        // Two events at t=30: the later one folded wins.
        assert_eq!(fold(Last, &values), Some(Value::Float(9.0)));
        assert_eq!(fold(CountDistinct, &values), Some(Value::Int(3)));
        // mean 4.75; squared deviations 7.5625 + 0.5625 + 0.5625 + 18.0625 = 26.75; / 3
        let Some(Value::Float(var)) = fold(Var, &values) else {
            panic!("var is a float")
        };
        assert!((var - 26.75 / 3.0).abs() < 1e-12);
        let Some(Value::Float(sd)) = fold(Stddev, &values) else {
            panic!("stddev is a float")
        };
        assert!((sd - (26.75f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    /// Folds `values` in order, in groups cut at `cuts`, and merges the
    /// groups' partials left to right, with the later groups first merged
    /// among themselves (a tree, not only a chain).
    fn fold_in_groups(
        function: AggregateFunction,
        integer: bool,
        values: &[(i64, Value)],
        cuts: &[usize],
    ) -> Option<Value> {
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (values.len() + 1)).collect();
        bounds.extend([0, values.len()]);
        bounds.sort_unstable();
        let partials: Vec<Accumulator> = bounds
            .windows(2)
            .map(|pair| {
                let mut partial = Accumulator::new(function, integer);
                for (t, v) in &values[pair[0]..pair[1]] {
                    partial.update(*t, v);
                }
                partial
            })
            .collect();
        let (head, tail) = partials.split_at(partials.len() / 2);
        let mut left = Accumulator::new(function, integer);
        for partial in head {
            left.merge(partial);
        }
        let mut right = Accumulator::new(function, integer);
        for partial in tail {
            right.merge(partial);
        }
        left.merge(&right);
        left.finish(function)
    }

    fn exact_or_close(
        function: AggregateFunction,
        merged: &Option<Value>,
        folded: &Option<Value>,
    ) -> bool {
        use AggregateFunction::*;
        match (function, merged, folded) {
            (Sum | Avg | Var | Stddev, Some(Value::Float(a)), Some(Value::Float(b))) => {
                (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
            }
            _ => merged == folded,
        }
    }

    proptest::proptest! {
        /// For every aggregate, merging the partials of any grouping of the
        /// values equals folding them one by one: exactly for counts, integer
        /// sums, min, max, first, last and distinct counts (ties broken the
        /// same way), within 1e-12 relative for float sums, means and
        /// variances (the grouping changes the rounding).
        #[test]
        fn merging_partials_in_any_grouping_equals_the_fold(
            raw in proptest::collection::vec((0i64..20, -50i64..50), 0..40),
            cuts in proptest::collection::vec(0usize..41, 0..6),
            floats in proptest::bool::ANY,
        ) {
            use AggregateFunction::*;
            let values: Vec<(i64, Value)> = raw
                .iter()
                .map(|(t, v)| {
                    let value = if floats { Value::Float(*v as f64 / 7.0) } else { Value::Int(*v) };
                    (*t, value)
                })
                .collect();
            for function in [Count, Sum, Avg, Min, Max, First, Last, CountDistinct, Var, Stddev] {
                let mut whole = Accumulator::new(function, !floats);
                for (t, v) in &values {
                    whole.update(*t, v);
                }
                let folded = whole.finish(function);
                let merged = fold_in_groups(function, !floats, &values, &cuts);
                proptest::prop_assert!(
                    exact_or_close(function, &merged, &folded),
                    "{:?}: merged {:?}, folded {:?}", function, merged, folded
                );
            }
        }
    }

    #[test]
    fn empty_and_single_value_results() {
        use AggregateFunction::*;
        assert_eq!(fold(Count, &[]), Some(Value::Int(0)));
        assert_eq!(fold(Sum, &[]), None);
        assert_eq!(fold(Avg, &[]), None);
        assert_eq!(fold(Var, &[(1, Value::Int(3))]), None);
        assert_eq!(
            fold(Sum, &[(1, Value::Int(3)), (2, Value::Int(-5))]),
            Some(Value::Int(-2))
        );
    }
}
