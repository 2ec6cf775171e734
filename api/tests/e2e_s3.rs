//! End to end on S3: the real binary against a real S3-compatible server (moto,
//! started on a free loopback port). File sources on S3 in each format (CSV,
//! Parquet through a glob, JSON lines) are read by `apply` (schemas inferred)
//! and joined by the engine; a changed object is picked up by its ETag; labels
//! come from S3 and `freshet train` uploads its Parquet to S3; a missing bucket
//! or object is an error that names it; keys, region and endpoint may come from
//! an AWS profile.

mod common;

use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Float64Type, Schema, TimeUnit};
use common::{freshet, online_val, stdout_of, Server};
use freshet_api::proto::{self, entity_key::Key, PayloadFormat};
use freshet_testkit::s3::{S3Server, ACCESS_KEY, REGION, SECRET_KEY};
use freshet_testkit::server::Launch;
use freshet_testkit::values::Val;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

const MINUTE: i64 = 60_000_000;

const DEFINITIONS: &str = r#"
sources:
  - name: purchases
    stream: { topic: purchases }
    schema: { user_id: int64, item_id: int64, amount: float64, ts: timestamp }
    event_time: ts
  - name: items
    file: { uri: "s3://lake/catalog/items.csv" }
  - name: tiers
    file: { uri: "s3://lake/tiers/*.parquet" }
  - name: regions
    file: { uri: "s3://lake/regions.jsonl" }
transformations:
  - name: enriched
    sql: >
      SELECT p.user_id, p.amount, i.category, t.tier, r.region, p.ts
      FROM purchases p
      JOIN items i ON p.item_id = i.item_id
      JOIN tiers t ON p.user_id = t.user_id
      JOIN regions r ON p.user_id = r.user_id
entities:
  - { name: user, key: user_id }
features:
  - { name: spend_1d, entity: user, source: enriched, aggregate: sum(amount), window: 1d, default: 0.0 }
  - { name: last_category, entity: user, source: enriched, aggregate: last(category) }
  - { name: last_tier, entity: user, source: enriched, aggregate: last(tier) }
  - { name: last_region, entity: user, source: enriched, aggregate: last(region) }
"#;

/// The S3 settings and credentials, as a deployment gives them.
fn s3_env(s3: &S3Server) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
        ("AWS_REGION", REGION.to_string()),
        ("FRESHET_S3_ENDPOINT", s3.endpoint.clone()),
    ]
}

fn parquet_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
    out
}

fn tiers(users: &[i64], tiers: &[&str]) -> Vec<u8> {
    let batch = RecordBatch::try_from_iter([
        ("user_id", Arc::new(Int64Array::from(users.to_vec())) as _),
        ("tier", Arc::new(StringArray::from(tiers.to_vec())) as _),
    ])
    .unwrap();
    parquet_bytes(&batch)
}

fn labels(users: &[i64], at: i64) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(users.to_vec())),
            Arc::new(TimestampMicrosecondArray::from(vec![at; users.len()])),
        ],
    )
    .unwrap();
    parquet_bytes(&batch)
}

fn event(user: i64, item: i64, amount: f64, ts: i64) -> String {
    format!(
        r#"{{"user_id":{user},"item_id":{item},"amount":{amount},"ts":{}}}"#,
        ts / 1000
    )
}

fn ingest(lines: &[String]) -> proto::IngestRequest {
    proto::IngestRequest {
        source: "purchases".into(),
        format: PayloadFormat::JsonLines as i32,
        data: lines.join("\n").into_bytes(),
        skip_bad_rows: false,
        validate_only: false,
        wait: true,
    }
}

/// The features of DEFINITIONS for users 1 and 2, read over gRPC.
async fn online(server: &Server) -> Vec<Vec<Val>> {
    let response = server
        .client()
        .await
        .get_online_features(proto::GetOnlineFeaturesRequest {
            features: ["spend_1d", "last_category", "last_tier", "last_region"]
                .map(String::from)
                .to_vec(),
            entity: "user".into(),
            keys: [1, 2]
                .map(|k| proto::EntityKey {
                    key: Some(Key::IntValue(k)),
                })
                .to_vec(),
        })
        .await
        .expect("lookup")
        .into_inner();
    response
        .rows
        .iter()
        .map(|row| row.values.iter().map(online_val).collect())
        .collect()
}

fn cli(s3: &S3Server, server: &Server, args: &[&str]) -> Output {
    Command::new(freshet())
        .args(args)
        .args(["--server", &server.url])
        .envs(s3_env(s3))
        .output()
        .expect("run freshet")
}

/// The server on `dir/data`, given the S3 settings and credentials, with `args`.
fn serve(s3: &S3Server, dir: &std::path::Path, args: &[&str]) -> Server {
    let mut launch = Launch::new(&freshet(), &dir.join("data")).args(args);
    for (key, value) in s3_env(s3) {
        launch = launch.env(key, &value);
    }
    Server::launched(launch)
}

