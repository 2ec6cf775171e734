//! S3 access: the settings a process takes once ([`configure_s3`]) and the
//! object store of each bucket built from them, shared after first use.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::ObjectStore;

use crate::{profile, ObjectsError, Result};

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
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let profile = profile::load(&env)?.unwrap_or_default();
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    // The environment's keys win over the profile's, as with the AWS tools.
    if env("AWS_ACCESS_KEY_ID").is_none() {
        if let Some((id, secret)) = profile.static_keys()? {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
            if let Some(token) = profile.session_token.clone() {
                builder = builder.with_token(token);
            }
        }
    }
    let from_env = |names: &[&str]| names.iter().any(|n| env(n).is_some());
    let endpoint = settings.endpoint.clone().or_else(|| {
        (!from_env(&["AWS_ENDPOINT", "AWS_ENDPOINT_URL"]))
            .then_some(profile.endpoint_url)
            .flatten()
    });
    if let Some(endpoint) = &endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    let region = settings.region.clone().or_else(|| {
        (!from_env(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
            .then_some(profile.region)
            .flatten()
    });
    if let Some(region) = &region {
        builder = builder.with_region(region);
    }
    let store: Arc<dyn ObjectStore> = Arc::new(builder.build().map_err(|e| ObjectsError::S3 {
        bucket: bucket.to_string(),
        reason: e.to_string(),
    })?);
    buckets.insert(bucket.to_string(), store.clone());
    Ok(store)
}
