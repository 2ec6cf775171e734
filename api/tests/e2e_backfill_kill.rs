//! A backfill survives SIGKILL: the real server is killed at random instants while
//! a new windowed feature is replayed from the log, restarted on the same data,
//! and must resume from its last checkpoint (progress never goes back to zero),
//! then end with values exactly equal to a brute-force reference computed here.

mod backfill_common;
mod common;

use std::time::{Duration, Instant};

use backfill_common::{
    apply, check_entries, check_exact, describe, generate, ingest, now_micros, planned, read_ok,
    state_of, status, stream_source, version_of, wait_for, write_definitions, Agg, Reference, Spec,
    DAY, MINUTE,
};
use common::Server;
use freshet_api::proto;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const EVENTS: usize = 300_000;
const USERS: i64 = 1_000;
const ROUNDS: usize = 4;
/// The replay is capped at 100,000 events/s (about 3s for the whole log) and
/// commits every 20,000 rows, so each round's kill lands between checkpoints.
const FLAGS: [&str; 4] = [
    "--backfill-max-rate",
    "100000",
    "--backfill-checkpoint-rows",
    "20000",
];

const CLICKS_TOTAL: &str = "name: clicks_total, entity: user, source: clicks, aggregate: count(*)";
const SPEND_1D: &str =
    "name: spend_1d, entity: user, source: clicks, aggregate: sum(amount), window: 1d, default: 0.0";

/// The status entry of spend_1d@v1, which must be listed.
fn spend_1d(status: &proto::GetStatusResponse) -> proto::FeatureVersionStatus {
    version_of(status, "spend_1d", 1)
        .cloned()
        .unwrap_or_else(|| panic!("no spend_1d@v1 in GetStatus:\n{}", describe(status)))
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_resumes_after_sigkill_and_ends_exact() {
    let seed: u64 = rand::rng().random();
    eprintln!("backfill kill test seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let t0 = now_micros();
    // Two days of events: the 1d window's edge moves through them while the test
    // runs, and each read is checked at its own evaluation time.
    let events = generate(&mut rng, EVENTS, USERS, 100, |rng| {
        rng.random_range(t0 - 2 * DAY..t0 - MINUTE)
    });
    let reference = Reference::new(&events);
    let users: Vec<i64> = (1..=USERS + 1).collect();

    let dir = tempfile::tempdir().unwrap();
    let source = stream_source("clicks", 2);
    let v1 = write_definitions(dir.path(), "v1.yaml", &source, &[], &[CLICKS_TOTAL]);
    let v2 = write_definitions(
        dir.path(),
        "v2.yaml",
        &source,
        &[],
        &[CLICKS_TOTAL, SPEND_1D],
    );
    let data = dir.path().join("data");

    let mut server = Server::start_with(&data, &FLAGS);
    apply(&server, &v1);
    wait_for(&server, &["clicks_total@v1"]).await;
    ingest(&server, "clicks", &events, 50_000).await;
    let plan = apply(&server, &v2);
    assert_eq!(
        planned(&plan, "feature", "spend_1d"),
        ("created".to_string(), 1, 0)
    );

    // The progress known to be committed: what the last status showed.
    let mut recorded = 0u64;
    let mut kills = 0;
    for round in 0..ROUNDS {
        // A new checkpoint beyond the recorded progress (a tight loop of status
        // calls, no sleeping).
        let mut client = server.client().await;
        let polling = Instant::now();
        let entry = loop {
            let now = status(&mut client).await;
            check_entries(&now);
            let entry = spend_1d(&now);
            if entry.state != "BACKFILLING" || entry.events_done > recorded {
                break entry;
            }
            assert!(
                polling.elapsed() < Duration::from_secs(300),
                "round {round}: no progress beyond {recorded} events in 5 minutes (seed {seed}):\n{}",
                describe(&now)
            );
        };
        if entry.state != "BACKFILLING" {
            eprintln!("round {round}: spend_1d@v1 is {} already", entry.state);
            break;
        }
        assert!(
            entry.events_done <= entry.events_total,
            "round {round}: {entry:?}"
        );
        recorded = entry.events_done;

        // A random pause, only to randomise the instant of the kill.
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..100))).await;
        server.kill();
        kills += 1;

        server = Server::start_with(&data, &FLAGS);
        let mut client = server.client().await;
        let restarted = status(&mut client).await;
        check_entries(&restarted);
        let entry = spend_1d(&restarted);
        assert!(
            entry.events_done >= recorded,
            "round {round}: after the restart spend_1d@v1 shows {} events done, fewer than \
             the {recorded} seen before the kill: the backfill restarted (seed {seed})\n{}",
            entry.events_done,
            describe(&restarted)
        );
        eprintln!(
            "round {round}: killed after {recorded} events done; {} after the restart ({})",
            entry.events_done, entry.state
        );
        recorded = entry.events_done;
    }
    assert!(
        kills >= 3,
        "the backfill caught up after only {kills} kills (seed {seed}): the rate cap should \
         keep it going for several rounds"
    );

    let mut client = server.client().await;
    let caught_up = client
        .wait_for_feature(proto::WaitForFeatureRequest {
            reference: "spend_1d@v1".into(),
        })
        .await
        .unwrap_or_else(|status| panic!("WaitForFeature spend_1d@v1: {status:?}"))
        .into_inner();
    assert!(
        caught_up.state == "ACTIVE" || caught_up.state == "READY",
        "{caught_up:?}"
    );
    let after = status(&mut client).await;
    check_entries(&after);
    assert_eq!(
        state_of(&after, "spend_1d", 1),
        "ACTIVE",
        "{}",
        describe(&after)
    );
    let source = after
        .sources
        .iter()
        .find(|s| s.name == "clicks")
        .expect("clicks in GetStatus");
    assert_eq!(
        source.events_accepted, EVENTS as u64,
        "every event exactly once in the log"
    );

    // Every user, exactly: nothing replayed twice or skipped across the kills.
    let values = read_ok(&mut client, &["spend_1d", "clicks_total"], &users).await;
    assert_eq!(values.versions, ["spend_1d@v1", "clicks_total@v1"]);
    check_exact(
        &values,
        0,
        &users,
        &reference,
        &Spec::new(Agg::Sum, Some(DAY)).with_default(0.0),
        &format!("spend_1d@v1 after {kills} kills (seed {seed})"),
    );
    check_exact(
        &values,
        1,
        &users,
        &reference,
        &Spec::new(Agg::Count, None),
        &format!("clicks_total@v1 after {kills} kills (seed {seed})"),
    );
    server.stop();
}
