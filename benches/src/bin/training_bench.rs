//! `training_bench`: point-in-time training sets, Freshet against DuckDB, on the
//! same data in the same run. Prints one JSON object.
//!
//! 1. Generates events (`user_id int64, amount float64, ts timestamp`, sorted by
//!    time over the 30 days before a fixed instant) into `events.parquet`.
//! 2. Starts the release `freshet serve` next to this binary, applies the stream
//!    source, ingests the events as Arrow IPC and waits until every event is
//!    processed, then applies the 5 windowed features and waits until their
//!    backfills (which replay the log into their online state) have caught up,
//!    so no backfill runs during the timed build.
//! 3. Restarts the server (so its peak RSS is the training build's), waits
//!    until it is idle (RocksDB compacts the backfilled state after a restart,
//!    which would take a core from the build), writes
//!    `labels.parquet` and times `GenerateTrainingSet` from the request to the
//!    last message; peak RSS is the server's `VmHWM`. The rows go to
//!    `freshet_out.parquet`.
//! 4. Stops the server and runs `benches/training_duckdb.py` once per DuckDB
//!    formulation (each in its own process, so each peak RSS is its own).
//! 5. Compares every DuckDB output with Freshet's value by value, and exits
//!    non-zero if any differs by more than 1e-9 relative or in where NULLs are.
//!
//! With `--s3`, step 3 runs a second time on a real S3-compatible server (moto
//! on loopback): the server restarts with `--archive s3://…` and a local
//! retention of 0s, waits until every sealed segment of the log is uploaded and
//! gone from local disk, and builds the same training set with the labels read
//! from S3; its rows must equal the all-local build's, and the report gives the
//! ratio of the two times. The log is written in 16 MiB segments in both runs.
//!
//! Config A (default): 1M labels × 5 features over 5M events, 100k users.
//! Config B (`--large`): 10M labels over 50M events.
//!
//! `cargo build --release --workspace --bins && target/release/training_bench`

use std::fs::File;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, TimestampMicrosecondArray};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use clap::Parser;
use freshet_api::proto::{self, PayloadFormat};
use freshet_benches::server::{self, client, wait_until_idle, Server};
use freshet_benches::stats::round3;
use freshet_testkit::s3::{S3Server, ACCESS_KEY, REGION, SECRET_KEY};
use freshet_testkit::server::Launch;
use freshet_testkit::values::column_names;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// Benchmark settings.
#[derive(Debug, Parser)]
struct Args {
    /// Config B: 10M labels over 50M events (default: config A, 1M over 5M).
    #[arg(long)]
    large: bool,
    /// Events (overrides the config).
    #[arg(long)]
    events: Option<u64>,
    /// Label rows (overrides the config).
    #[arg(long)]
    labels: Option<u64>,
    /// Users the events are spread over (overrides the config's 100,000).
    #[arg(long)]
    users: Option<u64>,
    /// Work directory for the Parquet files and the server's data, kept
    /// afterwards [default: a temporary directory, deleted at the end].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Seed of the generated events and labels.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Rows per ingest request.
    #[arg(long, default_value_t = 100_000)]
    batch_rows: usize,
    /// Passed to `freshet serve --training-memory` (bytes held in memory before
    /// a training-set build spills) [default: the server's].
    #[arg(long)]
    training_memory: Option<u64>,
    /// DuckDB formulations to run (see benches/training_duckdb.py); `duckdb` in
    /// the report is the fastest of them.
    #[arg(long, value_delimiter = ',', default_values = ["asof", "window", "prefix"])]
    duckdb_formulations: Vec<String>,
    /// The Python interpreter that runs the DuckDB script.
    #[arg(long, default_value = "python3")]
    python: String,
    /// The DuckDB script.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/training_duckdb.py"))]
    duckdb_script: PathBuf,
    /// Also store the report in benches/results-training_bench.json, under its
    /// config (`A`, `B` or `custom`).
    #[arg(long)]
    save: bool,
    /// Also build the training set with the log archived to S3 (moto on
    /// loopback, local segments removed) and the labels on S3.
    #[arg(long)]
    s3: bool,
}

