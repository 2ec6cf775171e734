//! The first-run path: `.ci/setup` (run by `make run` and `make test` before any
//! compiling) must install libclang exactly when bindgen could not load one.
//!
//! Each case runs the real script with fake `ldconfig`, `apt-get`, `id` and `sudo`
//! first on `PATH`, library and header folders of the test's own making, and
//! records what `apt-get` was asked to do.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A sandbox for one run of the setup script.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// Fake tools: `ldconfig -p` prints `ldconfig_lines`; `id -u` prints `uid`;
    /// `sudo` is refused; `apt-get` appends its arguments to `apt.log` and, on
    /// `install`, puts a `libclang-14.so.1` and clang's headers where the script
    /// looks, as the real packages would.
    fn new(ldconfig_lines: &[&str], uid: u32) -> Sandbox {
        let sandbox = Sandbox {
            dir: tempfile::tempdir().unwrap(),
        };
        for folder in ["bin", "lib", "headers"] {
            std::fs::create_dir(sandbox.path(folder)).unwrap();
        }
        let listing = ldconfig_lines
            .iter()
            .map(|line| format!("\t{line}\n"))
            .collect::<String>();
        sandbox.tool(
            "ldconfig",
            &format!(
                "printf '%d libs found in cache\\n' {}\nprintf '%s' '{listing}'\n",
                ldconfig_lines.len()
            ),
        );
        sandbox.tool("id", &format!("echo {uid}\n"));
        sandbox.tool("sudo", "exit 1\n");
        sandbox.tool(
            "apt-get",
            &format!(
                "echo \"$*\" >> {log}\n\
                 case \" $* \" in *' install '*)\n\
                 touch {lib}/libclang-14.so.1\n\
                 mkdir -p {headers}/14/include && touch {headers}/14/include/stddef.h;;\n\
                 esac\n",
                log = sandbox.path("apt.log").display(),
                lib = sandbox.path("lib").display(),
                headers = sandbox.path("headers").display(),
            ),
        );
        sandbox
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn tool(&self, name: &str, body: &str) {
        let path = self.path("bin").join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Clang's built-in headers, as `libclang-common-N-dev` installs them.
    fn with_headers(self) -> Sandbox {
        let include = self.path("headers").join("14").join("include");
        std::fs::create_dir_all(&include).unwrap();
        std::fs::write(include.join("stddef.h"), "").unwrap();
        self
    }

    /// Runs `.ci/setup` with `LIBCLANG_PATH` set to `libclang_path`, if any.
    fn run(&self, libclang_path: Option<&Path>) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/setup");
        let mut command = Command::new("bash");
        command
            .arg(script)
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.path("bin").display()),
            )
            .env("FRESHET_SETUP_LIBDIRS", self.path("lib"))
            .env("FRESHET_SETUP_HEADER_ROOTS", self.path("headers"))
            .env_remove("LIBCLANG_PATH");
        if let Some(path) = libclang_path {
            command.env("LIBCLANG_PATH", path);
        }
        command.output().unwrap()
    }

    /// The `apt-get` calls made, one line each.
    fn apt_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("apt.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The machine of the bug report: only `libclang-cpp.so.14`, a library bindgen
/// cannot use. The script must install clang and libclang-dev.
#[test]
fn libclang_cpp_alone_is_not_libclang() {
    let sandbox = Sandbox::new(
        &["libclang-cpp.so.14 (libc6,x86-64) => /lib/x86_64-linux-gnu/libclang-cpp.so.14"],
        0,
    );
    let output = sandbox.run(None);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        sandbox.apt_calls(),
        vec!["update -qq", "install -y -qq clang libclang-dev"]
    );
    assert!(
        stderr(&output).contains("libclang-14.so.1"),
        "{}",
        stderr(&output)
    );
}

/// A libclang that clang-sys loads (`libclang-N.so.M` in ldconfig's cache) and
/// clang's headers: nothing to install.
#[test]
fn a_loadable_libclang_with_headers_needs_nothing() {
    let sandbox = Sandbox::new(
        &[
            "libclang-cpp.so.14 (libc6,x86-64) => /lib/x86_64-linux-gnu/libclang-cpp.so.14",
            "libclang-14.so.13 (libc6,x86-64) => /lib/x86_64-linux-gnu/libclang-14.so.13",
        ],
        0,
    )
    .with_headers();
    let output = sandbox.run(None);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(sandbox.apt_calls(), Vec::<String>::new());
}

/// A libclang without clang's built-in headers (only the runtime package) still
/// fails bindgen on `stddef.h`: install.
#[test]
fn libclang_without_headers_is_installed() {
    let sandbox = Sandbox::new(
        &["libclang-14.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libclang-14.so.1"],
        0,
    );
    let output = sandbox.run(None);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        sandbox.apt_calls(),
        vec!["update -qq", "install -y -qq clang libclang-dev"]
    );
}

/// `LIBCLANG_PATH` naming a folder with `libclang.so` is what bindgen uses first.
#[test]
fn libclang_path_is_honoured() {
    let sandbox = Sandbox::new(&[], 0).with_headers();
    let own = sandbox.path("own");
    std::fs::create_dir(&own).unwrap();
    std::fs::write(own.join("libclang.so"), "").unwrap();
    let output = sandbox.run(Some(&own));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(sandbox.apt_calls(), Vec::<String>::new());
    assert!(
        stderr(&output).contains("libclang.so"),
        "{}",
        stderr(&output)
    );
}

/// Not root and no sudo: a clear message and a failure before anything is
/// compiled; apt-get is never called.
#[test]
fn no_way_to_install_fails_early_and_says_what_to_do() {
    let sandbox = Sandbox::new(
        &["libclang-cpp.so.14 (libc6,x86-64) => /lib/x86_64-linux-gnu/libclang-cpp.so.14"],
        1000,
    );
    let output = sandbox.run(None);
    assert!(!output.status.success());
    assert_eq!(sandbox.apt_calls(), Vec::<String>::new());
    let message = stderr(&output);
    assert!(
        message.contains("cannot install packages") && message.contains("libclang-dev"),
        "{message}"
    );
}