/// The message of a command that must have failed; it never holds the secret.
fn refusal(output: &Output) -> String {
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!message.contains(SECRET_KEY), "{message}");
    message
}

/// `freshet train` of `clicks_total` over the labels `s3://lake/labels.parquet`
/// into `out`.
fn train_clicks(out: &str) -> [&str; 9] {
    [
        "train",
        "--features",
        "clicks_total",
        "--labels",
        "s3://lake/labels.parquet",
        "--timestamp-column",
        "ts",
        "--out",
        out,
    ]
}

fn s(text: &str) -> Val {
    Val::S(text.into())
}

#[tokio::test(flavor = "multi_thread")]
async fn file_sources_labels_and_training_output_live_on_s3() {
    let s3 = S3Server::start();
    s3.create_bucket("lake");
    s3.put_object(
        "lake",
        "catalog/items.csv",
        b"item_id,category\n1,books\n2,games\n",
    );
    s3.put_object("lake", "tiers/part-0.parquet", &tiers(&[1], &["gold"]));
    s3.put_object("lake", "tiers/part-1.parquet", &tiers(&[2], &["silver"]));
    s3.put_object(
        "lake",
        "regions.jsonl",
        b"{\"user_id\":1,\"region\":\"eu\"}\n{\"user_id\":2,\"region\":\"us\"}\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let definitions = dir.path().join("s3.yaml");
    std::fs::write(&definitions, DEFINITIONS).unwrap();
    let server = serve(&s3, dir.path(), &["--s3-poll-interval", "0ms"]);

    // apply reads the three files' schemas from S3.
    let plan = stdout_of(server.cli(&["apply", "-f", definitions.to_str().unwrap()]));
    for source in ["items", "tiers", "regions"] {
        assert!(plan.contains(&format!("source {source}")), "{plan}");
    }

    let now = chrono::Utc::now().timestamp_micros();
    let mut client = server.client().await;
    client
        .ingest(ingest(&[
            event(1, 1, 10.0, now - 10 * MINUTE),
            event(2, 2, 5.0, now - 10 * MINUTE),
        ]))
        .await
        .unwrap();
    assert_eq!(
        online(&server).await,
        vec![
            vec![Val::F(10.0), s("books"), s("gold"), s("eu")],
            vec![Val::F(5.0), s("games"), s("silver"), s("us")],
        ]
    );

    // The catalog object changes: item 2 becomes toys. The engine looks at the
    // ETag before each micro-batch (poll interval 0), so the next event joins
    // the new rows.
    s3.put_object(
        "lake",
        "catalog/items.csv",
        b"item_id,category\n1,books\n2,toys\n",
    );
    client
        .ingest(ingest(&[event(2, 2, 1.0, now - 5 * MINUTE)]))
        .await
        .unwrap();
    assert_eq!(
        online(&server).await[1],
        vec![Val::F(6.0), s("toys"), s("silver"), s("us")]
    );

    // Labels from S3, the training set written to S3 (a multipart upload).
    s3.put_object("lake", "labels/now.parquet", &labels(&[1, 2], now));
    let summary = stdout_of(cli(
        &s3,
        &server,
        &[
            "train",
            "--json",
            "--features",
            "spend_1d,last_category",
            "--labels",
            "s3://lake/labels/now.parquet",
            "--timestamp-column",
            "ts",
            "--out",
            "s3://lake/training/now.parquet",
        ],
    ));
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["rows"], 2);
    assert_eq!(summary["out"], "s3://lake/training/now.parquet");
    let written = s3
        .get_object("lake", "training/now.parquet")
        .expect("the training set was uploaded");
    let local = dir.path().join("now.parquet");
    std::fs::write(&local, written).unwrap();
    let batches: Vec<RecordBatch> =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&local).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let users = batch
        .column_by_name("user_id")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>();
    let spend = batch
        .column_by_name("spend_1d")
        .unwrap()
        .as_primitive::<Float64Type>();
    let category = batch
        .column_by_name("last_category")
        .unwrap()
        .as_string::<i32>();
    let rows: Vec<(i64, f64, String)> = (0..batch.num_rows())
        .map(|i| {
            (
                users.value(i),
                spend.value(i),
                category.value(i).to_string(),
            )
        })
        .collect();
    // Every event is before the label time; user 2's last purchase joined toys.
    assert_eq!(
        rows,
        vec![(1, 10.0, "books".to_string()), (2, 6.0, "toys".to_string())]
    );
    assert_eq!(spend.null_count(), 0);

    // Labels that are not there: an error naming them, nothing written.
    let out = dir.path().join("never.parquet");
    let refused = cli(
        &s3,
        &server,
        &[
            "train",
            "--features",
            "spend_1d",
            "--labels",
            "s3://lake/labels/none.parquet",
            "--timestamp-column",
            "ts",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let message = refusal(&refused);
    assert!(
        message.contains("s3://lake/labels/none.parquet"),
        "{message}"
    );
    assert!(!out.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_or_object_is_an_error_that_names_it() {
    let s3 = S3Server::start();
    s3.create_bucket("lake");
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&s3, dir.path(), &[]);

    let definitions = dir.path().join("missing.yaml");
    std::fs::write(
        &definitions,
        "sources:\n  - name: items\n    file: { uri: \"s3://no-such-bucket/items.csv\" }\n",
    )
    .unwrap();
    let refused = cli(
        &s3,
        &server,
        &["apply", "-f", definitions.to_str().unwrap()],
    );
    let message = refusal(&refused);
    assert!(message.contains("source 'items'"), "{message}");
    assert!(
        message.contains("s3://no-such-bucket/items.csv"),
        "{message}"
    );

    std::fs::write(
        &definitions,
        DEFINITIONS.replace("s3://lake/catalog/items.csv", "s3://lake/catalog/none.csv"),
    )
    .unwrap();
    let refused = cli(
        &s3,
        &server,
        &["apply", "-f", definitions.to_str().unwrap()],
    );
    let message = refusal(&refused);
    assert!(message.contains("s3://lake/catalog/none.csv"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_are_an_error_that_keeps_the_secret() {
    let s3 = S3Server::start_refusing_credentials();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&s3, dir.path(), &[]);

    let definitions = dir.path().join("denied.yaml");
    std::fs::write(
        &definitions,
        "sources:\n  - name: items\n    file: { uri: \"s3://lake/items.csv\" }\n",
    )
    .unwrap();
    let refused = cli(
        &s3,
        &server,
        &["apply", "-f", definitions.to_str().unwrap()],
    );
    let message = refusal(&refused);
    assert!(message.contains("source 'items'"), "{message}");
    assert!(message.contains("s3://lake/items.csv"), "{message}");
    assert!(message.contains("credentials"), "{message}");

    // Labels from S3 for a training set: the same.
    std::fs::write(
        &definitions,
        "sources:\n  - name: clicks\n    stream: { topic: clicks }\n    \
         schema: { user_id: int64, ts: timestamp }\n    event_time: ts\n\
         entities:\n  - { name: user, key: user_id }\n\
         features:\n  - { name: clicks_total, entity: user, source: clicks, aggregate: count(*) }\n",
    )
    .unwrap();
    stdout_of(server.cli(&["apply", "-f", definitions.to_str().unwrap()]));
    let out = dir.path().join("never.parquet");
    let refused = cli(&s3, &server, &train_clicks(out.to_str().unwrap()));
    let message = refusal(&refused);
    assert!(message.contains("s3://lake/labels.parquet"), "{message}");
    assert!(message.contains("credentials"), "{message}");
    assert!(!out.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_region_and_endpoint_come_from_an_aws_profile() {
    let s3 = S3Server::start();
    s3.create_bucket("lake");
    s3.put_object("lake", "items.csv", b"item_id,category\n1,books\n");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("aws-config");
    std::fs::write(
        &config,
        format!(
            "[default]\nregion = eu-west-3\n\n[profile lake]\nregion = {REGION}\nendpoint_url = {}\n",
            s3.endpoint
        ),
    )
    .unwrap();
    let credentials = dir.path().join("aws-credentials");
    std::fs::write(
        &credentials,
        format!("[lake]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"),
    )
    .unwrap();
    let files = [
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
    ];
    // No AWS_* keys, region or endpoint and no --s3-endpoint: only the profile
    // says where the bucket is and how to sign (without keys the client would
    // ask instance metadata, which is not there).
    let mut launch = Launch::new(&freshet(), &dir.path().join("data")).env("AWS_PROFILE", "lake");
    for (key, value) in files {
        launch = launch.env(key, value);
    }
    let server = Server::launched(launch);
    let definitions = dir.path().join("profile.yaml");
    std::fs::write(
        &definitions,
        "sources:\n  - name: items\n    file: { uri: \"s3://lake/items.csv\" }\n\
         \x20 - name: clicks\n    stream: { topic: clicks }\n    \
         schema: { user_id: int64, ts: timestamp }\n    event_time: ts\n\
         entities:\n  - { name: user, key: user_id }\n\
         features:\n  - { name: clicks_total, entity: user, source: clicks, aggregate: count(*) }\n",
    )
    .unwrap();
    let plan = stdout_of(server.cli(&["apply", "-f", definitions.to_str().unwrap()]));
    assert!(plan.contains("source items"), "{plan}");

    // The CLI writes training output itself: with a profile that neither file
    // has, an error naming it and the files, nothing written.
    let now = chrono::Utc::now().timestamp_micros();
    s3.put_object("lake", "labels.parquet", &labels(&[1], now));
    let refused = Command::new(freshet())
        .args(train_clicks("s3://lake/never.parquet"))
        .args(["--server", &server.url])
        .env("AWS_PROFILE", "prod")
        .envs(files)
        .output()
        .expect("run freshet");
    let message = refusal(&refused);
    assert!(message.contains("AWS profile 'prod'"), "{message}");
    assert!(message.contains("aws-config"), "{message}");
    assert_eq!(s3.get_object("lake", "never.parquet"), None);
}
