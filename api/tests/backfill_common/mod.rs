//! Shared by the backfill and version tests (e2e_backfill.rs,
//! e2e_backfill_kill.rs, e2e_versions_dag.rs): generated events sent as Arrow IPC,
//! a brute-force reference over them, online reads and feature-version status.
//! Every expected value comes from [`Reference`], never from the server.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use freshet_api::proto::{
    self, entity_key::Key, feature_store_client::FeatureStoreClient, PayloadFormat,
};
use rand::Rng;
use tonic::transport::Channel;

use crate::common::{stdout_of, Server};

pub const MINUTE: i64 = 60_000_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// The version states of the interface.
pub const STATES: [&str; 5] = ["BACKFILLING", "READY", "ACTIVE", "FAILED", "RETIRED"];

pub type Client = FeatureStoreClient<Channel>;

// ---------------------------------------------------------------------------
// Events.

/// One generated event of a `(user_id int64, amount float64, ts timestamp)` stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub user: i64,
    /// A small whole number, so that every sum is exact in any order.
    pub amount: f64,
    /// Event time, microseconds since the epoch.
    pub ts: i64,
}

/// The current time in microseconds, whole milliseconds.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_millis() * 1000
}

pub fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .expect("a representable instant")
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// `count` events of users `1..=users` with whole amounts in `1..=max_amount` and
/// event times drawn by `time`, sorted by event time.
pub fn generate<R: Rng>(
    rng: &mut R,
    count: usize,
    users: i64,
    max_amount: i64,
    mut time: impl FnMut(&mut R) -> i64,
) -> Vec<Event> {
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        let ts = time(&mut *rng);
        events.push(Event {
            user: rng.random_range(1..=users),
            amount: rng.random_range(1..=max_amount) as f64,
            ts,
        });
    }
    events.sort_by_key(|e| e.ts);
    events
}

/// `events` as an Arrow IPC stream of the source's columns.
pub fn arrow_ipc(events: &[Event]) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("amount", DataType::Float64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.user))) as ArrayRef,
            Arc::new(Float64Array::from_iter_values(
                events.iter().map(|e| e.amount),
            )),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                events.iter().map(|e| e.ts),
            )),
        ],
    )
    .expect("an events batch");
    let mut writer =
        arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &schema).expect("an IPC writer");
    writer.write(&batch).expect("IPC write");
    writer.into_inner().expect("IPC bytes")
}

/// Sends `events` (in event-time order) to `source` in `chunk_rows`-row Arrow IPC
/// requests, checks every row is accepted and none is late, then waits until
/// everything ingested is reflected online.
pub async fn ingest(server: &Server, source: &str, events: &[Event], chunk_rows: usize) {
    let mut client = server.client().await;
    for (i, chunk) in events.chunks(chunk_rows).enumerate() {
        let response = client
            .ingest(proto::IngestRequest {
                source: source.into(),
                format: PayloadFormat::ArrowIpc as i32,
                data: arrow_ipc(chunk),
                skip_bad_rows: false,
                validate_only: false,
                wait: false,
            })
            .await
            .unwrap_or_else(|status| panic!("ingest chunk {i} into {source}: {status:?}"))
            .into_inner();
        assert_eq!(
            (response.accepted, response.rejected, response.late),
            (chunk.len() as u64, 0, 0),
            "chunk {i} into {source}: every event accepted, none late ({:?})",
            response.errors.first()
        );
    }
    wait_processed(&mut client, source).await;
}

/// A request without rows and with `wait`: returns once everything ingested so
/// far is processed.
pub async fn wait_processed(client: &mut Client, source: &str) {
    client
        .ingest(proto::IngestRequest {
            source: source.into(),
            format: PayloadFormat::JsonLines as i32,
            data: Vec::new(),
            skip_bad_rows: false,
            validate_only: false,
            wait: true,
        })
        .await
        .unwrap_or_else(|status| panic!("wait for {source} to be processed: {status:?}"));
}

// ---------------------------------------------------------------------------
// The brute-force reference.

