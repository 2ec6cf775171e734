//! Backfill and version lifecycle end to end, on the real binary over loopback
//! gRPC and the `freshet` command line: a new version is replayed from the log
//! while the old one keeps serving the bare name unchanged, becomes active only
//! when caught up, and then equals a brute-force reference computed here from the
//! generated events; reads of a version still backfilling fail clearly; retired
//! versions stop serving and the active one cannot be retired; a frozen feature
//! serves its snapshot until unfrozen.

mod backfill_common;
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use backfill_common::{
    apply, assert_backfilling_error, assert_no_differences, check_against_reference, check_entries,
    cli_error, cli_status_entry, close, describe, differences, generate, ingest, now_micros,
    planned, read, read_ok, rfc3339, state_of, status, stream_source, version_of, versions_of,
    wait_for, write_definitions, Agg, Event, Reference, Spec, Val, DAY, HOUR, MINUTE,
};
use common::{stdout_of, Server};
use freshet_api::proto;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------
// Definitions.

/// v1 of `recent_spend`: the spend of the last hour.
const RECENT_SPEND_1H: &str =
    "name: recent_spend, entity: user, source: clicks, aggregate: sum(amount), window: 1h, default: 0.0";
/// v2 of `recent_spend`: only the window changes, to two hours.
const RECENT_SPEND_2H: &str =
    "name: recent_spend, entity: user, source: clicks, aggregate: sum(amount), window: 2h, default: 0.0";
const CLICKS_TOTAL: &str = "name: clicks_total, entity: user, source: clicks, aggregate: count(*)";
/// A feature that only the second definitions file has.
const AVG_AMOUNT_30M: &str =
    "name: avg_amount_30m, entity: user, source: clicks, aggregate: avg(amount), window: 30m";
/// A lifetime sum with a default, for freezing.
const SPEND_TOTAL: &str =
    "name: spend_total, entity: user, source: clicks, aggregate: sum(amount), default: -1.0";

fn recent_spend(window: i64) -> Spec {
    Spec::new(Agg::Sum, Some(window)).with_default(0.0)
}

fn clicks_total() -> Spec {
    Spec::new(Agg::Count, None)
}

fn avg_amount_30m() -> Spec {
    Spec::new(Agg::Avg, Some(30 * MINUTE))
}

fn spend_total() -> Spec {
    Spec::new(Agg::Sum, None).with_default(-1.0)
}

/// The definitions before (`v1.yaml`: recent_spend 1h, clicks_total) and after
/// (`v2.yaml`: recent_spend 2h, clicks_total unchanged, avg_amount_30m new), in
/// `dir`.
fn definitions_in(dir: &std::path::Path) -> (String, String) {
    let source = stream_source("clicks", 2);
    (
        write_definitions(
            dir,
            "v1.yaml",
            &source,
            &[],
            &[RECENT_SPEND_1H, CLICKS_TOTAL],
        ),
        write_definitions(
            dir,
            "v2.yaml",
            &source,
            &[],
            &[RECENT_SPEND_2H, CLICKS_TOTAL, AVG_AMOUNT_30M],
        ),
    )
}

// ---------------------------------------------------------------------------
// Where events fall in time.

/// Event times relative to `t0`, the test's start: most over three days up to
/// `t0 - 61m`, a share in `[t0 - 20m, t0 - 1m)`, none in between. A 1h window read
/// at any `t` in `[t0, t0 + 40m)` covers exactly the recent share, so answers of
/// the 1h version saved at one instant stay right at every later read of the
/// test; the 2h and 30m windows do move with the read time, and are checked
/// against the reference at each read's evaluation time.
struct Layout {
    t0: i64,
}

impl Layout {
    fn old_start(&self) -> i64 {
        self.t0 - 3 * DAY
    }

    fn old_end(&self) -> i64 {
        self.t0 - HOUR - MINUTE
    }

    fn recent_start(&self) -> i64 {
        self.t0 - 20 * MINUTE
    }

    fn recent_end(&self) -> i64 {
        self.t0 - MINUTE
    }

    /// Until when a 1h window covers exactly the recent events.
    fn stable_until(&self) -> i64 {
        self.recent_start() + HOUR
    }

    fn assert_stable(&self, at: i64, what: &str) {
        assert!(
            at < self.stable_until(),
            "{what}: read at {}, after {}: the test ran longer than the 40 minutes in \
             which its 1h answers cannot change",
            rfc3339(at),
            rfc3339(self.stable_until())
        );
    }