/// The instant the generated data ends at: 2026-11-01T00:00:00Z, in seconds.
const END_S: i64 = 1_793_491_200;
/// The span of the generated data: 30 days, in seconds.
const SPAN_S: i64 = 30 * 86_400;
const START_S: i64 = END_S - SPAN_S;
const MICROS_PER_S: i64 = 1_000_000;
const DAY_US: i64 = 86_400 * MICROS_PER_S;
/// Rows per generated Arrow batch (and Parquet row group).
const GENERATE_ROWS: u64 = 1 << 20;
/// The relative difference within which two floats count as the same value.
const TOLERANCE: f64 = 1e-9;

/// The features, in output order, as applied to Freshet. Their names and
/// meaning must match `FEATURES` in benches/training_duckdb.py.
const FEATURES: [(&str, &str, &str); 5] = [
    ("spend_1d", "sum(amount)", "1d"),
    ("txns_7d", "count(*)", "7d"),
    ("avg_amount_7d", "avg(amount)", "7d"),
    ("max_amount_30d", "max(amount)", "30d"),
    ("spend_30d", "sum(amount)", "30d"),
];

/// The definitions the bench applies: a stream of the generated events (a
/// lateness longer than the data, so no event is ever late), then the features.
fn definitions(with_features: bool) -> String {
    let mut text = String::from(
        r#"sources:
  - name: events
    stream: { topic: events }
    schema: { user_id: int64, amount: float64, ts: timestamp }
    event_time: ts
    allowed_lateness: 31d
entities:
  - { name: user, key: user_id }
"#,
    );
    if !with_features {
        return text;
    }
    text.push_str("features:\n");
    for (name, aggregate, window) in FEATURES {
        text.push_str(&format!(
            "  - {{ name: {name}, entity: user, source: events, aggregate: {aggregate}, window: {window} }}\n"
        ));
    }
    text
}

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    events: u64,
    labels: u64,
    users: u64,
}

/// The config's name and sizes, after the overrides.
fn sizes(args: &Args) -> (&'static str, Sizes) {
    let base = if args.large {
        Sizes {
            events: 50_000_000,
            labels: 10_000_000,
            users: 100_000,
        }
    } else {
        Sizes {
            events: 5_000_000,
            labels: 1_000_000,
            users: 100_000,
        }
    };
    let chosen = Sizes {
        events: args.events.unwrap_or(base.events),
        labels: args.labels.unwrap_or(base.labels),
        users: args.users.unwrap_or(base.users),
    };
    let overridden = args.events.is_some() || args.labels.is_some() || args.users.is_some();
    let name = match (overridden, args.large) {
        (true, _) => "custom",
        (false, true) => "B",
        (false, false) => "A",
    };
    (name, chosen)
}

/// splitmix64: a counter-based mix, so event `j` can be regenerated on its own.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One generated event.
#[derive(Debug, Clone, Copy)]
struct Event {
    user_id: i64,
    amount: f64,
    ts_us: i64,
}

/// The events of a run. Event `j` is a function of (seed, j): users mildly
/// skewed (90% uniform over all users, 10% over the first tenth, which so get
/// about twice the events), amounts whole cents from 1.00 to 500.00, times
/// whole seconds, non-decreasing in `j` (event `j` falls in the `j`-th of
/// `events` equal slices of the 30 days).
struct EventSource {
    seed: u64,
    sizes: Sizes,
}

impl EventSource {
    fn event(&self, j: u64) -> Event {
        let a = mix(self.seed ^ mix(j));
        let b = mix(a);
        let c = mix(b);
        let d = mix(c);
        let hot = (self.sizes.users / 10).max(1);
        let user_id = if a.is_multiple_of(10) {
            b % hot
        } else {
            b % self.sizes.users
        };
        let cents = 100 + c % 49_901;
        let slice = ((j as u128) << 32) | u128::from(d >> 32);
        let offset_s = slice * SPAN_S as u128 / ((self.sizes.events as u128) << 32);
        Event {
            user_id: user_id as i64,
            amount: cents as f64 / 100.0,
            ts_us: (START_S + offset_s as i64) * MICROS_PER_S,
        }
    }
}

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("amount", DataType::Float64, false),
        Field::new("ts", timestamp_type(), false),
    ]))
}

fn labels_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("ts", timestamp_type(), false),
        Field::new("label", DataType::Int64, false),
    ]))
}

fn parquet_writer(path: &Path, schema: SchemaRef) -> ArrowWriter<File> {
    let file = File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    ArrowWriter::try_new(file, schema, Some(properties)).expect("Parquet writer")
}

