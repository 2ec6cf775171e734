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

    /// Adds what `later` folded, as if its values had been folded after this
    /// accumulator's: the merge of two slices' partials, `self` holding the earlier
    /// event times. Exact for counts, integer sums, min, max, first, last and
    /// distinct values; float sums and means add the two sums, and moments use the
    /// parallel (Chan et al.) formula, so floats may differ in the last bits from
    /// one sequential fold (online reads and training sets merge in the same order,
    /// so they agree bit for bit). Merging into an empty accumulator copies
    /// `later` exactly.
    pub fn merge(&mut self, later: &Accumulator) {
        match (&mut *self, later) {
            (Accumulator::Count(a), Accumulator::Count(b)) => *a += b,
            (Accumulator::SumInt(a), Accumulator::SumInt(b)) => {
                *a = match (*a, *b) {
                    (Some(x), Some(y)) => Some(x.wrapping_add(y)),
                    (x, y) => x.or(y),
                }
            }
            (Accumulator::SumFloat(a), Accumulator::SumFloat(b)) => {
                *a = match (*a, *b) {
                    (Some(x), Some(y)) => Some(x + y),
                    (x, y) => x.or(y),
                }
            }
            // A slice that switched to float summing (see `update`).
            (Accumulator::SumInt(a), Accumulator::SumFloat(b)) => {
                *self = Accumulator::SumFloat(match (*a, *b) {
                    (Some(x), Some(y)) => Some(x as f64 + y),
                    (x, y) => x.map(|x| x as f64).or(y),
                })
            }
            (Accumulator::SumFloat(a), Accumulator::SumInt(Some(y))) => {
                *a = Some(a.map_or(*y as f64, |x| x + *y as f64));
            }
            (Accumulator::Avg { sum, count }, Accumulator::Avg { sum: s, count: c }) => {
                if *count == 0 {
                    (*sum, *count) = (*s, *c);
                } else if *c > 0 {
                    *sum += s;
                    *count += c;
                }
            }
            (Accumulator::Min(a), Accumulator::Min(Some(b)))
                if a.as_ref().is_none_or(|m| b.total_cmp(m).is_lt()) =>
            {
                *a = Some(b.clone());
            }
            (Accumulator::Max(a), Accumulator::Max(Some(b)))
                if a.as_ref().is_none_or(|m| b.total_cmp(m).is_gt()) =>
            {
                *a = Some(b.clone());
            }
            (Accumulator::First(a), Accumulator::First(Some((t, v))))
                if a.as_ref().is_none_or(|(u, _)| t < u) =>
            {
                *a = Some((*t, v.clone()));
            }
            (Accumulator::Last(a), Accumulator::Last(Some((t, v))))
                if a.as_ref().is_none_or(|(u, _)| t >= u) =>
            {
                *a = Some((*t, v.clone()));
            }
            (Accumulator::Distinct(a), Accumulator::Distinct(b)) => {
                a.extend(b.iter().cloned());
            }
            (
                Accumulator::Moments { count, mean, m2 },
                Accumulator::Moments {
                    count: c,
                    mean: u,
                    m2: q,
                },
            ) => {
                if *count == 0 {
                    (*count, *mean, *m2) = (*c, *u, *q);
                } else if *c > 0 {
                    let n = (*count + *c) as f64;
                    let delta = u - *mean;
                    *mean += delta * (*c as f64 / n);
                    *m2 += q + delta * delta * (*count as f64 * *c as f64 / n);
                    *count += c;
                }
            }
            // An empty `later` (min, max, first, last with nothing), or one that
            // loses the comparison, adds nothing; partials of one aggregation never
            // mix functions.
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

    #[test]
    fn merged_moments_match_the_hand_worked_variance() {
        // {2, 4} and {4, 9}: n=4, mean 4.75, M2 26.75 (as in the fold above).
        let mut a = Accumulator::new(AggregateFunction::Var, false);
        let mut b = a.clone();
        a.update(10, &Value::Float(2.0));
        a.update(20, &Value::Float(4.0));
        b.update(30, &Value::Float(4.0));
        b.update(30, &Value::Float(9.0));
        a.merge(&b);
        let Some(Value::Float(var)) = a.finish(AggregateFunction::Var) else {
            panic!("var is a float")
        };
        assert!((var - 26.75 / 3.0).abs() < 1e-12, "{var}");
    }

    /// Values and how a split into consecutive groups cuts them.
    fn grouped_values(
    ) -> impl proptest::strategy::Strategy<Value = (bool, Vec<(i64, i64)>, Vec<usize>)> {
        use proptest::prelude::*;
        (
            any::<bool>(),
            prop::collection::vec((0i64..50, -1000i64..1000), 0..60),
            prop::collection::vec(0usize..60, 0..8),
        )
    }

    proptest::proptest! {
        /// Folding each group of consecutive values into a partial, then merging
        /// the partials in order, gives the one sequential fold's result: exactly
        /// for counts, integer sums, min, max, first, last and distinct counts;
        /// float sums, means, variances and standard deviations within 1e-12
        /// relative (the merge adds partial sums, not one value at a time).
        #[test]
        fn merging_partials_in_any_grouping_equals_one_fold(
            (floats, raw, cuts) in grouped_values(),
        ) {
            let mut values: Vec<(i64, Value)> = raw
                .into_iter()
                .map(|(t, v)| (t, if floats { Value::Float(v as f64 / 7.0) } else { Value::Int(v) }))
                .collect();
            values.sort_by_key(|(t, _)| *t);
            let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % (values.len() + 1)).collect();
            bounds.extend([0, values.len()]);
            bounds.sort();
            bounds.dedup();
            for function in AggregateFunction::ALL {
                let mut one = Accumulator::new(function, !floats);
                for (t, v) in &values {
                    one.update(*t, v);
                }
                let mut merged = Accumulator::new(function, !floats);
                for group in bounds.windows(2) {
                    let mut partial = Accumulator::new(function, !floats);
                    for (t, v) in &values[group[0]..group[1]] {
                        partial.update(*t, v);
                    }
                    merged.merge(&partial);
                }
                let (expected, got) = (one.finish(function), merged.finish(function));
                match (&expected, &got) {
                    (Some(Value::Float(x)), Some(Value::Float(y))) => proptest::prop_assert!(
                        (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0),
                        "{:?}: fold {} merge {}", function, x, y
                    ),
                    _ => proptest::prop_assert_eq!(&expected, &got, "{:?}", function),
                }
            }
        }
    }
}
