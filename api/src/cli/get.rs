//! `freshet get --features a,b --entity user=42 [--entity user=43 ...]`: online
//! values, one row per key: an aligned table by default, with `--json` one
//! object per key.

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
    #[arg(long = "entity", required_unless_present = "entities_file")]
    pub entities: Vec<String>,
    /// Entity keys from a file, `-` for standard input: JSON lines
    /// (`{"user": 42}`, one field named by the entity) or CSV with one column
    /// whose header is the entity (`user`), a key per line.
    #[arg(long = "entities", value_name = "FILE")]
    pub entities_file: Option<String>,
}

/// The keys of an `--entities` file's text `text` (read from `origin`): the
/// entity and each key, in order; an error names the line and why.
fn keys_of_file(origin: &str, text: &str) -> Result<(String, Vec<Key>)> {
    let bad = |line: usize, reason: String| {
        ApiError::Config(format!("--entities {origin}, line {line}: {reason}"))
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty());
    let Some((first_line, first)) = lines.next() else {
        return Err(bad(1, "no keys".into()));
    };
    if !first.starts_with('{') {
        // CSV: the header names the entity; each line is one key.
        if first.contains(',') {
            return Err(bad(
                first_line,
                format!(
                    "'{first}' has more than one column; the file holds one column, \
                     headed by the entity"
                ),
            ));
        }
        let keys = lines
            .map(|(line, cell)| {
                if cell.contains(',') {
                    return Err(bad(line, format!("'{cell}' has more than one column")));
                }
                Ok(key_of_text(cell))
            })
            .collect::<Result<Vec<_>>>()?;
        return Ok((first.to_string(), keys));
    }
    let mut entity: Option<String> = None;
    let mut keys = Vec::new();
    for (line, text) in std::iter::once((first_line, first)).chain(lines) {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| bad(line, format!("not a JSON object: {e}")))?;
        let mut fields = object.into_iter();
        let (name, value) = match (fields.next(), fields.next()) {
            (Some(field), None) => field,
            _ => {
                return Err(bad(
                    line,
                    "an object of one field, the entity, is expected".into(),
                ))
            }
        };
        if entity.as_ref().is_some_and(|e| *e != name) {
            return Err(bad(
                line,
                format!(
                    "entity '{name}', where earlier lines have '{}'",
                    entity.unwrap_or_default()
                ),
            ));
        }
        let key = match value {
            serde_json::Value::String(text) => Key::StringValue(text),
            serde_json::Value::Bool(flag) => Key::BoolValue(flag),
            serde_json::Value::Number(number) => Key::IntValue(
                number
                    .as_i64()
                    .ok_or_else(|| bad(line, format!("{number} is not an integer key")))?,
            ),
            other => {
                return Err(bad(
                    line,
                    format!("{other} is not a key (a string, integer or boolean)"),
                ))
            }
        };
        entity = Some(name);
        keys.push(key);
    }
    Ok((entity.unwrap_or_default(), keys))
}

/// A key as the command line writes it: digits are an integer, `true` and
/// `false` a boolean, anything else (or text in double quotes) a string.
fn key_of_text(key: &str) -> Key {
    if let Some(quoted) = key.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
        Key::StringValue(quoted.to_string())
    } else if let Ok(number) = key.parse::<i64>() {
        Key::IntValue(number)
    } else if let Ok(flag) = key.parse::<bool>() {
        Key::BoolValue(flag)
    } else {
        Key::StringValue(key.to_string())
    }
}

/// The text of the `--entities` file `origin` (`-`: standard input).
fn read_entities(origin: &str) -> Result<String> {
    let read = if origin == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(origin)
    };
    read.map_err(|e| ApiError::File {
        path: origin.to_string(),
        reason: e.to_string(),
    })
}

