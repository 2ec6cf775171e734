//! [`Server`]: the real `freshet serve` process that end-to-end tests and
//! benchmarks start, talk to over loopback, measure and stop.
//!
//! The caller passes the binary's path: api's tests know it as
//! `env!("CARGO_BIN_EXE_freshet")`, benchmarks find it next to themselves. The
//! gRPC client is the caller's too (it needs `freshet-api`'s generated code, which
//! this crate does not depend on); [`Server::url`] is where it connects.
//!
//! ```no_run
//! # use freshet_testkit::server::Server;
//! # use std::path::Path;
//! let server = Server::start(Path::new("target/debug/freshet"), Path::new("/tmp/data"), &[]);
//! println!("gRPC on {}, metrics on {}", server.url, server.metrics_url);
//! server.stop();
//! ```

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};

/// What the server prints once its metrics endpoint is up.
const METRICS_LINE: &str = "freshet metrics on ";
/// What the server prints once it accepts gRPC connections.
const LISTENING_LINE: &str = "freshet listening on ";

/// How to start a server: [`Server::start`] for the common case, this for more
/// control over its arguments and logs.
pub struct Launch {
    command: Command,
    binary: PathBuf,
}

impl Launch {
    /// `binary serve` on free loopback ports (gRPC and metrics) over `data_dir`,
    /// its logs discarded.
    pub fn new(binary: &Path, data_dir: &Path) -> Launch {
        let mut command = Command::new(binary);
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        Launch {
            command,
            binary: binary.to_path_buf(),
        }
    }

    /// More `serve` arguments.
    pub fn args<I, S>(mut self, args: I) -> Launch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Sets an environment variable of the server process.
    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.command.env(key, value);
        self
    }

    /// Lets the server's warnings and errors through to this process's standard
    /// error (`RUST_LOG=warn`), as benchmarks want.
    pub fn show_warnings(mut self) -> Launch {
        self.command
            .env("RUST_LOG", "warn")
            .stderr(Stdio::inherit());
        self
    }

    /// Writes the server's log (standard error) to the file `path`.
    pub fn log_to(mut self, path: &Path) -> Launch {
        let file = std::fs::File::create(path)
            .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        self.command.stderr(Stdio::from(file));
        self
    }

    /// Starts the process and waits for the line that says it listens.
    pub fn start(mut self) -> Server {
        // The child is waited for in stop() or on drop.
        #[allow(clippy::zombie_processes)]
        let mut child = self
            .command
            .spawn()
            .unwrap_or_else(|e| panic!("start {} serve: {e}", self.binary.display()));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut metrics_url = String::new();
        loop {
            let mut line = String::new();
            let read = stdout
                .read_line(&mut line)
                .expect("read the server's output");
            if read == 0 {
                let status = child.wait().expect("wait for the server");
                panic!("the server exited before listening ({status})");
            }
            if let Some(url) = line.trim().strip_prefix(METRICS_LINE) {
                metrics_url = url.to_string();
            }
            if let Some(address) = line.trim().strip_prefix(LISTENING_LINE) {
                return Server {
                    child,
                    binary: self.binary,
                    url: format!("http://{address}"),
                    metrics_url,
                    _stdout: stdout,
                };
            }
        }
    }
}

/// A running `freshet serve`, killed (SIGKILL) if dropped without [`Server::stop`].
pub struct Server {
    child: Child,
    binary: PathBuf,
    /// `http://ADDR` of its gRPC endpoint.
    pub url: String,
    /// `http://ADDR/metrics`, its Prometheus endpoint.
    pub metrics_url: String,
    /// Its standard output, kept open so the server never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts `binary serve` on free loopback ports over `data_dir` with `extra`
    /// arguments, its logs discarded, and waits until it listens.
    pub fn start(binary: &Path, data_dir: &Path, extra: &[&str]) -> Server {
        Launch::new(binary, data_dir).args(extra).start()
    }

    /// The text of its Prometheus endpoint now.
    pub async fn metrics(&self) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self
            .metrics_url
            .trim_start_matches("http://")
            .trim_end_matches("/metrics");
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect to the metrics endpoint");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .expect("send the metrics request");
        let mut body = String::new();
        stream
            .read_to_string(&mut body)
            .await
            .expect("read the metrics");
        body
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs a client subcommand of the same binary against this server
    /// (`binary ARGS --server URL`) and returns its output, whatever its status.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(&self.binary)
            .args(args)
            .args(["--server", &self.url])
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.binary.display()))
    }

    /// (resident, peak resident) bytes of the process, from `/proc/PID/status`;
    /// zeros where that cannot be read.
    pub fn memory(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
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

    /// Stops the server with SIGTERM, waits for it, and checks that it exited
    /// cleanly (flushing and closing its storage).
    pub fn stop(mut self) {
        let exit = self.terminate();
        assert!(exit.success(), "server exited with {exit}");
    }

    /// Kills the server with SIGKILL, as a crash would, and waits for it: nothing
    /// it had not made durable survives.
    pub fn kill(mut self) {
        self.child.kill().expect("send SIGKILL");
        self.child.wait().expect("wait for the killed server");
    }

    /// Sends SIGTERM and waits for the process to exit.
    fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("send SIGTERM");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
        self.child.wait().expect("wait for the server")
    }
}

/// A server still running when its handle is dropped (a test or benchmark that
/// panicked) is killed, so it never outlives its caller.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The standard output of a command that must have succeeded, as text; panics
/// with its status and standard error otherwise.
pub fn stdout_of(output: Output) -> String {
    assert!(
        output.status.success(),
        "command failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// The value of the series `name{labels}` (written exactly as the endpoint
/// prints it, say `freshet_events_in_total{source="purchases"}`) in a
/// Prometheus text page, if it is there.
pub fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}
