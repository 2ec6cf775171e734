//! `backfill_bench`: how fast a new feature version replays the log (backfill)
//! against how fast the live path processed the same events, run against the
//! real release `freshet` binary next to this one. Prints one JSON object.
//!
//! 1. Starts `freshet serve` on a fresh data directory and applies engine_bench's
//!    definitions (the `purchases` stream joined with an items file, and its 5
//!    windowed features: set A).
//! 2. Ingests `--events` events over `--keys` users as fast as it can and waits
//!    until every event is processed (engine_bench's ingest-to-online): the live
//!    rate.
//! 3. Applies 5 new features (set B) over the same join, which start a backfill,
//!    and times the apply until `WaitForFeature` has returned for all 5 (called
//!    concurrently): the replay rate. Meanwhile polls `GetStatus` every 200 ms
//!    for the versions' progress and reported replay rate and, with
//!    `--live-rate R`, sends R live events per second and records the source's
//!    processing lag.
//! 4. Checks the replay against the live path: set B holds one definition of
//!    set A under another name (`spend_1h_b` = `spend_1h` = `sum(amount)` over
//!    1h); for `--sample-keys` random keys both must read the same value. Exits
//!    non-zero on any difference.
//!
//! `cargo build --release --workspace --bins && target/release/backfill_bench`

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use freshet_api::proto::{self, entity_key::Key, feature_value::Value as V};
use freshet_benches::purchase_stream::{
    self, ingest, ingest_to_online, payload, Feature, Load, ENTITY, FEATURES, SOURCE,
};
use freshet_benches::server::{self, client};
use freshet_benches::stats::{per_sec, round3};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::task::JoinHandle;

/// Benchmark settings.
#[derive(Debug, Parser)]
struct Args {
    /// Events ingested before the backfill (and so replayed by it).
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Distinct entity keys.
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
    /// Rows per ingest request of the initial ingest.
    #[arg(long, default_value_t = 10_000)]
    batch_rows: usize,
    /// Concurrent ingest clients of the initial ingest.
    #[arg(long, default_value_t = 4)]
    ingest_clients: usize,
    /// Live events per second sent during the backfill (0: none).
    #[arg(long, default_value_t = 0)]
    live_rate: u64,
    /// Random keys whose values the correctness check reads.
    #[arg(long, default_value_t = 100)]
    sample_keys: usize,
    /// Seed of the sampled keys.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where the temporary work directory is made [default: the system's
    /// temporary directory]; it is deleted at the end.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also store the report in benches/results-backfill_bench.json, under its
    /// settings (events, keys, live rate), keeping the others.
    #[arg(long)]
    save: bool,
}

/// The feature of set A that set B repeats under another name.
const TWIN: &str = "spend_1h";

/// Set B, applied after the events are in; the first is the twin of [`TWIN`]
/// (same aggregate, window and source).
const SET_B: [Feature; 5] = [
    ("spend_1h_b", "sum(amount)", "1h"),
    ("purchases_10m", "count(*)", "10m"),
    ("min_amount_6h", "min(amount)", "6h"),
    ("stddev_amount_1d", "stddev(amount)", "1d"),
    ("last_category_7d", "last(category)", "7d"),
];

/// The relative difference within which the twins' sums count as equal (the
/// two paths may add the same values in another order).
const TOLERANCE: f64 = 1e-9;

/// Gap between the last pre-loaded event and the start of the run, so event
/// times are in the past and the shortest window still sees some of them.
const GAP_MS: i64 = 5 * 60_000;

/// The version the apply gave feature `name`.
fn planned_version(plan: &proto::ApplyResponse, name: &str) -> u32 {
    plan.changes
        .iter()
        .find(|c| c.kind == "feature" && c.name == name)
        .map(|c| c.version)
        .unwrap_or_else(|| panic!("the plan of the apply lists no feature {name}"))
}

/// What the live sender did during the backfill.
struct LiveIngest {
    sent: u64,
    late: u64,
    seconds: f64,
}

