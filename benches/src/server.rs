//! The release `freshet serve` a benchmark starts (the test kit's launcher, with
//! the server's warnings shown), a gRPC client sized for benchmark answers, and
//! a wait until the server is idle.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use freshet_api::proto::feature_store_client::FeatureStoreClient;
use freshet_testkit::server::Launch;
use tonic::transport::Channel;

pub use freshet_testkit::server::Server;

/// Starts the `freshet` binary next to this benchmark ([`freshet_binary`]) on
/// free loopback ports over `data` with `extra` arguments, its warnings on this
/// process's standard error, and waits until it listens.
pub fn start(data: &Path, extra: &[String]) -> Server {
    Launch::new(&freshet_binary(), data)
        .args(extra)
        .show_warnings()
        .start()
}

/// A gRPC client of `url` that takes answers up to 256 MiB.
pub async fn client(url: &str) -> FeatureStoreClient<Channel> {
    FeatureStoreClient::connect(url.to_string())
        .await
        .expect("connect")
        .max_decoding_message_size(256 << 20)
        .max_encoding_message_size(64 << 20)
}

/// The `freshet` binary built next to the running benchmark.
pub fn freshet_binary() -> PathBuf {
    std::env::current_exe()
        .expect("own path")
        .with_file_name("freshet")
}

/// Waits until `server` is idle, so a timed phase does not share the cores with
/// background work: RocksDB compacts the state an ingest or a backfill wrote
/// (after a restart too) in background threads. Idle is CPU time growing by at
/// most 20 ms over half a second; gives up after two minutes (saying so on
/// standard error). Returns the seconds waited.
pub async fn wait_until_idle(server: &Server) -> f64 {
    let started = Instant::now();
    let cpu_ticks = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.pid()))
            .expect("read the server's /proc stat");
        // Fields after the parenthesised name: utime and stime are the 12th
        // and 13th, in clock ticks (100 a second).
        let after_name = &stat[stat.rfind(')').expect("a stat line") + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
    };
    let mut before = cpu_ticks();
    while started.elapsed().as_secs() < 120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = cpu_ticks();
        if now - before <= 2 {
            return started.elapsed().as_secs_f64();
        }
        before = now;
    }
    eprintln!("the server stayed busy for two minutes; timing anyway");
    started.elapsed().as_secs_f64()
}
