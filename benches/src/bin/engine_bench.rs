//! `engine_bench`: the end-to-end benchmark of the streaming engine, run against
//! the real release `freshet` binary next to this one. Prints one JSON object.
//!
//! (a) ingest to online: JSON events through a stream–file join into 5 windowed
//!     features, sustained events/s until every event is reflected online, and the
//!     server's RSS over the run (peak and samples, to show it stays flat);
//! (b) freshness at half that rate: ingest acknowledgement to online visibility;
//! (c) `GetOnlineFeatures` over loopback gRPC, 1 key × 10 features and 100 keys ×
//!     10 features at 1, 8 and 32 clients; then, with the server stopped, the same
//!     lookups in-process on the same online store, and the ratio.
//!
//! `cargo build --release --workspace --bins && target/release/engine_bench`

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use freshet_api::proto::{
    self, entity_key::Key, feature_store_client::FeatureStoreClient, PayloadFormat,
};
use freshet_benches::server::{client, freshet_binary, ServerProcess};
use freshet_benches::stats::{per_sec, round3};
use freshet_engine::runtime::ActiveSet;
use freshet_engine::serving::FeatureServer;
use freshet_engine::value::Value;
use freshet_sql::registry::Registry;
use freshet_storage::embedded::{RocksOnlineStore, RocksStateStore};
use serde_json::json;
use tonic::transport::Channel;

