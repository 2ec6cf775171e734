//! Writing one commit of a lane: the copy of its feature entries in an online
//! store of its own (if any), then state with positions, then the log lines and
//! metrics for rows the commit skipped.

use std::collections::{HashMap, HashSet};

use freshet_storage::online::OnlineRow;
use freshet_storage::state::{column_family::OPERATOR_STATE, StateStore, WriteBatch, WriteOp};
use freshet_storage::timed_list;
use tracing::warn;

use super::TaskContext;
use crate::operators::Changes;
use crate::state_keys::split_feature_state_key;
use crate::Result;

/// Writes a commit of `source`'s lane: with an online store of its own, the
/// feature entries first (a replay after a crash rewrites them identically),
/// then the state with the positions, as a [`StateStore::commit`]: visible at
/// once, and after a machine crash kept as a prefix of the commits, so the
/// lane resumes from positions that match its state.
///
/// [`StateStore::commit`]: freshet_storage::state::StateStore::commit
pub(super) async fn commit(context: &TaskContext, source: &str, changes: Changes) -> Result<()> {
    let written = &context.metrics.bytes_written;
    if context.online_copy {
        let rows = online_rows(context.state.as_ref(), &changes.state)?;
        if !rows.is_empty() {
            let bytes = online_bytes(&rows);
            context.online.put(rows).await?;
            written.with_label_values(&[source, "online"]).inc_by(bytes);
        }
    }
    let bytes = state_bytes(&changes.state);
    context.state.commit(changes.state)?;
    written.with_label_values(&[source, "state"]).inc_by(bytes);
    for (table, skipped) in changes.skipped {
        warn!(
            feature = %table,
            no_key = skipped.no_key,
            no_event_time = skipped.no_event_time,
            "rows without an entity key or an event time were skipped (counted in status)"
        );
        let counter = &context.metrics.rows_skipped;
        counter
            .with_label_values(&[table.as_str(), "no_key"])
            .inc_by(skipped.no_key);
        counter
            .with_label_values(&[table.as_str(), "no_event_time"])
            .inc_by(skipped.no_event_time);
    }
    Ok(())
}

/// The feature entries a state batch leaves, as online rows: what it puts,
/// and for what it appends, the stored list with the append merged in (as
/// state will hold it once the batch is committed). Feature entries are only
/// ever written by commits (removals go through `drop_table`). A table's
/// statistics (the entry with an empty key) stay in state, where they are read.
fn online_rows(state: &dyn StateStore, batch: &WriteBatch) -> Result<Vec<OnlineRow>> {
    let appended: Vec<Vec<u8>> = batch
        .ops()
        .iter()
        .filter_map(|op| match op {
            WriteOp::AppendTimed {
                column_family: OPERATOR_STATE,
                key,
                ..
            } if entity_entry(key) => Some(key.clone()),
            _ => None,
        })
        .collect();
    let stored = state.multi_get(OPERATOR_STATE, &appended)?;
    let mut current: HashMap<&[u8], Vec<u8>> = appended
        .iter()
        .zip(stored)
        .filter_map(|(key, value)| Some((key.as_slice(), value?)))
        .collect();
    let mut written: Vec<&[u8]> = Vec::new();
    let mut seen: HashSet<&[u8]> = HashSet::new();
    for op in batch.ops() {
        let (key, value) = match op {
            WriteOp::Put {
                column_family: OPERATOR_STATE,
                key,
                value,
            } if entity_entry(key) => (key.as_slice(), value.clone()),
            WriteOp::AppendTimed {
                column_family: OPERATOR_STATE,
                key,
                list,
            } if entity_entry(key) => {
                let stored = current.get(key.as_slice()).map(Vec::as_slice);
                let merged = timed_list::merge(stored.into_iter().chain([list.as_slice()]))?;
                (key.as_slice(), merged)
            }
            _ => continue,
        };
        current.insert(key, value);
        if seen.insert(key) {
            written.push(key);
        }
    }
    Ok(written
        .into_iter()
        .filter_map(|key| {
            let (table, entity) = split_feature_state_key(key)?;
            Some(OnlineRow {
                table: table.to_string(),
                key: entity.to_vec(),
                value: current.remove(key)?,
            })
        })
        .collect())
}

/// Whether `key` is a feature entry of an entity (not a table's statistics).
fn entity_entry(key: &[u8]) -> bool {
    matches!(split_feature_state_key(key), Some((_, entity)) if !entity.is_empty())
}

/// The bytes of keys and values in a state batch.
fn state_bytes(batch: &WriteBatch) -> u64 {
    batch
        .ops()
        .iter()
        .map(|op| match op {
            WriteOp::Put { key, value, .. } => key.len() + value.len(),
            WriteOp::AppendTimed { key, list, .. } => key.len() + list.len(),
            WriteOp::Delete { key, .. } => key.len(),
            WriteOp::DeletePrefix { prefix, .. } => prefix.len(),
        } as u64)
        .sum()
}

/// The bytes of tables, keys and values in online rows.
fn online_bytes(rows: &[OnlineRow]) -> u64 {
    rows.iter()
        .map(|row| (row.table.len() + row.key.len() + row.value.len()) as u64)
        .sum()
}
