//! Computing every feature version's [`VersionStatus`] from the registry, the
//! lanes the source tasks report and the committed state.

use std::collections::BTreeMap;

use freshet_registry::{Registry, Retirement};
use freshet_sql::model::{Feature, Kind};

use freshet_storage::state::StateStore;

use super::board::LaneInfo;
use crate::catalog::{feature_table, VersionState, VersionStatus};
use crate::operators::SkippedRows;
use crate::Result;

/// The status of every stored feature version, by name then version, from the
/// registry, the lanes the source tasks report, and the committed state.
pub fn version_statuses(
    registry: &Registry,
    store: &dyn StateStore,
    lanes: &BTreeMap<String, Vec<LaneInfo>>,
) -> Result<Vec<VersionStatus>> {
    let mut out = Vec::new();
    for stored in registry.all_versions::<Feature>()? {
        let name = stored.object.name.clone();
        let version = stored.version;
        let serving = registry.serving_version(Kind::Feature, &name)?;
        let bare = match serving {
            Some(v) => Some(v),
            None => registry.latest_version(Kind::Feature, &name)?,
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
        let skipped = SkippedRows::load(store, &feature_table(&name, version))?;
        out.push(VersionStatus {
            name,
            version,
            state,
            done,
            total,
            rate,
            eta_seconds,
            frozen_at,
            skipped,
        });
    }
    Ok(out)
}
