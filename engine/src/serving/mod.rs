//! [`FeatureServer`]: online reads. For each requested feature version, one
//! batched multi-get of the entity keys' stored state, evaluated at the read time
//! `t` (windows `(t - W, t]`), then fill, clipping, scaling and defaults, with
//! parameters from the statistics the version has gathered.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use freshet_sql::aggregate::Aggregate;
use freshet_sql::model::{Feature, Fill, FillStatistic, Scale};
use freshet_sql::registry::Registry;
use freshet_sql::types::ColumnType;
use freshet_storage::online::OnlineStore;

use crate::aggregate::KeyState;
use crate::operators::{FeatureInput, FeatureStats, StoredFeature};
use crate::runtime::{feature_table, ActiveSet, VersionState};
use crate::value::Value;
use crate::{EngineError, Result};

/// Most entity keys in one request.
pub const MAX_KEYS: usize = 10_000;
/// Most features in one request.
pub const MAX_FEATURES: usize = 1_000;

/// A feature version resolved for serving.
#[derive(Debug, Clone)]
pub struct ServedFeature {
    /// `name@vN`.
    pub table: String,
    /// Where its values are read, and at which instant: its own table at the
    /// read time, or, while frozen, the snapshot taken at the freeze.
    pub frozen: Option<(String, i64)>,
    /// The definition of that version.
    pub feature: Feature,
    /// The type of its entity's key column.
    pub key_type: ColumnType,
    /// The type of the values served.
    pub value_type: ColumnType,
    /// How its state is evaluated.
    pub input: FeatureInput,
    /// Its state when it was resolved (unknown for a version applied since).
    pub state: Option<VersionState>,
    /// Its backfill's progress then: events done and in the log.
    pub progress: (u64, u64),
}

impl ServedFeature {
    /// Refuses versions that cannot serve online: backfilling, failed, retired.
    pub fn check_servable(&self, reference: &str) -> Result<()> {
        let table = &self.table;
        match &self.state {
            Some(VersionState::Backfilling) => Err(invalid(format!(
                "feature '{reference}' ({table}) is BACKFILLING ({} of {} events replayed); \
                 it is served once caught up",
                self.progress.0, self.progress.1
            ))),
            Some(VersionState::Failed(cause)) => Err(invalid(format!(
                "feature '{reference}' ({table}) FAILED: {cause}"
            ))),
            Some(VersionState::Retired) => Err(invalid(format!(
                "feature '{reference}' ({table}) is RETIRED; its state was freed"
            ))),
            _ => Ok(()),
        }
    }
}

/// The answer to one online read.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineValues {
    /// The feature versions used, in request order (`name@vN`).
    pub versions: Vec<String>,
    /// The value types, in request order.
    pub types: Vec<ColumnType>,
    /// One row per entity key, one value per feature.
    pub rows: Vec<Vec<Option<Value>>>,
}

/// Serves feature values from the online store.
pub struct FeatureServer {
    online: Arc<dyn OnlineStore>,
    registry: Arc<Registry>,
    active: RwLock<Arc<ActiveSet>>,
    resolved: RwLock<HashMap<String, Arc<ServedFeature>>>,
}

fn invalid(message: String) -> EngineError {
    EngineError::InvalidRequest(message)
}

impl FeatureServer {
    /// A server reading `online`, resolving names in `registry` against `active`.
    pub fn new(
        online: Arc<dyn OnlineStore>,
        registry: Arc<Registry>,
        active: Arc<ActiveSet>,
    ) -> Self {
        FeatureServer {
            online,
            registry,
            active: RwLock::new(active),
            resolved: RwLock::new(HashMap::new()),
        }
    }

