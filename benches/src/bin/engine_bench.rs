//! `engine_bench`: the end-to-end benchmark of the streaming engine, run against
//! the real release `freshet` binary next to this one. Prints one JSON object.
//!
//! (a) ingest to online: JSON events through a stream–file join into 5 windowed
//!     features, sustained events/s until every event is reflected online, and the
//!     server's RSS over the run (peak and samples, to show it stays flat);
//! (b) freshness at half that rate: ingest acknowledgement to online visibility;
//! (c) once the server is idle, `GetOnlineFeatures` over loopback gRPC, 1 key ×
//!     10 features and 100 keys × 10 features at 1, 8 and 32 clients; then, with
//!     the server stopped, the same lookups in-process on the same online store,
//!     and the ratio.
//!
//! `cargo build --release --workspace --bins && target/release/engine_bench`

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use freshet_api::proto::{self, entity_key::Key};
use freshet_benches::purchase_stream::{
    self, ingest, ingest_to_online, payload, processed, Load, FEATURES,
};
use freshet_benches::server::{self, client, wait_until_idle, Server};
use freshet_benches::stats::{per_sec, round3};
use freshet_engine::catalog::{FeatureCatalog, LatestSet};
use freshet_engine::serving::{FeatureServer, StateOnline};
use freshet_engine::value::Value;
use freshet_registry::Registry;
use freshet_storage::StorageConfig;
use serde_json::json;

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

/// (b): batches of 1,000 events at `rate` events/s; each batch's acknowledgement
/// time against the first instant the engine reports it processed.
async fn freshness(
    server: &Server,
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

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    purchase_stream::write_items(dir.path());
    let data = dir.path().join("data");
    let server = server::start(&data, &[]);
    let mut admin = client(&server.url).await;
    admin
        .apply(purchase_stream::apply_request(
            purchase_stream::definitions(),
            dir.path(),
        ))
        .await
        .expect("apply");
    // Events over the last ~3 hours, so every window holds some of them.
    let start_ms = chrono::Utc::now().timestamp_millis() - 3 * 3_600_000;
    let load = Load {
        events: args.events,
        keys: args.keys,
        batch_rows: args.batch_rows,
        clients: args.ingest_clients,
    };
    let (ingest, rate) = ingest_to_online(&server, load, start_ms).await;
    let fresh = freshness(&server, &args, rate / 2.0, args.events, start_ms).await;
    // RocksDB compacts the ingested state in the background for a while; the
    // lookups are timed once it is done, as on a server that is not ingesting.
    let idle_seconds = wait_until_idle(&server).await;
    let mut grpc = serde_json::Map::new();
    for per_request in [1usize, 100] {
        for clients in [1usize, 8, 32] {
            let result =
                grpc_lookups(&server.url, args.keys, per_request, clients, args.seconds).await;
            grpc.insert(format!("{per_request}_keys_{clients}_clients"), result);
        }
    }
    server.stop();

    // The server's own storage, opened as the server opens it.
    let storage = freshet_backends::open(&StorageConfig::embedded(&data))
        .await
        .expect("the server's storage");
    let (state, online) = (storage.state, storage.online);
    let online = online.unwrap_or_else(|| Arc::new(StateOnline::new(state.clone())));
    let registry = Arc::new(Registry::new(state));
    let latest = Arc::new(
        LatestSet::load(&registry)
            .await
            .expect("latest definitions"),
    );
    let catalog = Arc::new(FeatureCatalog::new(registry, latest));
    let in_process = Arc::new(FeatureServer::new(online, catalog));
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
        "c_idle_wait_seconds": round3(idle_seconds),
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
}