/// Benchmark settings.
#[derive(Debug, Parser)]
struct Args {
    /// Events for (a).
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Distinct entity keys.
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
    /// Rows per ingest request.
    #[arg(long, default_value_t = 10_000)]
    batch_rows: usize,
    /// Concurrent ingest clients.
    #[arg(long, default_value_t = 4)]
    ingest_clients: usize,
    /// Seconds of load for (b) and for each lookup configuration in (c).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

const FEATURES: [&str; 5] = [
    "spend_1h",
    "purchases_1d",
    "avg_7d",
    "max_7d",
    "categories_1d",
];

fn definitions() -> String {
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
"#
    .to_string()
}

/// JSON lines for events `first..first + rows`: keys spread over `keys`, times
/// increasing from `start_ms` by 1 ms per event.
fn payload(first: u64, rows: usize, keys: u64, start_ms: i64) -> Vec<u8> {
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

fn ingest(data: Vec<u8>, wait: bool) -> proto::IngestRequest {
    proto::IngestRequest {
        source: "purchases".into(),
        format: PayloadFormat::JsonLines as i32,
        data,
        skip_bad_rows: false,
        validate_only: false,
        wait,
    }
}

async fn processed(client: &mut FeatureStoreClient<Channel>) -> u64 {
    let status = client
        .get_status(proto::GetStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    status
        .sources
        .iter()
        .find(|s| s.name == "purchases")
        .map_or(0, |s| s.events_processed)
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
    round3(sorted[at].as_secs_f64() * 1e3)
}

fn latency_json(mut samples: Vec<Duration>, seconds: f64) -> serde_json::Value {
    samples.sort_unstable();
    json!({
        "requests_per_sec": round3(per_sec(samples.len() as u64, seconds)),
        "p50_ms": percentile(&samples, 0.50),
        "p99_ms": percentile(&samples, 0.99),
        "p999_ms": percentile(&samples, 0.999),
    })
}

/// (a): returns the report and the sustained rate.
async fn ingest_to_online(
    server: &ServerProcess,
    args: &Args,
    start_ms: i64,
) -> (serde_json::Value, f64) {
    let batches = args.events.div_ceil(args.batch_rows as u64);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..args.ingest_clients {
        let (url, next, rows, keys, events) = (
            server.url.clone(),
            next.clone(),
            args.batch_rows,
            args.keys,
            args.events,
        );
        senders.push(tokio::spawn(async move {
            let mut client = client(&url).await;
            loop {
                let batch = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if batch >= batches {
                    return;
                }
                let first = batch * rows as u64;
                let take = rows.min((events - first) as usize);
                client
                    .ingest(ingest(payload(first, take, keys, start_ms), false))
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
    let acked = started.elapsed().as_secs_f64();
    probe
        .ingest(ingest(Vec::new(), true))
        .await
        .expect("wait for processing");
    let total = started.elapsed().as_secs_f64();
    let (rss, peak) = server.memory();
    let (rss, peak) = (mb(rss), mb(peak));
    samples.push((round3(total), processed(&mut probe).await, rss));
    let rate = args.events as f64 / total;
    let report = json!({
        "events": args.events,
        "keys": args.keys,
        "features": FEATURES.len(),
        "ingest_acked_seconds": round3(acked),
        "ingest_acked_events_per_sec": round3(args.events as f64 / acked),
        "online_seconds": round3(total),
        "online_events_per_sec": round3(rate),
        "peak_rss_mb": round3(peak),
        "rss_samples": samples.iter().map(|(t, p, r)| json!({"t": t, "processed": p, "rss_mb": round3(*r)})).collect::<Vec<_>>(),
    });
    (report, rate)
}

/// (b): batches of 1,000 events at `rate` events/s; each batch's acknowledgement
/// time against the first instant the engine reports it processed.
async fn freshness(
    server: &ServerProcess,
    args: &Args,
    rate: f64,
    first: u64,
    start_ms: i64,
) -> serde_json::Value {
    const ROWS: usize = 1_000;
    let batches = ((rate * args.seconds as f64) / ROWS as f64).ceil() as u64;
    let interval = Duration::from_secs_f64(ROWS as f64 / rate);
    let mut probe = client(&server.url).await;
    let base = processed(&mut probe).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    let url = server.url.clone();
    let keys = args.keys;
    let sender = tokio::spawn(async move {
        let mut client = client(&url).await;
        let began = Instant::now();
        for b in 0..batches {
            tokio::time::sleep_until((began + interval * b as u32).into()).await;
            let first_event = first + b * ROWS as u64;
            client
                .ingest(ingest(payload(first_event, ROWS, keys, start_ms), false))
                .await
                .expect("ingest");
            let _ = tx.send(((b + 1) * ROWS as u64, Instant::now()));
        }
    });
    let mut pending: Vec<(u64, Instant)> = Vec::new();
    let mut samples = Vec::new();
    let mut sender_done = false;
    while !(sender_done && pending.is_empty()) {
        while let Ok(acked) = rx.try_recv() {
            pending.push(acked);
        }
        sender_done = sender.is_finished() && rx.is_empty();
        let now_processed = processed(&mut probe).await - base;
        let seen = Instant::now();
        pending.retain(|(count, acked_at)| {
            if *count <= now_processed {
                samples.push(seen.saturating_duration_since(*acked_at));
                false
            } else {
                true
            }
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut result = latency_json(samples, 1.0);
    let object = result.as_object_mut().expect("object");
    object.remove("requests_per_sec");
    object.insert("rate_events_per_sec".into(), json!(round3(rate)));
    object.insert("batches".into(), json!(batches));
    result
}

fn lookup_request(keys: &[i64]) -> proto::GetOnlineFeaturesRequest {
    proto::GetOnlineFeaturesRequest {
        features: FEATURES
            .iter()
            .chain(FEATURES.iter())
            .map(|f| f.to_string())
            .collect(),
        entity: "user".into(),
        keys: keys
            .iter()
            .map(|k| proto::EntityKey {
                key: Some(Key::IntValue(*k)),
            })
            .collect(),
    }
}

fn key_sets(keys: u64, per_request: usize, count: usize) -> Vec<Vec<i64>> {
    (0..count)
        .map(|i| {
            (0..per_request)
                .map(|j| ((i * per_request + j) as u64 * 7_919 % keys) as i64)
                .collect()
        })
        .collect()
}

async fn grpc_lookups(
    url: &str,
    keys: u64,
    per_request: usize,
    clients: usize,
    seconds: u64,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let url = url.to_string();
        let sets = key_sets(keys, per_request, 1024);
        tasks.push(tokio::spawn(async move {
            let mut client = client(&url).await;
            let mut samples = Vec::new();
            let mut i = c;
            while Instant::now() < deadline {
                let request = lookup_request(&sets[i % sets.len()]);
                let began = Instant::now();
                client.get_online_features(request).await.expect("lookup");
                samples.push(began.elapsed());
                i += clients;
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.expect("lookup task"));
    }
    latency_json(samples, seconds as f64)
}

async fn in_process_lookups(
    server: Arc<FeatureServer>,
    keys: u64,
    per_request: usize,
    clients: usize,
    seconds: u64,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let features: Vec<String> = FEATURES
        .iter()
        .chain(FEATURES.iter())
        .map(|f| f.to_string())
        .collect();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (server, features) = (server.clone(), features.clone());
        let sets = key_sets(keys, per_request, 1024);
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut i = c;
            while Instant::now() < deadline {
                let keys: Vec<Value> = sets[i % sets.len()]
                    .iter()
                    .map(|k| Value::Int(*k))
                    .collect();
                let began = Instant::now();
                let at = chrono::Utc::now().timestamp_micros();
                server
                    .get(&features, "user", &keys, at)
                    .await
                    .expect("lookup");
                samples.push(began.elapsed());
                i += clients;
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.expect("lookup task"));
    }
    latency_json(samples, seconds as f64)
}

/// Bytes in MB.
fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut items = String::from("item_id,category\n");
    for item in 1..=1000 {
        items.push_str(&format!("{item},c{}\n", item % 20));
    }
    std::fs::write(dir.path().join("items.csv"), items).expect("items file");
    let data = dir.path().join("data");
    let server = ServerProcess::start(&freshet_binary(), &data, &[]);
    let mut admin = client(&server.url).await;
    admin
        .apply(proto::ApplyRequest {
            definitions: definitions(),
            file_name: "bench.yaml".into(),
            base_dir: dir.path().display().to_string(),
            dry_run: false,
        })
        .await
        .expect("apply");
    // Events over the last ~3 hours, so every window holds some of them.
    let start_ms = chrono::Utc::now().timestamp_millis() - 3 * 3_600_000;
    let (ingest, rate) = ingest_to_online(&server, &args, start_ms).await;
    let fresh = freshness(&server, &args, rate / 2.0, args.events, start_ms).await;
    let mut grpc = serde_json::Map::new();
    for per_request in [1usize, 100] {
        for clients in [1usize, 8, 32] {
            let result =
                grpc_lookups(&server.url, args.keys, per_request, clients, args.seconds).await;
            grpc.insert(format!("{per_request}_keys_{clients}_clients"), result);
        }
    }
    server.stop();

    let state = Arc::new(RocksStateStore::open(data.join("state")).expect("state store"));
    let online = Arc::new(RocksOnlineStore::open(data.join("online")).expect("online store"));
    let registry = Arc::new(Registry::new(state));
    let active = Arc::new(
        ActiveSet::load(&registry)
            .await
            .expect("active definitions"),
    );
    let in_process = Arc::new(FeatureServer::new(online, registry, active));
    let mut lookups = serde_json::Map::new();
    for per_request in [1usize, 100] {
        for clients in [1usize, 8, 32] {
            let name = format!("{per_request}_keys_{clients}_clients");
            let local = in_process_lookups(
                in_process.clone(),
                args.keys,
                per_request,
                clients,
                args.seconds,
            )
            .await;
            let remote = grpc.remove(&name).expect("measured");
            let ratio = round3(
                remote["requests_per_sec"].as_f64().unwrap_or(0.0)
                    / local["requests_per_sec"].as_f64().unwrap_or(1.0).max(1e-9),
            );
            lookups.insert(name, json!({ "grpc": remote, "in_process": local, "grpc_over_in_process_throughput": ratio }));
        }
    }
    let report = json!({
        "benchmark": "engine",
        "features_per_lookup": 10,
        "a_ingest_to_online": ingest,
        "b_freshness_at_half_rate": fresh,
        "c_lookups": lookups,
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
}