    /// The active set bare names resolve against.
    pub fn active(&self) -> Arc<ActiveSet> {
        self.active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Switches to a new active set (after an apply); bare names resolve anew.
    pub fn set_active(&self, active: Arc<ActiveSet>) {
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = active;
        self.resolved
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Resolves `name` or `name@vN` for an online read: refused unless the
    /// version is READY or ACTIVE.
    pub fn resolve(&self, reference: &str) -> Result<Arc<ServedFeature>> {
        let served = self.resolve_definition(reference)?;
        served.check_servable(reference)?;
        Ok(served)
    }

    /// Resolves `name` or `name@vN` whatever its state (training sets replay the
    /// log, so they need no state).
    pub fn resolve_definition(&self, reference: &str) -> Result<Arc<ServedFeature>> {
        if let Some(found) = self
            .resolved
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(reference)
        {
            return Ok(found.clone());
        }
        let versioned = self
            .registry
            .resolve::<Feature>(reference)
            .map_err(|e| invalid(format!("feature '{reference}': {e}")))?;
        let active = self
            .active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let feature = versioned.object;
        let table = feature_table(&feature.name, versioned.version);
        let status = active.statuses.get(&table);
        let frozen = status
            .and_then(|s| s.frozen_at)
            .map(|at| (frozen_table(&table), at));
        let state = status.map(|s| s.state.clone());
        let progress = status.map_or((0, 0), |s| (s.done, s.total));
        let relation = active
            .catalog
            .relations
            .get(&feature.source)
            .ok_or_else(|| {
                invalid(format!(
                    "feature '{reference}': its source '{}' is no longer defined",
                    feature.source
                ))
            })?;
        let key_column = active
            .entity_key(&feature.entity)
            .map(str::to_string)
            .ok_or_else(|| {
                invalid(format!(
                    "feature '{reference}': unknown entity '{}'",
                    feature.entity
                ))
            })?;
        let key_type = relation
            .schema
            .get(&key_column)
            .unwrap_or(ColumnType::String);
        let aggregate = Aggregate::parse(&feature.aggregate).map_err(invalid)?;
        let input_type = aggregate
            .column
            .as_deref()
            .and_then(|c| relation.schema.get(c))
            .unwrap_or(ColumnType::Int64);
        let computed = aggregate
            .function
            .output_type(input_type)
            .unwrap_or(input_type);
        let value_type = if feature.transform.is_some() {
            ColumnType::Float64
        } else {
            feature.value_type.unwrap_or(computed)
        };
        let served = Arc::new(ServedFeature {
            table,
            frozen,
            state,
            progress,
            input: active.feature_input(&feature, 0)?,
            key_type,
            value_type,
            feature,
        });
        self.resolved
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(reference.to_string(), served.clone());
        Ok(served)
    }

    /// Reads `features` for `keys` (all of `entity`) at time `at` (µs).
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
        let served: Vec<Arc<ServedFeature>> = features
            .iter()
            .map(|f| self.resolve(f))
            .collect::<Result<_>>()?;
        for feature in &served {
            if feature.feature.entity != entity {
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
        let mut rows = vec![Vec::with_capacity(served.len()); keys.len()];
        for feature in &served {
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
                let raw = match stored {
                    None => match &feature.input {
                        FeatureInput::Events { aggregation, .. } => {
                            KeyState::default().evaluate(aggregation, at)
                        }
                        FeatureInput::View { .. } => None,
                    },
                    Some(bytes) => match (StoredFeature::decode(&bytes)?, &feature.input) {
                        (
                            StoredFeature::Events(state),
                            FeatureInput::Events { aggregation, .. },
                        ) => state.evaluate(aggregation, at),
                        (StoredFeature::Current(value), _) => value,
                        (StoredFeature::Events(_), FeatureInput::View { .. }) => None,
                    },
                };
                row.push(finish(feature, raw, &stats));
            }
        }
        Ok(OnlineValues {
            versions: served.iter().map(|f| f.table.clone()).collect(),
            types: served.iter().map(|f| f.value_type).collect(),
            rows,
        })
    }
}

/// The online table holding a frozen version's snapshot.
pub fn frozen_table(table: &str) -> String {
    format!("{table}#frozen")
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

/// Applies fill, clipping, scaling and the default to an aggregate's raw value.
pub fn finish(feature: &ServedFeature, raw: Option<Value>, stats: &FeatureStats) -> Option<Value> {
    let transform = feature.feature.transform.as_ref();
    let mut value = raw;
    if value.is_none() {
        value = match transform.and_then(|t| t.fill.as_ref()) {
            Some(Fill::Constant(c)) => Some(Value::Float(*c)),
            Some(Fill::Statistic(FillStatistic::Mean)) => {
                (stats.count > 0).then_some(Value::Float(stats.mean))
            }
            Some(Fill::Statistic(FillStatistic::Median)) => stats.quantile(0.5).map(Value::Float),
            None => None,
        };
    }
    let Some(value) = value else {
        return default_value(feature);
    };
    let Some(transform) = transform else {
        return Some(cast(value, feature.value_type));
    };
    let Some(mut x) = value.as_f64() else {
        return Some(value);
    };
    if let Some([low, high]) = transform.clip.as_deref().map(|c| [c[0], c[1]]) {
        if let (Some(low), Some(high)) = (stats.quantile(low), stats.quantile(high)) {
            x = x.clamp(low, high);
        }
    }
    match transform.scale {
        Some(Scale::Zscore) => {
            let sd = stats.stddev();
            x = if sd > 0.0 { (x - stats.mean) / sd } else { 0.0 };
        }
        Some(Scale::Minmax) => {
            x = match (stats.min, stats.max) {
                (Some(min), Some(max)) if max > min => (x - min) / (max - min),
                _ => 0.0,
            };
        }
        None => {}
    }
    Some(Value::Float(x))
}

fn cast(value: Value, to: ColumnType) -> Value {
    match (value, to) {
        (Value::Int(v), ColumnType::Float32 | ColumnType::Float64) => Value::Float(v as f64),
        (value, _) => value,
    }
}

fn default_value(feature: &ServedFeature) -> Option<Value> {
    use serde_json::Value as Json;
    let default = feature.feature.default.as_ref()?;
    match (default, feature.value_type) {
        (Json::Bool(b), _) => Some(Value::Bool(*b)),
        (Json::Number(n), ColumnType::Int32 | ColumnType::Int64) => n.as_i64().map(Value::Int),
        (Json::Number(n), _) => n.as_f64().map(Value::Float),
        (Json::String(s), ColumnType::Timestamp) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| Value::Timestamp(t.timestamp_micros())),
        (Json::String(s), _) => Some(Value::Str(s.clone())),
        _ => None,
    }
}
