//! [`FeatureServer`]: online reads. For each requested feature version, one
//! batched multi-get of the entity keys' stored state, evaluated at the read time
//! `t` (windows `(t - W, t]`), then fill, clipping, scaling and defaults, with
//! parameters from the statistics the version has gathered.

mod state_online;

use std::collections::HashMap;
use std::sync::Arc;

use freshet_sql::types::ColumnType;
use freshet_storage::online::OnlineStore;

use crate::aggregate::{event_list, KeyState};
use crate::catalog::{FeatureCatalog, ResolvedVersion};
use crate::operators::{FeatureInput, FeatureStats, StoredFeature};
use crate::transforms::finish;
use crate::value::Value;
use crate::{EngineError, Result};

pub use state_online::StateOnline;

/// Most entity keys in one request.
pub const MAX_KEYS: usize = 10_000;
/// Most features in one request.
pub const MAX_FEATURES: usize = 1_000;

/// The answer to one online read.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineValues {
    /// The entity's key column (`user_id`), which names the keys in output,
    /// as training sets name them.
    pub key_column: String,
    /// The feature versions used, in request order (`name@vN`).
    pub versions: Vec<String>,
    /// The value types, in request order.
    pub types: Vec<ColumnType>,
    /// One row per entity key, one value per feature.
    pub rows: Vec<Vec<Option<Value>>>,
}

/// Serves feature values from the online store.
///
/// ```
/// # use std::sync::Arc;
/// # use freshet_backends::embedded::{RocksOnlineStore, RocksStateStore};
/// # use freshet_engine::catalog::{FeatureCatalog, LatestSet};
/// # use freshet_engine::serving::FeatureServer;
/// # use freshet_engine::value::Value;
/// # use freshet_registry::Registry;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let registry = Arc::new(Registry::new(Arc::new(RocksStateStore::open(dir.path().join("state")).unwrap())));
/// let definitions = freshet_sql::load::parse_definitions(
///     "sources:\n  - { name: clicks, stream: {}, schema: { user_id: int64, ts: timestamp }, event_time: ts }\n\
///      entities:\n  - { name: user, key: user_id }\n\
///      features:\n  - { name: clicks_1h, entity: user, source: clicks, aggregate: count(*), window: 1h }\n",
///     "clicks.yaml",
/// ).unwrap();
/// registry.apply(&definitions, "clicks.yaml", dir.path(), false).await.unwrap();
/// let catalog = Arc::new(FeatureCatalog::new(registry.clone(), Arc::new(LatestSet::load(&registry).await.unwrap())));
/// let server = FeatureServer::new(Arc::new(RocksOnlineStore::open(dir.path().join("online")).unwrap()), catalog);
/// // A key with no events: an empty window counts 0.
/// let values = server.get(&["clicks_1h".into()], "user", &[Value::Int(7)], 0).await.unwrap();
/// assert_eq!(values.versions, vec!["clicks_1h@v1"]);
/// assert_eq!(values.rows, vec![vec![Some(Value::Int(0))]]);
/// // A key of the wrong type is refused, naming it.
/// let refused = server.get(&["clicks_1h".into()], "user", &[Value::Str("x".into())], 0).await;
/// assert!(refused.unwrap_err().to_string().contains("entity key #0"));
/// # });
/// ```
pub struct FeatureServer {
    online: Arc<dyn OnlineStore>,
    catalog: Arc<FeatureCatalog>,
}

fn invalid(message: String) -> EngineError {
    EngineError::InvalidRequest(message)
}

impl FeatureServer {
    /// A server reading `online`, resolving names in `catalog`.
    pub fn new(online: Arc<dyn OnlineStore>, catalog: Arc<FeatureCatalog>) -> Self {
        FeatureServer { online, catalog }
    }

