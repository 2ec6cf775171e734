//! The segment log with an archive: sealed segments uploaded, local files
//! past the retention removed, and every row still read back exactly as
//! appended — from a local folder (`file://`) and from a real S3-compatible
//! server (moto) — while a missing or corrupt archived object fails the read
//! with its name and a failed upload removes nothing.

use std::path::{Path, PathBuf};

use freshet_backends::embedded::{Archive, SegmentLog, SegmentLogOptions};
use freshet_storage::config::LocalRetention;
use freshet_storage::log::{EventLog, PartitionRanges, Position};
use freshet_testkit::conformance::{numbered, numbers};

const ROWS_PER_BATCH: i64 = 10;
const BATCHES: i64 = 150;

fn archived_log(dir: &Path, uri: &str, retention: Option<LocalRetention>) -> SegmentLog {
    SegmentLog::open_with(
        dir,
        SegmentLogOptions {
            segment_bytes: 4096,
            archive: Some(Archive::new(
                freshet_objects::store_at(uri).unwrap(),
                retention,
            )),
        },
    )
    .unwrap()
}

/// Appends rows `0..BATCHES * ROWS_PER_BATCH` to each of the two partitions
/// of `events`, as numbered batches of `ROWS_PER_BATCH`.
async fn append_all(log: &SegmentLog) {
    log.ensure_topic("events", 2).await.unwrap();
    for batch in 0..BATCHES {
        for partition in 0..2 {
            let from = batch * ROWS_PER_BATCH;
            log.append("events", partition, numbered(from..from + ROWS_PER_BATCH))
                .await
                .unwrap();
        }
    }
}

