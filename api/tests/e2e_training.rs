//! End to end for training sets: the real binary over loopback gRPC, Arrow Flight
//! and `freshet train` writing Parquet. Online reads recorded at the server's
//! evaluation instants must equal a training set built at exactly those instants;
//! training rows over shuffled events must equal a brute-force reference written
//! here (windows `(t - W, t]`, nothing after the label time); bad labels get errors
//! that name the row, the column or the file.

mod common;

use std::collections::HashSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit, TimestampMicrosecondType};
use common::{online_val, stdout_of, Server};
use freshet_api::proto::{
    self, entity_key::Key, feature_store_client::FeatureStoreClient, PayloadFormat,
};
use freshet_testkit::reference::{self, Function};
use freshet_testkit::values::{cell, close, column_names, same, Val};
use futures::TryStreamExt;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .expect("a representable instant")
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

// ---------------------------------------------------------------------------
// Talking to the server.

fn ingest(lines: &[String]) -> proto::IngestRequest {
    proto::IngestRequest {
        source: "clicks".into(),
        format: PayloadFormat::JsonLines as i32,
        data: lines.join("\n").into_bytes(),
        skip_bad_rows: false,
        validate_only: false,
        wait: true,
    }
}

fn click_json(user: i64, amount: f64, item: &str, ts: i64) -> String {
    format!(
        r#"{{"user_id":{user},"amount":{amount},"item":"{item}","ts":"{}"}}"#,
        rfc3339(ts)
    )
}

/// What one `GenerateTrainingSet` call streamed back.
struct Generated {
    /// All record batches, concatenated.
    batch: RecordBatch,
    summary: proto::TrainingSetSummary,
    /// (rows_done, rows_total) of each progress message, in order.
    progress: Vec<(u64, u64)>,
}

fn concat(batches: Vec<RecordBatch>, what: &str) -> RecordBatch {
    assert!(!batches.is_empty(), "{what}: no record batches");
    arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("batches of one schema")
}

async fn generate(server: &Server, request: proto::GenerateTrainingSetRequest) -> Generated {
    let mut stream = server
        .client()
        .await
        .generate_training_set(request)
        .await
        .unwrap_or_else(|status| panic!("GenerateTrainingSet refused: {status:?}"))
        .into_inner();
    let mut batches = Vec::new();
    let mut summary = None;
    let mut progress = Vec::new();
    while let Some(message) = stream
        .message()
        .await
        .unwrap_or_else(|status| panic!("GenerateTrainingSet failed: {status:?}"))
    {
        assert!(summary.is_none(), "a message after the summary");
        if let Some(p) = message.progress {
            progress.push((p.rows_done, p.rows_total));
        }
        if !message.arrow_ipc.is_empty() {
            let reader =
                arrow::ipc::reader::StreamReader::try_new(Cursor::new(message.arrow_ipc), None)
                    .expect("an Arrow IPC stream");
            for batch in reader {
                batches.push(batch.expect("a record batch"));
            }
        }
        summary = message.summary;
    }
    Generated {
        batch: concat(batches, "GenerateTrainingSet"),
        summary: summary.expect("the last message carries the summary"),
        progress,
    }
}

/// Progress covers every row: the total is the label count, rows done never go
/// back, and the last report has them all.
fn assert_progress(generated: &Generated, rows: usize) {
    let progress = &generated.progress;
    assert!(!progress.is_empty(), "no progress was reported");
    assert!(
        progress.iter().all(|&(_, total)| total == rows as u64),
        "progress totals {progress:?} vs {rows} label rows"
    );
    assert!(
        progress.windows(2).all(|w| w[0].0 <= w[1].0),
        "progress went back: {progress:?}"
    );
    assert_eq!(
        progress.iter().map(|p| p.0).max(),
        Some(rows as u64),
        "progress never reached all rows: {progress:?}"
    );
}

/// The status a bad request ends with, whether refused at once or mid-stream.
async fn training_error(
    server: &Server,
    request: proto::GenerateTrainingSetRequest,
) -> tonic::Status {
    let mut client = server.client().await;
    let mut stream = match client.generate_training_set(request).await {
        Err(status) => return status,
        Ok(response) => response.into_inner(),
    };
    loop {
        match stream.message().await {
            Err(status) => return status,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the training set was built; an error was expected"),
        }
    }
}

fn assert_invalid(status: &tonic::Status, needles: &[&str]) {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    for needle in needles {
        assert!(
            status.message().contains(needle),
            "{needle:?} not in {:?}",
            status.message()
        );
    }
}

/// Arrow Flight DoGet with a JSON ticket, all batches concatenated.
async fn flight_rows(server: &Server, ticket: String) -> RecordBatch {
    let channel = tonic::transport::Endpoint::from_shared(server.url.clone())
        .expect("a URL")
        .connect()
        .await
        .expect("connect for Flight");
    let mut client = arrow_flight::FlightClient::new(channel);
    let batches: Vec<RecordBatch> = client
        .do_get(arrow_flight::Ticket::new(ticket.clone()))
        .await
        .unwrap_or_else(|e| panic!("DoGet {ticket}: {e:?}"))
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("DoGet {ticket} stream: {e:?}"));
    concat(batches, "DoGet")
}

/// `freshet train --json ARGS`, which must succeed; its JSON summary.
fn train(server: &Server, args: &[&str]) -> serde_json::Value {
    let out = stdout_of(server.cli(&[&["train", "--json"][..], args].concat()));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("train printed {out:?}: {e}"))
}