/// Writes every event to `path`; returns which users have at least one event.
fn write_events(source: &EventSource, path: &Path) -> Vec<bool> {
    let mut has_events = vec![false; source.sizes.users as usize];
    let mut writer = parquet_writer(path, events_schema());
    let mut first = 0;
    while first < source.sizes.events {
        let rows = GENERATE_ROWS.min(source.sizes.events - first);
        let mut user_id = Vec::with_capacity(rows as usize);
        let mut amount = Vec::with_capacity(rows as usize);
        let mut ts = Vec::with_capacity(rows as usize);
        for j in first..first + rows {
            let event = source.event(j);
            has_events[event.user_id as usize] = true;
            user_id.push(event.user_id);
            amount.push(event.amount);
            ts.push(event.ts_us);
        }
        let batch = RecordBatch::try_new(
            events_schema(),
            vec![
                Arc::new(Int64Array::from(user_id)),
                Arc::new(Float64Array::from(amount)),
                Arc::new(TimestampMicrosecondArray::from(ts)),
            ],
        )
        .expect("events batch");
        writer.write(&batch).expect("write events");
        first += rows;
    }
    writer.close().expect("close events.parquet");
    has_events
}

/// Writes the label rows to `path`, in random order; returns how many name a
/// user with no event (their features take defaults).
///
/// Per 100 rows: 2 sit exactly at an event's time for its user (the event is
/// inside every window), 2 exactly 1 day after one and 2 exactly 7 days after
/// one (the event is on the excluded edge of the 1d or 7d window; when that
/// falls after the data's end the row sits at the event instead), 1 names a
/// user beyond the events' users, and the rest are a random user at a random
/// second of the 30 days.
fn write_labels(source: &EventSource, seed: u64, has_events: &[bool], path: &Path) -> u64 {
    let sizes = source.sizes;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6c61_6265_6c73);
    let mut writer = parquet_writer(path, labels_schema());
    let mut unknown = 0;
    let mut first = 0;
    while first < sizes.labels {
        let rows = GENERATE_ROWS.min(sizes.labels - first);
        let mut user_id = Vec::with_capacity(rows as usize);
        let mut ts = Vec::with_capacity(rows as usize);
        let mut label = Vec::with_capacity(rows as usize);
        for _ in 0..rows {
            let random_time = (START_S + rng.random_range(0..=SPAN_S)) * MICROS_PER_S;
            let (user, time) = match rng.random_range(0..100u32) {
                kind @ 0..=5 if sizes.events > 0 => {
                    let event = source.event(rng.random_range(0..sizes.events));
                    let shifted = event.ts_us
                        + match kind {
                            0 | 1 => 0,
                            2 | 3 => DAY_US,
                            _ => 7 * DAY_US,
                        };
                    let time = if shifted <= END_S * MICROS_PER_S {
                        shifted
                    } else {
                        event.ts_us
                    };
                    (event.user_id, time)
                }
                6 => {
                    let beyond = (sizes.users / 100).max(1);
                    (
                        (sizes.users + rng.random_range(0..beyond)) as i64,
                        random_time,
                    )
                }
                _ => (rng.random_range(0..sizes.users) as i64, random_time),
            };
            if !has_events.get(user as usize).copied().unwrap_or(false) {
                unknown += 1;
            }
            user_id.push(user);
            ts.push(time);
            label.push(rng.random_range(0..2i64));
        }
        let batch = RecordBatch::try_new(
            labels_schema(),
            vec![
                Arc::new(Int64Array::from(user_id)),
                Arc::new(TimestampMicrosecondArray::from(ts)),
                Arc::new(Int64Array::from(label)),
            ],
        )
        .expect("labels batch");
        writer.write(&batch).expect("write labels");
        first += rows;
    }
    writer.close().expect("close labels.parquet");
    unknown
}

