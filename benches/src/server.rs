//! The release `freshet serve` a benchmark starts (the test kit's launcher, with
//! the server's warnings shown), and a gRPC client sized for benchmark answers.

use std::path::{Path, PathBuf};

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
