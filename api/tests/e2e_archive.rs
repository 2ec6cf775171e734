//! The log archive end to end, on the real binary: with `--archive` and a
//! local retention of 0s, sealed segments leave the local disk once uploaded,
//! and a backfill and a training set over the whole history still equal a
//! brute-force reference; `freshet status` shows the local and archived
//! ranges. Killing the server at random instants while it ingests and
//! archives loses nothing (the log keeps every acknowledged event exactly
//! once, and a backfill over it is exact).

mod backfill_common;
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backfill_common::{
    apply, check_exact, generate, ingest, now_micros, read_ok, status, stream_source, train_at,
    wait_for, wait_processed, write_definitions, Agg, Event, Reference, Spec, DAY, MINUTE,
};
use common::Server;
use freshet_api::proto;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const USERS: i64 = 200;
const CLICKS_TOTAL: &str = "name: clicks_total, entity: user, source: clicks, aggregate: count(*)";
const SPEND_1D: &str =
    "name: spend_1d, entity: user, source: clicks, aggregate: sum(amount), window: 1d, default: 0.0";

fn flags(archive: &Path) -> Vec<String> {
    vec![
        "--archive".into(),
        format!("file://{}", archive.display()),
        "--log-local-retention".into(),
        "0s".into(),
        "--log-segment-bytes".into(),
        "16384".into(),
    ]
}

fn start(data: &Path, archive: &Path) -> Server {
    let flags = flags(archive);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Server::start_with(data, &flags)
}

/// Segment files left on local disk under a folder of the log.
fn local_segments(folder: &Path) -> usize {
    let mut count = 0;
    let mut folders = vec![folder.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "seg") {
                count += 1;
            }
        }
    }
    count
}

/// Polls `GetStatus` (no sleeping) until every partition of `source` has
/// archived rows up to at least `rows`, kept only later ones locally, and
/// only its active segment is left in `data`'s log folder of the source.
async fn wait_archived(
    server: &Server,
    data: &Path,
    source: &str,
    rows: u64,
) -> proto::SourceStatus {
    let mut client = server.client().await;
    let started = Instant::now();
    loop {
        let now = status(&mut client).await;
        let found = now
            .sources
            .iter()
            .find(|s| s.name == source)
            .expect("source in GetStatus")
            .clone();
        let archived: u64 = found
            .partitions
            .iter()
            .map(|p| offset(&p.archived_to))
            .sum();
        if archived >= rows
            && found.partitions.iter().all(|p| offset(&p.local_from) > 0)
            && local_segments(&data.join("log").join(source)) == found.partitions.len()
        {
            return found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{source}: not archived to {rows} rows in 2 minutes: {found:?}"
        );
    }
}

