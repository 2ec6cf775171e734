//! Crash test of the segment log: a child process appends from several writers and
//! is killed with SIGKILL at random instants; after each kill the log is reopened and
//! every acknowledged record must be there, in order, intact, and appends go on.
//!
//! The test lives beside its child binary (`src/bin/log-crash-child.rs`) because
//! Cargo tells only the binary's own package where it was built.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use freshet_backends::embedded::{SegmentLog, SegmentLogOptions};
use freshet_storage::log::{EventLog, Position};
use rand::Rng;

const ROUNDS: usize = 24;

/// An acknowledged append as the child printed it.
struct Ack {
    writer: i64,
    first_seq: i64,
    count: i64,
    first_offset: u64,
}

fn parse_ack(line: &str) -> Ack {
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(parts[0], "ack", "unexpected child output: {line}");
    Ack {
        writer: parts[1].parse().unwrap(),
        first_seq: parts[2].parse().unwrap(),
        count: parts[3].parse().unwrap(),
        first_offset: parts[4].parse().unwrap(),
    }
}

/// Every `(writer, seq)` row of the log, in log order.
async fn read_rows(dir: &std::path::Path) -> Vec<(i64, i64)> {
    let log = SegmentLog::open_with(
        dir,
        SegmentLogOptions {
            segment_bytes: 64 << 10,
            archive: None,
        },
    )
    .expect("reopen after kill");
    // The child may have been killed before it created the topic.
    log.ensure_topic("crash", 1).await.expect("topic");
    let mut rows = Vec::new();
    let mut position = Position::START;
    loop {
        let batches = log
            .read("crash", 0, position, 10_000)
            .await
            .expect("read after kill");
        let Some(last) = batches.last() else { break };
        position = last.next;
        for batch in &batches {
            let writers = batch.batch.column(0).as_primitive::<Int64Type>();
            let seqs = batch.batch.column(1).as_primitive::<Int64Type>();
            assert_eq!(writers.null_count() + seqs.null_count(), 0);
            rows.extend((0..batch.batch.num_rows()).map(|i| (writers.value(i), seqs.value(i))));
        }
    }
    assert_eq!(log.head("crash", 0).await.unwrap(), position);
    rows
}

#[tokio::test]
async fn acknowledged_appends_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rng();
    let mut acks: Vec<Ack> = Vec::new();
    let mut rows_before = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_log-crash-child"))
            .arg(dir.path())
            .arg((round as i64 * 10_000_000).to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start child");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill after a random number of acknowledgements (sometimes none at all).
        let kill_after = if round % 6 == 0 {
            0
        } else {
            rng.random_range(1..400)
        };
        for _ in 0..kill_after {
            let line = lines.next().expect("child alive").expect("child output");
            acks.push(parse_ack(&line));
        }
        child.kill().expect("SIGKILL");
        // Acks printed before the kill landed are acknowledged too.
        for line in lines {
            let Ok(line) = line else { break };
            if line.starts_with("ack ") && line.split_whitespace().count() == 5 {
                acks.push(parse_ack(&line));
            }
        }
        child.wait().unwrap();

        let rows = read_rows(dir.path()).await;
        assert!(rows.len() >= rows_before, "round {round}: the log shrank");
        rows_before = rows.len();
        for ack in &acks {
            for i in 0..ack.count {
                let offset = (ack.first_offset + i as u64) as usize;
                assert_eq!(
                    rows.get(offset),
                    Some(&(ack.writer, ack.first_seq + i)),
                    "round {round}: acknowledged row at offset {offset} lost or changed"
                );
            }
        }
        let mut last_seq: HashMap<i64, i64> = HashMap::new();
        for (writer, seq) in &rows {
            if let Some(previous) = last_seq.insert(*writer * 1_000 + seq / 10_000_000, *seq) {
                assert_eq!(
                    *seq,
                    previous + 1,
                    "round {round}: writer {writer} rows out of order"
                );
            }
        }
    }
    assert!(acks.len() > ROUNDS, "the child acknowledged appends");
}