/// `freshet train ARGS --out OUT`, which must fail, write nothing, and say why on
/// stderr.
fn train_error(server: &Server, args: &[&str], out: &Path) -> String {
    let out_text = out.display().to_string();
    let output = server.cli(&[&["train"][..], args, &["--out", out_text.as_str()][..]].concat());
    assert!(
        !output.status.success(),
        "freshet train {args:?} succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(!out.exists(), "a failed train left {out_text} behind");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a Parquet file");
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder
        .build()
        .expect("a Parquet reader")
        .collect::<Result<_, _>>()
        .expect("Parquet rows");
    arrow::compute::concat_batches(&schema, &batches).expect("batches of one schema")
}

fn ipc(batch: &RecordBatch) -> Vec<u8> {
    let mut writer =
        arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema()).unwrap();
    writer.write(batch).unwrap();
    writer.into_inner().unwrap()
}

/// Same column names, types and values.
fn assert_same_rows(a: &RecordBatch, b: &RecordBatch, what: &str) {
    let fields = |batch: &RecordBatch| -> Vec<(String, DataType)> {
        batch
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect()
    };
    assert_eq!(fields(a), fields(b), "{what}: columns");
    assert_eq!(a.num_rows(), b.num_rows(), "{what}: rows");
    for (i, (x, y)) in a.columns().iter().zip(b.columns()).enumerate() {
        assert!(
            x.to_data() == y.to_data(),
            "{what}: column {} differs",
            fields(a)[i].0
        );
    }
}

// ---------------------------------------------------------------------------
// 1. Online/offline consistency.

/// Every aggregate kind, as `name_window` (`count_300ms`, ..., `var_life`).
const AGGREGATES: [(&str, &str); 10] = [
    ("count", "count(*)"),
    ("sum", "sum(amount)"),
    ("avg", "avg(amount)"),
    ("min", "min(amount)"),
    ("max", "max(amount)"),
    ("first", "first(amount)"),
    ("last", "last(item)"),
    ("distinct", "count_distinct(item)"),
    ("stddev", "stddev(amount)"),
    ("var", "var(amount)"),
];

/// Window suffixes and their YAML (`life`: no window).
const SPANS: [(&str, Option<&str>); 3] =
    [("300ms", Some("300ms")), ("1s", Some("1s")), ("life", None)];

/// Features with value transforms: (name, YAML fields after the source).
const TRANSFORMED: [(&str, &str); 5] = [
    (
        "zscore_sum_1s",
        "aggregate: sum(amount), window: 1s, transform: { scale: zscore, clip: [0.05, 0.95] }",
    ),
    (
        "mean_filled_avg_300ms",
        "aggregate: avg(amount), window: 300ms, transform: { fill: mean }",
    ),
    (
        "minmax_max_life",
        "aggregate: max(amount), transform: { scale: minmax }",
    ),
    (
        "zero_filled_min_300ms",
        "aggregate: min(amount), window: 300ms, default: -1.0, transform: { fill: 0.0 }",
    ),
    (
        "zscore_count_1s",
        "aggregate: count(*), window: 1s, transform: { scale: zscore }",
    ),
];

/// Features of the `item` entity (keyed by the clicks' `item` column), read
/// beside the user features to check a label set with two entities.
const ITEM_FEATURES: [(&str, &str); 4] = [
    (
        "item_clicks_1s",
        "source: clicks, aggregate: count(*), window: 1s",
    ),
    (
        "item_spend_300ms",
        "source: clicks, aggregate: sum(amount), window: 300ms, default: 0.0",
    ),
    ("item_max_life", "source: clicks, aggregate: max(amount)"),
    (
        "item_view_clicks",
        "source: item_totals, aggregate: last(n), default: 0",
    ),
];

/// GROUP BY views, one per entity.
const VIEWS: [(&str, &str); 2] = [
    (
        "user_totals",
        "SELECT user_id, count(*) AS n, sum(amount) AS spent, max(amount) AS top FROM clicks GROUP BY user_id",
    ),
    ("item_totals", "SELECT item, count(*) AS n FROM clicks GROUP BY item"),
];

/// User features over the `user_totals` view (the item one is in
/// [`ITEM_FEATURES`]).
const VIEW_FEATURES: [(&str, &str); 3] = [
    ("view_clicks", "aggregate: last(n), default: 0"),
    ("view_spent", "aggregate: last(spent)"),
    ("view_top", "aggregate: last(top), default: -1.0"),
];

