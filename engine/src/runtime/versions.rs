//! [`VersionStatus`]: where each feature version stands — BACKFILLING (with its
//! progress), READY (caught up and kept current, not what the bare name reads),
//! ACTIVE (what the bare name reads), FAILED (with the cause) or RETIRED.

use std::collections::BTreeMap;

use freshet_sql::model::{Feature, Kind};
use freshet_sql::registry::{Registry, Retirement};

use super::board::LaneInfo;
use crate::Result;

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
}

/// The status of every stored feature version, by name then version, from the
/// registry and the lanes the source tasks report.
pub fn version_statuses(
    registry: &Registry,
    lanes: &BTreeMap<String, Vec<LaneInfo>>,
) -> Result<Vec<VersionStatus>> {
    let mut out = Vec::new();
    for stored in registry.all_versions::<Feature>()? {
        let name = stored.object.name.clone();
        let version = stored.version;
        let serving = registry.serving_version(Kind::Feature, &name)?;
        let bare = match serving {
            Some(v) => Some(v),
            None => registry.active_version(Kind::Feature, &name)?,
        };
        let lane = lanes
            .values()
            .flatten()
            .find(|l| l.features.iter().any(|(n, v)| *n == name && *v == version));
        let caught_up = match bare == Some(version) {
            true => VersionState::Active,
            false => VersionState::Ready,
        };
        let (state, done, total, rate) =
            match (registry.retirement(Kind::Feature, &name, version)?, lane) {
                (Some(Retirement::Retired), _) => (VersionState::Retired, 0, 0, 0.0),
                (Some(Retirement::Failed { cause }), _) => (VersionState::Failed(cause), 0, 0, 0.0),
                // The serving pointer moves in the write that ends a backfill, before
                // the lanes are reported again: a serving version has caught up.
                (None, Some(lane)) if !lane.live && serving != Some(version) => {
                    (VersionState::Backfilling, lane.done, lane.total, lane.rate)
                }
                (None, Some(lane)) => (caught_up, lane.total, lane.total, 0.0),
                (None, None) => (caught_up, 0, 0, 0.0),
            };
        let eta_seconds = match state {
            VersionState::Backfilling if rate > 0.0 => total.saturating_sub(done) as f64 / rate,
            _ => 0.0,
        };
        let frozen_at = registry
            .frozen(&name)?
            .filter(|f| f.version == version)
            .map(|f| f.at);
        out.push(VersionStatus {
            name,
            version,
            state,
            done,
            total,
            rate,
            eta_seconds,
            frozen_at,
        });
    }
    Ok(out)
}
