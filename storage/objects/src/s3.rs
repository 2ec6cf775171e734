//! S3 access: the settings a process takes once ([`configure_s3`]) and the
//! object store of each bucket built from them, shared after first use.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::ObjectStore;

use crate::{ObjectsError, Result};

/// How this process reaches S3, beyond the `AWS_*` environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// An S3-compatible endpoint (MinIO, Ceph, a test server), addressed
    /// path-style; `http://` endpoints are allowed. `None`: AWS itself (or
    /// `AWS_ENDPOINT`).
    pub endpoint: Option<String>,
    /// The region, when not from `AWS_REGION`.
    pub region: Option<String>,
    /// How often a file source on S3 is checked for a new ETag.
    pub poll_interval: Duration,
}

impl Default for S3Settings {
    fn default() -> Self {
        S3Settings {
            endpoint: None,
            region: None,
            poll_interval: Duration::from_secs(10),
        }
    }
}

static SETTINGS: OnceLock<S3Settings> = OnceLock::new();
static BUCKETS: LazyLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> =
    LazyLock::new(Mutex::default);

/// Sets this process's S3 settings, once, before anything reads S3; false
/// (and nothing changes) when different settings were set before.
pub fn configure_s3(settings: S3Settings) -> bool {
    SETTINGS.get_or_init(|| settings.clone()) == &settings
}

/// This process's S3 settings ([`S3Settings::default`] when none were set).
pub fn s3_settings() -> S3Settings {
    SETTINGS.get().cloned().unwrap_or_default()
}

/// The object store of `bucket`, built on first use and shared after.
pub fn s3_store(bucket: &str) -> Result<Arc<dyn ObjectStore>> {
    let mut buckets = BUCKETS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(store) = buckets.get(bucket) {
        return Ok(store.clone());
    }
    let settings = s3_settings();
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = &settings.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    if let Some(region) = &settings.region {
        builder = builder.with_region(region);
    }
    let store: Arc<dyn ObjectStore> = Arc::new(builder.build().map_err(|e| ObjectsError::S3 {
        bucket: bucket.to_string(),
        reason: e.to_string(),
    })?);
    buckets.insert(bucket.to_string(), store.clone());
    Ok(store)
}
