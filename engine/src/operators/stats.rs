//! [`FeatureStats`]: what a feature version has seen of its own values, from which
//! value transforms take their parameters (mean, standard deviation, min, max,
//! median and clipping quantiles).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Sample size kept for quantiles.
const SAMPLE: usize = 1024;

/// Running statistics of a feature's values: exact count, mean, variance, min and
/// max, and a deterministic uniform sample (bottom-k by hash) for quantiles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    /// Values seen.
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    m2: f64,
    /// The smallest.
    pub min: Option<f64>,
    /// The largest.
    pub max: Option<f64>,
    /// Up to [`SAMPLE`] (priority, value) pairs with the smallest priorities.
    sample: Vec<(u64, f64)>,
    /// Where the sample's largest priority sits, once known (not stored).
    #[serde(skip)]
    worst: Option<usize>,
    /// The sample's values sorted, once a quantile asked for them (not
    /// stored): reads between two changes of the sample sort it once.
    #[serde(skip)]
    sorted: SortedSample,
}

/// A cache of the sample's sorted values. It is not part of what statistics
/// are: two statistics compare equal whether or not either has it.
#[derive(Debug, Clone, Default)]
struct SortedSample(OnceLock<Vec<f64>>);

impl PartialEq for SortedSample {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The q-quantile (0..=1) of `sorted` (ascending), by linear interpolation
/// between the closest ranks; `None` when it is empty.
pub fn sorted_quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    Some(sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64))
}

/// SplitMix64: a fixed, well-mixed hash of the observation number.
fn priority(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl FeatureStats {
    /// Records one value.
    pub fn observe(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.count += 1;
        let delta = value - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (value - self.mean);
        self.min = Some(self.min.map_or(value, |m| m.min(value)));
        self.max = Some(self.max.map_or(value, |m| m.max(value)));
        let p = priority(self.count);
        if self.sample.len() < SAMPLE {
            self.sample.push((p, value));
            self.sorted = SortedSample::default();
        } else {
            let worst = *self.worst.get_or_insert_with(|| {
                self.sample
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, (q, _))| *q)
                    .map_or(0, |(at, _)| at)
            });
            if p < self.sample[worst].0 {
                self.sample[worst] = (p, value);
                self.worst = None;
                self.sorted = SortedSample::default();
            }
        }
    }

    /// Sample standard deviation (0 with fewer than two values).
    pub fn stddev(&self) -> f64 {
        if self.count < 2 {
            0.0
        } else {
            (self.m2 / (self.count - 1) as f64).sqrt()
        }
    }

    /// The q-quantile (0..=1) of the sample, by linear interpolation between
    /// closest ranks; `None` before any value.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let sorted = self.sorted.0.get_or_init(|| {
            let mut values: Vec<f64> = self.sample.iter().map(|(_, v)| *v).collect();
            values.sort_by(f64::total_cmp);
            values
        });
        sorted_quantile(sorted, q)
    }

    /// Encodes for storage.
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).expect("stats serialize")
    }

    /// Decodes stored bytes; unreadable bytes give empty statistics.
    pub fn decode(bytes: &[u8]) -> FeatureStats {
        bincode::deserialize(bytes).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_and_quantiles_of_a_small_set_are_exact() {
        let mut stats = FeatureStats::default();
        for v in [1.0, 2.0, 3.0, 4.0, 10.0] {
            stats.observe(v);
        }
        assert_eq!(stats.count, 5);
        assert!((stats.mean - 4.0).abs() < 1e-12);
        // deviations 9+4+1+0+36 = 50; / 4
        assert!((stats.stddev() - 12.5f64.sqrt()).abs() < 1e-12);
        assert_eq!((stats.min, stats.max), (Some(1.0), Some(10.0)));
        assert_eq!(stats.quantile(0.5), Some(3.0));
        assert_eq!(stats.quantile(0.0), Some(1.0));
        assert_eq!(stats.quantile(1.0), Some(10.0));
        assert_eq!(stats.quantile(0.875), Some(4.0 + 6.0 * 0.5));
    }

    #[test]
    fn the_sample_stays_bounded_and_deterministic() {
        let mut a = FeatureStats::default();
        let mut b = FeatureStats::default();
        for i in 0..5000 {
            a.observe(i as f64);
            b.observe(i as f64);
        }
        assert_eq!(a.sample.len(), SAMPLE);
        assert_eq!(a, b);
        let median = a.quantile(0.5).unwrap();
        assert!((median - 2500.0).abs() < 250.0, "median {median}");
    }

    #[test]
    fn quantiles_read_between_values_follow_every_change_of_the_sample() {
        // `read` asks for quantiles after every value (each read may keep the
        // sorted sample); `fresh` is fed the same values and asked once per
        // step from scratch. Both see the sample fill up and then change.
        let mut read = FeatureStats::default();
        for i in 0..3000u64 {
            let value = ((i * 7919) % 1000) as f64;
            read.observe(value);
            if i % 97 == 0 || i == 2999 {
                let mut fresh = FeatureStats::default();
                for j in 0..=i {
                    fresh.observe(((j * 7919) % 1000) as f64);
                }
                for q in [0.01, 0.5, 0.99] {
                    assert_eq!(read.quantile(q), fresh.quantile(q), "after {i} at {q}");
                }
                assert_eq!(read, fresh);
            } else {
                read.quantile(0.5);
            }
        }
    }
}
