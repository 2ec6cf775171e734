//! Criterion micro-benchmark of the segment log's frame codec on a 10,000-row
//! purchases batch. The frame functions are private, so this goes through
//! `SegmentLog`: `append` (Arrow IPC encode, checksum, write, fdatasync) on a
//! tmpfs directory where fdatasync costs next to nothing, and `read` of one frame
//! (pread from the page cache, checksum, Arrow IPC decode).
//!
//! Run: `cargo bench --workspace --bench frame_codec`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use freshet_backends::embedded::SegmentLog;
use freshet_benches::purchases;
use freshet_storage::log::{EventLog, Position};

const ROWS: usize = 10_000;

/// A temp dir on tmpfs when there is one, so the disk stays out of the numbers.
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().expect("temp dir")
}

fn frame_codec(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = scratch_dir();
    let log = SegmentLog::open(dir.path()).expect("open log");
    let batch = purchases::batch(ROWS, 1);
    runtime.block_on(async {
        log.ensure_topic("decode", 1).await.expect("topic");
        log.append("decode", 0, batch.clone())
            .await
            .expect("append");
    });

    let mut group = c.benchmark_group("frame_10k_rows");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("encode_via_append", |b| {
        // Every appended frame stays in the log, so each sample gets a fresh one
        // to keep tmpfs (memory) use bounded.
        b.iter_custom(|iters| {
            let dir = scratch_dir();
            let log = SegmentLog::open(dir.path()).expect("open log");
            runtime.block_on(async {
                log.ensure_topic("encode", 1).await.expect("topic");
                let start = Instant::now();
                for _ in 0..iters {
                    log.append("encode", 0, black_box(batch.clone()))
                        .await
                        .expect("append");
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("decode_via_read", |b| {
        b.iter(|| {
            runtime
                .block_on(log.read("decode", 0, Position::START, ROWS))
                .expect("read")
        })
    });
    group.finish();
}

criterion_group!(benches, frame_codec);
criterion_main!(benches);
