//! End to end: the real binary, gRPC over loopback, real files and storage.

mod common;

use std::io::Write;

use common::{stdout_of, Server};
use freshet_api::proto::{self, PayloadFormat};
use prost::Message;

fn shop_definitions() -> String {
    format!("{}/tests/data/shop.yaml", env!("CARGO_MANIFEST_DIR"))
}

/// Applies, ingests 100k events from a file through the CLI (waiting until they
/// are processed), restarts the server and reads the same status back.
#[tokio::test(flavor = "multi_thread")]
async fn ingest_100k_events_and_status_survives_restart() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());

    let plan = stdout_of(server.cli(&["apply", "-f", &shop_definitions(), "--json"]));
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let actions: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["created"; 4]);

    let events = tempfile::Builder::new()
        .suffix(".jsonl")
        .tempfile()
        .unwrap();
    {
        let mut out = std::io::BufWriter::new(events.as_file());
        for i in 0..100_000u64 {
            writeln!(
                out,
                r#"{{"user_id":{},"item_id":{},"amount":{}.25,"ts":"2026-11-{:02}T{:02}:00:00Z"}}"#,
                i % 1000,
                i % 2 + 1,
                i % 50,
                1 + i % 28,
                i % 24
            )
            .unwrap();
        }
    }
    let ingested = stdout_of(server.cli(&[
        "ingest",
        "--source",
        "purchases",
        events.path().to_str().unwrap(),
        "--wait",
        "--json",
    ]));
    let ingested: serde_json::Value = serde_json::from_str(&ingested).unwrap();
    assert_eq!(ingested["accepted"], 100_000);
    assert_eq!(ingested["rejected"], 0);

    let before = stdout_of(server.cli(&["status", "--json"]));
    let status: serde_json::Value = serde_json::from_str(&before).unwrap();
    let purchases = status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "purchases")
        .unwrap();
    assert_eq!(purchases["events_accepted"], 100_000);
    assert_eq!(purchases["events_rejected"], 0);
    assert_eq!(
        purchases["events_processed"], 100_000,
        "--wait returned after processing"
    );
    assert_eq!(purchases["lag"], 0);
    assert_eq!(
        purchases["heads"].as_array().unwrap().len(),
        2,
        "two partitions"
    );

    server.stop();
    let server = Server::start(data.path());
    let after = stdout_of(server.cli(&["status", "--json"]));
    assert_eq!(after, before, "status after restart");

    // Applying the same file again changes nothing.
    let plan = stdout_of(server.cli(&["apply", "-f", &shop_definitions(), "--json"]));
    assert!(
        !plan.contains("created") && !plan.contains("new_version"),
        "{plan}"
    );
}

fn ingest_request(data: &str, skip_bad_rows: bool) -> proto::IngestRequest {
    proto::IngestRequest {
        source: "purchases".into(),
        format: PayloadFormat::JsonLines as i32,
        data: data.as_bytes().to_vec(),
        skip_bad_rows,
        validate_only: false,
        wait: false,
    }
}

const MIXED: &str = r#"{"user_id":1,"item_id":1,"amount":2.5,"ts":"2026-11-20T10:00:00Z"}
{"user_id":"one","item_id":1,"amount":2.5,"ts":"2026-11-20T10:00:00Z"}
{"user_id":2,"item_id":1,"amount":2.5}
{"user_id":3,"item_id":1.5,"amount":2.5,"ts":"yesterday"}
not json
{"user_id":4,"item_id":1,"amount":2.5,"ts":"2026-11-20T10:00:00Z","coupon":"X"}
{"user_id":5,"item_id":1,"amount":7,"ts":1763632800000}
"#;

