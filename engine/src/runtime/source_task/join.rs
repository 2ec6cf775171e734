//! How a backfilling lane that has caught up with the live position joins the
//! live lanes, and which of its versions become the serving ones. Pure decisions
//! over lane records; the task writes them in the commit that ends the backfill.

use std::collections::{BTreeMap, BTreeSet};

use super::super::checkpoint::Checkpoint;
use super::super::lane::LaneRecord;

/// How a caught-up lane goes live.
#[derive(Debug, Clone, PartialEq)]
pub enum Joining {
    /// Folded into the live lane: its members and views added to the live
    /// lane's record; the caught-up lane's record goes, with the view tables
    /// that `keep_views` does not name.
    Merged {
        /// The live lane's record with the new members.
        record: LaneRecord,
        /// The view tables still held after the merge.
        keep_views: BTreeSet<String>,
    },
    /// Kept as a live lane of its own: it runs other versions of a
    /// transformation than the live lane (or stands elsewhere), so both stay.
    Alone,
}

/// Decides how `caught_up` joins `live`. They merge only when every
/// transformation both read is at the same version and `caught_up` stands
/// exactly at `target`, the live lane's position. A view both hold stays in
/// the live lane's table; a view only the caught-up lane folds moves over with
/// its table.
pub fn join(
    live: &LaneRecord,
    live_transformations: &BTreeMap<String, u32>,
    caught_up: &LaneRecord,
    caught_up_transformations: &BTreeMap<String, u32>,
    target: &Checkpoint,
) -> Joining {
    let same_versions = caught_up_transformations
        .iter()
        .all(|(name, version)| live_transformations.get(name).is_none_or(|v| v == version));
    if !same_versions || caught_up.checkpoint.positions() != target.positions() {
        return Joining::Alone;
    }
    let mut record = live.clone();
    record.features.extend(caught_up.features.iter().cloned());
    let mut keep_views = BTreeSet::new();
    for (view, table) in &caught_up.views {
        let kept = record
            .views
            .entry(view.clone())
            .or_insert_with(|| table.clone());
        keep_views.insert(kept.clone());
    }
    keep_views.extend(record.views.values().cloned());
    Joining::Merged { record, keep_views }
}

/// Whether a caught-up `version` becomes what its feature's bare name serves:
/// when nothing serves it yet, or an older version does.
pub fn promotes(version: u32, serving: Option<u32>) -> bool {
    serving.is_none_or(|s| version > s)
}

#[cfg(test)]
mod tests {
    use freshet_storage::log::Position;

    use super::*;

    fn at(rows: u64) -> Checkpoint {
        let mut checkpoint = Checkpoint::start(1);
        checkpoint.advance(0, Position::from_parts(0, rows), rows);
        checkpoint
    }

    fn record(
        id: u64,
        live: bool,
        features: &[(&str, u32)],
        views: &[(&str, &str)],
        checkpoint: Checkpoint,
    ) -> LaneRecord {
        LaneRecord {
            id,
            features: features.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
            views: views
                .iter()
                .map(|(v, t)| (v.to_string(), t.to_string()))
                .collect(),
            live,
            checkpoint,
        }
    }

    fn versions(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
        pairs.iter().map(|(n, v)| (n.to_string(), *v)).collect()
    }

    #[test]
    fn same_transformation_versions_at_the_live_position_merge() {
        let live = record(1, true, &[("spend", 1)], &[("sales@v1", "sales@v1")], at(5));
        let caught_up = record(
            2,
            true,
            &[("spend", 2)],
            &[("sales@v1", "sales@v1#lane2"), ("stock@v1", "stock@v1")],
            at(5),
        );
        let joining = join(
            &live,
            &versions(&[("enriched", 1), ("sales", 1)]),
            &caught_up,
            &versions(&[("enriched", 1), ("stock", 1)]),
            &at(5),
        );
        let Joining::Merged { record, keep_views } = joining else {
            panic!("expected a merge, got {joining:?}");
        };
        assert_eq!(record.id, 1, "the live lane's record absorbs the other");
        assert_eq!(
            record.features,
            [("spend".to_string(), 1), ("spend".to_string(), 2)]
                .into_iter()
                .collect()
        );
        let views: BTreeMap<String, String> = [
            ("sales@v1".to_string(), "sales@v1".to_string()),
            ("stock@v1".to_string(), "stock@v1".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            record.views, views,
            "a view both hold stays in the live table; a new one moves over"
        );
        assert_eq!(
            keep_views,
            ["sales@v1".to_string(), "stock@v1".to_string()]
                .into_iter()
                .collect(),
            "the private copy sales@v1#lane2 is not kept"
        );
    }

    #[test]
    fn another_version_of_a_shared_transformation_stays_alone() {
        let live = record(1, true, &[("spend", 1)], &[], at(5));
        let caught_up = record(2, true, &[("spend", 2)], &[], at(5));
        let joining = join(
            &live,
            &versions(&[("enriched", 1)]),
            &caught_up,
            &versions(&[("enriched", 2)]),
            &at(5),
        );
        assert_eq!(joining, Joining::Alone);
    }

    #[test]
    fn a_lane_short_of_the_live_position_does_not_merge() {
        let live = record(1, true, &[], &[], at(5));
        let caught_up = record(2, true, &[("spend", 2)], &[], at(4));
        let joining = join(&live, &versions(&[]), &caught_up, &versions(&[]), &at(5));
        assert_eq!(joining, Joining::Alone);
    }

    #[test]
    fn a_newer_version_or_a_first_one_is_promoted_an_older_one_is_not() {
        assert!(promotes(1, None));
        assert!(promotes(3, Some(2)));
        assert!(!promotes(2, Some(2)));
        assert!(
            !promotes(1, Some(2)),
            "a late backfill of v1 never takes over from v2"
        );
    }
}
