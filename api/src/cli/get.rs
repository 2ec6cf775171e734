//! `freshet get --features a,b --entity user=42 [--entity user=43 ...]`: online
//! values as JSON, one object per key.

use super::{connect, ClientArgs};
use crate::proto::{self, entity_key::Key, feature_value::Value as V};
use crate::{ApiError, Result};

/// What to read.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Comma-separated features: names (active version) or name@vN.
    #[arg(long, value_delimiter = ',', required = true)]
    pub features: Vec<String>,
    /// An entity key as ENTITY=KEY (repeat for more keys). A key of digits is sent
    /// as an integer; quote it ('user="42"') to send text.
    #[arg(long = "entity", required = true)]
    pub entities: Vec<String>,
}

fn parse_key(text: &str) -> Result<(String, Key)> {
    let (entity, key) = text.split_once('=').ok_or_else(|| {
        ApiError::Config(format!(
            "--entity '{text}' is not ENTITY=KEY (as in user=42)"
        ))
    })?;
    let key = if let Some(quoted) = key.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
        Key::StringValue(quoted.to_string())
    } else if let Ok(number) = key.parse::<i64>() {
        Key::IntValue(number)
    } else if let Ok(flag) = key.parse::<bool>() {
        Key::BoolValue(flag)
    } else {
        Key::StringValue(key.to_string())
    };
    Ok((entity.to_string(), key))
}

fn json_of(value: &proto::FeatureValue) -> serde_json::Value {
    match &value.value {
        None => serde_json::Value::Null,
        Some(V::BoolValue(v)) => (*v).into(),
        Some(V::IntValue(v)) => (*v).into(),
        Some(V::DoubleValue(v)) => {
            serde_json::Number::from_f64(*v).map_or(serde_json::Value::Null, Into::into)
        }
        Some(V::StringValue(v)) => v.clone().into(),
        Some(V::TimestampMicros(v)) => chrono::DateTime::from_timestamp_micros(*v)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            .unwrap_or_default()
            .into(),
    }
}

/// Prints `{"evaluated_at", "features", "rows": [{entity: key, feature: value, ...}]}`.
pub async fn get(args: &GetArgs, client: &ClientArgs) -> Result<()> {
    let mut entity = None;
    let mut keys = Vec::new();
    for text in &args.entities {
        let (name, key) = parse_key(text)?;
        if entity.as_ref().is_some_and(|e| *e != name) {
            return Err(ApiError::Config(format!(
                "--entity {text}: all keys of one request are of one entity (got '{}' and '{name}')",
                entity.unwrap_or_default()
            )));
        }
        entity = Some(name);
        keys.push(proto::EntityKey { key: Some(key) });
    }
    let entity = entity.unwrap_or_default();
    let response = connect(client)
        .await?
        .get_online_features(proto::GetOnlineFeaturesRequest {
            features: args.features.clone(),
            entity: entity.clone(),
            keys,
        })
        .await?
        .into_inner();
    let rows: Vec<serde_json::Value> = response
        .rows
        .iter()
        .map(|row| {
            let mut object = serde_json::Map::new();
            let key = match row.key.as_ref().and_then(|k| k.key.as_ref()) {
                Some(Key::IntValue(v)) => serde_json::Value::from(*v),
                Some(Key::StringValue(v)) => serde_json::Value::from(v.clone()),
                Some(Key::BoolValue(v)) => serde_json::Value::from(*v),
                None => serde_json::Value::Null,
            };
            object.insert(entity.clone(), key);
            for (name, value) in args.features.iter().zip(&row.values) {
                object.insert(name.clone(), json_of(value));
            }
            serde_json::Value::Object(object)
        })
        .collect();
    let evaluated_at = chrono::DateTime::from_timestamp_micros(response.evaluated_at_micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default();
    println!(
        "{}",
        serde_json::json!({
            "evaluated_at": evaluated_at,
            "evaluated_at_micros": response.evaluated_at_micros,
            "features": response.features,
            "types": response.types,
            "rows": rows,
        })
    );
    Ok(())
}
