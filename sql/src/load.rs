//! Reading a definitions file (YAML, or JSON by its `.json` extension) into
//! [`Definitions`].

use std::path::{Path, PathBuf};

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

/// The absolute folder holding a definitions file, against which its relative
/// `file://` URIs resolve. Any path a shell accepts works, a bare `defs.yaml` in the
/// current folder included (its folder is the current one).
pub fn definitions_folder(path: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(path).map_err(|e| SqlError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(absolute
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_file_name_resolves_against_the_current_folder() {
        let here = std::env::current_dir().unwrap();
        assert_eq!(definitions_folder(Path::new("defs.yaml")).unwrap(), here);
        assert_eq!(
            definitions_folder(Path::new("./defs.yaml")).unwrap(),
            here.join(".")
        );
        assert_eq!(
            definitions_folder(Path::new("a/b/defs.yaml")).unwrap(),
            here.join("a/b")
        );
        assert_eq!(
            definitions_folder(Path::new("/x/defs.yaml")).unwrap(),
            PathBuf::from("/x")
        );
    }
}
