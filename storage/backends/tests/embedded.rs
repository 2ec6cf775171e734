//! The embedded backends: every conformance suite of `freshet-testkit`, then the
//! segment log's own cases (reads inside a frame, rot, torn tails).

use std::path::Path;
use std::sync::Arc;

use freshet_backends::embedded::{
    RocksOnlineStore, RocksStateStore, SegmentLog, SegmentLogOptions,
};
use freshet_storage::log::{EventLog, Position};
use freshet_storage::online::OnlineStore;
use freshet_storage::state::StateStore;
use freshet_testkit::conformance::{numbered, numbers, InTempDir};

fn segment_log(dir: &Path) -> Arc<dyn EventLog> {
    // Small segments so that every suite crosses segment boundaries.
    Arc::new(
        SegmentLog::open_with(
            dir,
            SegmentLogOptions {
                segment_bytes: 4096,
                archive: None,
            },
        )
        .expect("open log"),
    )
}

fn rocks_state(dir: &Path) -> Arc<dyn StateStore> {
    Arc::new(RocksStateStore::open(dir).expect("open state store"))
}

fn rocks_online(dir: &Path) -> Arc<dyn OnlineStore> {
    Arc::new(RocksOnlineStore::open(dir).expect("open online store"))
}

freshet_testkit::event_log_conformance!(InTempDir(segment_log));
freshet_testkit::state_store_conformance!(InTempDir(rocks_state));
freshet_testkit::online_store_conformance!(InTempDir(rocks_online));

/// The segment log's positions are row offsets, so a read may start inside an
/// appended batch and returns the rest of it.
#[tokio::test]
async fn segment_log_reads_from_inside_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    two_frames(dir.path()).await;
    let log = segment_log(dir.path());
    let read = log
        .read("events", 0, Position::from_parts(0, 7), 5)
        .await
        .unwrap();
    assert_eq!(read[0].position, Position::from_parts(0, 7));
    assert_eq!(
        numbers(read.iter().map(|b| &b.batch)),
        (7..20).collect::<Vec<_>>()
    );
}

/// Writes rows 0..10 and 10..20 as two frames of a closed log in `dir`; returns
/// the segment file holding them.
async fn two_frames(dir: &Path) -> std::path::PathBuf {
    let log = SegmentLog::open(dir).unwrap();
    log.ensure_topic("events", 1).await.unwrap();
    log.append("events", 0, numbered(0..10)).await.unwrap();
    log.append("events", 0, numbered(10..20)).await.unwrap();
    dir.join("events/0/00000000000000000000.seg")
}

/// Bytes flipped inside an acknowledged frame that has frames after it are
/// reported as corruption naming the file and byte, never skipped or cut off.
#[tokio::test]
async fn segment_log_reports_rot_before_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let segment = two_frames(dir.path()).await;
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[40] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();
    let error = SegmentLog::open(dir.path()).err().expect("rot is an error");
    let text = error.to_string();
    assert!(
        text.contains("00000000000000000000.seg") && text.contains("at byte 0"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(&segment).unwrap(),
        bytes,
        "nothing was truncated"
    );
}

/// A frame cut short at the end of the file (a crash mid-write) is cut off on
/// reopen; the frames before it stay and appends continue after them.
#[tokio::test]
async fn segment_log_truncates_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let segment = two_frames(dir.path()).await;
    let length = std::fs::metadata(&segment).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(length - 7)
        .unwrap();
    let log = SegmentLog::open(dir.path()).unwrap();
    assert_eq!(log.row_count("events", 0).await.unwrap(), 10);
    log.append("events", 0, numbered(10..15)).await.unwrap();
    let read = log
        .read("events", 0, Position::START, usize::MAX)
        .await
        .unwrap();
    assert_eq!(
        numbers(read.iter().map(|b| &b.batch)),
        (0..15).collect::<Vec<_>>()
    );
}
