//! Reconciling a source's lanes with the registry when its task opens: which
//! feature versions each lane keeps, which lanes go, whether a live lane must be
//! created at the head and a backfilling lane for versions no lane folds yet.
//! A pure decision over lane records; the task writes it.

use std::collections::BTreeSet;

use super::super::checkpoint::Checkpoint;
use super::super::lane::LaneRecord;
use crate::catalog::feature_table;

/// A feature version, as (name, version).
pub type VersionKey = (String, u32);

/// What reconciling decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciled {
    /// The lanes to open, live ones first, then by id.
    pub records: Vec<LaneRecord>,
    /// Lanes whose record must be (re)written: changed members, or new.
    pub changed: Vec<LaneRecord>,
    /// Lanes left with no member (and not the kept live lane): their records go,
    /// with the view tables no remaining lane holds.
    pub emptied: Vec<LaneRecord>,
    /// The tables (`name@vN`) of versions no longer wanted: their state goes.
    pub dropped: Vec<String>,
    /// The view tables the remaining lanes hold (an emptied lane's views that
    /// are in here are kept).
    pub held_views: BTreeSet<String>,
    /// The id of the backfilling lane created for versions no lane folded.
    pub started_backfill: Option<u64>,
}

/// Reconciles `records` (every lane of the source) with `wanted` (every feature
/// version that reads the source and is neither retired nor failed).
///
/// - Versions a lane folds that are no longer wanted leave it, and their state is
///   dropped.
/// - A lane left empty goes, except the oldest live lane.
/// - With no live lane, one is created at `head` (its log has nothing to fold
///   for versions that do not exist yet).
/// - Wanted versions no lane folds get one new backfilling lane from the start.
pub fn reconcile(
    records: Vec<LaneRecord>,
    wanted: &BTreeSet<VersionKey>,
    partitions: u32,
    head: Checkpoint,
) -> Reconciled {
    let mut changed = Vec::new();
    let mut dropped = Vec::new();
    let mut records = records;
    for record in &mut records {
        record.checkpoint.resize(partitions);
        let gone: Vec<VersionKey> = record
            .features
            .iter()
            .filter(|f| !wanted.contains(*f))
            .cloned()
            .collect();
        for version in &gone {
            dropped.push(feature_table(&version.0, version.1));
            record.features.remove(version);
        }
        if !gone.is_empty() {
            changed.push(record.clone());
        }
    }
    let live_kept = records.iter().filter(|r| r.live).map(|r| r.id).min();
    let (mut kept, emptied): (Vec<_>, Vec<_>) = records
        .into_iter()
        .partition(|r| !r.features.is_empty() || Some(r.id) == live_kept);
    changed.retain(|c| kept.iter().any(|k| k.id == c.id));
    let held_views: BTreeSet<String> = kept
        .iter()
        .flat_map(|r| r.views.values().cloned())
        .collect();
    let mut next_id = kept
        .iter()
        .chain(&emptied)
        .map(|r| r.id + 1)
        .max()
        .unwrap_or(1);
    if !kept.iter().any(|r| r.live) {
        let record = LaneRecord {
            id: next_id,
            features: BTreeSet::new(),
            views: Default::default(),
            live: true,
            checkpoint: head,
        };
        next_id += 1;
        changed.push(record.clone());
        kept.push(record);
    }
    let folded: BTreeSet<VersionKey> = kept
        .iter()
        .flat_map(|r| r.features.iter().cloned())
        .collect();
    let new: BTreeSet<VersionKey> = wanted.difference(&folded).cloned().collect();
    let started_backfill = (!new.is_empty()).then_some(next_id);
    if !new.is_empty() {
        let record = LaneRecord {
            id: next_id,
            features: new,
            views: Default::default(),
            live: false,
            checkpoint: Checkpoint::start(partitions),
        };
        changed.push(record.clone());
        kept.push(record);
    }
    kept.sort_by_key(|r| (!r.live, r.id));
    Reconciled {
        records: kept,
        changed,
        emptied,
        dropped,
        held_views,
        started_backfill,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use freshet_storage::log::Position;

    use super::*;

    fn version(name: &str, v: u32) -> VersionKey {
        (name.to_string(), v)
    }

    fn lane(id: u64, live: bool, features: &[VersionKey]) -> LaneRecord {
        LaneRecord {
            id,
            features: features.iter().cloned().collect(),
            views: BTreeMap::new(),
            live,
            checkpoint: Checkpoint::start(1),
        }
    }

    fn head() -> Checkpoint {
        Checkpoint::at(&[Position::START], vec![7])
    }

    fn ids(records: &[LaneRecord]) -> Vec<(u64, bool)> {
        records.iter().map(|r| (r.id, r.live)).collect()
    }

    #[test]
    fn a_fresh_source_gets_a_live_lane_at_the_head_and_a_backfill_for_its_versions() {
        let wanted = [version("spend", 1)].into_iter().collect();
        let out = reconcile(Vec::new(), &wanted, 1, head());
        assert_eq!(ids(&out.records), vec![(1, true), (2, false)]);
        assert_eq!(
            out.records[0].checkpoint,
            head(),
            "the live lane starts at the head"
        );
        assert!(out.records[0].features.is_empty());
        assert_eq!(out.records[1].features, wanted);
        assert_eq!(
            out.records[1].checkpoint,
            Checkpoint::start(1),
            "the backfill starts at the start"
        );
        assert_eq!(out.changed.len(), 2, "both new records are written");
        assert_eq!(out.started_backfill, Some(2));
        assert!(out.dropped.is_empty() && out.emptied.is_empty());
    }

    #[test]
    fn versions_already_folded_need_nothing_new() {
        let records = vec![lane(3, true, &[version("spend", 1), version("count", 2)])];
        let wanted = [version("spend", 1), version("count", 2)]
            .into_iter()
            .collect();
        let out = reconcile(records.clone(), &wanted, 1, head());
        assert_eq!(out.records, records);
        assert!(out.changed.is_empty() && out.dropped.is_empty() && out.emptied.is_empty());
        assert_eq!(out.started_backfill, None);
    }

    #[test]
    fn a_new_version_gets_its_own_backfill_after_the_largest_id() {
        let records = vec![
            lane(3, true, &[version("spend", 1)]),
            lane(9, false, &[version("count", 1)]),
        ];
        let wanted = [
            version("spend", 1),
            version("count", 1),
            version("spend", 2),
        ]
        .into_iter()
        .collect();
        let out = reconcile(records, &wanted, 1, head());
        assert_eq!(ids(&out.records), vec![(3, true), (9, false), (10, false)]);
        assert_eq!(
            out.records[2].features,
            [version("spend", 2)].into_iter().collect()
        );
        assert_eq!(ids(&out.changed), vec![(10, false)]);
    }

    #[test]
    fn retired_versions_leave_their_lanes_and_empty_lanes_go_but_the_live_one_stays() {
        let mut backfill = lane(5, false, &[version("spend", 2)]);
        backfill.views.insert("v@v1".into(), "v@v1#lane5".into());
        let mut live = lane(4, true, &[version("spend", 1)]);
        live.views.insert("v@v1".into(), "v@v1".into());
        let wanted = BTreeSet::new();
        let out = reconcile(vec![live, backfill], &wanted, 1, head());
        assert_eq!(ids(&out.records), vec![(4, true)]);
        assert!(out.records[0].features.is_empty());
        assert_eq!(ids(&out.emptied), vec![(5, false)]);
        assert_eq!(
            out.dropped,
            vec!["spend@v1".to_string(), "spend@v2".to_string()]
        );
        assert_eq!(
            ids(&out.changed),
            vec![(4, true)],
            "the emptied lane is removed, not rewritten"
        );
        assert_eq!(out.held_views, ["v@v1".to_string()].into_iter().collect());
    }

    #[test]
    fn of_two_live_lanes_left_empty_only_the_oldest_stays() {
        let records = vec![
            lane(2, true, &[version("a", 1)]),
            lane(6, true, &[version("b", 1)]),
        ];
        let wanted = [version("b", 1)].into_iter().collect();
        let out = reconcile(records, &wanted, 1, head());
        assert_eq!(ids(&out.records), vec![(2, true), (6, true)]);
        let wanted = BTreeSet::new();
        let records = vec![
            lane(2, true, &[version("a", 1)]),
            lane(6, true, &[version("b", 1)]),
        ];
        let out = reconcile(records, &wanted, 1, head());
        assert_eq!(ids(&out.records), vec![(2, true)]);
        assert_eq!(ids(&out.emptied), vec![(6, true)]);
    }

    #[test]
    fn checkpoints_grow_with_the_partition_count() {
        let records = vec![lane(1, true, &[version("a", 1)])];
        let wanted = [version("a", 1)].into_iter().collect();
        let out = reconcile(records, &wanted, 3, head());
        assert_eq!(out.records[0].checkpoint.processed, vec![0, 0, 0]);
    }
}
