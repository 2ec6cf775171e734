//! [`Cell`]: one validated value of an event, and the conversions from JSON values
//! and CSV text into it, which say exactly why a value does not fit its column.

use arrow::array::{
    ArrayRef, BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use freshet_sql::types::ColumnType;
use serde_json::Value;

/// A value that fits its column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (int32 columns are range-checked before this).
    Int(i64),
    /// A float.
    Float(f64),
    /// Text.
    Text(String),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
}

/// Parses a timestamp: RFC 3339 (`2026-11-21T10:00:00Z`, any offset), a naive
/// `YYYY-MM-DD[ T]HH:MM:SS[.fff]` taken as UTC, or a date `YYYY-MM-DD`.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.timestamp_micros());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(naive.and_utc().timestamp_micros());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_micros());
    }
    Err(format!(
        "'{text}' is not a timestamp (use RFC 3339 such as 2026-11-21T10:00:00Z, or epoch milliseconds)"
    ))
}

fn int_in_range(value: i64, column_type: ColumnType) -> Result<Cell, String> {
    if column_type == ColumnType::Int32 && i32::try_from(value).is_err() {
        return Err(format!("{value} does not fit in int32"));
    }
    Ok(Cell::Int(value))
}

fn millis_to_micros(millis: i64) -> Result<Cell, String> {
    millis
        .checked_mul(1000)
        .map(Cell::Timestamp)
        .ok_or_else(|| format!("{millis} ms since the epoch is out of range"))
}

/// Converts a JSON value into a cell of `column_type`.
pub fn from_json(value: &Value, column_type: ColumnType) -> Result<Cell, String> {
    match (column_type, value) {
        (_, Value::Null) => Ok(Cell::Null),
        (ColumnType::Bool, Value::Bool(b)) => Ok(Cell::Bool(*b)),
        (ColumnType::Int32 | ColumnType::Int64, Value::Number(n)) => match n.as_i64() {
            Some(v) => int_in_range(v, column_type),
            None => Err(format!("expected {column_type}, found {n}")),
        },
        (ColumnType::Float32 | ColumnType::Float64, Value::Number(n)) => Ok(Cell::Float(
            n.as_f64().expect("a JSON number converts to f64"),
        )),
        (ColumnType::String, Value::String(s)) => Ok(Cell::Text(s.clone())),
        (ColumnType::Timestamp, Value::String(s)) => parse_timestamp(s).map(Cell::Timestamp),
        (ColumnType::Timestamp, Value::Number(n)) => match n.as_i64() {
            Some(millis) => millis_to_micros(millis),
            None => Err(format!(
                "expected epoch milliseconds as an integer, found {n}"
            )),
        },
        (_, other) => Err(format!(
            "expected {column_type}, found {}",
            json_kind(other)
        )),
    }
}

fn json_kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string \"{s}\""),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Converts CSV text into a cell of `column_type`; an empty field is null.
pub fn from_text(text: &str, column_type: ColumnType) -> Result<Cell, String> {
    if text.is_empty() {
        return Ok(Cell::Null);
    }
    match column_type {
        ColumnType::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Cell::Bool(true)),
            "false" | "0" => Ok(Cell::Bool(false)),
            _ => Err(format!("'{text}' is not a bool (true or false)")),
        },
        ColumnType::Int32 | ColumnType::Int64 => match text.trim().parse::<i64>() {
            Ok(v) => int_in_range(v, column_type),
            Err(_) => Err(format!("'{text}' is not an integer")),
        },
        ColumnType::Float32 | ColumnType::Float64 => text
            .trim()
            .parse::<f64>()
            .map(Cell::Float)
            .map_err(|_| format!("'{text}' is not a number")),
        ColumnType::String => Ok(Cell::Text(text.to_string())),
        ColumnType::Timestamp => match text.trim().parse::<i64>() {
            Ok(millis) => millis_to_micros(millis),
            Err(_) => parse_timestamp(text).map(Cell::Timestamp),
        },
    }
}

/// Builds one Arrow column from validated cells of one type.
pub struct ColumnBuilder {
    builder: Builder,
}

