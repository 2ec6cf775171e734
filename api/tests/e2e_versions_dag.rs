//! Versions follow the dependency graph: changing one transformation's SQL makes
//! new versions of it and of exactly the features that read it, which are
//! backfilled and then served under their bare names, while the old versions stay
//! readable pinned and keep up with live events, and features that do not depend
//! on it are neither versioned nor replayed. Training sets compute every version
//! over its own transformation version, as serving does. Values are checked against a
//! brute-force reference computed here with each version's predicate.

mod backfill_common;
mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use backfill_common::{
    apply, assert_no_differences, check_against_reference, check_entries, describe,
    exact_differences, generate, ingest, now_micros, read_ok, state_of, status, stream_source,
    train_at, versions_of, wait_for, write_definitions, Agg, Reference, Spec, DAY, MINUTE,
};
use common::Server;
use freshet_api::proto;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const USERS: i64 = 300;

/// The two transformations, `big` keeping amounts of at least `big_min`.
fn transformations(big_min: u32) -> [String; 2] {
    [
        format!(
            "  - name: big\n    sql: SELECT user_id, amount, ts FROM orders WHERE amount >= {big_min}\n"
        ),
        "  - name: small\n    sql: SELECT user_id, amount, ts FROM orders WHERE amount < 10\n"
            .to_string(),
    ]
}

const FEATURES: [&str; 4] = [
    "name: big_sum, entity: user, source: big, aggregate: sum(amount), window: 1d, default: 0.0",
    "name: big_count, entity: user, source: big, aggregate: count(*)",
    "name: small_sum, entity: user, source: small, aggregate: sum(amount), default: 0.0",
    "name: all_count, entity: user, source: orders, aggregate: count(*)",
];

fn definitions(dir: &std::path::Path, file: &str, big_min: u32) -> String {
    let transformations = transformations(big_min);
    write_definitions(
        dir,
        file,
        &stream_source("orders", 2),
        &[transformations[0].as_str(), transformations[1].as_str()],
        &FEATURES,
    )
}

fn big_sum(big_min: f64) -> Spec {
    Spec::new(Agg::Sum, Some(DAY))
        .with_default(0.0)
        .amounts(big_min, f64::INFINITY)
}

fn big_count(big_min: f64) -> Spec {
    Spec::new(Agg::Count, None).amounts(big_min, f64::INFINITY)
}

fn small_sum() -> Spec {
    Spec::new(Agg::Sum, None)
        .with_default(0.0)
        .amounts(f64::NEG_INFINITY, 10.0)
}

