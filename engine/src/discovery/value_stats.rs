//! [`ValueStatistics`]: statistics of the values a feature version serves,
//! computed from the values read for its entity keys.

use crate::operators::sorted_quantile;
use crate::value::Value;

/// The quantiles reported.
pub const QUANTILES: [f64; 7] = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];
/// Bins of the histogram.
pub const BINS: usize = 10;

/// One bin of a histogram: values in `[low, high)` (the last bin includes
/// `high`).
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    /// Its lower bound.
    pub low: f64,
    /// Its upper bound.
    pub high: f64,
    /// How many values fall in it.
    pub count: u64,
}

/// What `GetFeatureStats` reports of one feature version.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureStatistics {
    /// The version (`name@vN`).
    pub feature: String,
    /// The instant the values were evaluated at (µs; the freeze instant of a
    /// frozen version).
    pub evaluated_at: i64,
    /// Whether the version has more entity keys than were read.
    pub truncated: bool,
    /// The statistics of the values read.
    pub values: ValueStatistics,
    /// The same over the same keys at the end of each bucket asked for,
    /// oldest first.
    pub buckets: Vec<super::BucketStatistics>,
}

/// Statistics of a set of served values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueStatistics {
    /// Values read (one per entity key).
    pub count: u64,
    /// Of them, with no value (after fill and default).
    pub nulls: u64,
    /// Numeric values: their mean.
    pub mean: Option<f64>,
    /// Their sample standard deviation (two values at least).
    pub stddev: Option<f64>,
    /// The smallest.
    pub min: Option<f64>,
    /// The largest.
    pub max: Option<f64>,
    /// `(q, value)` for each of [`QUANTILES`], by linear interpolation
    /// between the closest ranks.
    pub quantiles: Vec<(f64, f64)>,
    /// [`BINS`] equal-width bins from min to max (one when they are equal).
    pub histogram: Vec<Bin>,
}

/// The statistics of `values`; numeric ones (integers and floats) give the
/// moments, quantiles and histogram, the others count only.
pub fn value_stats(values: impl IntoIterator<Item = Option<Value>>) -> ValueStatistics {
    let mut stats = ValueStatistics::default();
    let mut numbers = Vec::new();
    for value in values {
        stats.count += 1;
        match value {
            None => stats.nulls += 1,
            Some(value) => numbers.extend(value.as_f64().filter(|v| v.is_finite())),
        }
    }
    if numbers.is_empty() {
        return stats;
    }
    numbers.sort_by(f64::total_cmp);
    let n = numbers.len() as f64;
    let mean = numbers.iter().sum::<f64>() / n;
    stats.mean = Some(mean);
    stats.stddev = (numbers.len() > 1).then(|| {
        let squares: f64 = numbers.iter().map(|v| (v - mean) * (v - mean)).sum();
        (squares / (n - 1.0)).sqrt()
    });
    let (min, max) = (numbers[0], numbers[numbers.len() - 1]);
    (stats.min, stats.max) = (Some(min), Some(max));
    stats.quantiles = QUANTILES
        .iter()
        .filter_map(|q| Some((*q, sorted_quantile(&numbers, *q)?)))
        .collect();
    let bins = if max > min { BINS } else { 1 };
    let width = (max - min) / bins as f64;
    stats.histogram = (0..bins)
        .map(|i| Bin {
            low: min + width * i as f64,
            high: if i + 1 == bins {
                max
            } else {
                min + width * (i + 1) as f64
            },
            count: 0,
        })
        .collect();
    for value in numbers {
        let at = if width > 0.0 {
            (((value - min) / width) as usize).min(bins - 1)
        } else {
            0
        };
        stats.histogram[at].count += 1;
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_hand_worked_set() {
        // 1, 2, 3, 4, 10 and two keys with no value.
        let values = [1, 2, 3, 4, 10]
            .map(|v| Some(Value::Int(v)))
            .into_iter()
            .chain([None, None]);
        let stats = value_stats(values);
        assert_eq!((stats.count, stats.nulls), (7, 2));
        assert_eq!(stats.mean, Some(4.0));
        // Squared deviations 9 + 4 + 1 + 0 + 36 = 50, over 4.
        assert_eq!(stats.stddev, Some(12.5f64.sqrt()));
        assert_eq!((stats.min, stats.max), (Some(1.0), Some(10.0)));
        // The median is rank 2 of 0..=4; q = 0.25 is rank 1; 0.95 is rank 3.8.
        assert_eq!(stats.quantiles[3], (0.5, 3.0));
        assert_eq!(stats.quantiles[2], (0.25, 2.0));
        assert!((stats.quantiles[5].1 - (4.0 + 6.0 * 0.8)).abs() < 1e-12);
        // Ten bins of 0.9 from 1 to 10: 1 | 2 | 3 | 4 in the fourth | 10 in the last.
        let counts: Vec<u64> = stats.histogram.iter().map(|b| b.count).collect();
        assert_eq!(counts, [1, 1, 1, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(stats.histogram[9].high, 10.0);
    }

    #[test]
    fn text_values_are_counted_and_one_value_makes_one_bin() {
        let text = value_stats([Some(Value::Str("a".into())), None]);
        assert_eq!((text.count, text.nulls, text.mean), (2, 1, None));
        assert!(text.histogram.is_empty());
        let one = value_stats([Some(Value::Float(2.5))]);
        assert_eq!(one.stddev, None);
        assert_eq!(
            one.histogram,
            [Bin {
                low: 2.5,
                high: 2.5,
                count: 1
            }]
        );
    }
}
