//! [`ServerProcess`]: the release `freshet serve` a benchmark starts, talks to
//! over gRPC, measures (`/proc` memory) and stops.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use freshet_api::proto::feature_store_client::FeatureStoreClient;
use tonic::transport::Channel;

/// A running `freshet serve`.
pub struct ServerProcess {
    child: Child,
    /// `http://ADDR` of its gRPC endpoint.
    pub url: String,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl ServerProcess {
    /// Starts `binary serve` on free loopback ports over `data` with `extra`
    /// arguments, and waits for the line that says it listens.
    pub fn start(binary: &Path, data: &Path, extra: &[String]) -> ServerProcess {
        // The child is waited for in stop().
        #[allow(clippy::zombie_processes)]
        let mut child = Command::new(binary)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        loop {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).expect("server output") > 0,
                "server exited"
            );
            if let Some(address) = line.trim().strip_prefix("freshet listening on ") {
                return ServerProcess {
                    url: format!("http://{address}"),
                    child,
                    _stdout: stdout,
                };
            }
        }
    }

    /// (resident, peak resident) bytes, from /proc/<pid>/status.
    pub fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// SIGTERM, then waits for the process to exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A server still running when its handle is dropped (a benchmark that panics)
/// is killed, so it does not outlive the benchmark.
impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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