/// Sends events `first_event..` at `rate` events per second, with event times
/// ending at the wall clock (so they are the newest), until `stop`.
async fn send_live(
    url: String,
    rate: u64,
    keys: u64,
    first_event: u64,
    stop: Arc<AtomicBool>,
) -> LiveIngest {
    // About 20 requests per second.
    let rows = (rate / 20).clamp(1, 10_000);
    let interval = Duration::from_secs_f64(rows as f64 / rate as f64);
    let mut client = client(&url).await;
    let began = Instant::now();
    let (mut sent, mut late) = (0u64, 0u64);
    let mut batch = 0u32;
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep_until((began + interval * batch).into()).await;
        let first = first_event + sent;
        // Event `first + i` at now - rows + i milliseconds.
        let start_ms = chrono::Utc::now().timestamp_millis() - rows as i64 - first as i64;
        let response = client
            .ingest(ingest(payload(first, rows as usize, keys, start_ms), false))
            .await
            .expect("live ingest")
            .into_inner();
        sent += rows;
        late += response.late;
        batch += 1;
    }
    LiveIngest {
        sent,
        late,
        seconds: began.elapsed().as_secs_f64(),
    }
}

/// What `GetStatus` showed during the backfill.
struct Watch {
    /// The largest `events_per_second` any set-B version reported.
    max_rate: f64,
    /// The largest `lag` of the source.
    max_lag: u64,
    /// About one per second (the first poll of each second, and the last).
    samples: Vec<serde_json::Value>,
    polls: u64,
}

