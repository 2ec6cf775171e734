//! The child process of the segment log crash test (`testkit/tests/log_crash.rs`),
//! a test helper rather than a product binary: appends to a segment log forever
//! from several concurrent writers and prints one line per acknowledged append,
//! `ack WRITER FIRST_SEQ COUNT FIRST_OFFSET`, until killed.
//!
//! Usage: `log-crash-child DIR FIRST_SEQ`.

use std::io::Write;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use freshet_backends::embedded::{SegmentLog, SegmentLogOptions};
use freshet_storage::log::EventLog;

const WRITERS: i64 = 4;

fn batch(writer: i64, first_seq: i64, count: i64) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("writer", DataType::Int64, false),
        Field::new("seq", DataType::Int64, false),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from(vec![writer; count as usize])),
            Arc::new(Int64Array::from_iter_values(first_seq..first_seq + count)),
        ],
    )
    .expect("batch")
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(first_seq)) = (args.next(), args.next()) else {
        eprintln!("usage: log-crash-child DIR FIRST_SEQ");
        std::process::exit(2);
    };
    let first_seq: i64 = first_seq.parse().expect("FIRST_SEQ is a number");
    let log = Arc::new(
        SegmentLog::open_with(
            &dir,
            SegmentLogOptions {
                segment_bytes: 64 << 10,
                archive: None,
            },
        )
        .expect("open log"),
    );
    log.ensure_topic("crash", 1).await.expect("topic");
    let stdout = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let log = log.clone();
        let stdout = stdout.clone();
        tasks.push(tokio::spawn(async move {
            let mut seq = first_seq;
            let mut state =
                (writer as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ first_seq as u64;
            loop {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let count = 1 + (state % 40) as i64;
                let ack = log
                    .append("crash", 0, batch(writer, seq, count))
                    .await
                    .expect("append");
                let (_, offset) = ack.first.parts();
                let mut out = stdout.lock().expect("stdout");
                writeln!(out, "ack {writer} {seq} {count} {offset}").expect("stdout");
                out.flush().expect("stdout");
                seq += count;
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
}
