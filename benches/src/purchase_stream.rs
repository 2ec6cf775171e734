//! The streaming workload `engine_bench` and `backfill_bench` run against a
//! `freshet serve`: a JSON `purchases` stream joined with a 1,000-row items CSV
//! (`enriched`), 5 windowed features over the join, the generated events, and
//! the ingest-to-online measurement.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use freshet_api::proto::{self, feature_store_client::FeatureStoreClient, PayloadFormat};
use serde_json::json;
use tonic::transport::Channel;

use freshet_testkit::server::metric;

use crate::server::{client, Server};
use crate::stats::round3;

/// The stream source the events go to.
pub const SOURCE: &str = "purchases";

/// The entity every feature describes (key `user_id`).
pub const ENTITY: &str = "user";

/// The 5 features of [`definitions`], in the order they are defined.
pub const FEATURES: [&str; 5] = [
    "spend_1h",
    "purchases_1d",
    "avg_7d",
    "max_7d",
    "categories_1d",
];

/// A windowed feature over `enriched`: (name, aggregate, window).
pub type Feature = (&'static str, &'static str, &'static str);

/// The definitions: the `purchases` stream, the `items` file (see
/// [`write_items`]), their join `enriched`, the entity `user` and [`FEATURES`].
pub fn definitions() -> String {
    definitions_with(&[])
}

/// [`definitions`] with `extra` features over `enriched` after [`FEATURES`].
pub fn definitions_with(extra: &[Feature]) -> String {
    let mut text = String::from(
        r#"
sources:
  - name: purchases
    stream: { topic: purchases }
    schema: { user_id: int64, item_id: int64, amount: float64, ts: timestamp }
    event_time: ts
    allowed_lateness: 1m
  - name: items
    file: { uri: "file://items.csv" }
transformations:
  - name: enriched
    sql: >
      SELECT p.user_id, p.amount, i.category, p.ts
      FROM purchases p JOIN items i ON p.item_id = i.item_id
entities:
  - { name: user, key: user_id }
features:
  - { name: spend_1h, entity: user, source: enriched, aggregate: sum(amount), window: 1h }
  - { name: purchases_1d, entity: user, source: enriched, aggregate: count(*), window: 1d }
  - { name: avg_7d, entity: user, source: enriched, aggregate: avg(amount), window: 7d }
  - { name: max_7d, entity: user, source: enriched, aggregate: max(amount), window: 7d }
  - { name: categories_1d, entity: user, source: enriched, aggregate: count_distinct(category), window: 1d }
"#,
    );
    for (name, aggregate, window) in extra {
        text.push_str(&format!(
            "  - {{ name: {name}, entity: user, source: enriched, aggregate: {aggregate}, window: {window} }}\n"
        ));
    }
    text
}

/// Writes `items.csv` (items 1..=1000 in 20 categories) into `dir`, the folder
/// the definitions' relative `file://items.csv` is resolved against.
pub fn write_items(dir: &Path) {
    let mut items = String::from("item_id,category\n");
    for item in 1..=1000 {
        items.push_str(&format!("{item},c{}\n", item % 20));
    }
    std::fs::write(dir.join("items.csv"), items).expect("items file");
}

/// The `Apply` of `definitions`, relative URIs resolved against `base_dir`.
pub fn apply_request(definitions: String, base_dir: &Path) -> proto::ApplyRequest {
    proto::ApplyRequest {
        definitions,
        file_name: "bench.yaml".into(),
        base_dir: base_dir.display().to_string(),
        dry_run: false,
    }
}

/// JSON lines for events `first..first + rows`: keys spread over `keys`, times
/// increasing from `start_ms` by 1 ms per event.
pub fn payload(first: u64, rows: usize, keys: u64, start_ms: i64) -> Vec<u8> {
    let mut out = String::with_capacity(rows * 80);
    for n in first..first + rows as u64 {
        let user = n.wrapping_mul(2_654_435_761) % keys;
        let item = n % 1000 + 1;
        let amount = (n % 10_000) as f64 / 100.0;
        let ts = start_ms + n as i64;
        out.push_str(&format!(
            r#"{{"user_id":{user},"item_id":{item},"amount":{amount},"ts":{ts}}}"#
        ));
        out.push('\n');
    }
    out.into_bytes()
}

/// An `Ingest` of JSON lines into [`SOURCE`]; with `wait` and no rows it returns
/// once everything ingested so far is processed.
pub fn ingest(data: Vec<u8>, wait: bool) -> proto::IngestRequest {
    proto::IngestRequest {
        source: SOURCE.into(),
        format: PayloadFormat::JsonLines as i32,
        data,
        skip_bad_rows: false,
        validate_only: false,
        wait,
    }
}

/// Events of [`SOURCE`] processed into feature state and committed.
pub async fn processed(client: &mut FeatureStoreClient<Channel>) -> u64 {
    let status = client
        .get_status(proto::GetStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    status
        .sources
        .iter()
        .find(|s| s.name == SOURCE)
        .map_or(0, |s| s.events_processed)
}

/// Bytes in MB (2^20).
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The load of [`ingest_to_online`].
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Events to send: `0..events`.
    pub events: u64,
    /// Distinct entity keys.
    pub keys: u64,
    /// Rows per ingest request.
    pub batch_rows: usize,
    /// Concurrent ingest clients.
    pub clients: usize,
}

/// Sends events `0..load.events` (times from `start_ms`) as fast as
/// `load.clients` gRPC clients can, then waits until every event is processed
/// (an `Ingest` with `wait` and no rows). Samples the processed count and the
/// server's RSS every second. Returns the report and the sustained rate: events
/// per second from the first request to all processed.
pub async fn ingest_to_online(
    server: &Server,
    load: Load,
    start_ms: i64,
) -> (serde_json::Value, f64) {
    let batches = load.events.div_ceil(load.batch_rows as u64);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..load.clients {
        let (url, next) = (server.url.clone(), next.clone());
        senders.push(tokio::spawn(async move {
            let mut client = client(&url).await;
            loop {
                let batch = next.fetch_add(1, Ordering::Relaxed);
                if batch >= batches {
                    return;
                }
                let first = batch * load.batch_rows as u64;
                let take = load.batch_rows.min((load.events - first) as usize);
                client
                    .ingest(ingest(payload(first, take, load.keys, start_ms), false))
                    .await
                    .expect("ingest");
            }
        }));
    }
    let mut samples = Vec::new();
    let mut probe = client(&server.url).await;
    loop {
        let done = senders.iter().all(|s| s.is_finished());
        samples.push((
            round3(started.elapsed().as_secs_f64()),
            processed(&mut probe).await,
            mb(server.memory().0),
        ));
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for sender in senders {
        // Surfaces a sender's panic (a refused ingest) here.
        sender.await.expect("ingest client");
    }
    let acked = started.elapsed().as_secs_f64();
    probe
        .ingest(ingest(Vec::new(), true))
        .await
        .expect("wait for processing");
    let total = started.elapsed().as_secs_f64();
    let (rss, peak) = server.memory();
    let (rss, peak) = (mb(rss), mb(peak));
    samples.push((round3(total), processed(&mut probe).await, rss));
    let rate = load.events as f64 / total;
    let page = server.metrics().await;
    let per_event = |store: &str| {
        let series =
            format!("freshet_store_bytes_written_total{{source=\"{SOURCE}\",store=\"{store}\"}}");
        round3(metric(&page, &series).unwrap_or(0.0) / load.events as f64)
    };
    let report = json!({
        "events": load.events,
        "keys": load.keys,
        "features": FEATURES.len(),
        "ingest_acked_seconds": round3(acked),
        "ingest_acked_events_per_sec": round3(load.events as f64 / acked),
        "online_seconds": round3(total),
        "online_events_per_sec": round3(rate),
        "peak_rss_mb": round3(peak),
        "peak_rss_mb_by_processed": rss_milestones(&samples),
        "state_bytes_per_event": per_event("state"),
        "online_bytes_per_event": per_event("online"),
        "rss_samples": samples.iter().map(|(t, p, r)| json!({"t": t, "processed": p, "rss_mb": round3(*r)})).collect::<Vec<_>>(),
    });
    (report, rate)
}

/// The largest RSS sampled while no more than 1M, 10M and 30M events had been
/// processed (each milestone the run reached): whether memory stays flat as the
/// log grows.
fn rss_milestones(samples: &[(f64, u64, f64)]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for milestone in [1_000_000u64, 10_000_000, 30_000_000] {
        if samples
            .iter()
            .any(|(_, processed, _)| *processed >= milestone)
        {
            let peak = samples
                .iter()
                .filter(|(_, processed, _)| *processed <= milestone)
                .map(|(_, _, rss)| *rss)
                .fold(0.0, f64::max);
            out.insert(format!("{}M", milestone / 1_000_000), json!(round3(peak)));
        }
    }
    serde_json::Value::Object(out)
}
