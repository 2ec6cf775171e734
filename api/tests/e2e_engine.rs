//! End to end through the engine: the real binary, events ingested over gRPC,
//! a stream–file join, a GROUP BY view and windowed features, read back with
//! `GetOnlineFeatures` and `freshet get`. Expected values are worked by hand from
//! the events below.

mod common;

use common::{engine_definitions_in, stdout_of, Server};
use freshet_api::proto::{self, entity_key::Key, feature_value::Value as V, PayloadFormat};
use freshet_testkit::server::metric;

const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

fn definitions_in(dir: &std::path::Path) -> String {
    engine_definitions_in(dir, "")
}

fn event(user: i64, item: i64, amount: f64, ts: i64) -> String {
    format!(
        r#"{{"user_id":{user},"item_id":{item},"amount":{amount},"ts":{}}}"#,
        ts / 1000
    )
}

fn ingest(lines: &[String], wait: bool) -> proto::IngestRequest {
    proto::IngestRequest {
        source: "purchases".into(),
        format: PayloadFormat::JsonLines as i32,
        data: lines.join("\n").into_bytes(),
        skip_bad_rows: false,
        validate_only: false,
        wait,
    }
}

fn int(key: i64) -> proto::EntityKey {
    proto::EntityKey {
        key: Some(Key::IntValue(key)),
    }
}

fn text(key: &str) -> proto::EntityKey {
    proto::EntityKey {
        key: Some(Key::StringValue(key.into())),
    }
}

fn get(
    features: &[&str],
    entity: &str,
    keys: Vec<proto::EntityKey>,
) -> proto::GetOnlineFeaturesRequest {
    proto::GetOnlineFeaturesRequest {
        features: features.iter().map(|f| f.to_string()).collect(),
        entity: entity.into(),
        keys,
    }
}