/// What a feature computes, for the reference (these tests use count, sum, avg).
pub use freshet_testkit::reference::Function as Agg;
pub use freshet_testkit::values::{cell, close, same, Val};

/// A feature as the reference computes it: `agg` over the events whose amount is
/// in `[min_amount, max_amount)` with event time in `(t - window, t]` (`t` and
/// before for a lifetime feature); `default` when no event is covered (count
/// gives 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub agg: Agg,
    pub window: Option<i64>,
    pub default: Option<f64>,
    pub min_amount: f64,
    pub max_amount: f64,
}

impl Spec {
    pub fn new(agg: Agg, window: Option<i64>) -> Spec {
        Spec {
            agg,
            window,
            default: None,
            min_amount: f64::NEG_INFINITY,
            max_amount: f64::INFINITY,
        }
    }

    pub fn with_default(self, default: f64) -> Spec {
        Spec {
            default: Some(default),
            ..self
        }
    }

    /// Only events with `min <= amount < max`.
    pub fn amounts(self, min: f64, max: f64) -> Spec {
        Spec {
            min_amount: min,
            max_amount: max,
            ..self
        }
    }
}

/// Every event by user, in event-time order.
#[derive(Debug, Default, Clone)]
pub struct Reference {
    by_user: HashMap<i64, Vec<Event>>,
}

impl Reference {
    pub fn new(events: &[Event]) -> Reference {
        let mut reference = Reference::default();
        reference.add(events);
        reference
    }

    pub fn add(&mut self, events: &[Event]) {
        for event in events {
            self.by_user.entry(event.user).or_default().push(*event);
        }
        for user_events in self.by_user.values_mut() {
            user_events.sort_by_key(|e| e.ts);
        }
    }

    /// `spec` for `user` as of `t`, by the test kit's brute-force reference.
    pub fn value(&self, spec: &Spec, user: i64, t: i64) -> Val {
        let events = self.by_user.get(&user).map(Vec::as_slice).unwrap_or(&[]);
        let in_range = events
            .iter()
            .filter(|e| e.amount >= spec.min_amount && e.amount < spec.max_amount)
            .map(|e| (e.ts, Val::F(e.amount)));
        freshet_testkit::reference::evaluate(spec.agg, spec.window, t, in_range)
            .or(spec.default.map(Val::F))
    }
}

// ---------------------------------------------------------------------------
// Values and reads.

pub use crate::common::online_val as val;

pub fn key(user: i64) -> proto::EntityKey {
    proto::EntityKey {
        key: Some(Key::IntValue(user)),
    }
}

/// One `GetOnlineFeatures` answer.
#[derive(Debug, Clone)]
pub struct Read {
    /// The versions used, `name@vN`, in request order.
    pub versions: Vec<String>,
    /// The evaluation time.
    pub at: i64,
    /// Per user (request order), one value per feature.
    pub rows: Vec<Vec<Val>>,
}

impl Read {
    /// Column `feature` (its index in the request), in user order.
    pub fn column(&self, feature: usize) -> Vec<Val> {
        self.rows.iter().map(|row| row[feature].clone()).collect()
    }
}

/// Reads `features` of the `user` entity for `users`.
pub async fn read(
    client: &mut Client,
    features: &[&str],
    users: &[i64],
) -> Result<Read, tonic::Status> {
    let response = client
        .get_online_features(proto::GetOnlineFeaturesRequest {
            features: features.iter().map(|f| f.to_string()).collect(),
            entity: "user".into(),
            keys: users.iter().map(|&u| key(u)).collect(),
        })
        .await?
        .into_inner();
    assert_eq!(response.rows.len(), users.len(), "one row per key");
    let rows = response
        .rows
        .iter()
        .map(|row| {
            assert_eq!(row.values.len(), features.len(), "one value per feature");
            row.values.iter().map(val).collect()
        })
        .collect();
    Ok(Read {
        versions: response.features,
        at: response.evaluated_at_micros,
        rows,
    })
}