    /// Reads `features` for `keys` (all of `entity`: its name, its key column,
    /// or empty for the features' own) at time `at` (µs).
    pub async fn get(
        &self,
        features: &[String],
        entity: &str,
        keys: &[Value],
        at: i64,
    ) -> Result<OnlineValues> {
        if features.is_empty() {
            return Err(invalid("no features requested".into()));
        }
        if features.len() > MAX_FEATURES {
            return Err(invalid(format!(
                "{} features requested; at most {MAX_FEATURES} per request",
                features.len()
            )));
        }
        if keys.len() > MAX_KEYS {
            return Err(invalid(format!(
                "{} entity keys requested; at most {MAX_KEYS} per request",
                keys.len()
            )));
        }
        let served: Vec<Arc<ResolvedVersion>> = features
            .iter()
            .map(|f| self.catalog.resolve(f))
            .collect::<Result<_>>()?;
        // The entity is named as in the definitions or by its key column;
        // unnamed, it is the first feature's, and every other must share it.
        let entity = if entity.is_empty() {
            served[0].feature.entity.as_str()
        } else {
            entity
        };
        for feature in &served {
            if feature.feature.entity != entity && feature.key_column != entity {
                return Err(invalid(format!(
                    "feature '{}' describes entity '{}', not '{entity}'",
                    feature.table, feature.feature.entity
                )));
            }
        }
        let key_type = served[0].key_type;
        let mut encoded = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            if !key_fits(key, key_type) {
                return Err(invalid(format!(
                    "entity key #{i} ({}) does not fit entity '{entity}', whose keys are {key_type}",
                    describe(key)
                )));
            }
            encoded.push(key.key_bytes());
        }
        let mut rows: Vec<Vec<Option<Value>>> = vec![Vec::with_capacity(served.len()); keys.len()];
        // A version requested twice (by two names, or one name repeated) is
        // read once: its column is copied from where it was first read.
        let mut first_read: HashMap<&str, usize> = HashMap::new();
        for (column, feature) in served.iter().enumerate() {
            if let Some(&earlier) = first_read.get(feature.table.as_str()) {
                for row in rows.iter_mut() {
                    row.push(row[earlier].clone());
                }
                continue;
            }
            first_read.insert(feature.table.as_str(), column);
            let (table, at) = match &feature.frozen {
                Some((snapshot, frozen_at)) => (snapshot.as_str(), *frozen_at),
                None => (feature.table.as_str(), at),
            };
            let stats = if feature.feature.transform.is_some() {
                let stored = self.online.multi_get(table, &[Vec::new()]).await?;
                stored[0]
                    .as_deref()
                    .map(FeatureStats::decode)
                    .unwrap_or_default()
            } else {
                FeatureStats::default()
            };
            let values = self.online.multi_get(table, &encoded).await?;
            for (row, stored) in rows.iter_mut().zip(values) {
                let raw = stored_value(&feature.input, stored.as_deref(), at)?;
                row.push(finish(feature, raw, &stats));
            }
        }
        Ok(OnlineValues {
            key_column: served[0].key_column.clone(),
            versions: served.iter().map(|f| f.table.clone()).collect(),
            types: served.iter().map(|f| f.value_type).collect(),
            rows,
        })
    }
}

/// A feature's raw value at `at` from its stored entry for one key (`None`:
/// the key has none): a windowed feature's event list or a lifetime feature's
/// state, evaluated at `at`, or a view's current value.
pub fn stored_value(input: &FeatureInput, stored: Option<&[u8]>, at: i64) -> Result<Option<Value>> {
    let FeatureInput::Events { aggregation, .. } = input else {
        return Ok(match stored.map(StoredFeature::decode).transpose()? {
            Some(StoredFeature::Current(value)) => value,
            _ => None,
        });
    };
    if aggregation.retention.window.is_some() {
        return event_list::evaluate(stored, aggregation, at);
    }
    Ok(match stored.map(StoredFeature::decode).transpose()? {
        Some(StoredFeature::Events(state)) => state.evaluate(aggregation, at),
        Some(StoredFeature::Current(_)) => None,
        None => KeyState::default().evaluate(aggregation, at),
    })
}

fn key_fits(key: &Value, key_type: ColumnType) -> bool {
    matches!(
        (key, key_type),
        (Value::Int(_), ColumnType::Int32 | ColumnType::Int64)
            | (Value::Str(_), ColumnType::String)
            | (Value::Bool(_), ColumnType::Bool)
            | (Value::Timestamp(_), ColumnType::Timestamp)
    )
}

fn describe(key: &Value) -> String {
    match key {
        Value::Int(v) => format!("the integer {v}"),
        Value::Str(v) => format!("the string {v:?}"),
        Value::Bool(v) => format!("the boolean {v}"),
        Value::Float(v) => format!("the float {v}"),
        Value::Timestamp(v) => format!("the timestamp {v}"),
    }
}