/// Writes the consistency definitions into `dir`; returns their path and the
/// user feature names in definition order (the item features are
/// [`ITEM_FEATURES`]).
fn consistency_definitions_in(dir: &Path) -> (String, Vec<String>) {
    let mut names = Vec::new();
    let mut lines = Vec::new();
    for (span, window) in SPANS {
        for (kind, aggregate) in AGGREGATES {
            let name = format!("{kind}_{span}");
            let mut fields = vec![
                format!("name: {name}"),
                "entity: user".to_string(),
                "source: clicks".to_string(),
                format!("aggregate: {aggregate}"),
            ];
            if let Some(window) = window {
                fields.push(format!("window: {window}"));
            }
            match name.as_str() {
                "sum_1s" => fields.push("default: 0.0".into()),
                "last_1s" => fields.push("default: none".into()),
                "max_300ms" => fields.push("default: -5.5".into()),
                _ => {}
            }
            lines.push(format!("  - {{ {} }}", fields.join(", ")));
            names.push(name);
        }
    }
    for (name, rest) in TRANSFORMED {
        lines.push(format!(
            "  - {{ name: {name}, entity: user, source: clicks, {rest} }}"
        ));
        names.push(name.to_string());
    }
    for (name, rest) in VIEW_FEATURES {
        lines.push(format!(
            "  - {{ name: {name}, entity: user, source: user_totals, {rest} }}"
        ));
        names.push(name.to_string());
    }
    for (name, rest) in ITEM_FEATURES {
        lines.push(format!("  - {{ name: {name}, entity: item, {rest} }}"));
    }
    let views: Vec<String> = VIEWS
        .iter()
        .map(|(name, sql)| format!("  - {{ name: {name}, sql: '{sql}' }}"))
        .collect();
    let text = format!(
        "sources:\n  - name: clicks\n    stream: {{ topic: clicks }}\n    \
         schema: {{ user_id: int64, amount: float64, item: string, ts: timestamp }}\n    \
         event_time: ts\n\
         transformations:\n{}\n\
         entities:\n  - {{ name: user, key: user_id }}\n  - {{ name: item, key: item }}\n\
         features:\n{}\n",
        views.join("\n"),
        lines.join("\n")
    );
    let path = dir.join("training_consistency.yaml");
    std::fs::write(&path, text).unwrap();
    (path.display().to_string(), names)
}

/// One online read of one key: a user's features, or an item's (with a user
/// to go in its label row).
struct Reading {
    user: i64,
    /// The item read; for a read of a user, an item to go in its label row.
    item: &'static str,
    /// The server's evaluation time.
    at: i64,
    /// Whether the user had events before the read.
    had_events: bool,
    values: Vec<Val>,
}

/// Whether some read of a user with (`had_events`) or without events before it
/// has a value of feature `index` that passes `test`.
fn any_read(
    readings: &[Reading],
    index: usize,
    had_events: bool,
    test: impl Fn(&Val) -> bool,
) -> bool {
    readings
        .iter()
        .any(|r| r.had_events == had_events && test(&r.values[index]))
}

/// `GetOnlineFeatures` of `features` for `keys` of `entity`.
async fn read_online(
    client: &mut FeatureStoreClient<tonic::transport::Channel>,
    features: &[String],
    entity: &str,
    keys: impl Iterator<Item = Key>,
) -> proto::GetOnlineFeaturesResponse {
    client
        .get_online_features(proto::GetOnlineFeaturesRequest {
            features: features.to_vec(),
            entity: entity.into(),
            keys: keys
                .map(|key| proto::EntityKey { key: Some(key) })
                .collect(),
        })
        .await
        .unwrap_or_else(|status| panic!("GetOnlineFeatures of {entity}: {status:?}"))
        .into_inner()
}

const ITEMS: [&str; 5] = ["red", "green", "blue", "plum", "teal"];
/// An item no event has.
const UNSEEN_ITEM: &str = "onyx";
/// Users 0..20 get events; 20 and 21 never do.
const EVENT_USERS: i64 = 20;
const READ_USERS: i64 = 22;
/// A user gets events for one phase in three, so its windows empty in between.
const PHASE: i64 = 800_000;

