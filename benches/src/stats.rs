//! Rates and latency percentiles, and the on-disk size of a log partition.

use std::path::Path;
use std::time::Duration;

/// Bytes in the megabyte the report uses (10^6, as `dd` and `fio` print MB/s).
pub const MB: f64 = 1e6;

/// `count / secs`, or 0 when no time passed.
pub fn per_sec(count: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

/// Megabytes (10^6 bytes) per second.
pub fn mb_per_sec(bytes: u64, secs: f64) -> f64 {
    per_sec(bytes, secs) / MB
}

/// Rounds to 3 significant decimals so the JSON stays readable.
pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// p50, p99 and max of a set of latencies, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    /// The median.
    pub p50_us: u64,
    /// The 99th percentile.
    pub p99_us: u64,
    /// The largest.
    pub max_us: u64,
}

impl Latency {
    /// Summarises `samples` (any order); all zero when there are none.
    pub fn of(samples: &mut [Duration]) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
        Latency {
            p50_us: at(50).as_micros() as u64,
            p99_us: at(99).as_micros() as u64,
            max_us: samples[samples.len() - 1].as_micros() as u64,
        }
    }
}

/// The total size of the segment files (`*.seg`) in a partition directory: the
/// frame bytes the log wrote there.
pub fn segment_bytes(partition_dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(partition_dir)? {
        let entry = entry?;
        if entry.path().extension().is_some_and(|ext| ext == "seg") {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}
