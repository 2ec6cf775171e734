//! DataFusion sessions that read local paths and `s3://` objects, the latter
//! through `freshet-objects`' store of each bucket.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use datafusion::error::DataFusionError;
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use freshet_objects::s3_store;
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use url::Url;

static STORES: LazyLock<Arc<Stores>> = LazyLock::new(|| Arc::new(Stores::default()));

/// A DataFusion session (one partition, so files are read in order) that
/// reads local paths and `s3://` objects.
pub fn session() -> datafusion::error::Result<SessionContext> {
    let runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(STORES.clone())
        .build_arc()?;
    Ok(SessionContext::new_with_config_rt(
        SessionConfig::new().with_target_partitions(1),
        runtime,
    ))
}

/// The object stores DataFusion reads through: the local file system, and
/// each S3 bucket's shared store; a store registered for a URL's scheme and
/// host comes first.
#[derive(Debug, Default)]
struct Stores {
    local: Arc<LocalFileSystem>,
    registered: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

fn store_key(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default())
}

impl ObjectStoreRegistry for Stores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.registered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(store_key(url), store)
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        let registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = registered.get(&store_key(url)) {
            return Ok(store.clone());
        }
        match url.scheme() {
            "file" => Ok(self.local.clone()),
            "s3" => s3_store(url.host_str().unwrap_or_default())
                .map_err(|e| DataFusionError::Execution(e.to_string())),
            scheme => Err(DataFusionError::Execution(format!(
                "no object store for {scheme}:// URLs: use file:// or s3://"
            ))),
        }
    }
}
