//! [`FileLocation`]: where a file URI points (a local path or an S3 object,
//! glob or prefix), and the [`Fingerprint`] that tells when its bytes changed.

use std::path::{Path, PathBuf};

use freshet_objects::s3_store;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::describe_read_error;

/// Where a file source's, or a label file's, bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileLocation {
    /// A file (or glob) on local disk, by absolute path.
    Local(PathBuf),
    /// An object, a glob of objects (`*` in the key) or a prefix (a key
    /// ending in `/`) in an S3 bucket.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key, glob or prefix within it.
        key: String,
    },
}

/// What a location's bytes were when last looked at: equal fingerprints, same
/// bytes (a local file's modification time; an S3 object's ETag, or every
/// matching object's key and ETag for a glob or prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

impl FileLocation {
    /// Parses `file://PATH` (a relative path is taken from `base_dir`) or
    /// `s3://BUCKET/KEY`; the error says what is wrong with `uri`.
    ///
    /// ```
    /// # use std::path::Path;
    /// # use freshet_sql::files::FileLocation;
    /// let s3 = FileLocation::parse("s3://lake/users/*.parquet", Path::new("/defs")).unwrap();
    /// assert_eq!(s3.uri(), "s3://lake/users/*.parquet");
    /// let local = FileLocation::parse("file://data/users.csv", Path::new("/defs")).unwrap();
    /// assert_eq!(local.uri(), "file:///defs/data/users.csv");
    /// assert!(FileLocation::parse("s3://lake", Path::new("/")).unwrap_err().contains("s3://bucket/key"));
    /// ```
    pub fn parse(uri: &str, base_dir: &Path) -> Result<FileLocation, String> {
        if let Some(path) = uri.strip_prefix("file://") {
            if path.is_empty() {
                return Err(format!("'{uri}' names no file"));
            }
            let joined = base_dir.join(path);
            let absolute = std::path::absolute(&joined).unwrap_or(joined);
            return Ok(FileLocation::Local(absolute));
        }
        if let Some(rest) = uri.strip_prefix("s3://") {
            return match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                    Ok(FileLocation::S3 {
                        bucket: bucket.to_string(),
                        key: key.to_string(),
                    })
                }
                _ => Err(format!("'{uri}' must be s3://bucket/key")),
            };
        }
        Err(format!(
            "unsupported URI '{uri}': use file://PATH or s3://BUCKET/KEY"
        ))
    }

    /// The location as a URI (`file:///abs/path` or `s3://bucket/key`).
    pub fn uri(&self) -> String {
        match self {
            FileLocation::Local(path) => format!("file://{}", path.display()),
            FileLocation::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }

    /// The location as DataFusion's listing tables take it.
    pub fn table_path(&self) -> String {
        match self {
            FileLocation::Local(path) => path.display().to_string(),
            FileLocation::S3 { .. } => self.uri(),
        }
    }

    /// The extension of the last path segment with its dot (`.parquet`), or
    /// empty when it has none (a prefix: every object in it is read).
    pub fn extension(&self) -> String {
        let text = self.table_path();
        let last = text.rsplit('/').next().unwrap_or_default();
        last.rfind('.')
            .map(|dot| last[dot..].to_string())
            .unwrap_or_default()
    }

    /// The location's fingerprint now; `None` for a local path that is not
    /// one readable file (a glob: not watched). An S3 failure is an error
    /// naming the location.
    pub async fn fingerprint(&self) -> Result<Option<Fingerprint>, String> {
        match self {
            FileLocation::Local(path) => Ok(std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .map(|modified| Fingerprint(format!("{modified:?}")))),
            FileLocation::S3 { bucket, key } => {
                let failed =
                    |e: object_store::Error| format!("{}: {}", self.uri(), describe_read_error(&e));
                let store = s3_store(bucket).map_err(|e| e.to_string())?;
                if !is_pattern(key) {
                    let meta = store
                        .head(&ObjectPath::from(key.as_str()))
                        .await
                        .map_err(failed)?;
                    return Ok(Some(Fingerprint(version_of(&meta))));
                }
                let prefix = listing_prefix(key);
                let mut objects: Vec<String> = store
                    .list(Some(&ObjectPath::from(prefix)))
                    .map_ok(|meta| format!("{}={}", meta.location, version_of(&meta)))
                    .try_collect()
                    .await
                    .map_err(failed)?;
                objects.sort();
                Ok(Some(Fingerprint(objects.join("\n"))))
            }
        }
    }
}

impl FileLocation {
    /// For an S3 glob (`s3://b/tiers/*.parquet`), the URIs of the objects it
    /// matches, sorted; `None` for every other location, which DataFusion
    /// lists itself (a local glob, a prefix, one object). DataFusion matches
    /// globs in local paths only.
    pub async fn glob_matches(&self) -> Result<Option<Vec<String>>, String> {
        let FileLocation::S3 { bucket, key } = self else {
            return Ok(None);
        };
        if key.ends_with('/') || !is_pattern(key) {
            return Ok(None);
        }
        let pattern = glob::Pattern::new(key).map_err(|e| format!("{}: {e}", self.uri()))?;
        let store = s3_store(bucket).map_err(|e| e.to_string())?;
        let options = glob::MatchOptions {
            require_literal_separator: true,
            ..Default::default()
        };
        let mut matches: Vec<String> = store
            .list(Some(&ObjectPath::from(listing_prefix(key))))
            .try_filter_map(|meta| {
                let location = meta.location.to_string();
                std::future::ready(Ok(pattern
                    .matches_with(&location, options)
                    .then(|| format!("s3://{bucket}/{location}"))))
            })
            .try_collect()
            .await
            .map_err(|e| format!("{}: {}", self.uri(), describe_read_error(&e)))?;
        if matches.is_empty() {
            return Err(format!("no object matches {}", self.uri()));
        }
        matches.sort();
        Ok(Some(matches))
    }
}

/// Whether an S3 key names several objects: a glob or a prefix.
fn is_pattern(key: &str) -> bool {
    key.ends_with('/') || key.contains(['*', '?', '['])
}

/// The folder a glob or prefix lists: everything before its first wildcard,
/// up to the last `/`.
fn listing_prefix(key: &str) -> &str {
    let fixed = key.find(['*', '?', '[']).map_or(key, |at| &key[..at]);
    fixed.rfind('/').map_or("", |slash| &fixed[..slash])
}

fn version_of(meta: &object_store::ObjectMeta) -> String {
    meta.e_tag
        .clone()
        .unwrap_or_else(|| format!("{}@{}", meta.size, meta.last_modified))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glob_lists_the_folder_before_its_first_wildcard() {
        assert_eq!(listing_prefix("events/2026/*.parquet"), "events/2026");
        assert_eq!(listing_prefix("events/day=*/part.csv"), "events");
        assert_eq!(listing_prefix("events/"), "events");
        assert_eq!(listing_prefix("*.json"), "");
        assert!(is_pattern("events/") && is_pattern("a/*.csv") && !is_pattern("a/b.csv"));
    }

    #[test]
    fn the_extension_is_the_last_segments() {
        let at = |uri: &str| {
            FileLocation::parse(uri, Path::new("/"))
                .unwrap()
                .extension()
        };
        assert_eq!(at("s3://b/dir.v1/events.parquet"), ".parquet");
        assert_eq!(at("s3://b/dir.v1/"), "");
        assert_eq!(at("file://x/users.csv"), ".csv");
    }
}
