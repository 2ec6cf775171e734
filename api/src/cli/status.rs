//! `freshet status`: each source's heads, counters and processing lag, then each
//! feature version's state, with a progress bar for running backfills.

use super::progress::bar;
use super::{connect, ClientArgs};
use crate::proto;
use crate::Result;

/// A feature version's status as JSON.
pub fn version_json(v: &proto::FeatureVersionStatus) -> serde_json::Value {
    serde_json::json!({
        "name": v.name,
        "version": v.version,
        "state": v.state,
        "events_done": v.events_done,
        "events_total": v.events_total,
        "events_per_second": v.events_per_second,
        "eta_seconds": v.eta_seconds,
        "cause": v.cause,
        "frozen": v.frozen,
        "rows_skipped_no_key": v.rows_skipped_no_key,
        "rows_skipped_no_event_time": v.rows_skipped_no_event_time,
    })
}

/// A feature version's status as one line of text.
pub fn version_line(v: &proto::FeatureVersionStatus) -> String {
    let name = format!("{}@v{}", v.name, v.version);
    let frozen = if v.frozen { " (frozen)" } else { "" };
    let skipped = match (v.rows_skipped_no_key, v.rows_skipped_no_event_time) {
        (0, 0) => String::new(),
        (no_key, no_time) => {
            format!(", skipped rows: {no_key} without a key, {no_time} without an event time")
        }
    };
    let line = match v.state.as_str() {
        "BACKFILLING" => format!(
            "{name:<32} {:<12} {} {}/{} events, {:.0}/s, ETA {:.0}s",
            v.state,
            bar(v.events_done, v.events_total),
            v.events_done,
            v.events_total,
            v.events_per_second,
            v.eta_seconds
        ),
        "FAILED" => format!("{name:<32} {:<12} {}", v.state, v.cause),
        _ => format!("{name:<32} {}{frozen}", v.state),
    };
    line + &skipped
}

/// Prints each source's heads, counters and lag, then every feature version.
pub async fn status(client: &ClientArgs) -> Result<()> {
    let response = connect(client)
        .await?
        .get_status(proto::GetStatusRequest {})
        .await?
        .into_inner();
    if client.json {
        let sources: Vec<_> = response
            .sources
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "version": s.version,
                    "kind": s.kind,
                    "heads": s.partitions.iter().map(|p| p.head.clone()).collect::<Vec<_>>(),
                    "partitions": s.partitions.iter().map(|p| serde_json::json!({
                        "partition": p.partition,
                        "head": p.head,
                        "local_from": p.local_from,
                        "archived": (!p.archived_to.is_empty())
                            .then(|| [p.archived_from.clone(), p.archived_to.clone()]),
                    })).collect::<Vec<_>>(),
                    "events_accepted": s.events_accepted,
                    "events_rejected": s.events_rejected,
                    "events_rejected_kept": s.events_rejected_kept,
                    "events_late": s.events_late,
                    "events_processed": s.events_processed,
                    "lag": s.lag,
                })
            })
            .collect();
        let features: Vec<_> = response.features.iter().map(version_json).collect();
        println!(
            "{}",
            serde_json::json!({ "sources": sources, "features": features })
        );
        return Ok(());
    }
    println!(
        "{:<24} {:<8} {:>12} {:>10} {:>10} {:>8} {:>12} {:>8}  heads",
        "source", "kind", "accepted", "rejected", "kept", "late", "processed", "lag"
    );
    for s in &response.sources {
        let heads: Vec<String> = s
            .partitions
            .iter()
            .map(|p| {
                if p.archived_to.is_empty() {
                    format!("{}={}", p.partition, p.head)
                } else {
                    format!(
                        "{}={} (archived {}..{}, local {}..)",
                        p.partition, p.head, p.archived_from, p.archived_to, p.local_from
                    )
                }
            })
            .collect();
        println!(
            "{:<24} {:<8} {:>12} {:>10} {:>10} {:>8} {:>12} {:>8}  {}",
            format!("{}@v{}", s.name, s.version),
            s.kind,
            s.events_accepted,
            s.events_rejected,
            s.events_rejected_kept,
            s.events_late,
            s.events_processed,
            s.lag,
            heads.join(" ")
        );
    }
    if !response.features.is_empty() {
        println!();
        println!("{:<32} state", "feature");
        for v in &response.features {
            println!("{}", version_line(v));
        }
    }
    Ok(())
}
