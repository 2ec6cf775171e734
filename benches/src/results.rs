//! The `benches/results-<bench>.json` files a benchmark's `--save` writes.

use std::path::{Path, PathBuf};

/// Stores `report` under `key` in `benches/results-<bench>.json`, keeping the
/// results stored there under other keys. Returns the file's path.
pub fn save(bench: &str, key: &str, report: &serde_json::Value) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("results-{bench}.json"));
    let mut all: serde_json::Map<String, serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    all.insert(key.to_string(), report.clone());
    let text = serde_json::to_string_pretty(&all).expect("json") + "\n";
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    eprintln!("{bench}: saved to {}", path.display());
    path
}
