//! Reading a definitions file (YAML, or JSON by its `.json` extension) into
//! [`Definitions`].

use std::path::Path;

use crate::error::{Result, SqlError};
use crate::model::Definitions;

/// Parses definitions text; `file` names it in errors and picks the format
/// (`.json` is JSON, anything else YAML).
pub fn parse_definitions(text: &str, file: &str) -> Result<Definitions> {
    let parsed = if file.ends_with(".json") {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    };
    parsed.map_err(|message| SqlError::Parse {
        file: file.to_string(),
        message,
    })
}

/// Reads and parses a definitions file.
pub fn read_definitions(path: &Path) -> Result<Definitions> {
    let text = std::fs::read_to_string(path).map_err(|e| SqlError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    parse_definitions(&text, &path.display().to_string())
}