/// Malformed rows get one error each naming the row, the column and the reason;
/// by default nothing is written, and with skip_bad_rows the good rows are written
/// and the bad ones kept and counted.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_rows_get_per_row_errors() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    stdout_of(server.cli(&["apply", "-f", &shop_definitions()]));
    let mut client = server.client().await;

    let status = client
        .ingest(ingest_request(MIXED, false))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("nothing was written"),
        "{}",
        status.message()
    );
    let details = proto::IngestResponse::decode(status.details()).unwrap();
    let errors: Vec<(u64, &str, &str)> = details
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        errors,
        vec![
            (1, "user_id", "expected int64, found string \"one\""),
            (2, "ts", "the event time is missing"),
            (3, "item_id", "expected int64, found 1.5"),
            (
                3,
                "ts",
                "'yesterday' is not a timestamp (use RFC 3339 such as 2026-11-21T10:00:00Z, or epoch milliseconds)"
            ),
            (4, "", "invalid JSON: expected ident at line 1 column 2"),
            (5, "coupon", "not a column of the source schema"),
        ]
    );
    assert_eq!(details.accepted, 0);
    assert_eq!(details.rejected, 7, "the whole request is refused");

    let status = |client: &mut proto::feature_store_client::FeatureStoreClient<_>| {
        let mut client = client.clone();
        async move {
            let response = client
                .get_status(proto::GetStatusRequest {})
                .await
                .unwrap()
                .into_inner();
            response
                .sources
                .into_iter()
                .find(|s| s.name == "purchases")
                .unwrap()
        }
    };
    let purchases = status(&mut client).await;
    assert_eq!(
        (
            purchases.events_accepted,
            purchases.events_rejected,
            purchases.events_rejected_kept
        ),
        (0, 7, 0)
    );

    let response = client
        .ingest(ingest_request(MIXED, true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((response.accepted, response.rejected), (2, 5));
    assert_eq!(response.errors.len(), 6);
    let purchases = status(&mut client).await;
    assert_eq!(
        (
            purchases.events_accepted,
            purchases.events_rejected,
            purchases.events_rejected_kept
        ),
        (2, 12, 5)
    );

    // Unknown sources and file sources are refused with a clear message.
    let mut request = ingest_request(MIXED, true);
    request.source = "nope".into();
    let error = client.ingest(request).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::NotFound);
    assert_eq!(error.message(), "source 'nope' not found");
    let mut request = ingest_request(MIXED, true);
    request.source = "items".into();
    let error = client.ingest(request).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
    assert!(
        error.message().contains("file source"),
        "{}",
        error.message()
    );
}

/// The CLI refuses a file with a bad row before writing any of it, and names the
/// line.
#[tokio::test(flavor = "multi_thread")]
async fn cli_refuses_a_bad_file_whole() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    stdout_of(server.cli(&["apply", "-f", &shop_definitions()]));
    let events = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    let mut text = String::from("user_id,item_id,amount,ts\n");
    for i in 0..25 {
        text.push_str(&format!("{i},1,1.0,2026-11-20T10:00:00Z\n"));
    }
    text.push_str("26,1,lots,2026-11-20T10:00:00Z\n");
    std::fs::write(events.path(), text).unwrap();
    let output = server.cli(&[
        "ingest",
        "--source",
        "purchases",
        "--batch-rows",
        "10",
        events.path().to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("INVALID_ARGUMENT: ")
            && stderr.contains("row 26, column 'amount': 'lots' is not a number"),
        "{stderr}"
    );
    // With --json the refusal is on stdout, structured, with a non-zero exit.
    let output = server.cli(&[
        "ingest",
        "--source",
        "purchases",
        "--batch-rows",
        "10",
        "--json",
        events.path().to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["error"]["code"], "INVALID_ARGUMENT", "{printed}");
    assert_eq!(
        printed["error"]["rows"],
        serde_json::json!([{"row": 26, "column": "amount", "reason": "'lots' is not a number"}])
    );
    // Skipping bad rows, the rows left out are numbered the same way.
    let output = server.cli(&[
        "ingest",
        "--source",
        "purchases",
        "--batch-rows",
        "10",
        "--skip-bad-rows",
        "--json",
        events.path().to_str().unwrap(),
    ]);
    let printed: serde_json::Value = serde_json::from_str(&stdout_of(output)).unwrap();
    assert_eq!(printed["accepted"], 25, "{printed}");
    assert_eq!(
        printed["errors"],
        serde_json::json!([{"row": 26, "column": "amount", "reason": "'lots' is not a number"}])
    );
    let status = stdout_of(server.cli(&["status", "--json"]));
    assert!(
        status.contains(r#""events_accepted":25"#),
        "only the skipping run wrote: {status}"
    );
}

/// A Parquet file goes over the wire as Arrow IPC; columns are cast to the source
/// types (int32 to int64 here), and a value that cannot be cast is a row error.
#[tokio::test(flavor = "multi_thread")]
async fn parquet_files_are_ingested_as_arrow() {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int32Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    stdout_of(server.cli(&["apply", "-f", &shop_definitions()]));
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int32, false),
        Field::new("item_id", DataType::Int32, false),
        Field::new("amount", DataType::Float64, true),
        Field::new("ts", DataType::Utf8, true),
    ]));
    let rows = 2_500;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from_iter_values(0..rows)),
            Arc::new(Int32Array::from_iter_values((0..rows).map(|i| i % 2 + 1))),
            Arc::new(Float64Array::from_iter_values((0..rows).map(f64::from))),
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|_| "2026-11-20T10:00:00"),
            )),
        ],
    )
    .unwrap();
    let file = tempfile::Builder::new()
        .suffix(".parquet")
        .tempfile()
        .unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file.reopen().unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let out = stdout_of(server.cli(&[
        "ingest",
        "--source",
        "purchases",
        "--batch-rows",
        "1000",
        file.path().to_str().unwrap(),
        "--json",
    ]));
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["accepted"], 2_500);

    // A timestamp text that does not parse is refused with its row.
    let bad = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("user_id", DataType::Int64, false),
            Field::new("ts", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(arrow::array::Int64Array::from(vec![1, 2])),
            Arc::new(StringArray::from(vec!["2026-11-20T10:00:00Z", "soon"])),
        ],
    )
    .unwrap();
    let mut ipc = arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &bad.schema()).unwrap();
    ipc.write(&bad).unwrap();
    let request = proto::IngestRequest {
        source: "purchases".into(),
        format: PayloadFormat::ArrowIpc as i32,
        data: ipc.into_inner().unwrap(),
        skip_bad_rows: false,
        validate_only: false,
        wait: false,
    };
    let status = server.client().await.ingest(request).await.unwrap_err();
    let details = proto::IngestResponse::decode(status.details()).unwrap();
    let errors: Vec<(u64, &str)> = details
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_str()))
        .collect();
    assert_eq!(errors, vec![(1, "ts")]);
}

