//! [`Value`]: one typed value as operators hold it, read out of Arrow columns, and
//! the byte encoding of entity keys.

use std::cmp::Ordering;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::{EngineError, Result};

/// A typed value (never Arrow's null: absent values are `Option::None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// An integer of any width.
    Int(i64),
    /// A float of any width.
    Float(f64),
    /// Text.
    Str(String),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
}

impl Value {
    /// The value as a float, for the numeric aggregates.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(*v as f64),
            Value::Float(v) => Some(*v),
            _ => None,
        }
    }

    /// A total order within one type (floats by IEEE total order); values of
    /// different types order by type.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Bool(_) => 0,
            Value::Int(_) => 1,
            Value::Float(_) => 2,
            Value::Str(_) => 3,
            Value::Timestamp(_) => 4,
        }
    }

    /// Bytes that are equal exactly when the values are (floats by bit pattern),
    /// used for distinct counting and as entity keys.
    pub fn key_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9);
        self.write_key_bytes(&mut out);
        out
    }

    /// Appends [`Value::key_bytes`] to `out`.
    pub fn write_key_bytes(&self, out: &mut Vec<u8>) {
        out.push(self.rank());
        match self {
            Value::Bool(v) => out.push(u8::from(*v)),
            Value::Int(v) | Value::Timestamp(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Float(v) => out.extend_from_slice(&v.to_bits().to_be_bytes()),
            Value::Str(v) => out.extend_from_slice(v.as_bytes()),
        }
    }

    /// The value whose [`Value::key_bytes`] are `bytes`; `None` when they are
    /// not such bytes.
    pub fn from_key_bytes(bytes: &[u8]) -> Option<Value> {
        let (rank, rest) = bytes.split_first()?;
        let eight = || rest.try_into().ok().map(u64::from_be_bytes);
        Some(match rank {
            0 => match rest {
                [0] => Value::Bool(false),
                [1] => Value::Bool(true),
                _ => return None,
            },
            1 => Value::Int(eight()? as i64),
            2 => Value::Float(f64::from_bits(eight()?)),
            3 => Value::Str(std::str::from_utf8(rest).ok()?.to_string()),
            4 => Value::Timestamp(eight()? as i64),
            _ => return None,
        })
    }
}

/// Reads row `row` of `array` (one of the column types Freshet stores).
pub fn value_at(array: &ArrayRef, row: usize) -> Result<Option<Value>> {
    if array.is_null(row) {
        return Ok(None);
    }
    let value = match array.data_type() {
        DataType::Boolean => Value::Bool(
            array
                .as_any()
                .downcast_ref::<BooleanArray>()
                .map(|a| a.value(row))
                .unwrap_or_default(),
        ),
        DataType::Int32 => Value::Int(
            array
                .as_primitive::<arrow::datatypes::Int32Type>()
                .value(row) as i64,
        ),
        DataType::Int64 => Value::Int(
            array
                .as_primitive::<arrow::datatypes::Int64Type>()
                .value(row),
        ),
        DataType::Float32 => Value::Float(
            array
                .as_primitive::<arrow::datatypes::Float32Type>()
                .value(row) as f64,
        ),
        DataType::Float64 => Value::Float(
            array
                .as_primitive::<arrow::datatypes::Float64Type>()
                .value(row),
        ),
        DataType::Utf8 => Value::Str(array.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Value::Str(array.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Value::Str(array.as_string_view().value(row).to_string()),
        DataType::Timestamp(TimeUnit::Microsecond, _) => Value::Timestamp(
            array
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(row),
        ),
        other => {
            return Err(EngineError::Unsupported(format!(
                "a column of type {other} cannot feed an operator"
            )))
        }
    };
    Ok(Some(value))
}

/// Reads a timestamp column (µs) as plain integers, casting other time units.
pub fn timestamps(array: &ArrayRef) -> Result<TimestampMicrosecondArray> {
    let cast = arrow::compute::cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    Ok(cast
        .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
        .clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float32Array, Float64Array, Int32Array, Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn values_read_from_every_stored_type() {
        let columns: Vec<(ArrayRef, Value)> = vec![
            (Arc::new(BooleanArray::from(vec![true])), Value::Bool(true)),
            (Arc::new(Int32Array::from(vec![-3])), Value::Int(-3)),
            (Arc::new(Int64Array::from(vec![7])), Value::Int(7)),
            (Arc::new(Float32Array::from(vec![0.5])), Value::Float(0.5)),
            (Arc::new(Float64Array::from(vec![2.25])), Value::Float(2.25)),
            (
                Arc::new(StringArray::from(vec!["x"])),
                Value::Str("x".into()),
            ),
            (
                Arc::new(TimestampMicrosecondArray::from(vec![9])),
                Value::Timestamp(9),
            ),
        ];
        for (array, expected) in columns {
            assert_eq!(value_at(&array, 0).unwrap(), Some(expected));
        }
        let nulls: ArrayRef = Arc::new(Int64Array::from(vec![None::<i64>]));
        assert_eq!(value_at(&nulls, 0).unwrap(), None);
    }

    #[test]
    fn key_bytes_tell_types_and_float_bits_apart() {
        assert_ne!(Value::Int(1).key_bytes(), Value::Timestamp(1).key_bytes());
        assert_ne!(
            Value::Float(0.0).key_bytes(),
            Value::Float(-0.0).key_bytes()
        );
        assert_eq!(
            Value::Str("a".into()).key_bytes(),
            Value::Str("a".into()).key_bytes()
        );
    }

    #[test]
    fn key_bytes_decode_to_the_same_value() {
        let values = [
            Value::Bool(false),
            Value::Bool(true),
            Value::Int(-7),
            Value::Float(-0.0),
            Value::Float(f64::NAN),
            Value::Str("grüße".into()),
            Value::Str(String::new()),
            Value::Timestamp(i64::MIN),
        ];
        for value in values {
            let decoded = Value::from_key_bytes(&value.key_bytes()).unwrap();
            assert_eq!(decoded.key_bytes(), value.key_bytes(), "{value:?}");
        }
        assert_eq!(Value::from_key_bytes(&[]), None);
        assert_eq!(Value::from_key_bytes(&[1, 0, 0]), None);
        assert_eq!(Value::from_key_bytes(&[3, 0xff]), None);
        assert_eq!(Value::from_key_bytes(&[9, 0]), None);
    }
}