/// [`read`], which must succeed.
pub async fn read_ok(client: &mut Client, features: &[&str], users: &[i64]) -> Read {
    read(client, features, users)
        .await
        .unwrap_or_else(|status| panic!("GetOnlineFeatures {features:?}: {status:?}"))
}

/// The training set of `features` for `users` at instant `at` (one label row
/// per user, sent inline as Arrow IPC), as a [`Read`]: the offline values to
/// set beside an online read at the same instant.
pub async fn train_at(client: &mut Client, features: &[&str], users: &[i64], at: i64) -> Read {
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ]));
    let labels = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(users.to_vec())) as ArrayRef,
            Arc::new(TimestampMicrosecondArray::from(vec![at; users.len()])) as ArrayRef,
        ],
    )
    .expect("label rows");
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &schema).unwrap();
    writer.write(&labels).unwrap();
    let request = proto::GenerateTrainingSetRequest {
        features: features.iter().map(|f| f.to_string()).collect(),
        labels_arrow_ipc: writer.into_inner().unwrap(),
        timestamp_column: "ts".into(),
        ..Default::default()
    };
    let mut stream = client
        .generate_training_set(request)
        .await
        .unwrap_or_else(|status| panic!("GenerateTrainingSet {features:?}: {status:?}"))
        .into_inner();
    let mut batches = Vec::new();
    while let Some(message) = stream
        .message()
        .await
        .unwrap_or_else(|status| panic!("GenerateTrainingSet {features:?}: {status:?}"))
    {
        if !message.arrow_ipc.is_empty() {
            let reader = arrow::ipc::reader::StreamReader::try_new(
                std::io::Cursor::new(message.arrow_ipc),
                None,
            )
            .expect("an Arrow IPC stream");
            batches.extend(reader.map(|batch| batch.expect("a record batch")));
        }
    }
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    assert_eq!(
        batch.num_rows(),
        users.len(),
        "one training row per label row"
    );
    let columns: Vec<ArrayRef> = features
        .iter()
        .map(|f| {
            batch
                .column_by_name(f)
                .unwrap_or_else(|| panic!("no column {f} in the training set"))
                .clone()
        })
        .collect();
    Read {
        versions: features.iter().map(|f| f.to_string()).collect(),
        at,
        rows: (0..users.len())
            .map(|row| columns.iter().map(|c| cell(c.as_ref(), row)).collect())
            .collect(),
    }
}

/// The differences between column `feature` of `read` and `expected` (one per
/// user, `users` order), described with the user and the read time; floats
/// within 1e-9 relative count as equal.
pub fn differences(
    read: &Read,
    feature: usize,
    users: &[i64],
    expected: &[Val],
    what: &str,
) -> Vec<String> {
    differences_by(read, feature, users, expected, what, close)
}

/// [`differences`] with exact equality (sums and counts of whole numbers).
pub fn exact_differences(
    read: &Read,
    feature: usize,
    users: &[i64],
    expected: &[Val],
    what: &str,
) -> Vec<String> {
    differences_by(read, feature, users, expected, what, same)
}

fn differences_by(
    read: &Read,
    feature: usize,
    users: &[i64],
    expected: &[Val],
    what: &str,
    equal: fn(&Val, &Val) -> bool,
) -> Vec<String> {
    assert_eq!(expected.len(), users.len());
    let mut wrong = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let actual = &read.rows[i][feature];
        if !equal(actual, &expected[i]) {
            wrong.push(format!(
                "{what} ({}), user {user} at {}: served {actual:?}, expected {:?}",
                read.versions.get(feature).map_or("?", String::as_str),
                rfc3339(read.at),
                expected[i]
            ));
        }
    }
    wrong
}

/// Panics with the first differences, if any.
pub fn assert_no_differences(wrong: &[String], context: &str) {
    assert!(
        wrong.is_empty(),
        "{context}: {} values differ:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(25)].join("\n")
    );
}

