//! Writing one commit of a lane: online rows, then state with positions, then
//! the log lines and metrics for rows the commit skipped.

use tracing::warn;

use super::TaskContext;
use crate::operators::Changes;
use crate::Result;

/// Writes a commit: online rows first (a replay after a crash rewrites them
/// identically), then the state with the positions.
pub(super) async fn commit(context: &TaskContext, mut changes: Changes) -> Result<()> {
    if !changes.online.is_empty() {
        context
            .online
            .put(std::mem::take(&mut changes.online))
            .await?;
    }
    context.state.write(changes.state)?;
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