/// Sends events.parquet in `batch_rows`-row Arrow IPC requests, then waits until
/// every event is processed. Returns (seconds to the last acknowledgement,
/// seconds until processed, events accepted).
async fn ingest(url: &str, events: &Path, batch_rows: usize) -> (f64, f64, u64) {
    let mut client = client(url).await;
    let file = File::open(events).expect("open events.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|builder| builder.with_batch_size(batch_rows).build())
        .expect("read events.parquet");
    let started = Instant::now();
    let mut accepted = 0;
    for batch in reader {
        let batch = batch.expect("events batch");
        let mut ipc = arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema())
            .expect("IPC writer");
        ipc.write(&batch).expect("IPC write");
        let response = client
            .ingest(proto::IngestRequest {
                source: "events".into(),
                format: PayloadFormat::ArrowIpc as i32,
                data: ipc.into_inner().expect("IPC bytes"),
                skip_bad_rows: false,
                validate_only: false,
                wait: false,
            })
            .await
            .expect("ingest")
            .into_inner();
        assert_eq!(response.late, 0, "no generated event may be late");
        accepted += response.accepted;
    }
    let acked = started.elapsed().as_secs_f64();
    client
        .ingest(proto::IngestRequest {
            source: "events".into(),
            format: PayloadFormat::JsonLines as i32,
            data: Vec::new(),
            skip_bad_rows: false,
            validate_only: false,
            wait: true,
        })
        .await
        .expect("wait for processing");
    (acked, started.elapsed().as_secs_f64(), accepted)
}

/// What the Freshet side measured.
struct FreshetRun {
    report: serde_json::Value,
    seconds: f64,
    seconds_with_write: f64,
    unknown_keys: u64,
}