/// The reference's values of `spec` for `users` at the read's evaluation time.
pub fn expected_at(read: &Read, users: &[i64], reference: &Reference, spec: &Spec) -> Vec<Val> {
    users
        .iter()
        .map(|&u| reference.value(spec, u, read.at))
        .collect()
}

/// Checks column `feature` of `read` against `spec` evaluated by `reference` at
/// the read's evaluation time, for every user (floats within 1e-9 relative).
pub fn check_against_reference(
    read: &Read,
    feature: usize,
    users: &[i64],
    reference: &Reference,
    spec: &Spec,
    what: &str,
) {
    let expected = expected_at(read, users, reference, spec);
    assert_no_differences(
        &differences(read, feature, users, &expected, what),
        &format!("{what} against the brute-force reference"),
    );
}

/// [`check_against_reference`] with exact equality.
pub fn check_exact(
    read: &Read,
    feature: usize,
    users: &[i64],
    reference: &Reference,
    spec: &Spec,
    what: &str,
) {
    let expected = expected_at(read, users, reference, spec);
    assert_no_differences(
        &exact_differences(read, feature, users, &expected, what),
        &format!("{what} against the brute-force reference (exact)"),
    );
}

/// A read refused because `feature` is still backfilling: INVALID_ARGUMENT, with
/// the state and the feature in the message.
pub fn assert_backfilling_error(error: &tonic::Status, feature: &str) {
    assert_eq!(
        error.code(),
        tonic::Code::InvalidArgument,
        "a read of backfilling {feature}: {error:?}"
    );
    assert!(
        error.message().contains("BACKFILLING") && error.message().contains(feature),
        "a read of backfilling {feature} should say so and name it: {:?}",
        error.message()
    );
}

// ---------------------------------------------------------------------------
// Feature-version status.

/// `WaitForFeature` for each of `references` in turn, which must succeed.
pub async fn wait_for(server: &Server, references: &[&str]) -> Vec<proto::FeatureVersionStatus> {
    let mut client = server.client().await;
    let mut caught_up = Vec::new();
    for reference in references {
        caught_up.push(
            client
                .wait_for_feature(proto::WaitForFeatureRequest {
                    reference: reference.to_string(),
                })
                .await
                .unwrap_or_else(|status| panic!("WaitForFeature {reference}: {status:?}"))
                .into_inner(),
        );
    }
    caught_up
}

pub async fn status(client: &mut Client) -> proto::GetStatusResponse {
    client
        .get_status(proto::GetStatusRequest {})
        .await
        .unwrap_or_else(|status| panic!("GetStatus: {status:?}"))
        .into_inner()
}

/// The status entry of `name@vVERSION`, if any.
pub fn version_of<'a>(
    status: &'a proto::GetStatusResponse,
    name: &str,
    version: u32,
) -> Option<&'a proto::FeatureVersionStatus> {
    status
        .features
        .iter()
        .find(|f| f.name == name && f.version == version)
}

/// The versions `status` lists for feature `name`, ascending.
pub fn versions_of(status: &proto::GetStatusResponse, name: &str) -> Vec<u32> {
    let mut versions: Vec<u32> = status
        .features
        .iter()
        .filter(|f| f.name == name)
        .map(|f| f.version)
        .collect();
    versions.sort_unstable();
    versions
}

/// The state of `name@vVERSION`; panics (with every entry) when it is not listed.
pub fn state_of(status: &proto::GetStatusResponse, name: &str, version: u32) -> String {
    match version_of(status, name, version) {
        Some(entry) => entry.state.clone(),
        None => panic!(
            "GetStatus lists no {name}@v{version}:\n{}",
            describe(status)
        ),
    }
}

/// Every feature-version entry, one per line, for failure messages.
pub fn describe(status: &proto::GetStatusResponse) -> String {
    let mut text = String::new();
    for f in &status.features {
        let _ = writeln!(
            text,
            "  {}@v{} {} done {} / {} ({:.0}/s, eta {:.1}s) frozen {} {}",
            f.name,
            f.version,
            f.state,
            f.events_done,
            f.events_total,
            f.events_per_second,
            f.eta_seconds,
            f.frozen,
            f.cause
        );
    }
    text
}

