//! Starting and stopping the real `freshet` binary for end-to-end tests: the test
//! kit's launcher, given this package's binary, plus a gRPC client.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::ops::Deref;
use std::path::{Path, PathBuf};

use freshet_api::proto::{self, feature_store_client::FeatureStoreClient, feature_value::Value};
use freshet_testkit::values::Val;

pub use freshet_testkit::server::stdout_of;

/// A running `freshet serve` of the binary under test (the test kit's launcher),
/// killed when dropped; adds a gRPC client.
pub struct Server(freshet_testkit::server::Server);

/// The path of the binary under test.
pub fn freshet() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_freshet"))
}

impl Server {
    /// Starts the server on free loopback ports over `data_dir`, and waits for the
    /// line that says it listens.
    pub fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// [`Server::start`] with more `serve` arguments.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Server {
        Server(freshet_testkit::server::Server::start(
            &freshet(),
            data_dir,
            extra,
        ))
    }

    /// A server started by the test kit's `launch` (environment, arguments).
    pub fn launched(launch: freshet_testkit::server::Launch) -> Server {
        Server(launch.start())
    }

    /// [`Server::start`] with its log (standard error) written to `log`.
    pub fn start_logging_to(data_dir: &Path, log: &Path) -> Server {
        Server(
            freshet_testkit::server::Launch::new(&freshet(), data_dir)
                .log_to(log)
                .start(),
        )
    }

    /// A gRPC client of this server.
    pub async fn client(&self) -> FeatureStoreClient<tonic::transport::Channel> {
        FeatureStoreClient::connect(self.url.clone())
            .await
            .expect("connect")
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }

    /// The server's `GetStatus` answer.
    pub async fn status(&self) -> proto::GetStatusResponse {
        self.client()
            .await
            .get_status(proto::GetStatusRequest {})
            .await
            .expect("GetStatus")
            .into_inner()
    }

    /// Stops the server with SIGTERM and checks it exits cleanly.
    pub fn stop(self) {
        self.0.stop()
    }

    /// Kills the server with SIGKILL, as a crash would, and waits for it.
    pub fn kill(self) {
        self.0.kill()
    }
}

impl Deref for Server {
    type Target = freshet_testkit::server::Server;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// A value of a `GetOnlineFeatures` answer, as the test kit compares values.
pub fn online_val(value: &proto::FeatureValue) -> Val {
    match &value.value {
        None => Val::Null,
        Some(Value::IntValue(v)) => Val::I(*v),
        Some(Value::DoubleValue(v)) => Val::F(*v),
        Some(Value::StringValue(v)) => Val::S(v.clone()),
        Some(other) => panic!("unexpected online value {other:?}"),
    }
}

/// Copies the engine test definitions (with `extra` definition lines appended)
/// and their items file into `dir`, so a test can change the items file; returns
/// the definitions' path.
pub fn engine_definitions_in(dir: &Path, extra: &str) -> String {
    let data = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(format!("{data}/engine.yaml")).unwrap() + extra;
    std::fs::write(dir.join("engine.yaml"), text).unwrap();
    std::fs::copy(format!("{data}/items.csv"), dir.join("items.csv")).unwrap();
    dir.join("engine.yaml").display().to_string()
}
