//! Expected-output files of fixture tests: comparing an actual output with its
//! expected file, rewriting ("blessing") the file on request, and keeping
//! checkout-specific paths out of both.
//!
//! `FRESHET_BLESS=1` makes [`check_expected`] write the actual output instead of
//! comparing; the expected files are the independent reference, so read every
//! change before committing it.

use std::fmt::Write as _;
use std::path::Path;

/// The environment variable that asks fixture tests to rewrite expected files.
pub const BLESS_VARIABLE: &str = "FRESHET_BLESS";

/// Whether this run rewrites expected files (`FRESHET_BLESS=1`).
pub fn blessing() -> bool {
    std::env::var(BLESS_VARIABLE).is_ok_and(|value| value == "1")
}

/// Compares `actual` with the file at `expected_path`, or, when [`blessing`],
/// writes `actual` there. The error says what differs (a [`diff`] and the whole
/// actual output), or that the file is missing, naming the file.
pub fn check_expected(expected_path: &Path, actual: &str) -> Result<(), String> {
    compare_or_bless(expected_path, actual, blessing())
}

fn compare_or_bless(expected_path: &Path, actual: &str, bless: bool) -> Result<(), String> {
    let name = expected_path.file_name().map_or_else(
        || expected_path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    if bless {
        return std::fs::write(expected_path, actual)
            .map_err(|e| format!("cannot write {}: {e}", expected_path.display()));
    }
    match std::fs::read_to_string(expected_path) {
        Err(_) => Err(format!(
            "no expected file {name}; run with {BLESS_VARIABLE}=1 and review it. Actual output:\n{}",
            indent(actual)
        )),
        Ok(expected) if expected != actual => Err(format!(
            "output differs from {name} (- expected, + actual):\n{}  actual:\n{}",
            diff(&expected, actual),
            indent(actual)
        )),
        Ok(_) => Ok(()),
    }
}

/// A line-by-line comparison naming each line that differs, with the expected
/// line (`-`) and the actual one (`+`).
pub fn diff(expected: &str, actual: &str) -> String {
    let expected: Vec<&str> = expected.lines().collect();
    let actual: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for i in 0..expected.len().max(actual.len()) {
        let (e, a) = (expected.get(i), actual.get(i));
        if e != a {
            writeln!(out, "    line {}:", i + 1).unwrap();
            if let Some(e) = e {
                writeln!(out, "      - {e}").unwrap();
            }
            if let Some(a) = a {
                writeln!(out, "      + {a}").unwrap();
            }
        }
    }
    out
}

/// `text` with every line indented by four spaces.
pub fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}\n")).collect()
}

/// `text` with `dir`'s path (as given made absolute, and canonical) replaced by
/// `placeholder`, so expected files do not depend on where the repository is
/// checked out.
pub fn redact(text: &str, dir: &Path, placeholder: &str) -> String {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut out = text.replace(&absolute.display().to_string(), placeholder);
    if let Ok(canonical) = dir.canonicalize() {
        out = out.replace(&canonical.display().to_string(), placeholder);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_changed_added_and_missing_lines() {
        assert_eq!(diff("a\nb\n", "a\nb\n"), "");
        assert_eq!(
            diff("a\nb\nc\n", "a\nB\n"),
            "    line 2:\n      - b\n      + B\n    line 3:\n      - c\n"
        );
    }

    #[test]
    fn redact_replaces_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("cannot read {}/x.csv", dir.path().display());
        assert_eq!(
            redact(&text, dir.path(), "<dir>"),
            "cannot read <dir>/x.csv"
        );
    }

    #[test]
    fn check_expected_reports_a_missing_file_and_a_difference() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("case.expected");
        let missing = compare_or_bless(&path, "x\n", false).unwrap_err();
        assert!(
            missing.starts_with("no expected file case.expected"),
            "{missing}"
        );
        std::fs::write(&path, "x\n").unwrap();
        assert_eq!(compare_or_bless(&path, "x\n", false), Ok(()));
        let differs = compare_or_bless(&path, "y\n", false).unwrap_err();
        assert!(
            differs.contains("- x") && differs.contains("+ y"),
            "{differs}"
        );
        assert_eq!(compare_or_bless(&path, "y\n", true), Ok(()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "y\n", "blessed");
    }
}
