//! Starting and stopping the real `freshet` binary for end-to-end tests.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use freshet_api::proto::feature_store_client::FeatureStoreClient;

/// A running `freshet serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://ADDR` of its gRPC endpoint.
    pub url: String,
    /// `http://ADDR/metrics`, its Prometheus endpoint.
    pub metrics_url: String,
    /// Its standard output, kept open so the server never writes to a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
}

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
        Server::launch(data_dir, extra, Stdio::null())
    }

    /// [`Server::start`] with its log (standard error) written to `log`.
    pub fn start_logging_to(data_dir: &Path, log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("create the log file");
        Server::launch(data_dir, &[], Stdio::from(file))
    }

    fn launch(data_dir: &Path, extra: &[&str], stderr: Stdio) -> Server {
        // The child is waited for in stop() or on drop.
        #[allow(clippy::zombie_processes)]
        let mut child = Command::new(freshet())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start freshet serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut metrics_url = String::new();
        loop {
            let mut line = String::new();
            let read = stdout
                .read_line(&mut line)
                .expect("read the server's output");
            assert!(read > 0, "the server exited before listening");
            if let Some(url) = line.trim().strip_prefix("freshet metrics on ") {
                metrics_url = url.to_string();
            }
            if let Some(address) = line.trim().strip_prefix("freshet listening on ") {
                return Server {
                    child,
                    url: format!("http://{address}"),
                    metrics_url,
                    _stdout: stdout,
                };
            }
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A gRPC client of this server.
    pub async fn client(&self) -> FeatureStoreClient<tonic::transport::Channel> {
        FeatureStoreClient::connect(self.url.clone())
            .await
            .expect("connect")
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }

    /// Runs a client subcommand of the binary against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(freshet())
            .args(args)
            .args(["--server", &self.url])
            .output()
            .expect("run freshet")
    }

    /// Stops the server with SIGTERM and checks it exits cleanly.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("send SIGTERM");
        assert!(status.success());
        let exit = self.child.wait().expect("wait for server");
        assert!(exit.success(), "server exited with {exit}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard output of a successful command, as text.
pub fn stdout_of(output: Output) -> String {
    assert!(
        output.status.success(),
        "command failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
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