/// Times `GenerateTrainingSet` for labels.parquet from the request to the last
/// message (decoding every batch), then writes the rows to `out`.
async fn generate(server: &Server, labels_uri: String, out: &Path) -> FreshetRun {
    let mut client = client(&server.url).await;
    let request = proto::GenerateTrainingSetRequest {
        features: FEATURES
            .iter()
            .map(|(name, _, _)| name.to_string())
            .collect(),
        labels_uri,
        timestamp_column: "ts".into(),
        ..Default::default()
    };
    let (rss_before, peak_before) = server.memory();
    let started = Instant::now();
    let mut stream = client
        .generate_training_set(request)
        .await
        .expect("GenerateTrainingSet")
        .into_inner();
    let mut batches = Vec::new();
    let mut summary = None;
    let mut messages = 0u64;
    let mut progress_messages = 0u64;
    let mut first_rows_at = None;
    while let Some(message) = stream.message().await.expect("training-set stream") {
        messages += 1;
        if message.progress.is_some() {
            progress_messages += 1;
        }
        if !message.arrow_ipc.is_empty() {
            if first_rows_at.is_none() {
                first_rows_at = Some(started.elapsed().as_secs_f64());
            }
            let reader =
                arrow::ipc::reader::StreamReader::try_new(Cursor::new(message.arrow_ipc), None)
                    .expect("Arrow IPC of a training-set message");
            for batch in reader {
                batches.push(batch.expect("training-set batch"));
            }
        }
        if message.summary.is_some() {
            summary = message.summary;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let (_, peak) = server.memory();
    let summary = summary.expect("the last message carries the summary");
    let schema = batches.first().expect("the training set has rows").schema();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut writer = parquet_writer(out, schema);
    for batch in &batches {
        writer.write(batch).expect("write freshet_out.parquet");
    }
    writer.close().expect("close freshet_out.parquet");
    let seconds_with_write = started.elapsed().as_secs_f64();
    let report = json!({
        "seconds": round3(seconds),
        "rows_per_second": round3(rows as f64 / seconds),
        "peak_rss_bytes": peak,
        "rss_before_request_bytes": rss_before,
        "peak_rss_before_request_bytes": peak_before,
        "seconds_to_first_rows": first_rows_at.map(round3),
        "seconds_including_parquet_write": round3(seconds_with_write),
        "rows": rows,
        "messages": messages,
        "progress_messages": progress_messages,
        "summary": {
            "rows": summary.rows,
            "unknown_keys": summary.unknown_keys,
            "feature_versions": summary.feature_versions,
            "events_replayed": summary.events_replayed,
        },
    });
    FreshetRun {
        report,
        seconds,
        seconds_with_write,
        unknown_keys: summary.unknown_keys,
    }
}

/// The timed build again, with the log's sealed segments archived to a real
/// S3-compatible server (moto on loopback) and removed from local disk, and
/// the labels read from S3. Returns its report, with the ratio of its time to
/// the all-local build's, and whether its rows equal the local build's.
async fn on_s3(
    data: &Path,
    serve_args: &[String],
    labels: &Path,
    work: &Path,
    local_out: &Path,
    local_seconds: f64,
) -> (serde_json::Value, bool) {
    let s3 = S3Server::start();
    s3.create_bucket("bench");
    s3.put_object(
        "bench",
        "labels.parquet",
        &std::fs::read(labels).expect("read labels.parquet"),
    );
    let mut args = serve_args.to_vec();
    args.extend(["--archive", "s3://bench/log", "--log-local-retention", "0s"].map(String::from));
    let server = Launch::new(&server::freshet_binary(), data)
        .args(&args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", REGION)
        .env("FRESHET_S3_ENDPOINT", &s3.endpoint)
        .show_warnings()
        .start();
    let started = Instant::now();
    let log = data.join("log").join("events");
    // Polled: the archiver uploads the sealed segments in the background;
    // only each partition's active segment stays.
    let mut local = local_segments(&log);
    while local > partitions(&log) && started.elapsed().as_secs() < 600 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        local = local_segments(&log);
    }
    let archive_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "training_bench: {local} local segments left after archiving, in {archive_seconds:.1}s"
    );
    let idle_seconds = wait_until_idle(&server).await;
    let out = work.join("freshet_s3_out.parquet");
    let run = generate(&server, "s3://bench/labels.parquet".into(), &out).await;
    server.stop();
    let identical = read_parquet(&out) == read_parquet(local_out);
    let report = json!({
        "freshet": run.report,
        "archive_seconds": round3(archive_seconds),
        "idle_wait_seconds": round3(idle_seconds),
        "local_segments_left": local,
        "rows_equal_the_local_build": identical,
        "ratio_s3_over_local_seconds": round3(run.seconds / local_seconds),
    });
    (report, identical)
}

/// The partition folders of a topic's folder in the log.
fn partitions(topic: &Path) -> usize {
    std::fs::read_dir(topic)
        .map(|entries| entries.flatten().filter(|e| e.path().is_dir()).count())
        .unwrap_or(0)
}

/// The segment files left on local disk under a topic's folder in the log.
fn local_segments(topic: &Path) -> usize {
    std::fs::read_dir(topic)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|partition| {
            std::fs::read_dir(partition.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|file| file.path().extension().is_some_and(|e| e == "seg"))
        .count()
}

/// Runs the DuckDB script for one formulation; returns its JSON report.
fn duckdb(args: &Args, formulation: &str, work: &Path, out: &Path) -> serde_json::Value {
    let output = Command::new(&args.python)
        .arg(&args.duckdb_script)
        .arg("--events")
        .arg(work.join("events.parquet"))
        .arg("--labels")
        .arg(work.join("labels.parquet"))
        .arg("--out")
        .arg(out)
        .args(["--formulation", formulation])
        .current_dir(work)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {} {}: {e}", args.python, args.duckdb_script.display()));
    assert!(
        output.status.success(),
        "training_duckdb.py --formulation {formulation} failed: {}",
        output.status
    );
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("training_duckdb.py printed no JSON ({e}): {text}"))
}

fn read_parquet(path: &Path) -> RecordBatch {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let schema = builder.schema().clone();
    let batches = builder
        .with_batch_size(1 << 16)
        .build()
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    concat_batches(&schema, &batches).expect("concat batches")
}

/// How one column of the two outputs compares.
#[derive(Default)]
struct ColumnComparison {
    null_mismatches: u64,
    /// Both NULL.
    nulls: u64,
    /// Both set and equal.
    exact: u64,
    /// Both set, unequal, within `TOLERANCE` relative.
    within_tolerance: u64,
    /// Both set, further apart than `TOLERANCE` relative (or unequal integers).
    beyond_tolerance: u64,
    max_relative_difference: f64,
    first_mismatch_row: Option<usize>,
}

impl ColumnComparison {
    fn mismatches(&self) -> u64 {
        self.null_mismatches + self.beyond_tolerance
    }

    fn note_mismatch(&mut self, row: usize) {
        if self.first_mismatch_row.is_none() {
            self.first_mismatch_row = Some(row);
        }
    }

    fn report(&self, freshet_type: &DataType, duckdb_type: &DataType) -> serde_json::Value {
        json!({
            "freshet_type": freshet_type.to_string(),
            "duckdb_type": duckdb_type.to_string(),
            "nulls": self.nulls,
            "exact": self.exact,
            "within_1e-9_not_exact": self.within_tolerance,
            "beyond_1e-9": self.beyond_tolerance,
            "null_mismatches": self.null_mismatches,
            "max_relative_difference": self.max_relative_difference,
            "first_mismatch_row": self.first_mismatch_row,
        })
    }
}

fn compare_integers(freshet: &ArrayRef, duckdb: &ArrayRef) -> ColumnComparison {
    let freshet = cast(freshet, &DataType::Int64).expect("cast to int64");
    let duckdb = cast(duckdb, &DataType::Int64).expect("cast to int64");
    let (freshet, duckdb) = (
        freshet.as_primitive::<Int64Type>(),
        duckdb.as_primitive::<Int64Type>(),
    );
    let mut result = ColumnComparison::default();
    for row in 0..freshet.len() {
        match (freshet.is_null(row), duckdb.is_null(row)) {
            (true, true) => result.nulls += 1,
            (false, false) if freshet.value(row) == duckdb.value(row) => result.exact += 1,
            (false, false) => {
                result.beyond_tolerance += 1;
                result.note_mismatch(row);
            }
            _ => {
                result.null_mismatches += 1;
                result.note_mismatch(row);
            }
        }
    }
    result
}

fn compare_floats(freshet: &ArrayRef, duckdb: &ArrayRef) -> ColumnComparison {
    let freshet = cast(freshet, &DataType::Float64).expect("cast to float64");
    let duckdb = cast(duckdb, &DataType::Float64).expect("cast to float64");
    let (freshet, duckdb) = (
        freshet.as_primitive::<Float64Type>(),
        duckdb.as_primitive::<Float64Type>(),
    );
    let mut result = ColumnComparison::default();
    for row in 0..freshet.len() {
        match (freshet.is_null(row), duckdb.is_null(row)) {
            (true, true) => result.nulls += 1,
            (false, false) => {
                let (a, b) = (freshet.value(row), duckdb.value(row));
                if a == b || (a.is_nan() && b.is_nan()) {
                    result.exact += 1;
                    continue;
                }
                let relative = (a - b).abs() / a.abs().max(b.abs());
                let relative = if relative.is_nan() {
                    f64::INFINITY
                } else {
                    relative
                };
                result.max_relative_difference = result.max_relative_difference.max(relative);
                if relative <= TOLERANCE {
                    result.within_tolerance += 1;
                } else {
                    result.beyond_tolerance += 1;
                    result.note_mismatch(row);
                }
            }
            _ => {
                result.null_mismatches += 1;
                result.note_mismatch(row);
            }
        }
    }
    result
}

/// The columns both outputs must have, in order.
fn expected_columns() -> Vec<String> {
    ["user_id", "ts", "label"]
        .into_iter()
        .chain(FEATURES.iter().map(|(name, _, _)| *name))
        .map(str::to_string)
        .collect()
}

/// The type Freshet must give each column.
fn expected_type(column: &str) -> DataType {
    match column {
        "ts" => timestamp_type(),
        "user_id" | "label" => DataType::Int64,
        feature => {
            let (_, aggregate, _) = FEATURES
                .iter()
                .find(|(name, _, _)| *name == feature)
                .expect("a feature column");
            if aggregate.starts_with("count") {
                DataType::Int64
            } else {
                DataType::Float64
            }
        }
    }
}

/// Compares the two outputs value by value; returns the report and the number
/// of problems (differing values, NULL patterns, row counts, columns, types).
fn compare(freshet: &RecordBatch, duckdb: &RecordBatch) -> (serde_json::Value, u64) {
    let expected = expected_columns();
    let (freshet_columns, duckdb_columns) = (column_names(freshet), column_names(duckdb));
    let mut problems = 0u64;
    let mut notes = Vec::new();
    if freshet_columns != expected {
        problems += 1;
        notes.push(format!(
            "Freshet's columns are {freshet_columns:?}, expected {expected:?}"
        ));
    }
    if duckdb_columns != expected {
        problems += 1;
        notes.push(format!(
            "DuckDB's columns are {duckdb_columns:?}, expected {expected:?}"
        ));
    }
    if freshet.num_rows() != duckdb.num_rows() {
        problems += 1;
        notes.push(format!(
            "Freshet has {} rows, DuckDB {}",
            freshet.num_rows(),
            duckdb.num_rows()
        ));
    }
    let mut columns = serde_json::Map::new();
    if freshet.num_rows() == duckdb.num_rows() {
        for column in &expected {
            let (Some(ours), Some(theirs)) = (
                freshet.column_by_name(column),
                duckdb.column_by_name(column),
            ) else {
                problems += 1;
                notes.push(format!("column {column} is missing from an output"));
                continue;
            };
            if ours.data_type() != &expected_type(column) {
                problems += 1;
                notes.push(format!(
                    "Freshet's {column} is {}, expected {}",
                    ours.data_type(),
                    expected_type(column)
                ));
            }
            let result = if expected_type(column) == DataType::Float64 {
                compare_floats(ours, theirs)
            } else {
                compare_integers(ours, theirs)
            };
            problems += result.mismatches();
            columns.insert(
                column.clone(),
                result.report(ours.data_type(), theirs.data_type()),
            );
        }
    }
    let report = json!({
        "rows": freshet.num_rows(),
        "mismatches": problems,
        "notes": notes,
        "columns": columns,
    });
    (report, problems)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (config, sizes) = sizes(&args);
    assert!(
        sizes.users > 0 && sizes.labels > 0,
        "--users and --labels must be positive"
    );
    // Deleted when dropped, also on failure (rerun with --dir to keep the files).
    let temporary = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).expect("create --dir");
            None
        }
        None => Some(
            tempfile::Builder::new()
                .prefix("training_bench-")
                .tempdir()
                .expect("temp dir"),
        ),
    };
    let work = match (&temporary, &args.dir) {
        (Some(temporary), _) => temporary.path().canonicalize().expect("temp dir path"),
        (None, Some(dir)) => dir.canonicalize().expect("--dir path"),
        (None, None) => unreachable!("a work directory is chosen above"),
    };
    let events_path = work.join("events.parquet");
    let labels_path = work.join("labels.parquet");
    let data = work.join("freshet-data");
    let mut serve_args = Vec::new();
    if args.s3 {
        serve_args.extend(["--log-segment-bytes".to_string(), (16u64 << 20).to_string()]);
    }
    if let Some(bytes) = args.training_memory {
        serve_args.extend(["--training-memory".to_string(), bytes.to_string()]);
    }

    eprintln!(
        "training_bench: config {config}: {} events, {} labels, {} users in {}",
        sizes.events,
        sizes.labels,
        sizes.users,
        work.display()
    );
    let source = EventSource {
        seed: args.seed,
        sizes,
    };
    let began = Instant::now();
    let has_events = write_events(&source, &events_path);
    let unknown_expected = write_labels(&source, args.seed, &has_events, &labels_path);
    let generate_seconds = began.elapsed().as_secs_f64();

    eprintln!("training_bench: ingesting");
    let server = server::start(&data, &serve_args);
    let apply = |with_features: bool| proto::ApplyRequest {
        definitions: definitions(with_features),
        file_name: "training_bench.yaml".into(),
        base_dir: work.display().to_string(),
        dry_run: false,
    };
    client(&server.url)
        .await
        .apply(apply(false))
        .await
        .expect("apply the source");
    let (acked, processed, accepted) = ingest(&server.url, &events_path, args.batch_rows).await;
    assert_eq!(accepted, sizes.events, "every event is accepted");
    client(&server.url)
        .await
        .apply(apply(true))
        .await
        .expect("apply the features");
    // Applying features after the events starts their backfill; it finishes
    // before the server restarts, so it never competes with the timed build.
    for (name, _, _) in FEATURES {
        client(&server.url)
            .await
            .wait_for_feature(proto::WaitForFeatureRequest {
                reference: name.to_string(),
            })
            .await
            .expect("the feature's backfill catches up");
    }
    server.stop();

    eprintln!("training_bench: GenerateTrainingSet");
    let server = server::start(&data, &serve_args);
    let idle_seconds = wait_until_idle(&server).await;
    let freshet_out = work.join("freshet_out.parquet");
    let labels_uri = format!("file://{}", labels_path.display());
    let mut freshet = generate(&server, labels_uri, &freshet_out).await;
    freshet.report["idle_wait_seconds"] = json!(round3(idle_seconds));
    server.stop();
    let on_s3 = if args.s3 {
        eprintln!("training_bench: GenerateTrainingSet on S3");
        let (report, identical) = on_s3(
            &data,
            &serve_args,
            &labels_path,
            &work,
            &freshet_out,
            freshet.seconds,
        )
        .await;
        if !identical {
            eprintln!("training_bench: FAILED: the build on S3 differs from the local one");
            std::process::exit(1);
        }
        Some(report)
    } else {
        None
    };
    // Every DuckDB run first, so the bench holds no rows in memory meanwhile.
    let mut runs = Vec::new();
    for formulation in &args.duckdb_formulations {
        eprintln!("training_bench: DuckDB, {formulation}");
        let out = work.join(format!("duckdb_{formulation}_out.parquet"));
        let report = duckdb(&args, formulation, &work, &out);
        runs.push((formulation.clone(), report, out));
    }

    eprintln!("training_bench: comparing");
    let freshet_rows = read_parquet(&freshet_out);
    let mut formulations = serde_json::Map::new();
    let mut problems = 0u64;
    let mut fastest: Option<(String, f64)> = None;
    for (formulation, mut report, out) in runs {
        let seconds = report["seconds"].as_f64().expect("seconds");
        let (comparison, mismatches) = compare(&freshet_rows, &read_parquet(&out));
        problems += mismatches;
        let object = report.as_object_mut().expect("object");
        object.insert(
            "rows_per_second".into(),
            json!(round3(sizes.labels as f64 / seconds)),
        );
        object.insert("comparison".into(), comparison);
        if fastest.as_ref().is_none_or(|(_, best)| seconds < *best) {
            fastest = Some((formulation.clone(), seconds));
        }
        formulations.insert(formulation, report);
    }
    let unknown_keys_match = freshet.unknown_keys == unknown_expected;
    if !unknown_keys_match {
        problems += 1;
    }

    let mut report = json!({
        "benchmark": "training",
        "config": config,
        "events": sizes.events,
        "labels": sizes.labels,
        "users": sizes.users,
        "seed": args.seed,
        "features": FEATURES.iter().map(|(name, aggregate, window)| json!({"name": name, "aggregate": aggregate, "window": window})).collect::<Vec<_>>(),
        "generate_seconds": round3(generate_seconds),
        "ingest": {
            "seconds": round3(processed),
            "acked_seconds": round3(acked),
            "events_per_second": round3(sizes.events as f64 / processed),
        },
        "freshet": freshet.report,
        "unknown_keys": {
            "freshet": freshet.unknown_keys,
            "expected": unknown_expected,
            "match": unknown_keys_match,
        },
        "mismatches": problems,
    });
    let object = report.as_object_mut().expect("object");
    if let Some((name, seconds)) = &fastest {
        let mut best = formulations[name].clone();
        let comparison = best
            .as_object_mut()
            .expect("object")
            .remove("comparison")
            .expect("comparison");
        best["formulation"] = json!(name);
        object.insert("duckdb".into(), best);
        object.insert("comparison".into(), comparison);
        object.insert(
            "ratio_duckdb_over_freshet_seconds".into(),
            json!(round3(seconds / freshet.seconds)),
        );
        object.insert(
            "ratio_duckdb_over_freshet_seconds_including_parquet_write".into(),
            json!(round3(seconds / freshet.seconds_with_write)),
        );
    }
    if let Some(window) = formulations.get("window") {
        let mut window = window.clone();
        window.as_object_mut().expect("object").remove("comparison");
        object.insert("duckdb_window".into(), window);
    }
    object.insert("duckdb_formulations".into(), formulations.into());
    if let Some(on_s3) = on_s3 {
        object.insert("on_s3".into(), on_s3);
    }
    if args.dir.is_some() {
        object.insert("work_dir".into(), json!(work.display().to_string()));
    }
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    if args.save {
        freshet_benches::results::save("training_bench", config, &report);
    }
    if problems > 0 {
        eprintln!(
            "training_bench: FAILED: {problems} differences between Freshet and DuckDB \
             (values beyond {TOLERANCE:e} relative, NULL patterns, columns, types or unknown keys); \
             see \"comparison\" and \"duckdb_formulations\"{}",
            if args.dir.is_none() {
                " (rerun with --dir to keep the files)"
            } else {
                ""
            }
        );
        drop(temporary);
        std::process::exit(1);
    }
}
