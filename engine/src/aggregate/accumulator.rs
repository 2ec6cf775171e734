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
}