enum Builder {
    Bool(BooleanBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Text(StringBuilder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    /// A builder for a column of `column_type`.
    pub fn new(column_type: ColumnType) -> Self {
        let builder = match column_type {
            ColumnType::Bool => Builder::Bool(BooleanBuilder::new()),
            ColumnType::Int32 => Builder::Int32(Int32Builder::new()),
            ColumnType::Int64 => Builder::Int64(Int64Builder::new()),
            ColumnType::Float32 => Builder::Float32(Float32Builder::new()),
            ColumnType::Float64 => Builder::Float64(Float64Builder::new()),
            ColumnType::String => Builder::Text(StringBuilder::new()),
            ColumnType::Timestamp => Builder::Timestamp(TimestampMicrosecondBuilder::new()),
        };
        ColumnBuilder { builder }
    }

    /// Appends a cell produced for this builder's column type.
    pub fn append(&mut self, cell: &Cell) {
        match (&mut self.builder, cell) {
            (Builder::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (Builder::Int32(b), Cell::Int(v)) => b.append_value(*v as i32),
            (Builder::Int64(b), Cell::Int(v)) => b.append_value(*v),
            (Builder::Float32(b), Cell::Float(v)) => b.append_value(*v as f32),
            (Builder::Float64(b), Cell::Float(v)) => b.append_value(*v),
            (Builder::Text(b), Cell::Text(v)) => b.append_value(v),
            (Builder::Timestamp(b), Cell::Timestamp(v)) => b.append_value(*v),
            (builder, _) => builder.append_null(),
        }
    }

    /// The finished column.
    pub fn finish(self) -> ArrayRef {
        match self.builder {
            Builder::Bool(mut b) => std::sync::Arc::new(b.finish()),
            Builder::Int32(mut b) => std::sync::Arc::new(b.finish()),
            Builder::Int64(mut b) => std::sync::Arc::new(b.finish()),
            Builder::Float32(mut b) => std::sync::Arc::new(b.finish()),
            Builder::Float64(mut b) => std::sync::Arc::new(b.finish()),
            Builder::Text(mut b) => std::sync::Arc::new(b.finish()),
            Builder::Timestamp(mut b) => std::sync::Arc::new(b.finish()),
        }
    }
}

impl Builder {
    fn append_null(&mut self) {
        match self {
            Builder::Bool(b) => b.append_null(),
            Builder::Int32(b) => b.append_null(),
            Builder::Int64(b) => b.append_null(),
            Builder::Float32(b) => b.append_null(),
            Builder::Float64(b) => b.append_null(),
            Builder::Text(b) => b.append_null(),
            Builder::Timestamp(b) => b.append_null(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_accepted_form_agree() {
        // 2026-11-21T10:00:00Z is 1_795_255_200 seconds after the epoch.
        let micros = 1_795_255_200_000_000;
        assert_eq!(parse_timestamp("2026-11-21T10:00:00Z"), Ok(micros));
        assert_eq!(parse_timestamp("2026-11-21T11:00:00+01:00"), Ok(micros));
        assert_eq!(parse_timestamp("2026-11-21 10:00:00"), Ok(micros));
        assert_eq!(
            from_text("1795255200000", ColumnType::Timestamp),
            Ok(Cell::Timestamp(micros))
        );
        assert_eq!(
            from_json(&serde_json::json!(1795255200000i64), ColumnType::Timestamp),
            Ok(Cell::Timestamp(micros))
        );
        assert!(parse_timestamp("yesterday").is_err());
    }

    #[test]
    fn values_that_do_not_fit_are_explained() {
        assert_eq!(
            from_json(&serde_json::json!(3.5), ColumnType::Int64),
            Err("expected int64, found 3.5".into())
        );
        assert_eq!(
            from_json(&serde_json::json!("7"), ColumnType::Int64),
            Err("expected int64, found string \"7\"".into())
        );
        assert_eq!(
            from_json(&serde_json::json!(1i64 << 40), ColumnType::Int32),
            Err("1099511627776 does not fit in int32".into())
        );
        assert_eq!(
            from_text("x1", ColumnType::Float64),
            Err("'x1' is not a number".into())
        );
        assert_eq!(from_text("", ColumnType::Float64), Ok(Cell::Null));
    }
}
