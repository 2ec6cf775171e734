//! Exactly-once under SIGKILL: the real server is killed at random points (after
//! a random number of acknowledged requests) while events are being ingested and
//! processed, restarted, and fed the rest; its final
//! online values must equal those of a server that was never killed.

mod common;

use common::{engine_definitions_in, stdout_of, Server};
use freshet_api::proto::{self, entity_key::Key, PayloadFormat};
use rand::{Rng, SeedableRng};

const CHUNKS: usize = 60;
const CHUNK_ROWS: usize = 400;
const USERS: i64 = 300;
const ROUNDS: usize = 12;

const FEATURES: [&str; 7] = [
    "spend_7d",
    "purchases_1d",
    "last_category",
    "lifetime_max",
    "categories_30d",
    "avg_1d_filled",
    "spend_zscore",
];

/// The engine test definitions plus one feature whose value transform depends on
/// statistics of what it has seen.
fn definitions_in(dir: &std::path::Path) -> String {
    engine_definitions_in(
        dir,
        "  - { name: spend_zscore, entity: user, source: purchases, aggregate: sum(amount), window: 1d, transform: { scale: zscore, clip: [0.05, 0.95] } }\n",
    )
}

/// The events of chunk `i`: the same in every run, in event-time order across
/// chunks, timestamps within the last day.
fn chunk(i: usize, start: i64) -> Vec<u8> {
    let mut lines = Vec::with_capacity(CHUNK_ROWS);
    for j in 0..CHUNK_ROWS {
        let n = (i * CHUNK_ROWS + j) as i64;
        let user = (n * 7919) % USERS;
        let item = n % 3 + 1;
        let amount = ((n * 37) % 1000) as f64 / 10.0;
        let ts_ms = start / 1000 + n * 1000;
        lines.push(format!(
            r#"{{"user_id":{user},"item_id":{item},"amount":{amount},"ts":{ts_ms}}}"#
        ));
    }
    lines.join("\n").into_bytes()
}

fn request(data: Vec<u8>, wait: bool) -> proto::IngestRequest {
    proto::IngestRequest {
        source: "purchases".into(),
        format: PayloadFormat::JsonLines as i32,
        data,
        skip_bad_rows: false,
        validate_only: false,
        wait,
    }
}

async fn accepted(server: &Server) -> u64 {
    let status = server.status().await;
    status
        .sources
        .iter()
        .find(|s| s.name == "purchases")
        .unwrap()
        .events_accepted
}

/// Sends chunks `from..CHUNKS`, the last with `wait` so that it returns once
/// every event is reflected online.
async fn send_rest(server: &Server, from: usize, start: i64) {
    let mut client = server.client().await;
    for i in from..CHUNKS {
        client
            .ingest(request(chunk(i, start), i + 1 == CHUNKS))
            .await
            .unwrap();
    }
}

async fn online_values(server: &Server) -> Vec<String> {
    let response = server
        .client()
        .await
        .get_online_features(proto::GetOnlineFeaturesRequest {
            features: FEATURES.iter().map(|f| f.to_string()).collect(),
            entity: "user".into(),
            keys: (0..USERS)
                .map(|u| proto::EntityKey {
                    key: Some(Key::IntValue(u)),
                })
                .collect(),
        })
        .await
        .unwrap()
        .into_inner();
    response
        .rows
        .iter()
        .map(|row| format!("{:?}", row.values))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_and_restarted_server_ends_with_the_same_online_values() {
    let start = chrono::Utc::now().timestamp_micros() - 20 * 3_600_000_000;
    let seed: u64 = rand::rng().random();
    eprintln!("kill test seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    // The reference: never killed.
    let reference_dir = tempfile::tempdir().unwrap();
    let definitions = definitions_in(reference_dir.path());
    let server = Server::start(&reference_dir.path().join("data"));
    stdout_of(server.cli(&["apply", "-f", &definitions]));
    send_rest(&server, 0, start).await;
    let expected = online_values(&server).await;
    server.stop();

    // The same events, with SIGKILLs at random instants, folded in micro-batches
    // of one appended chunk each (many more commits for a kill to land among,
    // and other batch boundaries than the reference's).
    let dir = tempfile::tempdir().unwrap();
    let definitions = definitions_in(dir.path());
    let data = dir.path().join("data");
    let mut applied = false;
    for _ in 0..ROUNDS {
        let server = Server::start_with(&data, &["--micro-batch-rows", "1"]);
        if !applied {
            stdout_of(server.cli(&["apply", "-f", &definitions]));
            applied = true;
        }
        // Chunks are appended whole or not at all: the log says how many landed.
        let landed = accepted(&server).await as usize;
        assert_eq!(landed % CHUNK_ROWS, 0, "a chunk landed in part");
        let from = landed / CHUNK_ROWS;
        let url = server.url.clone();
        // The kill comes after a random number of acknowledged chunks (possibly
        // none) while the sender goes on: it lands during the next request, the
        // engine's processing of the last ones, or both.
        let kill_after = rng.random_range(0..=(CHUNKS - from) / 3);
        let (ready, kill_now) = tokio::sync::oneshot::channel::<()>();
        let sender = tokio::spawn(async move {
            let mut ready = Some(ready);
            let Ok(mut client) =
                proto::feature_store_client::FeatureStoreClient::connect(url).await
            else {
                return;
            };
            for (acked, i) in (from..CHUNKS).enumerate() {
                if acked == kill_after {
                    ready.take().map(|r| r.send(()));
                }
                if client
                    .ingest(request(chunk(i, start), false))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            ready.take().map(|r| r.send(()));
        });
        let _ = kill_now.await;
        server.kill();
        let _ = sender.await;
    }

    let server = Server::start(&data);
    let landed = accepted(&server).await as usize;
    assert_eq!(landed % CHUNK_ROWS, 0, "a chunk landed in part");
    send_rest(&server, landed / CHUNK_ROWS, start).await;
    // A request without rows and with `wait` returns once everything ingested so
    // far is processed (needed when every chunk landed before the last kill).
    server
        .client()
        .await
        .ingest(request(Vec::new(), true))
        .await
        .unwrap();
    assert_eq!(
        accepted(&server).await,
        (CHUNKS * CHUNK_ROWS) as u64,
        "every event exactly once in the log"
    );
    let actual = online_values(&server).await;
    assert_eq!(actual.len(), expected.len());
    for (user, (a, e)) in actual.iter().zip(&expected).enumerate() {
        assert_eq!(a, e, "user {user} (seed {seed})");
    }
}