fn all_count() -> Spec {
    Spec::new(Agg::Count, None)
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_a_transformation_rebuilds_exactly_its_dependants() {
    let seed: u64 = rand::rng().random();
    eprintln!("versions DAG test seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let t0 = now_micros();
    // Amounts 1..=30: below 10, between 10 and 20, and 20 or more.
    let first = generate(&mut rng, 20_000, USERS, 30, |rng| {
        rng.random_range(t0 - 2 * DAY..t0 - 10 * MINUTE)
    });
    let later = generate(&mut rng, 2_000, USERS, 30, |rng| {
        rng.random_range(t0 - 10 * MINUTE..t0 - MINUTE)
    });
    let mut reference = Reference::new(&first);
    let users: Vec<i64> = (1..=USERS + 1).collect();

    let dir = tempfile::tempdir().unwrap();
    let v1 = definitions(dir.path(), "orders_v1.yaml", 10);
    let v2 = definitions(dir.path(), "orders_v2.yaml", 20);
    // At 10,000 events/s the replays last about 2s: long enough to watch.
    let server = Server::start_with(&dir.path().join("data"), &["--backfill-max-rate", "10000"]);
    apply(&server, &v1);
    wait_for(
        &server,
        &["big_sum@v1", "big_count@v1", "small_sum@v1", "all_count@v1"],
    )
    .await;
    ingest(&server, "orders", &first, 10_000).await;
    let mut client = server.client().await;

    let all = ["big_sum", "big_count", "small_sum", "all_count"];
    let before = read_ok(&mut client, &all, &users).await;
    assert_eq!(
        before.versions,
        ["big_sum@v1", "big_count@v1", "small_sum@v1", "all_count@v1"]
    );
    check_against_reference(&before, 0, &users, &reference, &big_sum(10.0), "big_sum@v1");
    check_against_reference(
        &before,
        1,
        &users,
        &reference,
        &big_count(10.0),
        "big_count@v1",
    );
    check_against_reference(&before, 2, &users, &reference, &small_sum(), "small_sum@v1");
    check_against_reference(&before, 3, &users, &reference, &all_count(), "all_count@v1");

    // Only big's WHERE changes.
    let plan = apply(&server, &v2);
    let new_versions: BTreeSet<(String, String)> = plan
        .iter()
        .filter(|c| c.2 == "new_version")
        .map(|c| (c.0.clone(), c.1.clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("transformation", "big"),
        ("feature", "big_sum"),
        ("feature", "big_count"),
    ]
    .iter()
    .map(|(kind, name)| (kind.to_string(), name.to_string()))
    .collect();
    assert_eq!(new_versions, expected, "new versions in the plan {plan:?}");
    for change in &plan {
        if change.2 == "new_version" {
            assert_eq!(
                (change.3, change.4),
                (2, 1),
                "{} {} is version 2, replacing 1: {plan:?}",
                change.0,
                change.1
            );
        } else {
            assert_eq!(
                change.2, "unchanged",
                "{} {} in {plan:?}",
                change.0, change.1
            );
        }
    }
    for (kind, name) in [
        ("transformation", "small"),
        ("feature", "small_sum"),
        ("feature", "all_count"),
    ] {
        assert!(
            plan.iter().any(|c| c.0 == kind && c.1 == name),
            "{kind} {name} is in the file, so in the plan (as unchanged): {plan:?}"
        );
    }

    let mut waiter = server.client().await;
    let waiting = tokio::spawn(async move {
        for reference in ["big_sum@v2", "big_count@v2"] {
            waiter
                .wait_for_feature(proto::WaitForFeatureRequest {
                    reference: reference.to_string(),
                })
                .await
                .map_err(|status| format!("WaitForFeature {reference}: {status:?}"))?;
        }
        Ok::<_, String>(())
    });

    // Until both are caught up, the features that do not read `big` keep their
    // one version, ACTIVE, never backfilling.
    let started = Instant::now();
    let mut rounds = 0u64;
    let mut big_backfilling = 0u64;
    loop {
        let finished = waiting.is_finished();
        rounds += 1;
        let now = status(&mut client).await;
        check_entries(&now);
        for name in ["small_sum", "all_count"] {
            assert_eq!(
                versions_of(&now, name),
                [1u32],
                "round {rounds}: {name} has a new version\n{}",
                describe(&now)
            );
            assert_eq!(
                state_of(&now, name, 1),
                "ACTIVE",
                "round {rounds}: {name}@v1\n{}",
                describe(&now)
            );
        }
        if ["big_sum", "big_count"]
            .iter()
            .any(|name| state_of(&now, name, 2) == "BACKFILLING")
        {
            big_backfilling += 1;
        }
        if finished {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "big_sum@v2 and big_count@v2 did not catch up in 10 minutes (seed {seed}):\n{}",
            describe(&now)
        );
    }
    waiting
        .await
        .expect("the WaitForFeature task")
        .unwrap_or_else(|error| panic!("{error}"));
    eprintln!("{rounds} status rounds, {big_backfilling} with big_* backfilling");
    assert!(
        big_backfilling > 0,
        "no GetStatus showed big_sum@v2 or big_count@v2 BACKFILLING: the changed \
         transformation's dependants were not replayed"
    );

    let after = status(&mut client).await;
    check_entries(&after);
    for name in ["big_sum", "big_count"] {
        assert_eq!(versions_of(&after, name), [1u32, 2], "{}", describe(&after));
        assert_eq!(state_of(&after, name, 2), "ACTIVE", "{}", describe(&after));
        assert_eq!(state_of(&after, name, 1), "READY", "{}", describe(&after));
    }
    for name in ["small_sum", "all_count"] {
        assert_eq!(versions_of(&after, name), [1u32], "{}", describe(&after));
        assert_eq!(state_of(&after, name, 1), "ACTIVE", "{}", describe(&after));
    }

    // Bare names read the new predicate, pinned v1 the old one; before and after
    // more live events.
    let pinned = ["big_sum@v1", "big_count@v1"];
    for phase in ["after the backfill", "after more live events"] {
        if phase == "after more live events" {
            ingest(&server, "orders", &later, 1_000).await;
            reference.add(&later);
        }
        let current = read_ok(&mut client, &all, &users).await;
        assert_eq!(
            current.versions,
            ["big_sum@v2", "big_count@v2", "small_sum@v1", "all_count@v1"],
            "{phase}"
        );
        check_against_reference(
            &current,
            0,
            &users,
            &reference,
            &big_sum(20.0),
            &format!("big_sum@v2 {phase}"),
        );
        check_against_reference(
            &current,
            1,
            &users,
            &reference,
            &big_count(20.0),
            &format!("big_count@v2 {phase}"),
        );
        check_against_reference(
            &current,
            2,
            &users,
            &reference,
            &small_sum(),
            &format!("small_sum@v1 {phase}"),
        );
        check_against_reference(
            &current,
            3,
            &users,
            &reference,
            &all_count(),
            &format!("all_count@v1 {phase}"),
        );

        let old = read_ok(&mut client, &pinned, &users).await;
        assert_eq!(old.versions, pinned, "{phase}");
        check_against_reference(
            &old,
            0,
            &users,
            &reference,
            &big_sum(10.0),
            &format!("big_sum@v1 {phase}"),
        );
        check_against_reference(
            &old,
            1,
            &users,
            &reference,
            &big_count(10.0),
            &format!("big_count@v1 {phase}"),
        );

        // A training set at the instant of an online read gives the same
        // values, every version over its own version of `big`, even with both
        // versions in one request.
        let both = ["big_sum@v1", "big_count@v1", "big_sum@v2", "big_count@v2"];
        let online = read_ok(&mut client, &both, &users).await;
        let offline = train_at(&mut client, &both, &users, online.at).await;
        for (feature, name) in both.iter().enumerate() {
            assert_no_differences(
                &exact_differences(
                    &offline,
                    feature,
                    &users,
                    &online.column(feature),
                    &format!("training set vs online {phase}"),
                ),
                &format!("{name} in a training set {phase}"),
            );
        }

        // The predicates differ for some users, so serving the wrong one would show.
        assert!(
            users
                .iter()
                .any(|&u| reference.value(&big_count(10.0), u, current.at)
                    != reference.value(&big_count(20.0), u, current.at)),
            "the two predicates agree for every user: the test would check nothing"
        );
    }
    server.stop();
}
