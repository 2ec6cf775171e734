//! [`S3Server`]: a real S3-compatible server for tests, `moto_server` (moto
//! from PyPI, which `make test` installs through `.ci/setup-s3`), started on a free loopback port
//! and stopped when dropped. Buckets and objects are made and read over plain
//! HTTP (moto does not check signatures by default), so the code under test is
//! the only S3 client in play.
//!
//! ```no_run
//! # use freshet_testkit::s3::S3Server;
//! let s3 = S3Server::start();
//! s3.create_bucket("lake");
//! s3.put_object("lake", "users.csv", b"user_id\n1\n");
//! assert_eq!(s3.get_object("lake", "users.csv"), Some(b"user_id\n1\n".to_vec()));
//! println!("point --s3-endpoint at {}", s3.endpoint);
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};

/// The credentials tests give Freshet for the server (moto takes any).
pub const ACCESS_KEY: &str = "freshet-test";
/// The secret matching [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "freshet-test-secret";
/// The region tests name.
pub const REGION: &str = "us-east-1";

/// A running `moto_server`, killed when dropped.
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, its endpoint.
    pub endpoint: String,
    address: String,
}

impl S3Server {
    /// Starts moto's server (the program `FRESHET_MOTO_SERVER` names, or the
    /// one `.ci/setup-s3` installed) on a free loopback port and waits until it
    /// says it is running.
    pub fn start() -> S3Server {
        S3Server::launch(false)
    }

    /// Starts a server that checks every request's signature against the
    /// access keys it knows, and it knows none: whatever credentials a client
    /// gives are wrong. Buckets cannot be made on it.
    pub fn start_refusing_credentials() -> S3Server {
        S3Server::launch(true)
    }

    fn launch(check_credentials: bool) -> S3Server {
        let program = moto_program();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let mut command = Command::new(&program);
        if check_credentials {
            // moto authenticates requests after this many unauthenticated ones.
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        // The child is killed and waited for on drop.
        #[allow(clippy::zombie_processes)]
        let mut child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "start {program}: {e}; S3 tests need moto's server: run \
                     `bash .ci/setup-s3` or set FRESHET_MOTO_SERVER"
                )
            });
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        let address = format!("127.0.0.1:{port}");
        loop {
            let mut line = String::new();
            let read = stderr.read_line(&mut line).expect("read moto's output");
            if read == 0 {
                let status = child.wait().expect("wait for moto");
                panic!("{program} exited before running ({status})");
            }
            if line.contains("Running on") && line.contains(&address) {
                break;
            }
        }
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        S3Server {
            child,
            endpoint: format!("http://{address}"),
            address,
        }
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = self.request("PUT", &format!("/{bucket}"), &[]);
        assert_eq!(
            status,
            200,
            "create bucket {bucket}: {}",
            String::from_utf8_lossy(&body)
        );
    }

    /// Writes the object `bucket`/`key`.
    pub fn put_object(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let (status, body) = self.request("PUT", &format!("/{bucket}/{key}"), bytes);
        assert_eq!(
            status,
            200,
            "put {bucket}/{key}: {}",
            String::from_utf8_lossy(&body)
        );
    }

    /// The object `bucket`/`key`, or `None` when there is none.
    pub fn get_object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        match self.request("GET", &format!("/{bucket}/{key}"), &[]) {
            (200, body) => Some(body),
            (404, _) => None,
            (status, body) => panic!(
                "get {bucket}/{key}: status {status}: {}",
                String::from_utf8_lossy(&body)
            ),
        }
    }

    /// One HTTP/1.1 request, path-style, naming [`ACCESS_KEY`] without a real
    /// signature: moto (not checking signatures) then takes it as the owning
    /// account's, which may overwrite objects (an anonymous request may not).
    /// Returns the status and body.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(&self.address).expect("connect to moto");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/{REGION}/s3/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.address,
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("send to moto");
        stream.write_all(body).expect("send to moto");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("read from moto");
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP response head");
        let head = String::from_utf8_lossy(&response[..split]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("an HTTP status");
        let mut body = response[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = unchunk(&body);
        }
        (status, body)
    }
}

/// The moto server to start: `FRESHET_MOTO_SERVER`, else where `.ci/setup-s3`
/// installs it (`${FRESHET_TOOLS_DIR:-$HOME/.cache/freshet}/moto/bin/moto_server`).
fn moto_program() -> String {
    if let Ok(program) = std::env::var("FRESHET_MOTO_SERVER") {
        return program;
    }
    let tools = std::env::var("FRESHET_TOOLS_DIR").unwrap_or_else(|_| {
        format!(
            "{}/.cache/freshet",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    format!("{tools}/moto/bin/moto_server")
}

/// The payload of a chunked HTTP body.
fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16)
            .expect("a chunk size");
        if size == 0 {
            break;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
    out
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
