//! The raw-disk baseline: plain `write` + `fdatasync` on a file in the same
//! directory as the log, with no framing, encoding or index.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// How a raw run writes.
#[derive(Debug, Clone, Copy)]
pub struct RawPlan {
    /// Bytes per `write` call.
    pub chunk_bytes: usize,
    /// Stop after this many bytes...
    pub total_bytes: u64,
    /// ...or once this much time has passed, whichever comes first.
    pub time_budget: Duration,
    /// `fdatasync` once at least this many bytes were written since the last one;
    /// `chunk_bytes` or less means one `fdatasync` per write.
    pub sync_every_bytes: u64,
}

/// What a raw run did.
#[derive(Debug, Clone, Copy)]
pub struct RawOutcome {
    /// Bytes per write call.
    pub chunk_bytes: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Write calls made.
    pub writes: u64,
    /// fdatasync calls made.
    pub syncs: u64,
    /// Seconds the run took.
    pub secs: f64,
    /// Whether the time budget, not `total_bytes`, ended the run.
    pub stopped_by_time: bool,
}

/// Writes per `plan` into a new file at `path` (opened for append, as the log's
/// segments are), ends with an `fdatasync`, then removes the file.
pub fn write_raw(path: &Path, plan: RawPlan) -> std::io::Result<RawOutcome> {
    let chunk_bytes = plan.chunk_bytes.max(1);
    let chunk: Vec<u8> = (0..chunk_bytes)
        .map(|i| (i as u64).wrapping_mul(0x9e37_79b9) as u8)
        .collect();
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)?;
    let mut outcome = RawOutcome {
        chunk_bytes,
        bytes: 0,
        writes: 0,
        syncs: 0,
        secs: 0.0,
        stopped_by_time: false,
    };
    let mut unsynced = 0u64;
    let start = Instant::now();
    while outcome.bytes < plan.total_bytes {
        if start.elapsed() >= plan.time_budget {
            outcome.stopped_by_time = true;
            break;
        }
        let len = (plan.total_bytes - outcome.bytes).min(chunk_bytes as u64) as usize;
        file.write_all(&chunk[..len])?;
        outcome.bytes += len as u64;
        outcome.writes += 1;
        unsynced += len as u64;
        if unsynced >= plan.sync_every_bytes {
            file.sync_data()?;
            outcome.syncs += 1;
            unsynced = 0;
        }
    }
    if unsynced > 0 {
        file.sync_data()?;
        outcome.syncs += 1;
    }
    outcome.secs = start.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(path)?;
    Ok(outcome)
}