/// Every row of a partition from `from` on, read `max_rows` at a time.
async fn read_all(log: &SegmentLog, partition: u32, from: u64, max_rows: usize) -> Vec<i64> {
    let mut at = Position::from_parts(0, from);
    let mut batches = Vec::new();
    loop {
        let read = log.read("events", partition, at, max_rows).await.unwrap();
        let Some(last) = read.last() else {
            break;
        };
        at = last.next;
        batches.extend(read.into_iter().map(|b| b.batch));
    }
    numbers(&batches)
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

/// Reads from archived and local rows alike, at every batch size and from
/// inside a frame, equal what was appended; then the same after reopening.
async fn archived_rows_read_back_as_appended(uri: &str) {
    let dir = tempfile::tempdir().unwrap();
    let log = archived_log(dir.path(), uri, Some(LocalRetention::Bytes(0)));
    append_all(&log).await;
    let local_before = segment_files(&dir.path().join("events/0")).len();
    let pass = log.archive_pass().await.unwrap();
    assert_eq!(
        pass.uploaded,
        2 * (local_before - 1),
        "every sealed segment"
    );
    assert_eq!(pass.removed, pass.uploaded);
    assert_eq!(
        segment_files(&dir.path().join("events/0")).len(),
        1,
        "only the active segment stays"
    );
    let nothing_left = log.archive_pass().await.unwrap();
    assert_eq!((nothing_left.uploaded, nothing_left.removed), (0, 0));

    let ranges = log.ranges("events", 0).await.unwrap();
    let PartitionRanges {
        local_from,
        archived: Some((archived_from, archived_to)),
    } = ranges
    else {
        panic!("partition 0 has archived rows: {ranges:?}");
    };
    assert_eq!(archived_from, Position::START);
    assert_eq!(archived_to, local_from);
    assert!(local_from > Position::from_parts(0, 100), "{local_from}");

    let expected: Vec<i64> = (0..BATCHES * ROWS_PER_BATCH).collect();
    for max_rows in [1, 7, 100_000] {
        for partition in 0..2 {
            assert_eq!(
                read_all(&log, partition, 0, max_rows).await,
                expected,
                "max_rows {max_rows}"
            );
        }
    }
    assert_eq!(read_all(&log, 1, 15, 3).await, expected[15..].to_vec());
    let first = log
        .read("events", 0, Position::from_parts(0, 15), 1)
        .await
        .unwrap();
    assert_eq!(first[0].position, Position::from_parts(0, 15));

    drop(log);
    let log = archived_log(dir.path(), uri, Some(LocalRetention::Bytes(0)));
    assert_eq!(read_all(&log, 0, 0, 1000).await, expected);
    let end = BATCHES * ROWS_PER_BATCH;
    log.append("events", 0, numbered(end..end + 5))
        .await
        .unwrap();
    assert_eq!(
        read_all(&log, 0, 0, 1000).await,
        (0..end + 5).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn archived_rows_read_back_as_appended_from_a_folder() {
    let archive = tempfile::tempdir().unwrap();
    archived_rows_read_back_as_appended(&format!("file://{}", archive.path().display())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn archived_rows_read_back_as_appended_from_s3() {
    let s3 = freshet_testkit::s3::S3Server::start();
    s3.create_bucket("logs");
    // The only test of this binary that reaches S3: the settings are the
    // process's.
    std::env::set_var("AWS_ACCESS_KEY_ID", freshet_testkit::s3::ACCESS_KEY);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", freshet_testkit::s3::SECRET_KEY);
    assert!(freshet_objects::configure_s3(freshet_objects::S3Settings {
        endpoint: Some(s3.endpoint.clone()),
        region: Some(freshet_testkit::s3::REGION.into()),
        ..Default::default()
    }));
    archived_rows_read_back_as_appended("s3://logs/freshet/archive").await;
}

/// The archived object of partition 0's first segment, in a `file://` archive.
fn first_object(archive: &Path) -> PathBuf {
    segment_files(&archive.join("events/0"))
        .into_iter()
        .next()
        .expect("an archived segment")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_or_missing_archived_object_fails_the_read_with_its_name() {
    let archive = tempfile::tempdir().unwrap();
    let uri = format!("file://{}", archive.path().display());
    let dir = tempfile::tempdir().unwrap();
    let log = archived_log(dir.path(), &uri, Some(LocalRetention::Bytes(0)));
    append_all(&log).await;
    log.archive_pass().await.unwrap();

    let object = first_object(archive.path());
    let name = object.file_name().unwrap().to_string_lossy().to_string();
    let mut bytes = std::fs::read(&object).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&object, &bytes).unwrap();
    let error = log
        .read("events", 0, Position::START, 10)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(&format!("{uri}/events/0/{name}")), "{error}");
    assert!(error.contains("corrupt"), "{error}");
    // Partition 1's archive is intact and still reads.
    assert_eq!(
        read_all(&log, 1, 0, 1000).await.len() as i64,
        BATCHES * ROWS_PER_BATCH
    );

    std::fs::remove_file(&object).unwrap();
    let error = log
        .read("events", 0, Position::START, 10)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(&name), "{error}");
    assert!(error.contains("no such object"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_upload_keeps_every_segment_and_is_tried_again() {
    let archive = tempfile::tempdir().unwrap();
    let root = archive.path().join("archive");
    let uri = format!("file://{}", root.display());
    let dir = tempfile::tempdir().unwrap();
    let log = archived_log(dir.path(), &uri, Some(LocalRetention::Bytes(0)));
    append_all(&log).await;
    let local = segment_files(&dir.path().join("events/0"));

    // The archive's folder becomes a file: every upload fails.
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::write(&root, b"not a folder").unwrap();
    let error = log.archive_pass().await.unwrap_err().to_string();
    assert!(error.contains(&format!("{uri}/events/")), "{error}");
    assert!(error.contains("upload failed"), "{error}");
    assert_eq!(segment_files(&dir.path().join("events/0")), local);
    let expected: Vec<i64> = (0..BATCHES * ROWS_PER_BATCH).collect();
    assert_eq!(read_all(&log, 0, 0, 1000).await, expected);

    std::fs::remove_file(&root).unwrap();
    std::fs::create_dir(&root).unwrap();
    let pass = log.archive_pass().await.unwrap();
    assert_eq!(pass.uploaded, 2 * (local.len() - 1));
    assert_eq!(read_all(&log, 0, 0, 1000).await, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_only_in_the_archive_need_the_archive_to_open() {
    let archive = tempfile::tempdir().unwrap();
    let uri = format!("file://{}", archive.path().display());
    let dir = tempfile::tempdir().unwrap();
    let log = archived_log(dir.path(), &uri, Some(LocalRetention::Bytes(0)));
    append_all(&log).await;
    log.archive_pass().await.unwrap();
    drop(log);

    let error = SegmentLog::open(dir.path())
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("events/0"), "{error}");
    assert!(error.contains(&format!("--archive {uri}")), "{error}");
    let elsewhere = tempfile::tempdir().unwrap();
    let other = format!("file://{}", elsewhere.path().display());
    let error = SegmentLog::open_with(
        dir.path(),
        SegmentLogOptions {
            segment_bytes: 4096,
            archive: Some(Archive::new(
                freshet_objects::store_at(&other).unwrap(),
                None,
            )),
        },
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(error.contains(&uri) && error.contains(&other), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_retention_the_archive_is_a_copy_and_nothing_local_goes() {
    let archive = tempfile::tempdir().unwrap();
    let uri = format!("file://{}", archive.path().display());
    let dir = tempfile::tempdir().unwrap();
    let log = archived_log(dir.path(), &uri, None);
    append_all(&log).await;
    let local = segment_files(&dir.path().join("events/0"));
    let pass = log.archive_pass().await.unwrap();
    assert_eq!((pass.uploaded, pass.removed), (2 * (local.len() - 1), 0));
    assert_eq!(segment_files(&dir.path().join("events/0")), local);
    assert_eq!(
        segment_files(&archive.path().join("events/0")).len(),
        local.len() - 1
    );
    assert_eq!(
        log.ranges("events", 0).await.unwrap().local_from,
        Position::START
    );
}