#[tokio::test(flavor = "multi_thread")]
async fn online_reads_equal_training_rows_at_the_same_instants() {
    let seed: u64 = rand::rng().random();
    eprintln!("consistency test seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let (definitions, features) = consistency_definitions_in(dir.path());
    let item_features: Vec<String> = ITEM_FEATURES.iter().map(|(n, _)| n.to_string()).collect();
    let server = Server::start(&dir.path().join("data"));
    stdout_of(server.cli(&["apply", "-f", &definitions]));
    let mut client = server.client().await;

    let mut readings: Vec<Reading> = Vec::new();
    let mut item_readings: Vec<Reading> = Vec::new();
    let mut types: Vec<String> = Vec::new();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut last_eval = 0i64;
    let mut last_ts = 0i64;
    let started = Instant::now();
    let mut round = 0;
    // At least 150 rounds, and long enough that 1s windows fill and empty again
    // (no sleeping: each round's requests take the time they take).
    while round < 150 || (started.elapsed() < Duration::from_millis(3_500) && round < 5_000) {
        round += 1;
        // Events in time order, each after every instant already read.
        let now = chrono::Utc::now().timestamp_micros();
        let phase = now / PHASE;
        let active: Vec<i64> = (0..EVENT_USERS).filter(|u| (phase + u) % 3 == 0).collect();
        let first = now.max(last_eval + 1).max(last_ts + 1);
        let mut lines = Vec::new();
        let mut round_users = Vec::new();
        let mut round_items = Vec::new();
        for ts in first..first + 3 {
            let user = active[rng.random_range(0..active.len())];
            let amount = rng.random_range(1..10_000) as f64 / 100.0;
            let item = ITEMS[rng.random_range(0..ITEMS.len())];
            lines.push(click_json(user, amount, item, ts));
            round_users.push(user);
            round_items.push(item);
            last_ts = ts;
        }
        let response = client.ingest(ingest(&lines)).await.unwrap().into_inner();
        assert_eq!(
            (response.accepted, response.late),
            (3, 0),
            "round {round}: events in time order are all accepted"
        );
        seen.extend(&round_users);

        // A user who just had an event, and others at random (some never seen).
        let mut keys = vec![round_users[0]];
        while keys.len() < 4 {
            let user = rng.random_range(0..READ_USERS);
            if !keys.contains(&user) {
                keys.push(user);
            }
        }
        let response = read_online(
            &mut client,
            &features,
            "user",
            keys.iter().map(|&k| Key::IntValue(k)),
        )
        .await;
        if types.is_empty() {
            types = response.types.clone();
        }
        let at = response.evaluated_at_micros;
        assert!(
            at > last_eval,
            "evaluation times go forward: {at} after {last_eval}"
        );
        assert!(
            at >= last_ts,
            "read at {at} before the event at {last_ts} it follows"
        );
        last_eval = at;
        assert_eq!(response.rows.len(), keys.len());
        for (user, row) in keys.iter().zip(&response.rows) {
            assert_eq!(row.values.len(), features.len());
            readings.push(Reading {
                user: *user,
                item: ITEMS[readings.len() % ITEMS.len()],
                at,
                had_events: seen.contains(user),
                values: row.values.iter().map(online_val).collect(),
            });
        }

        // The item of the round's first event, another, and one never seen.
        let items = [
            round_items[0],
            ITEMS[rng.random_range(0..ITEMS.len())],
            UNSEEN_ITEM,
        ];
        let response = read_online(
            &mut client,
            &item_features,
            "item",
            items.iter().map(|item| Key::StringValue(item.to_string())),
        )
        .await;
        let at = response.evaluated_at_micros;
        assert!(at > last_eval, "evaluation times go forward");
        last_eval = at;
        for (item, row) in items.iter().zip(&response.rows) {
            item_readings.push(Reading {
                user: rng.random_range(0..READ_USERS),
                item,
                at,
                had_events: *item != UNSEEN_ITEM,
                values: row.values.iter().map(online_val).collect(),
            });
        }
    }
    eprintln!(
        "{round} rounds, {} user and {} item reads in {:?}",
        readings.len(),
        item_readings.len(),
        started.elapsed()
    );

    // The test exercises windows that fill and empty.
    let index = |name: &str| features.iter().position(|f| f == name).unwrap();
    assert!(
        any_read(&readings, index("count_1s"), true, |v| *v == Val::I(0)),
        "no read saw a 1s window its user's events had left"
    );
    assert!(any_read(&readings, index("count_1s"), true, |v| {
        matches!(v, Val::I(n) if *n > 1)
    }));
    assert!(
        any_read(&readings, index("count_300ms"), true, |v| {
            matches!(v, Val::I(n) if *n > 0)
        }),
        "no read saw a non-empty 300ms window"
    );
    assert!(any_read(&readings, index("avg_300ms"), true, |v| *v == Val::Null));
    assert!(
        readings
            .iter()
            .any(|r| r.values[index("avg_300ms")] == Val::Null
                && matches!(r.values[index("mean_filled_avg_300ms")], Val::F(_))),
        "fill: mean never filled an empty window"
    );
    assert!(any_read(&readings, index("stddev_life"), true, |v| {
        matches!(v, Val::F(_))
    }));
    assert!(any_read(&readings, index("count_life"), false, |v| *v == Val::I(0)));
    assert!(
        any_read(&readings, index("view_clicks"), true, |v| {
            matches!(v, Val::I(n) if *n > 1)
        }),
        "no read saw a view group with more than one click"
    );
    assert!(any_read(&readings, index("view_top"), false, |v| *v == Val::F(-1.0)));

    assert!(
        item_readings
            .iter()
            .any(|r| matches!(r.values[0], Val::I(n) if n > 1)),
        "no read saw an item's 1s window with more than one click"
    );

    // Labels at exactly the instants read, in the order read: the user reads,
    // then the item reads. Each row carries both entities' keys; the item key
    // is in a column named otherwise than the entity's key, so the request
    // names it.
    let all: Vec<&Reading> = readings.iter().chain(&item_readings).collect();
    let labels = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("user_id", DataType::Int64, false),
            Field::new("item_name", DataType::Utf8, false),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("n", DataType::Int64, false),
        ])),
        vec![
            Arc::new(Int64Array::from_iter_values(all.iter().map(|r| r.user))) as ArrayRef,
            Arc::new(StringArray::from_iter_values(all.iter().map(|r| r.item))),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                all.iter().map(|r| r.at),
            )),
            Arc::new(Int64Array::from_iter_values(0..all.len() as i64)),
        ],
    )
    .unwrap();
    let requested: Vec<String> = features.iter().chain(&item_features).cloned().collect();
    let generated = generate(
        &server,
        proto::GenerateTrainingSetRequest {
            labels_arrow_ipc: ipc(&labels),
            timestamp_column: "ts".into(),
            features: requested.clone(),
            entities: [("item".to_string(), "item_name".to_string())].into(),
            ..Default::default()
        },
    )
    .await;
    let batch = &generated.batch;
    assert_eq!(batch.num_rows(), all.len(), "one row per label row");
    assert_eq!(generated.summary.rows, all.len() as u64);
    assert_eq!(
        generated.summary.feature_versions,
        requested
            .iter()
            .map(|f| format!("{f}@v1"))
            .collect::<Vec<_>>()
    );
    assert_progress(&generated, all.len());
    let mut expected_names = vec![
        "user_id".to_string(),
        "item_name".into(),
        "ts".into(),
        "n".into(),
    ];
    expected_names.extend(requested.iter().cloned());
    assert_eq!(column_names(batch), expected_names);
    const FIRST_FEATURE: usize = 4;

    // Label columns pass through, rows in label order.
    let users = batch.column(0).as_primitive::<Int64Type>();
    let items = batch.column(1).as_string::<i32>();
    let times = batch.column(2).as_primitive::<TimestampMicrosecondType>();
    let order = batch.column(3).as_primitive::<Int64Type>();
    assert_eq!(
        batch.schema().field(2).data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    for (row, reading) in all.iter().enumerate() {
        assert_eq!(
            (
                users.value(row),
                items.value(row),
                times.value(row),
                order.value(row)
            ),
            (reading.user, reading.item, reading.at, row as i64),
            "label row {row}"
        );
    }

    // Column types match the online types.
    for (j, feature) in features.iter().enumerate() {
        let expected = match types[j].as_str() {
            "int64" => DataType::Int64,
            "float64" => DataType::Float64,
            "string" => DataType::Utf8,
            other => panic!("feature {feature}: unexpected online type {other}"),
        };
        assert_eq!(
            batch.column(FIRST_FEATURE + j).data_type(),
            &expected,
            "feature {feature}: training column type vs online type {}",
            types[j]
        );
    }

    // Every value equals the one served online at that instant: the user
    // features in the rows of user reads, the item features in those of item
    // reads.
    let mut wrong = Vec::new();
    let mut compared = 0;
    for (row, reading) in all.iter().enumerate() {
        let (names, first) = match row < readings.len() {
            true => (&features, FIRST_FEATURE),
            false => (&item_features, FIRST_FEATURE + features.len()),
        };
        for (j, feature) in names.iter().enumerate() {
            let training = cell(batch.column(first + j).as_ref(), row);
            let online = &reading.values[j];
            compared += 1;
            if !same(&training, online) {
                wrong.push(format!(
                    "feature {feature}, user {}, item {}, t {} ({}): online {online:?}, training {training:?}",
                    reading.user,
                    reading.item,
                    reading.at,
                    rfc3339(reading.at)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {compared} values differ from online (seed {seed}):\n{}",
        wrong.len(),
        wrong[..wrong.len().min(30)].join("\n")
    );
    server.stop();
}

// ---------------------------------------------------------------------------
// 2–4. Point in time against brute force, Flight, and errors.

#[derive(Debug, Clone)]
struct Click {
    user: i64,
    ts: i64,
    amount: f64,
    item: &'static str,
}

#[derive(Debug, Clone, Copy)]
struct LabelRow {
    user: i64,
    ts: i64,
    churned: i64,
}

const USERS: i64 = 30;
const CLICKS: usize = 3_000;
const CHURN_V1: [&str; 4] = ["spend_1h", "clicks_1d", "last_item_1h", "min_1h"];
const ALL_FEATURES: [&str; 7] = [
    "spend_1h",
    "clicks_1d",
    "max_1d",
    "last_item_1h",
    "items_1d",
    "avg_life",
    "min_1h",
];
const CHURN_ITEMS: [&str; 7] = ["a", "b", "c", "d", "e", "f", "g"];

/// The first instant of the events.
fn base() -> i64 {
    chrono::DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z")
        .unwrap()
        .timestamp_micros()
}

/// A server (spilling every training-set build) over `training_churn.yaml`,
/// with clicks ingested shuffled and the label file written.
struct Churn {
    dir: tempfile::TempDir,
    server: Server,
    /// Every click, in event-time order (all times distinct).
    clicks: Vec<Click>,
    /// The rows of outcomes.csv, in file order.
    labels: Vec<LabelRow>,
}

impl Churn {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn path_text(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

fn write_labels(path: &Path, rows: &[LabelRow]) {
    let mut text = String::from("user_id,ts,churned\n");
    for row in rows {
        text.push_str(&format!(
            "{},{},{}\n",
            row.user,
            rfc3339(row.ts),
            row.churned
        ));
    }
    std::fs::write(path, text).unwrap();
}

fn churn_fixture() -> Churn {
    let seed: u64 = rand::rng().random();
    eprintln!("churn fixture seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let base = base();

    let mut times = HashSet::new();
    let mut clicks = Vec::new();
    while clicks.len() < CLICKS {
        let ts = base + rng.random_range(0..3 * DAY);
        if !times.insert(ts) {
            continue;
        }
        clicks.push(Click {
            user: rng.random_range(1..=USERS),
            ts,
            amount: rng.random_range(1..50_000) as f64 / 100.0,
            item: CHURN_ITEMS[rng.random_range(0..CHURN_ITEMS.len())],
        });
    }

    // Random instants (from before the first event to after the last), and
    // instants on the window boundaries of some events: at the event, at W and
    // W - 1µs after it (1h and 1d), and the same 30 minutes later for the offset.
    let mut instants = Vec::new();
    for _ in 0..300 {
        instants.push((
            rng.random_range(1..=USERS),
            base - 2 * HOUR + rng.random_range(0..3 * DAY + 4 * HOUR),
        ));
    }
    for _ in 0..40 {
        let click = &clicks[rng.random_range(0..clicks.len())];
        for shift in [0, 30 * MINUTE] {
            for after in [0, HOUR, HOUR - 1, DAY, DAY - 1] {
                instants.push((click.user, click.ts + shift + after));
            }
        }
    }
    instants.shuffle(&mut rng);
    let labels: Vec<LabelRow> = instants
        .into_iter()
        .map(|(user, ts)| LabelRow {
            user,
            ts,
            churned: rng.random_range(0..2),
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let definitions = dir.path().join("training_churn.yaml");
    std::fs::copy(
        format!(
            "{}/tests/data/training_churn.yaml",
            env!("CARGO_MANIFEST_DIR")
        ),
        &definitions,
    )
    .unwrap();
    write_labels(&dir.path().join("outcomes.csv"), &labels);

    let server = Server::start_with(&dir.path().join("data"), &["--training-memory", "0"]);
    stdout_of(server.cli(&["apply", "-f", definitions.to_str().unwrap()]));

    let mut shuffled = clicks.clone();
    shuffled.shuffle(&mut rng);
    let events = dir.path().join("clicks.jsonl");
    let text: Vec<String> = shuffled
        .iter()
        .map(|c| click_json(c.user, c.amount, c.item, c.ts))
        .collect();
    std::fs::write(&events, text.join("\n") + "\n").unwrap();
    let ingested = stdout_of(server.cli(&[
        "ingest",
        "--source",
        "clicks",
        events.to_str().unwrap(),
        "--wait",
        "--json",
    ]));
    let ingested: serde_json::Value = serde_json::from_str(&ingested).unwrap();
    assert_eq!(ingested["accepted"], CLICKS);
    assert_eq!(ingested["late"], 0, "30d of lateness covers three days");

    clicks.sort_by_key(|c| c.ts);
    Churn {
        dir,
        server,
        clicks,
        labels,
    }
}

/// A feature of training_churn.yaml for `user` as of `t`, from the clicks alone
/// (in event-time order), by the test kit's brute-force reference.
fn brute_force(clicks: &[Click], feature: &str, user: i64, t: i64) -> Val {
    let (function, window, default) = match feature {
        "spend_1h" => (Function::Sum, Some(HOUR), None),
        "clicks_1d" => (Function::Count, Some(DAY), None),
        "max_1d" => (Function::Max, Some(DAY), None),
        "last_item_1h" => (Function::Last, Some(HOUR), None),
        "items_1d" => (Function::CountDistinct, Some(DAY), None),
        "avg_life" => (Function::Avg, None, None),
        // The only default among these features.
        "min_1h" => (Function::Min, Some(HOUR), Some(Val::F(-1.0))),
        other => panic!("no reference for {other}"),
    };
    let events = clicks.iter().filter(|c| c.user == user).map(|c| {
        let value = match function {
            Function::Last | Function::CountDistinct => Val::S(c.item.to_string()),
            _ => Val::F(c.amount),
        };
        (c.ts, value)
    });
    reference::evaluate(function, window, t, events).or(default)
}

fn churn_type(feature: &str) -> DataType {
    match feature {
        "clicks_1d" | "items_1d" => DataType::Int64,
        "last_item_1h" => DataType::Utf8,
        _ => DataType::Float64,
    }
}

/// Checks a training set over `labels` against the brute-force reference with
/// features as of `t - offset`: columns, types, label pass-through, values.
fn check_rows(
    batch: &RecordBatch,
    clicks: &[Click],
    labels: &[LabelRow],
    features: &[&str],
    offset: i64,
    run: &str,
) {
    let schema = batch.schema();
    let mut expected: Vec<(String, DataType)> = vec![
        ("user_id".into(), DataType::Int64),
        (
            "ts".into(),
            DataType::Timestamp(TimeUnit::Microsecond, None),
        ),
        ("churned".into(), DataType::Int64),
    ];
    expected.extend(features.iter().map(|f| (f.to_string(), churn_type(f))));
    let actual: Vec<(String, DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    assert_eq!(actual, expected, "{run}: columns and types");
    assert_eq!(
        batch.num_rows(),
        labels.len(),
        "{run}: one row per label row"
    );

    let users = batch.column(0).as_primitive::<Int64Type>();
    let times = batch.column(1).as_primitive::<TimestampMicrosecondType>();
    let churned = batch.column(2).as_primitive::<Int64Type>();
    let mut wrong = Vec::new();
    for (row, label) in labels.iter().enumerate() {
        assert_eq!(
            (users.value(row), times.value(row), churned.value(row)),
            (label.user, label.ts, label.churned),
            "{run}: label row {row} passes through unchanged, in file order"
        );
        for (j, feature) in features.iter().enumerate() {
            let actual = cell(batch.column(3 + j).as_ref(), row);
            let expected = brute_force(clicks, feature, label.user, label.ts - offset);
            if !close(&actual, &expected) {
                wrong.push(format!(
                    "row {row}: {feature} for user {} at {} (features as of {}): got {actual:?}, brute force {expected:?}",
                    label.user,
                    rfc3339(label.ts),
                    rfc3339(label.ts - offset)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{run}: {} of {} values differ from the brute-force reference:\n{}",
        wrong.len(),
        labels.len() * features.len(),
        wrong[..wrong.len().min(30)].join("\n")
    );
}

#[test]
fn training_rows_never_see_the_future_and_match_brute_force() {
    let churn = churn_fixture();
    let server = &churn.server;
    let rows = churn.labels.len();

    // The registry training set: its label's rows from outcomes.csv.
    let a = churn.path_text("a.parquet");
    let summary = train(server, &["--training-set", "churn_v1", "--out", &a]);
    assert_eq!(summary["rows"], rows);
    assert_eq!(
        summary["feature_versions"],
        serde_json::json!([
            "spend_1h@v1",
            "clicks_1d@v1",
            "last_item_1h@v1",
            "min_1h@v1"
        ])
    );
    assert!(
        summary["events_replayed"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert_eq!(summary["out"], a.as_str());
    check_rows(
        &read_parquet(Path::new(&a)),
        &churn.clicks,
        &churn.labels,
        &CHURN_V1,
        0,
        "--training-set churn_v1",
    );

    // The registry label with every feature.
    let b = churn.path_text("b.parquet");
    let summary = train(
        server,
        &[
            "--label",
            "outcome",
            "--features",
            &ALL_FEATURES.join(","),
            "--out",
            &b,
        ],
    );
    assert_eq!(summary["rows"], rows);
    check_rows(
        &read_parquet(Path::new(&b)),
        &churn.clicks,
        &churn.labels,
        &ALL_FEATURES,
        0,
        "--label outcome",
    );

    // Features as of 30 minutes before each label; the label time is kept.
    let c = churn.path_text("c.parquet");
    train(
        server,
        &[
            "--label",
            "outcome",
            "--features",
            &ALL_FEATURES.join(","),
            "--feature-offset",
            "30m",
            "--out",
            &c,
        ],
    );
    check_rows(
        &read_parquet(Path::new(&c)),
        &churn.clicks,
        &churn.labels,
        &ALL_FEATURES,
        30 * MINUTE,
        "--feature-offset 30m",
    );

    // The same versions and labels give the same bytes.
    let again = churn.path_text("a_again.parquet");
    train(server, &["--training-set", "churn_v1", "--out", &again]);
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&again).unwrap(),
        "regenerating churn_v1 changed the Parquet bytes"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn flight_do_get_returns_the_same_rows() {
    let churn = churn_fixture();
    let server = &churn.server;

    let grpc = generate(
        server,
        proto::GenerateTrainingSetRequest {
            training_set: "churn_v1".into(),
            ..Default::default()
        },
    )
    .await;
    assert_progress(&grpc, churn.labels.len());
    check_rows(
        &grpc.batch,
        &churn.clicks,
        &churn.labels,
        &CHURN_V1,
        0,
        "GenerateTrainingSet churn_v1",
    );
    let flight = flight_rows(server, r#"{"training_set":"churn_v1"}"#.to_string()).await;
    assert_same_rows(
        &flight,
        &grpc.batch,
        "DoGet churn_v1 vs GenerateTrainingSet",
    );

    // A label with rows from a file, features and an offset, by ticket too.
    let uri = format!("file://{}", churn.path_text("outcomes.csv"));
    let grpc = generate(
        server,
        proto::GenerateTrainingSetRequest {
            label: "outcome".into(),
            features: ALL_FEATURES.iter().map(|f| f.to_string()).collect(),
            labels_uri: uri.clone(),
            feature_offset: "30m".into(),
            ..Default::default()
        },
    )
    .await;
    check_rows(
        &grpc.batch,
        &churn.clicks,
        &churn.labels,
        &ALL_FEATURES,
        30 * MINUTE,
        "GenerateTrainingSet with labels_uri and feature_offset",
    );
    let ticket = serde_json::json!({
        "label": "outcome",
        "features": ALL_FEATURES,
        "labels_uri": uri,
        "feature_offset": "30m",
    });
    let flight = flight_rows(server, ticket.to_string()).await;
    assert_same_rows(
        &flight,
        &grpc.batch,
        "DoGet with labels_uri vs GenerateTrainingSet",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_labels_get_clear_errors_and_unknown_keys_get_defaults() {
    let churn = churn_fixture();
    let server = &churn.server;
    let features = ALL_FEATURES.join(",");

    // (a) Users 1000 and 1001 have no events: their rows are there, with defaults.
    let end = base() + 3 * DAY + 10 * MINUTE;
    let first_user = churn.clicks[0].user;
    let last_user = churn.clicks[churn.clicks.len() - 1].user;
    let rows = vec![
        LabelRow {
            user: 1000,
            ts: end,
            churned: 1,
        },
        LabelRow {
            user: first_user,
            ts: end,
            churned: 0,
        },
        LabelRow {
            user: 1001,
            ts: base() + DAY,
            churned: 0,
        },
        LabelRow {
            user: last_user,
            ts: end,
            churned: 1,
        },
        LabelRow {
            user: 1000,
            ts: base() + 2 * DAY,
            churned: 1,
        },
    ];
    let unknown = churn.path("unknown.csv");
    write_labels(&unknown, &rows);
    let out = churn.path_text("unknown.parquet");
    let summary = train(
        server,
        &[
            "--label",
            "outcome",
            "--labels",
            unknown.to_str().unwrap(),
            "--features",
            &features,
            "--out",
            &out,
        ],
    );
    assert_eq!(summary["rows"], 5);
    assert_eq!(summary["unknown_keys"], 3, "{summary}");
    let from_cli = read_parquet(Path::new(&out));
    check_rows(
        &from_cli,
        &churn.clicks,
        &rows,
        &ALL_FEATURES,
        0,
        "unknown keys",
    );
    // spend_1h, clicks_1d, max_1d, last_item_1h, items_1d, avg_life, min_1h.
    let defaults = vec![
        Val::Null,
        Val::I(0),
        Val::Null,
        Val::Null,
        Val::I(0),
        Val::Null,
        Val::F(-1.0),
    ];
    for row in [0, 2, 4] {
        let values: Vec<Val> = (0..ALL_FEATURES.len())
            .map(|j| cell(from_cli.column(3 + j).as_ref(), row))
            .collect();
        assert_eq!(values, defaults, "row {row}: an unknown user's features");
    }
    let unknown_uri = format!("file://{}", unknown.display());
    let generated = generate(
        server,
        proto::GenerateTrainingSetRequest {
            label: "outcome".into(),
            labels_uri: unknown_uri,
            features: ALL_FEATURES.iter().map(|f| f.to_string()).collect(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(generated.summary.rows, 5);
    assert_eq!(generated.summary.unknown_keys, 3);
    assert_same_rows(&generated.batch, &from_cli, "gRPC vs freshet train");

    let failed_out = churn.path("failed.parquet");

    // (b) A null timestamp in data row 3.
    let null_ts = churn.path("null_ts.csv");
    std::fs::write(
        &null_ts,
        "user_id,ts,churned\n1,2026-03-02T10:00:00Z,0\n2,2026-03-02T11:00:00Z,1\n3,,0\n4,2026-03-02T12:00:00Z,1\n",
    )
    .unwrap();
    let stderr = train_error(
        server,
        &[
            "--label",
            "outcome",
            "--labels",
            null_ts.to_str().unwrap(),
            "--features",
            "spend_1h",
        ],
        &failed_out,
    );
    assert!(
        stderr.contains("row 3") && stderr.contains("ts"),
        "{stderr}"
    );
    let status = training_error(
        server,
        proto::GenerateTrainingSetRequest {
            labels_uri: format!("file://{}", null_ts.display()),
            timestamp_column: "ts".into(),
            features: vec!["spend_1h".into()],
            ..Default::default()
        },
    )
    .await;
    assert_invalid(&status, &["row 3", "ts"]);

    // (c) An unparseable timestamp in data row 2.
    let yesterday = churn.path("yesterday.csv");
    std::fs::write(
        &yesterday,
        "user_id,ts,churned\n1,2026-03-02T10:00:00Z,0\n2,yesterday,1\n3,2026-03-02T12:00:00Z,0\n",
    )
    .unwrap();
    let stderr = train_error(
        server,
        &[
            "--labels",
            yesterday.to_str().unwrap(),
            "--timestamp-column",
            "ts",
            "--features",
            "clicks_1d",
        ],
        &failed_out,
    );
    assert!(
        stderr.contains("row 2") && stderr.contains("yesterday"),
        "{stderr}"
    );
    let status = training_error(
        server,
        proto::GenerateTrainingSetRequest {
            label: "outcome".into(),
            labels_uri: format!("file://{}", yesterday.display()),
            features: vec!["clicks_1d".into()],
            ..Default::default()
        },
    )
    .await;
    assert_invalid(&status, &["row 2", "yesterday"]);

    // (d) An unknown feature.
    let stderr = train_error(
        server,
        &["--label", "outcome", "--features", "spend_1h,nope"],
        &failed_out,
    );
    // Said once, with its code.
    assert!(
        stderr.contains("NOT_FOUND: feature 'nope' not found")
            && stderr.matches("'nope'").count() == 1,
        "{stderr}"
    );
    let status = training_error(
        server,
        proto::GenerateTrainingSetRequest {
            label: "outcome".into(),
            features: vec!["spend_1h".into(), "nope".into()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
    assert_eq!(status.message(), "feature 'nope' not found");

    // (e) Label rows without the entity's key column.
    let no_user = churn.path("no_user.csv");
    std::fs::write(
        &no_user,
        "customer,ts,churned\n1,2026-03-02T10:00:00Z,0\n2,2026-03-02T11:00:00Z,1\n",
    )
    .unwrap();
    let stderr = train_error(
        server,
        &[
            "--labels",
            no_user.to_str().unwrap(),
            "--timestamp-column",
            "ts",
            "--features",
            "spend_1h",
        ],
        &failed_out,
    );
    assert!(stderr.contains("user_id"), "{stderr}");
    let inline = RecordBatch::try_from_iter(vec![
        (
            "customer",
            Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
        ),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from(vec![base(), base() + HOUR])) as ArrayRef,
        ),
        (
            "churned",
            Arc::new(Int64Array::from(vec![0, 1])) as ArrayRef,
        ),
    ])
    .unwrap();
    let status = training_error(
        server,
        proto::GenerateTrainingSetRequest {
            label: "outcome".into(),
            labels_arrow_ipc: ipc(&inline),
            features: vec!["spend_1h".into()],
            ..Default::default()
        },
    )
    .await;
    assert_invalid(&status, &["user_id"]);

    // (f) A label file that does not exist.
    let missing = churn.path("missing.csv");
    let missing_text = missing.display().to_string();
    let stderr = train_error(
        server,
        &[
            "--label",
            "outcome",
            "--labels",
            &missing_text,
            "--features",
            "spend_1h",
        ],
        &failed_out,
    );
    assert!(stderr.contains(&missing_text), "{stderr}");
    let status = training_error(
        server,
        proto::GenerateTrainingSetRequest {
            label: "outcome".into(),
            labels_uri: format!("file://{missing_text}"),
            features: vec!["spend_1h".into()],
            ..Default::default()
        },
    )
    .await;
    assert!(
        matches!(
            status.code(),
            tonic::Code::InvalidArgument | tonic::Code::NotFound
        ),
        "{status:?}"
    );
    assert!(status.message().contains(&missing_text), "{status:?}");

    // None of this broke the server: the training set still builds.
    let ok = churn.path_text("after_errors.parquet");
    train(server, &["--training-set", "churn_v1", "--out", &ok]);
}