/// A value as the test writes expectations: `None` for null.
#[derive(Debug, PartialEq)]
enum Expect {
    Null,
    I(i64),
    F(f64),
    S(&'static str),
}

fn actual(value: &proto::FeatureValue) -> Expect {
    match &value.value {
        None => Expect::Null,
        Some(V::IntValue(v)) => Expect::I(*v),
        Some(V::DoubleValue(v)) => Expect::F(*v),
        Some(V::StringValue(v)) => Expect::S(Box::leak(v.clone().into_boxed_str())),
        Some(other) => panic!("unexpected value {other:?}"),
    }
}

const USER_FEATURES: [&str; 6] = [
    "spend_7d",
    "purchases_1d",
    "last_category",
    "lifetime_max",
    "categories_30d",
    "avg_1d_filled",
];

async fn user_rows(server: &Server) -> (Vec<Vec<Expect>>, proto::GetOnlineFeaturesResponse) {
    let response = server
        .client()
        .await
        .get_online_features(get(&USER_FEATURES, "user", vec![int(1), int(2), int(3)]))
        .await
        .unwrap()
        .into_inner();
    (rows_of(&response), response)
}

/// A response's rows as the test writes expectations.
fn rows_of(response: &proto::GetOnlineFeaturesResponse) -> Vec<Vec<Expect>> {
    response
        .rows
        .iter()
        .map(|row| row.values.iter().map(actual).collect())
        .collect()
}

/// The purchases the hand-worked rows below come from, `now` being whole
/// seconds. Items: 1 = books, 2 = games; item 3 is not in the file, so the join
/// drops it.
fn hand_worked_events(now: i64) -> Vec<String> {
    vec![
        event(1, 1, 10.0, now - 8 * DAY),
        event(1, 2, 20.0, now - 2 * DAY),
        event(1, 1, 5.5, now - HOUR),
        event(1, 3, 100.0, now - 30 * MINUTE),
        event(2, 2, 7.0, now - 20 * MINUTE),
    ]
}

/// The user features of users 1, 2 and an unknown user after
/// [`hand_worked_events`], worked by hand.
fn hand_worked_user_rows() -> Vec<Vec<Expect>> {
    use Expect::*;
    vec![
        // 7d: 20 + 5.5; 1d: two purchases (one of item 3); latest joined category;
        // lifetime max includes item 3; 30d categories {books, games}; 1d avg (5.5 + 100) / 2.
        vec![F(25.5), I(2), S("books"), F(100.0), I(2), F(52.75)],
        vec![F(7.0), I(1), S("games"), F(7.0), I(1), F(7.0)],
        // Unknown user: defaults, count 0, NULL without default, fill 99.
        vec![F(0.0), I(0), S("none"), Null, I(0), F(99.0)],
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn features_are_served_after_ingest_with_read_after_write() {
    let dir = tempfile::tempdir().unwrap();
    let definitions = definitions_in(dir.path());
    let data = dir.path().join("data");
    let server = Server::start(&data);
    stdout_of(server.cli(&["apply", "-f", &definitions]));

    let now = chrono::Utc::now().timestamp_micros() / 1_000_000 * 1_000_000;
    let events = hand_worked_events(now);
    let mut client = server.client().await;
    let response = client
        .ingest(ingest(&events, true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((response.accepted, response.late), (5, 0));

    // Read-after-write: the response came back only once the events were applied.
    let (rows, response) = user_rows(&server).await;
    use Expect::*;
    assert_eq!(rows, hand_worked_user_rows());
    assert_eq!(
        response.features,
        USER_FEATURES
            .iter()
            .map(|f| format!("{f}@v1"))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        response.types,
        vec!["float64", "int64", "string", "float64", "int64", "float64"]
    );
    // The entity may be named by its key column, or left for the features to
    // name: the same rows.
    for entity in ["user_id", ""] {
        let named = client
            .get_online_features(get(&USER_FEATURES, entity, vec![int(1), int(2), int(3)]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(rows_of(&named), rows, "entity named {entity:?}");
    }
    // A version named twice (bare and pinned, or repeated) answers in every
    // column it was asked for, the same values as read alone.
    let repeated = client
        .get_online_features(get(
            &["spend_7d", "spend_7d@v1", "purchases_1d", "spend_7d"],
            "user",
            vec![int(1), int(2), int(3)],
        ))
        .await
        .unwrap()
        .into_inner();
    let expected: Vec<Vec<Expect>> = hand_worked_user_rows()
        .into_iter()
        .map(|mut row| {
            let purchases = row.remove(1);
            let spend = row.remove(0);
            let again = || match &spend {
                F(v) => F(*v),
                other => panic!("spend_7d is a float, not {other:?}"),
            };
            vec![again(), again(), purchases, again()]
        })
        .collect();
    assert_eq!(rows_of(&repeated), expected);
    assert_eq!(
        repeated.features,
        [
            "spend_7d@v1",
            "spend_7d@v1",
            "purchases_1d@v1",
            "spend_7d@v1"
        ]
    );
    let evaluated = response.evaluated_at_micros;
    assert!(
        evaluated >= now && evaluated < now + 10 * MINUTE,
        "evaluation time {evaluated} vs {now}"
    );

    // The GROUP BY view, read by key: books 10 + 5.5, games 20 + 7; unknown → default.
    let categories = client
        .get_online_features(get(
            &["category_revenue"],
            "category",
            vec![text("books"), text("games"), text("toys")],
        ))
        .await
        .unwrap()
        .into_inner();
    let revenue: Vec<Expect> = categories
        .rows
        .iter()
        .map(|r| actual(&r.values[0]))
        .collect();
    assert_eq!(revenue, vec![F(15.5), F(27.0), F(0.0)]);

    // An event more than the allowed lateness (1h) behind the watermark is late:
    // kept aside and counted, and no feature changes.
    let late = client
        .ingest(ingest(&[event(2, 1, 1.0, now - 3 * HOUR)], true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((late.accepted, late.late), (0, 1));
    assert_eq!(
        user_rows(&server).await.0[1],
        vec![F(7.0), I(1), S("games"), F(7.0), I(1), F(7.0)]
    );
    let status: serde_json::Value =
        serde_json::from_str(&stdout_of(server.cli(&["status", "--json"]))).unwrap();
    let purchases = &status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "purchases")
        .unwrap()
        .clone();
    assert_eq!(purchases["events_late"], 1);
    assert_eq!(purchases["events_rejected_kept"], 1);
    assert_eq!(purchases["events_processed"], 5);
    assert_eq!(purchases["lag"], 0);

    // The items file changes: item 3 becomes toys, and the join sees it.
    std::fs::write(
        dir.path().join("items.csv"),
        "item_id,category\n1,books\n2,games\n3,toys\n",
    )
    .unwrap();
    client
        .ingest(ingest(&[event(2, 3, 4.0, now - 10 * MINUTE)], true))
        .await
        .unwrap();
    let rows = user_rows(&server).await.0;
    assert_eq!(
        rows[1],
        vec![F(11.0), I(2), S("toys"), F(7.0), I(2), F(5.5)]
    );

    // With --json the CLI prints one object per key, the key named by the
    // entity's key column (as in training sets), features by the names asked
    // for.
    let printed = stdout_of(server.cli(&[
        "get",
        "--json",
        "--features",
        "spend_7d,purchases_1d",
        "--entity",
        "user=1",
        "--entity",
        "user=3",
    ]));
    let printed: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(
        printed["rows"],
        serde_json::json!([
            {"user_id": 1, "spend_7d": 25.5, "purchases_1d": 2},
            {"user_id": 3, "spend_7d": 0.0, "purchases_1d": 0}
        ])
    );
    assert_eq!(
        printed["features"],
        serde_json::json!(["spend_7d@v1", "purchases_1d@v1"])
    );
    // Without --json, an aligned table.
    let human = stdout_of(server.cli(&[
        "get",
        "--features",
        "spend_7d,purchases_1d",
        "--entity",
        "user=1",
        "--entity",
        "user=3",
    ]));
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "user_id  spend_7d  purchases_1d",
            "1        25.5      2",
            "3        0.0       0"
        ],
        "{human}"
    );
    assert!(lines[3].starts_with("evaluated at "), "{human}");
    // The same keys from a file: the same rows.
    let keys = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    std::fs::write(keys.path(), "user\n1\n3\n").unwrap();
    let from_file = stdout_of(server.cli(&[
        "get",
        "--features",
        "spend_7d,purchases_1d",
        "--entities",
        keys.path().to_str().unwrap(),
    ]));
    assert_eq!(from_file.lines().take(3).collect::<Vec<_>>(), lines[..3]);
    // An error with --json: on stdout, with its code, said once.
    let output = server.cli(&["get", "--features", "nope", "--entity", "user=1", "--json"]);
    assert!(!output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        printed,
        serde_json::json!({"error": {
            "code": "NOT_FOUND",
            "message": "feature 'nope' not found",
            "rows": [],
            "problems": []
        }})
    );

    // Metrics count what happened.
    let text = server.metrics().await;
    for line in [
        "freshet_events_in_total{source=\"purchases\"} 6",
        "freshet_events_late_total{source=\"purchases\"} 1",
        "freshet_events_processed_total{source=\"purchases\"} 6",
        "freshet_source_lag_events{source=\"purchases\"} 0",
    ] {
        assert!(text.contains(line), "metrics lack {line:?}:\n{text}");
    }
    assert!(text.contains("freshet_lookup_seconds_count "), "{text}");
    // Commits count the bytes they hand to the state store; on the embedded
    // defaults serving reads that state, so no second copy is written.
    let series = |store: &str| {
        format!("freshet_store_bytes_written_total{{source=\"purchases\",store=\"{store}\"}}")
    };
    let bytes = metric(&text, &series("state")).unwrap_or(0.0);
    assert!(bytes > 0.0, "state bytes are {bytes}:\n{text}");
    assert_eq!(metric(&text, &series("online")), None, "{text}");
    assert!(
        text.contains("freshet_micro_batch_seconds_bucket{source=\"purchases\""),
        "{text}"
    );

    // State and positions survive a restart: the same values, nothing reprocessed.
    server.stop();
    let server = Server::start(&data);
    assert_eq!(user_rows(&server).await.0, rows);
}

/// With `online: embedded` every commit's feature entries are copied to an
/// online store of its own, which serves the values hand-worked above; the same
/// data directory then serves them again from operator state (the default), so
/// a deployment can switch either way.
#[tokio::test(flavor = "multi_thread")]
async fn a_separate_online_store_serves_what_operator_state_serves() {
    let dir = tempfile::tempdir().unwrap();
    let definitions = definitions_in(dir.path());
    let data = dir.path().join("data");
    let config = dir.path().join("freshet.yaml");
    std::fs::write(&config, "online: embedded\n").unwrap();
    let config = config.display().to_string();
    let server = Server::start_with(&data, &["--config", &config]);
    stdout_of(server.cli(&["apply", "-f", &definitions]));
    let now = chrono::Utc::now().timestamp_micros() / 1_000_000 * 1_000_000;
    let events = hand_worked_events(now);
    let mut client = server.client().await;
    client.ingest(ingest(&events, true)).await.unwrap();
    let expected = hand_worked_user_rows();
    assert_eq!(user_rows(&server).await.0, expected);
    let text = server.metrics().await;
    let online = metric(
        &text,
        "freshet_store_bytes_written_total{source=\"purchases\",store=\"online\"}",
    );
    assert!(online.is_some_and(|bytes| bytes > 0.0), "{text}");
    assert!(data.join("online").is_dir());
    server.stop();

    let server = Server::start(&data);
    assert_eq!(user_rows(&server).await.0, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_lookups_are_invalid_arguments_that_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let definitions = definitions_in(dir.path());
    let server = Server::start(&dir.path().join("data"));
    stdout_of(server.cli(&["apply", "-f", &definitions]));
    let mut client = server.client().await;
    let cases = vec![
        (
            get(&["spend_7d"], "user", vec![int(1), text("abc")]),
            "entity key #1 (the string \"abc\")",
        ),
        (
            get(&["spend_7d", "category_revenue"], "user", vec![int(1)]),
            "'category_revenue@v1' describes entity 'category'",
        ),
        (
            get(&["spend_7d", "category_revenue"], "", vec![int(1)]),
            "'category_revenue@v1' describes entity 'category', not 'user'",
        ),
        (
            get(&["spend_7d"], "user", (0..10_001).map(int).collect()),
            "10001 entity keys",
        ),
        (get(&[], "user", vec![int(1)]), "no features"),
    ];
    for (request, needle) in cases {
        let status = client.get_online_features(request).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().contains(needle),
            "{needle:?} not in {:?}",
            status.message()
        );
    }
    // A feature or version that does not exist is NOT_FOUND, said once.
    let unknown = [
        (vec!["spend_7d", "nope"], "feature 'nope' not found"),
        (
            vec!["spend_7d@v9"],
            "feature 'spend_7d@v9' not found (versions: v1)",
        ),
    ];
    for (features, message) in unknown {
        let status = client
            .get_online_features(get(&features, "user", vec![int(1)]))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
        assert_eq!(status.message(), message);
    }
}

/// Rows that reach a feature without an entity key (a null `user_id`) or without
/// an event time (a transformation that nulls it) cannot be placed: each feature
/// version counts them by reason in `GetStatus` and the metrics, and the server's
/// log names the feature. The placed rows are worked by hand: user 1 has one click
/// on both features; user 2's only click has no event time after the
/// transformation, so only the direct feature counts it.
#[tokio::test(flavor = "multi_thread")]
async fn rows_without_key_or_event_time_are_counted_not_dropped() {
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let log = folder.path().join("server.log");
    let server = Server::start_logging_to(data.path(), &log);
    let definitions = folder.path().join("clicks.yaml");
    std::fs::write(
        &definitions,
        "sources:\n  - name: clicks\n    stream: {}\n    schema: { user_id: int64, amount: float64, ts: timestamp }\n    event_time: ts\n\
         transformations:\n  - name: clicks_checked\n    event_time: ts\n    sql: SELECT user_id, amount, CASE WHEN amount < 0 THEN NULL ELSE ts END AS ts FROM clicks\n\
         entities:\n  - { name: user, key: user_id }\n\
         features:\n  - { name: clicks_direct, entity: user, source: clicks, aggregate: count(*) }\n\
         \x20 - { name: clicks_checked_n, entity: user, source: clicks_checked, aggregate: count(*) }\n",
    )
    .unwrap();
    stdout_of(server.cli(&["apply", "-f", definitions.to_str().unwrap()]));
    let now = chrono::Utc::now().timestamp_micros();
    let lines = [
        format!(r#"{{"user_id":1,"amount":1.0,"ts":{}}}"#, now / 1000),
        format!(r#"{{"amount":2.0,"ts":{}}}"#, now / 1000),
        format!(r#"{{"user_id":2,"amount":-1.0,"ts":{}}}"#, now / 1000),
    ];
    let mut client = server.client().await;
    let mut request = ingest(&lines, true);
    request.source = "clicks".into();
    let accepted = client.ingest(request).await.unwrap().into_inner();
    assert_eq!(accepted.accepted, 3);

    let values = client
        .get_online_features(get(
            &["clicks_direct", "clicks_checked_n"],
            "user",
            vec![int(1), int(2)],
        ))
        .await
        .unwrap()
        .into_inner();
    let rows = rows_of(&values);
    assert_eq!(
        rows,
        vec![
            vec![Expect::I(1), Expect::I(1)],
            vec![Expect::I(1), Expect::I(0)]
        ]
    );

    let status = client
        .get_status(proto::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let skipped: Vec<(String, u64, u64)> = status
        .features
        .iter()
        .map(|f| {
            (
                format!("{}@v{}", f.name, f.version),
                f.rows_skipped_no_key,
                f.rows_skipped_no_event_time,
            )
        })
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("clicks_checked_n@v1".to_string(), 1, 1),
            ("clicks_direct@v1".to_string(), 1, 0),
        ]
    );
    let text = server.metrics().await;
    for line in [
        r#"freshet_rows_skipped_total{feature="clicks_direct@v1",reason="no_key"} 1"#,
        r#"freshet_rows_skipped_total{feature="clicks_checked_n@v1",reason="no_key"} 1"#,
        r#"freshet_rows_skipped_total{feature="clicks_checked_n@v1",reason="no_event_time"} 1"#,
    ] {
        assert!(text.contains(line), "metrics lack {line:?}:\n{text}");
    }
    let human = stdout_of(server.cli(&["status"]));
    assert!(
        human.contains("clicks_checked_n@v1")
            && human.contains("skipped rows: 1 without a key, 1 without an event time"),
        "{human}"
    );

    // The counts are committed with the state: a restart reports the same.
    server.stop();
    let server = Server::start(data.path());
    let status = server.status().await;
    let checked = status
        .features
        .iter()
        .find(|f| f.name == "clicks_checked_n")
        .unwrap();
    assert_eq!(
        (
            checked.rows_skipped_no_key,
            checked.rows_skipped_no_event_time
        ),
        (1, 1)
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.lines().any(|l| l.contains("skipped")
            && l.contains("feature=clicks_checked_n@v1")
            && l.contains("no_event_time=1")),
        "{logged}"
    );
}
