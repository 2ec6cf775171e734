//! `archive_bench`: replay throughput of the embedded log from its archive
//! (a local folder, and a real S3-compatible server on loopback: moto) against
//! the same rows replayed from local segments, measured in the same run.
//! Prints one JSON document on stdout; progress goes to stderr. See
//! `benches/README.md`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use freshet_backends::embedded::{Archive, SegmentLog, SegmentLogOptions};
use freshet_benches::replay::replay;
use freshet_benches::stats::{per_sec, round3};
use freshet_benches::{purchases, results, BenchResult};
use freshet_storage::config::LocalRetention;
use freshet_storage::log::EventLog;
use freshet_testkit::s3::{S3Server, ACCESS_KEY, REGION, SECRET_KEY};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Log replay from the archive (folder, S3) against local segments")]
struct Args {
    /// Directory under which the temporary benchmark directory is made.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Rows in the log.
    #[arg(long, default_value_t = 5_000_000)]
    rows: u64,
    /// Rows per appended batch (one frame each).
    #[arg(long, default_value_t = 10_000)]
    batch_rows: usize,
    /// Segment size in MiB: the size of each archived object.
    #[arg(long, default_value_t = 16)]
    segment_mib: u64,
    /// `max_rows` of each `read` call of a replay.
    #[arg(long, default_value_t = 65_536)]
    read_max_rows: usize,
    /// Replays of each kind, alternated (local, folder, S3, local, ...).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Store the report in benches/results-archive_bench.json.
    #[arg(long)]
    save: bool,
}

/// A log of `args.rows` purchases in `dir`, archived to `uri` (local only
/// when `None`) with every sealed segment then removed from local disk.
async fn filled_log(dir: &Path, uri: Option<&str>, args: &Args) -> BenchResult<SegmentLog> {
    let archive = match uri {
        Some(uri) => Some(Archive::new(
            freshet_objects::store_at(uri)?,
            Some(LocalRetention::Bytes(0)),
        )),
        None => None,
    };
    let log = SegmentLog::open_with(
        dir,
        SegmentLogOptions {
            segment_bytes: args.segment_mib << 20,
            archive,
        },
    )?;
    log.ensure_topic("purchases", 1).await?;
    let mut written = 0;
    let mut seed = 0;
    while written < args.rows {
        let rows = (args.rows - written).min(args.batch_rows as u64) as usize;
        log.append("purchases", 0, purchases::batch(rows, seed))
            .await?;
        written += rows as u64;
        seed += 1;
    }
    let started = Instant::now();
    let pass = log.archive_pass().await?;
    if uri.is_some() {
        eprintln!(
            "archived {} segments ({} removed locally) in {:.2}s",
            pass.uploaded,
            pass.removed,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(log)
}

fn main() -> BenchResult<()> {
    let args = Args::parse();
    let root = tempfile::Builder::new()
        .prefix("archive_bench-")
        .tempdir_in(&args.dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let s3 = S3Server::start();
    s3.create_bucket("bench");
    std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    freshet_objects::configure_s3(freshet_objects::S3Settings {
        endpoint: Some(s3.endpoint.clone()),
        region: Some(REGION.into()),
        ..Default::default()
    });
    let folder = format!("file://{}", root.path().join("archive").display());
    let logs: Vec<(&str, Arc<SegmentLog>)> = runtime.block_on(async {
        eprintln!("writing {} rows three times", args.rows);
        BenchResult::Ok(vec![
            (
                "local",
                Arc::new(filled_log(&root.path().join("local"), None, &args).await?),
            ),
            (
                "folder_archive",
                Arc::new(filled_log(&root.path().join("folder"), Some(&folder), &args).await?),
            ),
            (
                "s3_archive",
                Arc::new(
                    filled_log(&root.path().join("s3"), Some("s3://bench/archive"), &args).await?,
                ),
            ),
        ])
    })?;

    let mut best = vec![f64::MAX; logs.len()];
    let mut runs = vec![Vec::new(); logs.len()];
    for round in 0..args.rounds {
        for (at, (kind, log)) in logs.iter().enumerate() {
            let outcome = runtime.block_on(replay(log, "purchases", args.read_max_rows))?;
            eprintln!(
                "round {round} {kind}: {} rows in {:.3}s",
                outcome.records, outcome.secs
            );
            best[at] = best[at].min(outcome.secs);
            runs[at].push(round3(outcome.secs));
        }
    }
    let local_rate = per_sec(args.rows, best[0]);
    let cases: Vec<_> = logs
        .iter()
        .enumerate()
        .map(|(at, (kind, _))| {
            let rate = per_sec(args.rows, best[at]);
            json!({
                "replay_from": kind,
                "best_secs": round3(best[at]),
                "runs_secs": runs[at],
                "rows_per_s": round3(rate),
                "ratio_to_local": round3(rate / local_rate),
            })
        })
        .collect();
    let report = json!({
        "bench": "archive_bench",
        "config": {
            "rows": args.rows,
            "batch_rows": args.batch_rows,
            "segment_mib": args.segment_mib,
            "read_max_rows": args.read_max_rows,
            "rounds": args.rounds,
            "s3": "moto_server on loopback",
            "schema": "user_id int64, item_id int64, amount float64, ts timestamp(us)",
        },
        "cases": cases,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if args.save {
        results::save("archive_bench", "replay", &report);
    }
    Ok(())
}
