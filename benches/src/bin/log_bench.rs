//! `log_bench`: append and replay throughput of the embedded segment log, next to
//! the raw-disk baseline measured in the same run and directory. Prints one JSON
//! document on stdout; progress goes to stderr. See `benches/README.md`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use freshet_backends::embedded::SegmentLog;
use freshet_benches::append::{run_appends, AppendOutcome, AppendPlan};
use freshet_benches::raw_disk::{write_raw, RawOutcome, RawPlan};
use freshet_benches::replay::{replay, ReplayOutcome};
use freshet_benches::stats::{mb_per_sec, per_sec, round3, segment_bytes, Latency};
use freshet_benches::{purchases, BenchResult};
use freshet_storage::log::EventLog;
use serde_json::{json, Value};

/// Streaming baseline: 1 MiB writes, one fdatasync per 64 MiB.
const STREAM_CHUNK: usize = 1 << 20;
const STREAM_SYNC_EVERY: u64 = 64 << 20;
/// The streaming baseline writes at least this much.
const STREAM_MIN_BYTES: u64 = 256 << 20;

#[derive(Parser, Debug)]
#[command(about = "Event-log append/replay throughput against the raw disk")]
struct Args {
    /// Directory under which the temporary benchmark directory is made (same disk
    /// as what you want to measure).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Concurrent appenders of the concurrent cases (the other cases use 1).
    #[arg(long, default_value_t = 8)]
    appenders: usize,
    /// Rows per appended batch; one topic per size.
    #[arg(long, value_delimiter = ',', default_value = "1,100,10000")]
    batch_sizes: Vec<usize>,
    /// At most this many appends per case...
    #[arg(long, default_value_t = 20_000)]
    max_appends: u64,
    /// ...and at most this many rows per case...
    #[arg(long, default_value_t = 30_000_000)]
    max_rows: u64,
    /// ...and at most this many seconds per case (raw baselines too).
    #[arg(long, default_value_t = 6.0)]
    time_budget_secs: f64,
    /// `max_rows` passed to each `read` call of the replay.
    #[arg(long, default_value_t = 65_536)]
    read_max_rows: usize,
    /// Keep the benchmark directory instead of deleting it.
    #[arg(long)]
    keep: bool,
}