/// Polls `GetStatus` every 200 ms until every task of `waits` has finished.
async fn watch_backfill<T>(
    url: &str,
    versions: &[(&str, u32)],
    started: Instant,
    waits: &[JoinHandle<T>],
) -> Watch {
    let mut probe = client(url).await;
    let mut watch = Watch {
        max_rate: 0.0,
        max_lag: 0,
        samples: Vec::new(),
        polls: 0,
    };
    let mut next_sample = 0.0;
    loop {
        let done = waits.iter().all(|w| w.is_finished());
        let status = probe
            .get_status(proto::GetStatusRequest {})
            .await
            .expect("status")
            .into_inner();
        let t = started.elapsed().as_secs_f64();
        watch.polls += 1;
        let ours: Vec<&proto::FeatureVersionStatus> = status
            .features
            .iter()
            .filter(|f| {
                versions
                    .iter()
                    .any(|(name, version)| f.name == *name && f.version == *version)
            })
            .collect();
        let lag = status
            .sources
            .iter()
            .find(|s| s.name == SOURCE)
            .map_or(0, |s| s.lag);
        let rate = ours.iter().map(|f| f.events_per_second).fold(0.0, f64::max);
        watch.max_rate = watch.max_rate.max(rate);
        watch.max_lag = watch.max_lag.max(lag);
        if t >= next_sample || done {
            next_sample = t.floor() + 1.0;
            watch.samples.push(json!({
                "t": round3(t),
                "events_done_min": ours.iter().map(|f| f.events_done).min().unwrap_or(0),
                "events_done_max": ours.iter().map(|f| f.events_done).max().unwrap_or(0),
                "events_total": ours.iter().map(|f| f.events_total).max().unwrap_or(0),
                "backfilling": ours.iter().filter(|f| f.state == "BACKFILLING").count(),
                "events_per_second": round3(rate),
                "eta_seconds": round3(ours.iter().map(|f| f.eta_seconds).fold(0.0, f64::max)),
                "lag": lag,
            }));
        }
        if done {
            return watch;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads [`TWIN`] and every set-B feature (bare names: the versions just made
/// active) for `args.sample_keys` random keys, and compares the twins. Returns
/// the report and the number of problems.
async fn verify(url: &str, args: &Args, versions: &[(&str, u32)]) -> (serde_json::Value, u64) {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let keys: Vec<i64> = (0..args.sample_keys)
        .map(|_| rng.random_range(0..args.keys) as i64)
        .collect();
    let features: Vec<String> = std::iter::once(TWIN)
        .chain(SET_B.iter().map(|(name, _, _)| *name))
        .map(str::to_string)
        .collect();
    let response = client(url)
        .await
        .get_online_features(proto::GetOnlineFeaturesRequest {
            features: features.clone(),
            entity: ENTITY.into(),
            keys: keys
                .iter()
                .map(|k| proto::EntityKey {
                    key: Some(Key::IntValue(*k)),
                })
                .collect(),
        })
        .await
        .unwrap_or_else(|e| panic!("GetOnlineFeatures of set B: {e}"))
        .into_inner();
    let mut problems = 0u64;
    let mut notes = Vec::new();
    // The bare names must read the versions the backfill made.
    for (name, version) in versions {
        let expected = format!("{name}@v{version}");
        if !response.features.contains(&expected) {
            problems += 1;
            notes.push(format!(
                "{name} read {:?}, expected {expected}",
                response.features
            ));
        }
    }
    if response.rows.len() != keys.len() {
        problems += 1;
        notes.push(format!(
            "{} rows for {} keys",
            response.rows.len(),
            keys.len()
        ));
    }
    let (mut exact, mut within, mut both_null, mut twin_mismatches) = (0u64, 0u64, 0u64, 0u64);
    let mut max_relative_difference = 0.0f64;
    let mut non_null = vec![0u64; features.len()];
    for (row, key) in response.rows.iter().zip(&keys) {
        if row.values.len() != features.len() {
            problems += 1;
            notes.push(format!(
                "key {key}: {} values for {} features",
                row.values.len(),
                features.len()
            ));
            continue;
        }
        for (count, value) in non_null.iter_mut().zip(&row.values) {
            if value.value.is_some() {
                *count += 1;
            }
        }
        let (live, replayed) = (row.values[0].value.as_ref(), row.values[1].value.as_ref());
        let equal = match (live, replayed) {
            (None, None) => {
                both_null += 1;
                true
            }
            (Some(V::DoubleValue(a)), Some(V::DoubleValue(b))) => {
                let (a, b) = (*a, *b);
                if a == b {
                    exact += 1;
                    true
                } else {
                    let relative = (a - b).abs() / a.abs().max(b.abs());
                    let relative = if relative.is_nan() {
                        f64::INFINITY
                    } else {
                        relative
                    };
                    max_relative_difference = max_relative_difference.max(relative);
                    within += u64::from(relative <= TOLERANCE);
                    relative <= TOLERANCE
                }
            }
            (a, b) if a == b => {
                exact += 1;
                true
            }
            _ => false,
        };
        if !equal {
            twin_mismatches += 1;
            if notes.len() < 10 {
                notes.push(format!(
                    "key {key}: {TWIN} = {live:?}, {} = {replayed:?}",
                    SET_B[0].0
                ));
            }
        }
    }
    problems += twin_mismatches;
    if non_null[0] == 0 {
        notes.push(format!(
            "no sampled key has a {TWIN} value: the check compared nothing but nulls"
        ));
    }
    let report = json!({
        "keys_sampled": keys.len(),
        "twin": [TWIN, SET_B[0].0],
        "twin_exact": exact,
        "twin_within_1e-9_not_exact": within,
        "twin_both_null": both_null,
        "twin_mismatches": twin_mismatches,
        "twin_max_relative_difference": max_relative_difference,
        "versions_read": response.features,
        "non_null_values": features.iter().zip(&non_null).map(|(f, n)| (f.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "notes": notes,
    });
    (report, problems)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    assert!(
        args.events > 0 && args.keys > 0 && args.batch_rows > 0 && args.ingest_clients > 0,
        "--events, --keys, --batch-rows and --ingest-clients must be positive"
    );
    // Deleted when dropped, also on a panic (after the server, declared later).
    let dir = match &args.dir {
        Some(parent) => {
            std::fs::create_dir_all(parent).expect("create --dir");
            tempfile::Builder::new()
                .prefix("backfill_bench-")
                .tempdir_in(parent)
        }
        None => tempfile::Builder::new().prefix("backfill_bench-").tempdir(),
    }
    .expect("temp dir");
    let work = dir.path().canonicalize().expect("temp dir path");
    purchase_stream::write_items(&work);
    let server = server::start(&work.join("data"), &[]);
    let mut admin = client(&server.url).await;
    admin
        .apply(purchase_stream::apply_request(
            purchase_stream::definitions(),
            &work,
        ))
        .await
        .expect("apply the stream and set A");

    // Live path: event times end GAP_MS before now, 1 ms apart.
    let start_ms = chrono::Utc::now().timestamp_millis() - args.events as i64 - GAP_MS;
    eprintln!(
        "backfill_bench: ingesting {} events over {} keys in {}",
        args.events,
        args.keys,
        work.display()
    );
    let load = Load {
        events: args.events,
        keys: args.keys,
        batch_rows: args.batch_rows,
        clients: args.ingest_clients,
    };
    let (live_report, online_rate) = ingest_to_online(&server, load, start_ms).await;
    let live_seconds = args.events as f64 / online_rate;
    let (_, peak_rss_before_backfill) = server.memory();

    // Backfill of set B.
    eprintln!("backfill_bench: applying set B");
    let stop = Arc::new(AtomicBool::new(false));
    let live = (args.live_rate > 0).then(|| {
        tokio::spawn(send_live(
            server.url.clone(),
            args.live_rate,
            args.keys,
            args.events,
            stop.clone(),
        ))
    });
    let started = Instant::now();
    let plan = admin
        .apply(purchase_stream::apply_request(
            purchase_stream::definitions_with(&SET_B),
            &work,
        ))
        .await
        .expect("apply set B")
        .into_inner();
    let apply_seconds = started.elapsed().as_secs_f64();
    let versions: Vec<(&str, u32)> = SET_B
        .iter()
        .map(|(name, _, _)| (*name, planned_version(&plan, name)))
        .collect();
    let mut waits = Vec::new();
    for (name, version) in &versions {
        let (url, reference) = (server.url.clone(), format!("{name}@v{version}"));
        waits.push(tokio::spawn(async move {
            let mut client = client(&url).await;
            let status = client
                .wait_for_feature(proto::WaitForFeatureRequest {
                    reference: reference.clone(),
                })
                .await
                .unwrap_or_else(|e| panic!("WaitForFeature {reference}: {e}"))
                .into_inner();
            (reference, started.elapsed().as_secs_f64(), status)
        }));
    }
    let watch = watch_backfill(&server.url, &versions, started, &waits).await;
    let mut backfills = Vec::new();
    for wait in waits {
        backfills.push(wait.await.expect("WaitForFeature task"));
    }
    let replay_seconds = backfills.iter().map(|(_, s, _)| *s).fold(0.0, f64::max);
    stop.store(true, Ordering::Relaxed);
    let live_ingest = match live {
        Some(task) => Some(task.await.expect("live ingest task")),
        None => None,
    };

    // Everything ingested so far processed, so the twins hold still.
    eprintln!("backfill_bench: checking");
    admin
        .ingest(ingest(Vec::new(), true))
        .await
        .expect("wait for processing");
    let (verification, mismatches) = verify(&server.url, &args, &versions).await;
    let (_, peak_rss) = server.memory();
    server.stop();

    let replay_rate = args.events as f64 / replay_seconds;
    let mut report = serde_json::Map::new();
    for (key, value) in [
        ("benchmark", json!("backfill")),
        ("events", json!(args.events)),
        ("keys", json!(args.keys)),
        ("live_rate", json!(args.live_rate)),
        ("set_a", json!(FEATURES)),
        (
            "set_b",
            json!(SET_B
                .iter()
                .map(|(name, aggregate, window)| {
                    json!({"name": name, "aggregate": aggregate, "window": window})
                })
                .collect::<Vec<_>>()),
        ),
        ("live_ingest_to_online_seconds", json!(round3(live_seconds))),
        ("live_events_per_second", json!(round3(online_rate))),
        ("replay_seconds", json!(round3(replay_seconds))),
        ("replay_events_per_second", json!(round3(replay_rate))),
        ("replay_over_live", json!(round3(replay_rate / online_rate))),
        ("apply_seconds", json!(round3(apply_seconds))),
        ("max_reported_replay_rate", json!(round3(watch.max_rate))),
        ("peak_rss_bytes", json!(peak_rss)),
        (
            "peak_rss_before_backfill_bytes",
            json!(peak_rss_before_backfill),
        ),
        (
            "backfills",
            json!(backfills
                .iter()
                .map(|(reference, seconds, status)| {
                    json!({
                        "reference": reference,
                        "seconds": round3(*seconds),
                        "state": status.state,
                        "events_done": status.events_done,
                        "events_total": status.events_total,
                    })
                })
                .collect::<Vec<_>>()),
        ),
        ("mismatches", json!(mismatches)),
        ("verification", verification),
        ("live_ingest", live_report),
        ("status_polls", json!(watch.polls)),
        ("progress_samples", json!(watch.samples)),
    ] {
        report.insert(key.to_string(), value);
    }
    if let Some(live) = &live_ingest {
        report.insert("max_live_lag".into(), json!(watch.max_lag));
        report.insert(
            "live_during_backfill".into(),
            json!({
                "events_sent": live.sent,
                "events_late": live.late,
                "seconds": round3(live.seconds),
                "events_per_second": round3(per_sec(live.sent, live.seconds)),
            }),
        );
    }
    let report = serde_json::Value::Object(report);
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    if args.save {
        let key = format!(
            "events={} keys={} live_rate={}",
            args.events, args.keys, args.live_rate
        );
        freshet_benches::results::save("backfill_bench", &key, &report);
    }
    if mismatches > 0 {
        eprintln!(
            "backfill_bench: FAILED: {mismatches} problems in the check of the replay against \
             the live path; see \"verification\""
        );
        drop(dir);
        std::process::exit(1);
    }
}
