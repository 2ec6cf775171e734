//! [`store_at`]: the object store and key prefix a folder-like URI names.

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use crate::{s3_store, ObjectsError, Result};

/// A folder in an object store: the store and the prefix of the keys under it.
#[derive(Debug, Clone)]
pub struct StoreAt {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The prefix of every key under the URI (empty for a bucket's root).
    pub prefix: ObjectPath,
    /// The URI as given, for messages.
    pub uri: String,
}

impl StoreAt {
    /// The key of `name` under the prefix.
    pub fn key(&self, name: &str) -> ObjectPath {
        ObjectPath::from(format!("{}/{name}", self.prefix).trim_start_matches('/'))
    }

    /// `name`'s full URI, for messages.
    pub fn uri_of(&self, name: &str) -> String {
        format!("{}/{name}", self.uri.trim_end_matches('/'))
    }
}

/// The store and prefix of `s3://bucket[/prefix]` or `file:///absolute/folder`
/// (made when missing).
///
/// ```
/// # use freshet_objects::store_at;
/// let dir = tempfile::tempdir().unwrap();
/// let uri = format!("file://{}/archive", dir.path().display());
/// let at = store_at(&uri).unwrap();
/// assert_eq!(at.key("clicks/0/a.seg").as_ref(), "clicks/0/a.seg");
/// assert!(store_at("ftp://host/x").is_err());
/// ```
pub fn store_at(uri: &str) -> Result<StoreAt> {
    let invalid = |reason: &str| ObjectsError::InvalidUri {
        uri: uri.to_string(),
        reason: reason.to_string(),
    };
    if let Some(rest) = uri.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid("names no bucket (s3://BUCKET/PREFIX)"));
        }
        return Ok(StoreAt {
            store: s3_store(bucket)?,
            prefix: ObjectPath::from(prefix.trim_matches('/')),
            uri: uri.to_string(),
        });
    }
    if let Some(path) = uri.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(invalid("a file:// URI must hold an absolute path"));
        }
        std::fs::create_dir_all(path).map_err(|source| ObjectsError::Io {
            path: path.into(),
            source,
        })?;
        let store = LocalFileSystem::new_with_prefix(path)
            .map_err(|e| invalid(&e.to_string()))?
            .with_automatic_cleanup(true);
        return Ok(StoreAt {
            store: Arc::new(store),
            prefix: ObjectPath::default(),
            uri: uri.to_string(),
        });
    }
    Err(invalid("use s3://BUCKET/PREFIX or file:///ABSOLUTE/FOLDER"))
}
