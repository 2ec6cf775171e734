//! [`VersionStatus`]: where each feature version stands — BACKFILLING (with its
//! progress), READY (caught up and kept current, not what the bare name reads),
//! ACTIVE (what the bare name reads), FAILED (with the cause) or RETIRED.

use crate::operators::SkippedRows;

/// The state of one feature version.
#[derive(Debug, Clone, PartialEq)]
pub enum VersionState {
    /// Its lane is replaying the log.
    Backfilling,
    /// Caught up and kept current; reachable as `name@vN`.
    Ready,
    /// Caught up, and what the bare name reads.
    Active,
    /// Its backfill or processing failed.
    Failed(String),
    /// Retired; its state is freed.
    Retired,
}

impl VersionState {
    /// The upper-case name status reports use.
    pub fn name(&self) -> &'static str {
        match self {
            VersionState::Backfilling => "BACKFILLING",
            VersionState::Ready => "READY",
            VersionState::Active => "ACTIVE",
            VersionState::Failed(_) => "FAILED",
            VersionState::Retired => "RETIRED",
        }
    }
}

/// One feature version's status.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionStatus {
    /// The feature.
    pub name: String,
    /// The version.
    pub version: u32,
    /// Its state.
    pub state: VersionState,
    /// Events replayed and committed (the log's size once caught up).
    pub done: u64,
    /// Events in the log.
    pub total: u64,
    /// Events replayed per second.
    pub rate: f64,
    /// Seconds left at that rate; 0 when unknown or done.
    pub eta_seconds: f64,
    /// The instant (µs) whose values reads return, while the version is frozen.
    pub frozen_at: Option<i64>,
    /// Rows it could not place (no entity key, no event time), as committed.
    pub skipped: SkippedRows,
}
