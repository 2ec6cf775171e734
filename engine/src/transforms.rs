//! Value transforms, applied to an aggregate's raw value when it is read (online
//! and in training sets alike): fill a missing value, clip at quantiles, scale
//! by z-score or min-max, with parameters from the version's statistics; then
//! the default for a value still missing.

use freshet_sql::model::{Fill, FillStatistic, Scale};
use freshet_sql::types::ColumnType;

use crate::catalog::ResolvedVersion;
use crate::operators::FeatureStats;
use crate::value::Value;

/// Applies fill, clipping, scaling and the default to an aggregate's raw value.
pub fn finish(
    feature: &ResolvedVersion,
    raw: Option<Value>,
    stats: &FeatureStats,
) -> Option<Value> {
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
        return feature.default.clone();
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

/// A feature's default (as written in its definition) as a value of its type;
/// validation has checked that it fits.
pub fn default_value(default: Option<&serde_json::Value>, value_type: ColumnType) -> Option<Value> {
    use serde_json::Value as Json;
    match (default?, value_type) {
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