/// The row offset of a segment-log position as status prints it (`0:N`); 0
/// when empty.
fn offset(position: &str) -> u64 {
    position
        .rsplit(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// What each test starts from: seeded random events of two days, their
/// brute-force reference, and a work folder with the definitions `v1`
/// (`clicks_total`) and `v2` (with `spend_1d` added).
struct Run {
    seed: u64,
    rng: StdRng,
    t0: i64,
    events: Vec<Event>,
    reference: Reference,
    users: Vec<i64>,
    dir: tempfile::TempDir,
    archive: PathBuf,
    data: PathBuf,
    v1: String,
    v2: String,
}

impl Run {
    fn new(count: usize, label: &str) -> Run {
        let seed: u64 = rand::rng().random();
        eprintln!("{label} seed {seed}");
        let mut rng = StdRng::seed_from_u64(seed);
        let t0 = now_micros();
        let events = generate(&mut rng, count, USERS, 100, |rng| {
            rng.random_range(t0 - 2 * DAY..t0 - MINUTE)
        });
        let dir = tempfile::tempdir().unwrap();
        let source = stream_source("clicks", 2);
        Run {
            seed,
            rng,
            t0,
            reference: Reference::new(&events),
            events,
            users: (1..=USERS + 1).collect(),
            archive: dir.path().join("archive"),
            data: dir.path().join("data"),
            v1: write_definitions(dir.path(), "v1.yaml", &source, &[], &[CLICKS_TOTAL]),
            v2: write_definitions(
                dir.path(),
                "v2.yaml",
                &source,
                &[],
                &[CLICKS_TOTAL, SPEND_1D],
            ),
            dir,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_and_training_over_an_archived_log_are_exact() {
    let Run {
        t0,
        events,
        reference,
        users,
        dir: _dir,
        archive,
        data,
        v1,
        v2,
        ..
    } = Run::new(40_000, "archive test");

    let server = start(&data, &archive);
    apply(&server, &v1);
    wait_for(&server, &["clicks_total@v1"]).await;
    ingest(&server, "clicks", &events, 2_000).await;
    wait_processed(&mut server.client().await, "clicks").await;
    let archived = wait_archived(&server, &data, "clicks", events.len() as u64 / 2).await;
    let local_rows: u64 = archived
        .partitions
        .iter()
        .map(|p| offset(&p.head) - offset(&p.local_from))
        .sum();
    assert!(local_rows < events.len() as u64 / 2, "{archived:?}");
    let printed = common::stdout_of(server.cli(&["status"]));
    assert!(printed.contains("archived 0:0.."), "{printed}");

    // A new feature version replays the whole log: most of it from the archive.
    apply(&server, &v2);
    wait_for(&server, &["spend_1d@v1"]).await;
    let mut client = server.client().await;
    let online = read_ok(&mut client, &["spend_1d", "clicks_total"], &users).await;
    check_exact(
        &online,
        0,
        &users,
        &reference,
        &Spec::new(Agg::Sum, Some(DAY)).with_default(0.0),
        "spend_1d@v1 backfilled from the archive",
    );
    check_exact(
        &online,
        1,
        &users,
        &reference,
        &Spec::new(Agg::Count, None),
        "clicks_total@v1",
    );

    // A training set replays it too, at an instant a day back.
    let offline = train_at(&mut client, &["spend_1d", "clicks_total"], &users, t0 - DAY).await;
    check_exact(
        &offline,
        0,
        &users,
        &reference,
        &Spec::new(Agg::Sum, Some(DAY)).with_default(0.0),
        "spend_1d in a training set over the archive",
    );
    check_exact(
        &offline,
        1,
        &users,
        &reference,
        &Spec::new(Agg::Count, None),
        "clicks_total in a training set over the archive",
    );

    // Restarted on the same data and archive: the same.
    server.stop();
    let server = start(&data, &archive);
    let mut client = server.client().await;
    let offline = train_at(&mut client, &["spend_1d"], &users, t0 - DAY / 2).await;
    check_exact(
        &offline,
        0,
        &users,
        &reference,
        &Spec::new(Agg::Sum, Some(DAY)).with_default(0.0),
        "spend_1d after a restart",
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_server_while_it_archives_loses_nothing() {
    const ROUNDS: usize = 10;
    const PER_ROUND: usize = 3_000;
    let Run {
        seed,
        mut rng,
        events,
        reference,
        users,
        dir: _dir,
        archive,
        data,
        v1,
        v2,
        ..
    } = Run::new(ROUNDS * PER_ROUND, "archive kill test");

    let mut server = start(&data, &archive);
    apply(&server, &v1);
    for (round, chunk) in events.chunks(PER_ROUND).enumerate() {
        ingest(&server, "clicks", chunk, 500).await;
        // A random pause, only to randomise the instant of the kill within
        // the archiver's passes (one a second).
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1_500))).await;
        server.kill();
        server = start(&data, &archive);
        let accepted = status(&mut server.client().await)
            .await
            .sources
            .iter()
            .find(|s| s.name == "clicks")
            .expect("clicks in GetStatus")
            .events_accepted;
        assert_eq!(
            accepted,
            ((round + 1) * PER_ROUND) as u64,
            "round {round}: every acknowledged event is in the log once (seed {seed})"
        );
    }
    wait_archived(&server, &data, "clicks", events.len() as u64 / 2).await;
    wait_processed(&mut server.client().await, "clicks").await;

    apply(&server, &v2);
    wait_for(&server, &["spend_1d@v1"]).await;
    let online = read_ok(
        &mut server.client().await,
        &["spend_1d", "clicks_total"],
        &users,
    )
    .await;
    check_exact(
        &online,
        0,
        &users,
        &reference,
        &Spec::new(Agg::Sum, Some(DAY)).with_default(0.0),
        &format!("spend_1d@v1 after {ROUNDS} kills (seed {seed})"),
    );
    check_exact(
        &online,
        1,
        &users,
        &reference,
        &Spec::new(Agg::Count, None),
        &format!("clicks_total@v1 after {ROUNDS} kills (seed {seed})"),
    );
    server.stop();
}