/// Checks the invariants every status entry keeps: a known state, progress within
/// the total while backfilling; a FAILED version fails the test, with its cause.
pub fn check_entries(status: &proto::GetStatusResponse) {
    for f in &status.features {
        assert!(
            STATES.contains(&f.state.as_str()),
            "{}@v{}: unknown state {:?}",
            f.name,
            f.version,
            f.state
        );
        assert_ne!(
            f.state,
            "FAILED",
            "{}@v{} FAILED: {}\n{}",
            f.name,
            f.version,
            f.cause,
            describe(status)
        );
        if f.state == "BACKFILLING" {
            assert!(
                f.events_done <= f.events_total,
                "{}@v{}: {} events done of {}\n{}",
                f.name,
                f.version,
                f.events_done,
                f.events_total,
                describe(status)
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Definitions and the command line.

/// Writes `sources` (a YAML list of sources), the `user` entity (key `user_id`),
/// optional `transformations` and `features` (YAML flow mappings, one per line)
/// to `dir/file`; returns the path.
pub fn write_definitions(
    dir: &Path,
    file: &str,
    sources: &str,
    transformations: &[&str],
    features: &[&str],
) -> String {
    let mut text = format!("sources:\n{sources}");
    if !transformations.is_empty() {
        text.push_str("transformations:\n");
        for t in transformations {
            text.push_str(t);
        }
    }
    text.push_str("entities:\n  - { name: user, key: user_id }\nfeatures:\n");
    for feature in features {
        let _ = writeln!(text, "  - {{ {feature} }}");
    }
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A stream source `name` of `(user_id int64, amount float64, ts timestamp)`
/// with `partitions` partitions, as a YAML list item.
pub fn stream_source(name: &str, partitions: u32) -> String {
    format!(
        "  - name: {name}\n    stream: {{ partitions: {partitions} }}\n    \
         schema: {{ user_id: int64, amount: float64, ts: timestamp }}\n    \
         event_time: ts\n"
    )
}

/// `freshet apply -f FILE --json`, which must succeed: its changes as
/// `(kind, name, action, version, previous_version or 0)`.
pub fn apply(server: &Server, file: &str) -> Vec<(String, String, String, u64, u64)> {
    let out = stdout_of(server.cli(&["apply", "-f", file, "--json"]));
    let plan: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("apply printed {out:?}: {e}"));
    plan["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no changes in {plan}"))
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or_default().to_string(),
                c["name"].as_str().unwrap_or_default().to_string(),
                c["action"].as_str().unwrap_or_default().to_string(),
                c["version"].as_u64().unwrap_or_default(),
                c["previous_version"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// The change of `kind name` in an apply plan: `(action, version,
/// previous_version or 0)`.
pub fn planned(
    plan: &[(String, String, String, u64, u64)],
    kind: &str,
    name: &str,
) -> (String, u64, u64) {
    plan.iter()
        .find(|c| c.0 == kind && c.1 == name)
        .map(|c| (c.2.clone(), c.3, c.4))
        .unwrap_or_else(|| panic!("{kind} {name} is not in the plan {plan:?}"))
}

/// The entry of `name@vVERSION` in `freshet status --json`.
pub fn cli_status_entry(server: &Server, name: &str, version: u32) -> serde_json::Value {
    let out = stdout_of(server.cli(&["status", "--json"]));
    let status: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("status printed {out:?}: {e}"));
    status["features"]
        .as_array()
        .unwrap_or_else(|| panic!("no features in freshet status --json: {status}"))
        .iter()
        .find(|f| f["name"] == name && f["version"] == version)
        .cloned()
        .unwrap_or_else(|| panic!("no {name}@v{version} in freshet status --json: {status}"))
}

/// The stderr of a client command that must fail.
pub fn cli_error(server: &Server, args: &[&str]) -> String {
    let output = server.cli(args);
    assert!(
        !output.status.success(),
        "freshet {args:?} succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}