/// A bad definitions file is refused at apply, with every problem located, and
/// nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn apply_refuses_bad_definitions_with_located_errors() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::fs::write(
        file.path(),
        "sources:\n  - name: clicks\n    stream: {}\n    schema: { user_id: int64, ts: timestamp }\n    event_time: ts\n\
         entities:\n  - { name: user, key: user_id }\n\
         features:\n  - { name: clicks_1x, entity: user, source: clicks, aggregate: count(*), window: 1x }\n\
         \x20 - { name: spend, entity: shopper, source: clicks, aggregate: sum(user_id) }\n",
    )
    .unwrap();
    let output = server.cli(&["apply", "-f", file.path().to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let name = file.path().display().to_string();
    assert!(
        stderr.contains(&format!(
            "{name}: feature 'clicks_1x', field 'window': duration '1x' has unknown unit 'x' (use ms, s, m, h, d or w)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{name}: feature 'spend', field 'entity': unknown entity 'shopper' (known: user)"
        )),
        "{stderr}"
    );
    // With --json, each problem structured on stdout.
    let output = server.cli(&["apply", "-f", file.path().to_str().unwrap(), "--json"]);
    assert!(!output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["error"]["code"], "INVALID_ARGUMENT", "{printed}");
    let problems = printed["error"]["problems"].as_array().unwrap();
    for expected in [
        serde_json::json!({
            "file": name, "object": "feature 'clicks_1x'", "field": "window",
            "sql_line": null, "sql_column": null,
            "reason": "duration '1x' has unknown unit 'x' (use ms, s, m, h, d or w)",
        }),
        serde_json::json!({
            "file": name, "object": "feature 'spend'", "field": "entity",
            "sql_line": null, "sql_column": null,
            "reason": "unknown entity 'shopper' (known: user)",
        }),
    ] {
        assert!(problems.contains(&expected), "{expected} not in {printed}");
    }
    let status = stdout_of(server.cli(&["status", "--json"]));
    assert_eq!(
        status.trim(),
        r#"{"features":[],"sources":[]}"#,
        "nothing was stored"
    );
}

/// `apply -f NAME.yaml` run from the file's own folder works, and a relative
/// `file://` URI inside it resolves against that folder: the engine joins events
/// with the items file found there.
#[tokio::test(flavor = "multi_thread")]
async fn apply_a_file_in_the_current_folder() {
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    common::engine_definitions_in(folder.path(), "");
    let server = Server::start(data.path());
    let output = std::process::Command::new(common::freshet())
        .args(["apply", "-f", "engine.yaml", "--server", &server.url])
        .current_dir(folder.path())
        .output()
        .unwrap();
    let plan = stdout_of(output);
    assert!(plan.contains("source items"), "{plan}");
    assert!(plan.contains("feature last_category"), "{plan}");

    // user 7 buys item 2, which items.csv (beside engine.yaml) says is a game.
    let now = chrono::Utc::now().timestamp_millis();
    let mut ingest = std::process::Command::new(common::freshet())
        .args(["ingest", "--source", "purchases", "--wait", "-"])
        .args(["--server", &server.url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    ingest
        .stdin
        .take()
        .unwrap()
        .write_all(
            format!(r#"{{"user_id": 7, "item_id": 2, "amount": 1.5, "ts": {now}}}"#).as_bytes(),
        )
        .unwrap();
    stdout_of(ingest.wait_with_output().unwrap());
    let printed = stdout_of(server.cli(&[
        "get",
        "--features",
        "last_category",
        "--entity",
        "user=7",
        "--json",
    ]));
    let printed: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(
        printed["rows"],
        serde_json::json!([{"user_id": 7, "last_category": "games"}])
    );
}