    /// `count` events of users `1..=users`, a `recent_share` of them recent.
    fn events(&self, rng: &mut StdRng, count: usize, users: i64, recent_share: f64) -> Vec<Event> {
        let (old, recent) = (
            self.old_start()..self.old_end(),
            self.recent_start()..self.recent_end(),
        );
        generate(rng, count, users, 100, |rng| {
            if rng.random_bool(recent_share) {
                rng.random_range(recent.clone())
            } else {
                rng.random_range(old.clone())
            }
        })
    }
}

/// Events after every event of `events`, up to now, in event-time order.
fn later_events(rng: &mut StdRng, events: &[Event], count: usize, users: i64) -> Vec<Event> {
    let from = events.iter().map(|e| e.ts).max().unwrap_or(0) + 1;
    let until = now_micros();
    generate(rng, count, users, 100, |rng| rng.random_range(from..until))
}

// ---------------------------------------------------------------------------
// 1. A backfill against the reference, the old version serving meanwhile.

const EVENTS: usize = 1_000_000;
const USERS: i64 = 2_000;
/// A user without events.
const NO_EVENTS_USER: i64 = 1_000_000;
const SAMPLED: usize = 200;
const OLD: [&str; 2] = ["recent_spend", "clicks_total"];
const NEW_VERSIONS: [&str; 2] = ["recent_spend@v2", "avg_amount_30m@v1"];