fn main() -> BenchResult<()> {
    let args = Args::parse();
    let root = tempfile::Builder::new()
        .prefix("log_bench-")
        .tempdir_in(&args.dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let log = Arc::new(SegmentLog::open(root.path().join("log"))?);
    let budget = Duration::from_secs_f64(args.time_budget_secs);

    let mut cases = Vec::new();
    let mut most_bytes = 0;
    for &rows in &args.batch_sizes {
        let case = run_batch_size(&runtime, &log, root.path(), rows, &args, budget)?;
        most_bytes = most_bytes.max(case.most_bytes);
        cases.push(case);
    }

    let stream_plan = RawPlan {
        chunk_bytes: STREAM_CHUNK,
        total_bytes: most_bytes.max(STREAM_MIN_BYTES),
        time_budget: budget,
        sync_every_bytes: STREAM_SYNC_EVERY,
    };
    eprintln!("raw streaming: {} bytes", stream_plan.total_bytes);
    let stream = write_raw(&root.path().join("raw-streaming"), stream_plan)?;
    let stream_mb_s = mb_per_sec(stream.bytes, stream.secs);

    let mut summary = Vec::new();
    let cases: Vec<Value> = cases
        .into_iter()
        .map(|mut case| {
            for append in case.appends.iter_mut() {
                let ratio = round3(append["mb_per_s"].as_f64().unwrap_or(0.0) / stream_mb_s);
                append["ratio_to_raw_streaming"] = json!(ratio);
                summary.push(json!({
                    "batch_rows": case.rows,
                    "appenders": append["appenders"],
                    "log_mb_per_s": append["mb_per_s"],
                    "raw_per_frame_mb_per_s": append["raw_per_frame"]["mb_per_s"],
                    "ratio_to_raw": append["ratio_to_raw"],
                    "ratio_to_raw_streaming": ratio,
                }));
            }
            json!({
                "batch_rows": case.rows,
                "append": case.appends,
                "read": case.read,
            })
        })
        .collect();

    let report = json!({
        "bench": "log_bench",
        "dir": root.path().display().to_string(),
        "config": {
            "appenders": args.appenders,
            "batch_sizes": args.batch_sizes,
            "max_appends": args.max_appends,
            "max_rows": args.max_rows,
            "time_budget_secs": args.time_budget_secs,
            "read_max_rows": args.read_max_rows,
            "mb": 1_000_000,
            "schema": "user_id int64, item_id int64, amount float64, ts timestamp(us)",
        },
        "raw_streaming": raw_json(&stream),
        "cases": cases,
        "summary": summary,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if args.keep {
        eprintln!("kept {}", root.keep().display());
    }
    Ok(())
}

/// The results of one batch size, before the streaming ratio is known.
struct BatchSizeCase {
    rows: usize,
    appends: Vec<Value>,
    read: Value,
    most_bytes: u64,
}

/// Appends with 1 and with `appenders` tasks (each followed by its raw baseline),
/// then replays the whole partition.
fn run_batch_size(
    runtime: &tokio::runtime::Runtime,
    log: &Arc<SegmentLog>,
    root: &Path,
    rows: usize,
    args: &Args,
    budget: Duration,
) -> BenchResult<BatchSizeCase> {
    let topic = format!("purchases_b{rows}");
    runtime.block_on(log.ensure_topic(&topic, 1))?;
    let partition_dir = root.join("log").join(&topic).join("0");
    let batch = purchases::batch(rows, rows as u64);
    let plan = AppendPlan {
        appenders: 1,
        max_appends: args
            .max_appends
            .min(args.max_rows / rows.max(1) as u64)
            .max(1),
        time_budget: budget,
    };

    let mut appends = Vec::new();
    let mut most_bytes = 0;
    let mut concurrency = vec![1];
    if args.appenders != 1 {
        concurrency.push(args.appenders);
    }
    for appenders in concurrency {
        eprintln!("append: batch_rows={rows} appenders={appenders}");
        let before = segment_bytes(&partition_dir)?;
        let plan = AppendPlan { appenders, ..plan };
        let outcome = runtime.block_on(run_appends(log.clone(), &topic, batch.clone(), plan))?;
        let bytes = segment_bytes(&partition_dir)? - before;
        most_bytes = most_bytes.max(bytes);
        let frame_bytes = bytes / outcome.appends.max(1);
        eprintln!("raw per frame: chunk={frame_bytes} bytes={bytes}");
        let raw = write_raw(
            &root.join(format!("raw-b{rows}-w{appenders}")),
            RawPlan {
                chunk_bytes: frame_bytes as usize,
                total_bytes: bytes,
                time_budget: budget,
                sync_every_bytes: 0,
            },
        )?;
        appends.push(append_json(appenders, outcome, bytes, &raw));
    }

    eprintln!("read: batch_rows={rows}");
    let bytes = segment_bytes(&partition_dir)?;
    let read = runtime.block_on(replay(log, &topic, args.read_max_rows))?;
    Ok(BatchSizeCase {
        rows,
        appends,
        read: read_json(&read, bytes),
        most_bytes,
    })
}

fn append_json(
    appenders: usize,
    mut outcome: AppendOutcome,
    bytes: u64,
    raw: &RawOutcome,
) -> Value {
    let mb_s = mb_per_sec(bytes, outcome.secs);
    let raw_mb_s = mb_per_sec(raw.bytes, raw.secs);
    let latency = Latency::of(&mut outcome.latencies);
    json!({
        "appenders": appenders,
        "appends": outcome.appends,
        "records": outcome.records,
        "bytes": bytes,
        "frame_bytes": bytes / outcome.appends.max(1),
        "secs": round3(outcome.secs),
        "stopped_by": if outcome.stopped_by_time { "time" } else { "count" },
        "records_per_s": round3(per_sec(outcome.records, outcome.secs)),
        "appends_per_s": round3(per_sec(outcome.appends, outcome.secs)),
        "mb_per_s": round3(mb_s),
        "latency_us": {
            "p50": latency.p50_us,
            "p99": latency.p99_us,
            "max": latency.max_us,
        },
        "raw_per_frame": raw_json(raw),
        "ratio_to_raw": round3(if raw_mb_s > 0.0 { mb_s / raw_mb_s } else { 0.0 }),
    })
}

fn raw_json(raw: &RawOutcome) -> Value {
    json!({
        "chunk_bytes": raw.chunk_bytes,
        "bytes": raw.bytes,
        "writes": raw.writes,
        "fdatasyncs": raw.syncs,
        "secs": round3(raw.secs),
        "stopped_by": if raw.stopped_by_time { "time" } else { "count" },
        "writes_per_s": round3(per_sec(raw.writes, raw.secs)),
        "mb_per_s": round3(mb_per_sec(raw.bytes, raw.secs)),
    })
}

fn read_json(read: &ReplayOutcome, bytes: u64) -> Value {
    json!({
        "records": read.records,
        "batches": read.batches,
        "read_calls": read.reads,
        "bytes": bytes,
        "secs": round3(read.secs),
        "records_per_s": round3(per_sec(read.records, read.secs)),
        "mb_per_s": round3(mb_per_sec(bytes, read.secs)),
    })
}
