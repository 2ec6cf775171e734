//! The layout of the engine's keys in the state store, in one place. Each
//! function names the column family its key lives in.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `operator_state` | `f/TABLE\0KEY` | a windowed feature's events for one entity key (a timed list: per event its time and `Value::key_bytes`, see `aggregate::event_list`); a lifetime or view feature's state (bincode `StoredFeature`) |
//! | `operator_state` | `f/TABLE\0` (empty key) | the table's value statistics (bincode `FeatureStats`) |
//! | `operator_state` | `s/TABLE` | rows the table could not place (bincode `SkippedRows`) |
//! | `operator_state` | `v/VIEW\0GROUP` | a view's row for one group (bincode `ViewRow`) |
//! | `source_positions` | `lane/SOURCE/ID` | a lane's record and checkpoint (bincode `LaneRecord`) |
//! | `counters` | `rejected/SOURCE`, `late/SOURCE` | ingest counters (u64, big-endian) |
//! | `counters` | `watermark/SOURCE` | the largest event time accepted (i64, big-endian) |
//! | `counters` | `state_layout` | the layout of operator state ([`crate::layout`], u32, big-endian) |
//!
//! `TABLE` is a feature version's table (`name@vN`), `VIEW` a view version's
//! (`name@vN`, or `name@vN#laneID` for a lane's private copy).

/// `operator_state`: the prefix of every feature table's entries.
pub const FEATURE_STATE_PREFIX: &[u8] = b"f/";

/// `operator_state`: a feature table's entry for `key` (an entity key's bytes,
/// or empty for the table's statistics). Every entry of a table shares the
/// prefix `feature_state_key(table, b"")`.
pub fn feature_state_key(table: &str, key: &[u8]) -> Vec<u8> {
    entry(FEATURE_STATE_PREFIX, table, key)
}

/// The feature table and entity key of an `operator_state` key made by
/// [`feature_state_key`]; `None` for every other key.
pub fn split_feature_state_key(key: &[u8]) -> Option<(&str, &[u8])> {
    let rest = key.strip_prefix(FEATURE_STATE_PREFIX)?;
    let end = rest.iter().position(|byte| *byte == 0)?;
    let table = std::str::from_utf8(&rest[..end]).ok()?;
    Some((table, &rest[end + 1..]))
}

/// `operator_state`: a view's row for `group`. Every row of a view shares the
/// prefix `view_state_key(view, b"")`.
pub fn view_state_key(view: &str, group: &[u8]) -> Vec<u8> {
    entry(b"v/", view, group)
}

/// `operator_state`: a feature table's skipped-row counts.
pub fn skipped_rows_key(table: &str) -> Vec<u8> {
    format!("s/{table}").into_bytes()
}

/// `source_positions`: the prefix of every lane record of `source`.
pub fn lane_prefix(source: &str) -> Vec<u8> {
    format!("lane/{source}/").into_bytes()
}

/// `source_positions`: lane `id` of `source` (ids sort numerically).
pub fn lane_key(source: &str, id: u64) -> Vec<u8> {
    format!("lane/{source}/{id:010}").into_bytes()
}

/// `counters`: events of `source` ever refused.
pub fn rejected_counter_key(source: &str) -> Vec<u8> {
    format!("rejected/{source}").into_bytes()
}

/// `counters`: events of `source` refused as late.
pub fn late_counter_key(source: &str) -> Vec<u8> {
    format!("late/{source}").into_bytes()
}

/// `counters`: the largest event time of `source` accepted so far.
pub fn watermark_key(source: &str) -> Vec<u8> {
    format!("watermark/{source}").into_bytes()
}

/// `counters`: the layout of operator state.
pub fn state_layout_key() -> Vec<u8> {
    b"state_layout".to_vec()
}

/// `TAG NAME \0 KEY`: the NUL ends the name, so one name's prefix never covers
/// another name that extends it.
fn entry(tag: &[u8], name: &str, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tag.len() + name.len() + 1 + key.len());
    out.extend_from_slice(tag);
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.extend_from_slice(key);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_prefix_covers_its_entries_and_not_a_longer_name() {
        let prefix = feature_state_key("spend@v1", b"");
        assert!(feature_state_key("spend@v1", b"42").starts_with(&prefix));
        assert!(!feature_state_key("spend@v10", b"42").starts_with(&prefix));
        assert!(!view_state_key("spend@v1", b"42").starts_with(&prefix));
        assert_eq!(skipped_rows_key("spend@v1"), b"s/spend@v1".to_vec());
    }

    #[test]
    fn a_feature_key_splits_into_its_table_and_entity_key() {
        let key = feature_state_key("spend@v1", b"4\x002");
        assert_eq!(
            split_feature_state_key(&key),
            Some(("spend@v1", &b"4\x002"[..]))
        );
        let stats = feature_state_key("spend@v1", b"");
        assert_eq!(
            split_feature_state_key(&stats),
            Some(("spend@v1", &b""[..]))
        );
        assert_eq!(split_feature_state_key(&view_state_key("v@v1", b"4")), None);
        assert_eq!(split_feature_state_key(&skipped_rows_key("spend@v1")), None);
    }

    #[test]
    fn lane_keys_sort_by_id() {
        assert!(lane_key("clicks", 9) < lane_key("clicks", 10));
        assert!(lane_key("clicks", 9).starts_with(&lane_prefix("clicks")));
        assert!(!lane_key("clicks2", 1).starts_with(&lane_prefix("clicks")));
    }
}