#[tokio::test(flavor = "multi_thread")]
async fn backfill_of_a_new_windowed_feature_matches_a_reference_while_old_versions_keep_serving() {
    let seed: u64 = rand::rng().random();
    eprintln!("backfill test seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let layout = Layout { t0: now_micros() };
    let events = layout.events(&mut rng, EVENTS, USERS, 0.2);
    let reference = Reference::new(&events);
    let all_users: Vec<i64> = (1..=USERS).chain([NO_EVENTS_USER]).collect();
    let mut sampled: Vec<i64> = (1..=USERS).collect();
    sampled.shuffle(&mut rng);
    sampled.truncate(SAMPLED);
    sampled.push(NO_EVENTS_USER);

    let dir = tempfile::tempdir().unwrap();
    let (v1, v2) = definitions_in(dir.path());
    let server = Server::start_with(
        &dir.path().join("data"),
        &[
            "--backfill-max-rate",
            "250000",
            "--backfill-checkpoint-rows",
            "100000",
        ],
    );
    apply(&server, &v1);
    // Applied before any event, v1 has nothing to replay.
    wait_for(&server, &["recent_spend@v1", "clicks_total@v1"]).await;
    let started = Instant::now();
    ingest(&server, "clicks", &events, 100_000).await;
    eprintln!(
        "{EVENTS} events ingested and processed in {:?}",
        started.elapsed()
    );
    let mut client = server.client().await;

    let before = status(&mut client).await;
    check_entries(&before);
    for name in OLD {
        assert_eq!(
            state_of(&before, name, 1),
            "ACTIVE",
            "{name}@v1 before any change:\n{}",
            describe(&before)
        );
    }
    let source = before
        .sources
        .iter()
        .find(|s| s.name == "clicks")
        .expect("clicks in GetStatus");
    assert_eq!(
        (source.events_accepted, source.lag),
        (EVENTS as u64, 0),
        "every event in the log and processed"
    );

    // The old versions' answers, checked against the reference, then kept.
    let saved = read_ok(&mut client, &OLD, &sampled).await;
    layout.assert_stable(saved.at, "the first read");
    assert_eq!(saved.versions, ["recent_spend@v1", "clicks_total@v1"]);
    check_against_reference(
        &saved,
        0,
        &sampled,
        &reference,
        &recent_spend(HOUR),
        "recent_spend",
    );
    check_against_reference(
        &saved,
        1,
        &sampled,
        &reference,
        &clicks_total(),
        "clicks_total",
    );
    assert!(
        saved
            .column(0)
            .iter()
            .any(|v| matches!(v, Val::F(x) if *x > 0.0)),
        "no sampled user has spend in the last hour: the test would check nothing"
    );

    // A new version of recent_spend and a new feature.
    let plan = apply(&server, &v2);
    assert_eq!(
        planned(&plan, "feature", "recent_spend"),
        ("new_version".to_string(), 2, 1)
    );
    assert_eq!(
        planned(&plan, "feature", "avg_amount_30m"),
        ("created".to_string(), 1, 0)
    );
    assert_eq!(
        planned(&plan, "feature", "clicks_total"),
        ("unchanged".to_string(), 1, 0)
    );

    let mut waiter = server.client().await;
    let waiting = tokio::spawn(async move {
        let mut caught_up = Vec::new();
        for reference in NEW_VERSIONS {
            let status = waiter
                .wait_for_feature(proto::WaitForFeatureRequest {
                    reference: reference.to_string(),
                })
                .await
                .map_err(|status| format!("WaitForFeature {reference}: {status:?}"))?
                .into_inner();
            caught_up.push((reference, status));
        }
        Ok::<_, String>(caught_up)
    });

    // Until both have caught up: the old versions answer exactly as before, and
    // the bare name moves to v2 once, when v2 is ACTIVE.
    let started = Instant::now();
    let mut progress: Vec<(String, u64, u64)> = Vec::new();
    let mut last_done: HashMap<(String, u32), u64> = HashMap::new();
    let mut serving_v2 = false;
    let mut rounds = 0u64;
    loop {
        let finished = waiting.is_finished();
        rounds += 1;
        let now = status(&mut client).await;
        check_entries(&now);
        for f in now.features.iter().filter(|f| f.state == "BACKFILLING") {
            let seen = last_done.entry((f.name.clone(), f.version)).or_insert(0);
            assert!(
                f.events_done >= *seen,
                "round {rounds}: {}@v{} went back from {} to {} events done\n{}",
                f.name,
                f.version,
                *seen,
                f.events_done,
                describe(&now)
            );
            *seen = f.events_done;
            assert_eq!(
                f.events_total,
                EVENTS as u64,
                "round {rounds}: {}@v{} has the whole log ({EVENTS} events) to replay\n{}",
                f.name,
                f.version,
                describe(&now)
            );
            if f.events_done > 0 {
                progress.push((
                    format!("{}@v{}", f.name, f.version),
                    f.events_done,
                    f.events_total,
                ));
            }
        }
        let (v1_state, v2_state) = (
            state_of(&now, "recent_spend", 1),
            state_of(&now, "recent_spend", 2),
        );
        assert!(
            matches!(
                (v1_state.as_str(), v2_state.as_str()),
                ("ACTIVE", "BACKFILLING") | ("READY", "ACTIVE")
            ),
            "round {rounds}: recent_spend v1 {v1_state}, v2 {v2_state}: exactly one serves the bare name\n{}",
            describe(&now)
        );
        let new_state = state_of(&now, "avg_amount_30m", 1);
        assert!(
            new_state == "BACKFILLING" || new_state == "ACTIVE",
            "round {rounds}: avg_amount_30m@v1 is {new_state}\n{}",
            describe(&now)
        );
        assert_eq!(state_of(&now, "clicks_total", 1), "ACTIVE");
        assert_eq!(
            versions_of(&now, "clicks_total"),
            [1u32],
            "{}",
            describe(&now)
        );

        let old = read_ok(&mut client, &OLD, &sampled).await;
        layout.assert_stable(old.at, "a read during the backfill");
        let context = format!("round {rounds}, during the backfill (seed {seed})");
        assert_eq!(old.versions[1], "clicks_total@v1", "{context}");
        assert_no_differences(
            &differences(&old, 1, &sampled, &saved.column(1), "bare clicks_total"),
            &context,
        );
        if v2_state == "ACTIVE" {
            assert_eq!(
                old.versions[0], "recent_spend@v2",
                "{context}: v2 was ACTIVE before the read"
            );
        }
        match old.versions[0].as_str() {
            "recent_spend@v1" => {
                assert!(
                    !serving_v2,
                    "{context}: the bare name went back to recent_spend@v1 after serving v2"
                );
                assert_no_differences(
                    &differences(&old, 0, &sampled, &saved.column(0), "bare recent_spend"),
                    &context,
                );
            }
            "recent_spend@v2" => {
                let after = status(&mut client).await;
                assert_eq!(
                    state_of(&after, "recent_spend", 2),
                    "ACTIVE",
                    "{context}: the bare name read v2 before it was ACTIVE\n{}",
                    describe(&after)
                );
                serving_v2 = true;
                check_against_reference(
                    &old,
                    0,
                    &sampled,
                    &reference,
                    &recent_spend(2 * HOUR),
                    &format!("bare recent_spend (v2), {context}"),
                );
            }
            other => panic!("{context}: bare recent_spend read {other}"),
        }

        // The new feature has no servable version until it has caught up.
        match read(&mut client, &["avg_amount_30m"], &sampled[..1]).await {
            Ok(new) => {
                let after = status(&mut client).await;
                assert_eq!(
                    state_of(&after, "avg_amount_30m", 1),
                    "ACTIVE",
                    "{context}: avg_amount_30m was served before it caught up\n{}",
                    describe(&after)
                );
                assert_eq!(new.versions, ["avg_amount_30m@v1"]);
                check_against_reference(
                    &new,
                    0,
                    &sampled[..1],
                    &reference,
                    &avg_amount_30m(),
                    &format!("avg_amount_30m, {context}"),
                );
            }
            Err(error) => {
                assert_ne!(
                    new_state, "ACTIVE",
                    "{context}: avg_amount_30m was ACTIVE, yet its read failed: {error:?}"
                );
                assert_backfilling_error(&error, "avg_amount_30m");
            }
        }

        if finished {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "the backfills did not catch up in 15 minutes (seed {seed}):\n{}",
            describe(&now)
        );
    }
    let caught_up = waiting
        .await
        .expect("the WaitForFeature task")
        .unwrap_or_else(|error| panic!("{error}"));
    for (reference, version) in &caught_up {
        assert_eq!(&format!("{}@v{}", version.name, version.version), reference);
        assert!(
            version.state == "READY" || version.state == "ACTIVE",
            "WaitForFeature {reference} returned {version:?}"
        );
    }
    eprintln!(
        "{rounds} rounds in {:?}; backfill progress seen: {:?}",
        started.elapsed(),
        &progress[..progress.len().min(8)]
    );
    assert!(
        !progress.is_empty(),
        "none of {rounds} GetStatus calls showed a new version BACKFILLING with \
         0 < events_done <= events_total (seed {seed})"
    );

    let after = status(&mut client).await;
    check_entries(&after);
    for (name, version, state) in [
        ("recent_spend", 2, "ACTIVE"),
        ("recent_spend", 1, "READY"),
        ("avg_amount_30m", 1, "ACTIVE"),
        ("clicks_total", 1, "ACTIVE"),
    ] {
        assert_eq!(
            state_of(&after, name, version),
            state,
            "{name}@v{version} once caught up\n{}",
            describe(&after)
        );
    }
    assert_eq!(versions_of(&after, "recent_spend"), [1u32, 2]);
    assert_eq!(versions_of(&after, "clicks_total"), [1u32]);

    // Every user, against the reference at the read's evaluation time.
    let all = read_ok(
        &mut client,
        &["recent_spend", "clicks_total", "avg_amount_30m"],
        &all_users,
    )
    .await;
    assert_eq!(
        all.versions,
        ["recent_spend@v2", "clicks_total@v1", "avg_amount_30m@v1"]
    );
    check_against_reference(
        &all,
        0,
        &all_users,
        &reference,
        &recent_spend(2 * HOUR),
        "recent_spend@v2",
    );
    check_against_reference(
        &all,
        1,
        &all_users,
        &reference,
        &clicks_total(),
        "clicks_total@v1",
    );
    check_against_reference(
        &all,
        2,
        &all_users,
        &reference,
        &avg_amount_30m(),
        "avg_amount_30m@v1",
    );
    assert!(
        all.column(2).iter().any(|v| matches!(v, Val::F(_))),
        "no user has clicks in the last 30 minutes: the test would check nothing"
    );

    // v1, pinned, still answers as before the change.
    let pinned = read_ok(
        &mut client,
        &["recent_spend@v1", "clicks_total@v1"],
        &sampled,
    )
    .await;
    layout.assert_stable(pinned.at, "the pinned read after the switch");
    assert_eq!(pinned.versions, ["recent_spend@v1", "clicks_total@v1"]);
    for (feature, definition) in OLD.iter().enumerate() {
        assert_no_differences(
            &differences(
                &pinned,
                feature,
                &sampled,
                &saved.column(feature),
                definition,
            ),
            "pinned v1 after the switch",
        );
    }
    // The two windows differ for some users, so serving the wrong one would show.
    let two_hours: Vec<Val> = sampled
        .iter()
        .map(|&u| reference.value(&recent_spend(2 * HOUR), u, pinned.at))
        .collect();
    assert!(
        two_hours
            .iter()
            .zip(saved.column(0))
            .any(|(a, b)| !close(a, &b)),
        "the 1h and 2h windows agree for every sampled user: the test would check nothing"
    );
    server.stop();
}

// ---------------------------------------------------------------------------
// 2–4. Small data: reads during a backfill, retiring, freezing.

/// A server over `v1.yaml` with `count` events of users `1..=users` ingested.
struct Small {
    server: Server,
    /// After the server, so that the server stops before its folder goes.
    _dir: tempfile::TempDir,
    events: Vec<Event>,
    v2: String,
    rng: StdRng,
    seed: u64,
}

async fn small(extra: &[&str], count: usize, users: i64) -> Small {
    let seed: u64 = rand::rng().random();
    eprintln!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let layout = Layout { t0: now_micros() };
    let events = layout.events(&mut rng, count, users, 0.2);
    let dir = tempfile::tempdir().unwrap();
    let (v1, v2) = definitions_in(dir.path());
    let server = Server::start_with(&dir.path().join("data"), extra);
    apply(&server, &v1);
    wait_for(&server, &["recent_spend@v1", "clicks_total@v1"]).await;
    ingest(&server, "clicks", &events, 10_000).await;
    Small {
        server,
        _dir: dir,
        events,
        v2,
        rng,
        seed,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_of_a_backfilling_version_fail_clearly() {
    const EVENTS: usize = 20_000;
    // At 1,000 events/s the replay of 20,000 events lasts about 20 seconds.
    let small = small(&["--backfill-max-rate", "1000"], EVENTS, 200).await;
    let server = &small.server;
    let users: Vec<i64> = (1..=200).collect();
    let reference = Reference::new(&small.events);
    apply(server, &small.v2);
    let mut client = server.client().await;

    let during = status(&mut client).await;
    check_entries(&during);
    assert_eq!(
        state_of(&during, "recent_spend", 2),
        "BACKFILLING",
        "{}",
        describe(&during)
    );
    assert_eq!(
        state_of(&during, "avg_amount_30m", 1),
        "BACKFILLING",
        "{}",
        describe(&during)
    );

    // The new version pinned, the new feature bare or pinned, alone or with
    // servable features: refused, naming the state.
    let error = read(&mut client, &["recent_spend@v2"], &users)
        .await
        .expect_err("a pinned read of a BACKFILLING version succeeded");
    assert_backfilling_error(&error, "recent_spend");
    let error = read(&mut client, &["avg_amount_30m"], &users)
        .await
        .expect_err("a bare read of a feature with only a BACKFILLING version succeeded");
    assert_backfilling_error(&error, "avg_amount_30m");
    let error = read(&mut client, &["clicks_total", "avg_amount_30m@v1"], &users)
        .await
        .expect_err("a read including a BACKFILLING version succeeded");
    assert_backfilling_error(&error, "avg_amount_30m");

    // The bare name of the changed feature still serves v1.
    let old = read_ok(&mut client, &OLD, &users).await;
    assert_eq!(old.versions, ["recent_spend@v1", "clicks_total@v1"]);
    check_against_reference(
        &old,
        0,
        &users,
        &reference,
        &recent_spend(HOUR),
        "recent_spend@v1",
    );
    check_against_reference(
        &old,
        1,
        &users,
        &reference,
        &clicks_total(),
        "clicks_total@v1",
    );

    // The command line says the same.
    let stderr = cli_error(
        server,
        &["get", "--features", "recent_spend@v2", "--entity", "user=1"],
    );
    assert!(stderr.contains("BACKFILLING"), "freshet get: {stderr}");
    let entry = cli_status_entry(server, "recent_spend", 2);
    assert_eq!(entry["state"], "BACKFILLING", "{entry}");
    assert_eq!(entry["events_total"], EVENTS as u64, "{entry}");

    // Still backfilling now, so every refusal above was of a version not caught up.
    let later = status(&mut client).await;
    check_entries(&later);
    let v2 = version_of(&later, "recent_spend", 2).expect("recent_spend@v2 in GetStatus");
    assert!(
        v2.state == "BACKFILLING" && v2.events_done < v2.events_total,
        "the 1,000 events/s cap should keep the replay of {EVENTS} events going for \
         about 20s (seed {}):\n{}",
        small.seed,
        describe(&later)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retire_frees_old_versions_and_refuses_the_active_one() {
    let mut small = small(&[], 5_000, 100).await;
    let server = &small.server;
    let users: Vec<i64> = (1..=101).collect();
    let mut reference = Reference::new(&small.events);
    apply(server, &small.v2);

    let out = stdout_of(server.cli(&["features", "wait", "recent_spend@v2", "--json"]));
    let waited: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("features wait printed {out:?}: {e}"));
    assert!(
        waited["state"] == "ACTIVE" || waited["state"] == "READY",
        "freshet features wait recent_spend@v2: {waited}"
    );
    let mut client = server.client().await;
    client
        .wait_for_feature(proto::WaitForFeatureRequest {
            reference: "avg_amount_30m@v1".into(),
        })
        .await
        .unwrap_or_else(|status| panic!("WaitForFeature avg_amount_30m@v1: {status:?}"));
    let s = status(&mut client).await;
    check_entries(&s);
    assert_eq!(
        state_of(&s, "recent_spend", 2),
        "ACTIVE",
        "{}",
        describe(&s)
    );
    assert_eq!(state_of(&s, "recent_spend", 1), "READY", "{}", describe(&s));

    // The active version cannot be retired, by the command line or gRPC.
    let stderr = cli_error(server, &["features", "retire", "recent_spend@v2"]);
    assert!(
        stderr.to_lowercase().contains("active"),
        "retiring the active version: {stderr}"
    );
    let refused = client
        .retire_feature(proto::FeatureReference {
            reference: "recent_spend@v2".into(),
        })
        .await
        .expect_err("RetireFeature retired the active version");
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    let s = status(&mut client).await;
    assert_eq!(
        state_of(&s, "recent_spend", 2),
        "ACTIVE",
        "{}",
        describe(&s)
    );

    // The old one can.
    stdout_of(server.cli(&["features", "retire", "recent_spend@v1"]));
    let s = status(&mut client).await;
    check_entries(&s);
    assert_eq!(
        state_of(&s, "recent_spend", 1),
        "RETIRED",
        "{}",
        describe(&s)
    );
    assert_eq!(
        state_of(&s, "recent_spend", 2),
        "ACTIVE",
        "{}",
        describe(&s)
    );
    assert_eq!(
        state_of(&s, "clicks_total", 1),
        "ACTIVE",
        "{}",
        describe(&s)
    );
    let entry = cli_status_entry(server, "recent_spend", 1);
    assert_eq!(entry["state"], "RETIRED", "{entry}");

    let error = read(&mut client, &["recent_spend@v1"], &users)
        .await
        .expect_err("a pinned read of a RETIRED version succeeded");
    assert!(
        error.message().contains("recent_spend"),
        "a read of a retired version should name it: {error:?}"
    );
    let error = read(&mut client, &["recent_spend@v1", "clicks_total"], &users)
        .await
        .expect_err("a read including a RETIRED version succeeded");
    assert!(error.message().contains("recent_spend"), "{error:?}");

    // The bare name keeps serving v2, which keeps up with new events.
    let current = read_ok(&mut client, &OLD, &users).await;
    assert_eq!(current.versions, ["recent_spend@v2", "clicks_total@v1"]);
    check_against_reference(
        &current,
        0,
        &users,
        &reference,
        &recent_spend(2 * HOUR),
        "recent_spend@v2",
    );
    let later = later_events(&mut small.rng, &small.events, 1_000, 100);
    ingest(server, "clicks", &later, 1_000).await;
    reference.add(&later);
    let current = read_ok(&mut client, &OLD, &users).await;
    assert_eq!(current.versions, ["recent_spend@v2", "clicks_total@v1"]);
    check_against_reference(
        &current,
        0,
        &users,
        &reference,
        &recent_spend(2 * HOUR),
        "recent_spend@v2 after more events",
    );
    check_against_reference(
        &current,
        1,
        &users,
        &reference,
        &clicks_total(),
        "clicks_total@v1 after more events",
    );
    small.server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn freeze_fixes_served_values_until_unfrozen() {
    let seed: u64 = rand::rng().random();
    eprintln!("freeze test seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let t0 = now_micros();
    // Users 1..=50 have events before the freeze; 51 only after it; 52 never.
    let users: Vec<i64> = (1..=52).collect();
    let first = generate(&mut rng, 3_000, 50, 100, |rng| {
        rng.random_range(t0 - 2 * DAY..t0 - DAY)
    });
    let second = generate(&mut rng, 3_000, 51, 100, |rng| {
        rng.random_range(t0 - DAY..t0 - MINUTE)
    });

    let dir = tempfile::tempdir().unwrap();
    let definitions = write_definitions(
        dir.path(),
        "freeze.yaml",
        &stream_source("clicks", 2),
        &[],
        &[SPEND_TOTAL, CLICKS_TOTAL],
    );
    let server = Server::start(&dir.path().join("data"));
    apply(&server, &definitions);
    wait_for(&server, &["spend_total@v1", "clicks_total@v1"]).await;
    let mut client = server.client().await;
    ingest(&server, "clicks", &first, 1_000).await;
    let before_freeze = Reference::new(&first);
    let mut everything = Reference::new(&first);
    everything.add(&second);

    let read_before = read_ok(&mut client, &["spend_total", "clicks_total"], &users).await;
    check_against_reference(
        &read_before,
        0,
        &users,
        &before_freeze,
        &spend_total(),
        "spend_total",
    );
    check_against_reference(
        &read_before,
        1,
        &users,
        &before_freeze,
        &clicks_total(),
        "clicks_total",
    );

    stdout_of(server.cli(&["features", "freeze", "spend_total"]));
    let s = status(&mut client).await;
    check_entries(&s);
    let frozen = |s: &proto::GetStatusResponse, name: &str| {
        version_of(s, name, 1)
            .unwrap_or_else(|| panic!("no {name}@v1 in GetStatus:\n{}", describe(s)))
            .frozen
    };
    assert!(
        frozen(&s, "spend_total"),
        "spend_total@v1 after freeze:\n{}",
        describe(&s)
    );
    assert!(
        !frozen(&s, "clicks_total"),
        "clicks_total@v1 was not frozen:\n{}",
        describe(&s)
    );
    assert_eq!(cli_status_entry(&server, "spend_total", 1)["frozen"], true);

    // New events move clicks_total but not the frozen spend_total, bare or pinned;
    // user 51, who had no value at the freeze, gets the default.
    ingest(&server, "clicks", &second, 1_000).await;
    let during = read_ok(
        &mut client,
        &["spend_total", "spend_total@v1", "clicks_total"],
        &users,
    )
    .await;
    assert_eq!(
        during.versions,
        ["spend_total@v1", "spend_total@v1", "clicks_total@v1"]
    );
    check_against_reference(
        &during,
        0,
        &users,
        &before_freeze,
        &spend_total(),
        "frozen spend_total",
    );
    check_against_reference(
        &during,
        1,
        &users,
        &before_freeze,
        &spend_total(),
        "frozen spend_total@v1",
    );
    check_against_reference(
        &during,
        2,
        &users,
        &everything,
        &clicks_total(),
        "clicks_total while spend_total is frozen",
    );
    assert_eq!(
        during.rows[50][0],
        Val::F(-1.0),
        "user 51 had no value at the freeze"
    );
    assert_eq!(during.rows[51][0], Val::F(-1.0), "user 52 never had events");
    assert!(
        users
            .iter()
            .any(|&u| before_freeze.value(&spend_total(), u, during.at)
                != everything.value(&spend_total(), u, during.at)),
        "the second events change no spend: the test would check nothing"
    );

    // Unfrozen: the values of every event.
    stdout_of(server.cli(&["features", "unfreeze", "spend_total"]));
    let s = status(&mut client).await;
    assert!(
        !frozen(&s, "spend_total"),
        "spend_total@v1 after unfreeze:\n{}",
        describe(&s)
    );
    let after = read_ok(&mut client, &["spend_total", "clicks_total"], &users).await;
    check_against_reference(
        &after,
        0,
        &users,
        &everything,
        &spend_total(),
        "spend_total after unfreeze",
    );
    check_against_reference(
        &after,
        1,
        &users,
        &everything,
        &clicks_total(),
        "clicks_total after unfreeze",
    );
    assert_eq!(after.rows[51][0], Val::F(-1.0), "user 52 never had events");
    server.stop();
}
