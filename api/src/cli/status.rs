//! `freshet status`.

use super::{connect, ClientArgs};
use crate::proto;
use crate::Result;

/// Prints each source's heads, counters and processing lag.
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
                    "events_accepted": s.events_accepted,
                    "events_rejected": s.events_rejected,
                    "events_rejected_kept": s.events_rejected_kept,
                    "events_late": s.events_late,
                    "events_processed": s.events_processed,
                    "lag": s.lag,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "sources": sources }));
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
            .map(|p| format!("{}={}", p.partition, p.head))
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
    Ok(())
}