fn parse_key(text: &str) -> Result<(String, Key)> {
    let (entity, key) = text.split_once('=').ok_or_else(|| {
        ApiError::Config(format!(
            "--entity '{text}' is not ENTITY=KEY (as in user=42)"
        ))
    })?;
    Ok((entity.to_string(), key_of_text(key)))
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

/// Prints the values: a table (a column for the key, one per feature, then
/// the evaluation time), or with `--json` `{"evaluated_at", "key_column",
/// "features", "rows": [{key_column: key, feature: value, ...}]}`. Keys are
/// named by the entity's key column (`user_id`), as training sets name them.
pub async fn get(args: &GetArgs, client: &ClientArgs) -> Result<()> {
    let mut given: Vec<(String, Key, String)> = Vec::new();
    for text in &args.entities {
        let (name, key) = parse_key(text)?;
        given.push((name, key, format!("--entity {text}")));
    }
    if let Some(origin) = &args.entities_file {
        let (name, keys) = keys_of_file(origin, &read_entities(origin)?)?;
        let from = format!("--entities {origin}");
        given.extend(
            keys.into_iter()
                .map(|key| (name.clone(), key, from.clone())),
        );
    }
    let mut entity: Option<String> = None;
    let mut keys = Vec::new();
    for (name, key, from) in given {
        if entity.as_ref().is_some_and(|e| *e != name) {
            return Err(ApiError::Config(format!(
                "{from}: all keys of one request are of one entity (got '{}' and '{name}')",
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
            entity,
            keys,
        })
        .await?
        .into_inner();
    let rows: Vec<Vec<serde_json::Value>> = response
        .rows
        .iter()
        .map(|row| {
            let key = match row.key.as_ref().and_then(|k| k.key.as_ref()) {
                Some(Key::IntValue(v)) => serde_json::Value::from(*v),
                Some(Key::StringValue(v)) => serde_json::Value::from(v.clone()),
                Some(Key::BoolValue(v)) => serde_json::Value::from(*v),
                None => serde_json::Value::Null,
            };
            std::iter::once(key)
                .chain(row.values.iter().map(json_of))
                .collect()
        })
        .collect();
    let evaluated_at = chrono::DateTime::from_timestamp_micros(response.evaluated_at_micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default();
    // The keys are named by the entity's key column, as in training sets.
    let columns: Vec<&String> = std::iter::once(&response.key_column)
        .chain(&args.features)
        .collect();
    if !client.json {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(cell_text).collect())
            .collect();
        print!("{}", table(&columns, &cells));
        println!("evaluated at {evaluated_at}");
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|row| {
            let object: serde_json::Map<String, serde_json::Value> = columns
                .iter()
                .map(|name| name.to_string())
                .zip(row)
                .collect();
            serde_json::Value::Object(object)
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "evaluated_at": evaluated_at,
            "evaluated_at_micros": response.evaluated_at_micros,
            "key_column": response.key_column,
            "features": response.features,
            "types": response.types,
            "rows": rows,
        })
    );
    Ok(())
}

/// A value as a table cell: text unquoted, no value as `null`.
fn cell_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Rows under a header, each column as wide as its widest cell, two spaces
/// apart.
fn table(header: &[&String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| h.as_str()).collect());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{keys_of_file, table, Key};

    #[test]
    fn entities_files_are_csv_or_json_lines_of_one_entity() {
        let (entity, keys) = keys_of_file("k.csv", "user\n42\n\n\"43\"\nann\n").unwrap();
        assert_eq!(entity, "user");
        assert_eq!(
            keys,
            [
                Key::IntValue(42),
                Key::StringValue("43".into()),
                Key::StringValue("ann".into())
            ]
        );
        let (entity, keys) =
            keys_of_file("-", "{\"user\": 7}\n{\"user\": \"x\"}\n{\"user\": true}\n").unwrap();
        assert_eq!(entity, "user");
        assert_eq!(
            keys,
            [
                Key::IntValue(7),
                Key::StringValue("x".into()),
                Key::BoolValue(true)
            ]
        );
        for (text, needle) in [
            (
                "user,item\n1,2\n",
                "line 1: 'user,item' has more than one column",
            ),
            ("user\n1\n2,3\n", "line 3: '2,3' has more than one column"),
            (
                "{\"user\": 1}\n{\"item\": 2}\n",
                "line 2: entity 'item', where earlier lines have 'user'",
            ),
            ("{\"user\": 1.5}\n", "line 1: 1.5 is not an integer key"),
            (
                "{\"user\": 1, \"x\": 2}\n",
                "line 1: an object of one field",
            ),
            ("{\"user\": \n", "line 1: not a JSON object"),
            ("\n", "line 1: no keys"),
        ] {
            let error = keys_of_file("k", text).unwrap_err().to_string();
            assert!(
                error.contains(&format!("--entities k, {needle}")),
                "{text:?}: {error}"
            );
        }
    }

    #[test]
    fn a_table_aligns_columns_to_their_widest_cell() {
        let (user, spend) = ("user".to_string(), "spend_7d".to_string());
        let rows = vec![
            vec!["1".to_string(), "12.5".to_string()],
            vec!["10042".to_string(), "null".to_string()],
        ];
        assert_eq!(
            table(&[&user, &spend], &rows),
            "user   spend_7d\n1      12.5\n10042  null\n"
        );
    }
}
