//! Turning computed feature values into the Arrow columns of a training set.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use freshet_sql::types::ColumnType;

use crate::value::Value;

/// The Arrow type a feature of `column_type` is written as: integers as int64,
/// floats as float64.
pub fn output_type(column_type: ColumnType) -> DataType {
    match column_type {
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Int32 | ColumnType::Int64 => DataType::Int64,
        ColumnType::Float32 | ColumnType::Float64 => DataType::Float64,
        ColumnType::String => DataType::Utf8,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
    }
}

/// One feature's column; a value of another type than the column's is NULL
/// except integers in a float column, which are widened.
pub fn feature_array(values: &[Option<Value>], column_type: ColumnType) -> ArrayRef {
    match output_type(column_type) {
        DataType::Boolean => Arc::new(BooleanArray::from_iter(values.iter().map(|v| match v {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }))),
        DataType::Int64 => Arc::new(Int64Array::from_iter(values.iter().map(|v| match v {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }))),
        DataType::Float64 => Arc::new(Float64Array::from_iter(values.iter().map(|v| match v {
            Some(Value::Float(f)) => Some(*f),
            Some(Value::Int(i)) => Some(*i as f64),
            _ => None,
        }))),
        DataType::Utf8 => Arc::new(StringArray::from_iter(values.iter().map(|v| match v {
            Some(Value::Str(s)) => Some(s.as_str()),
            _ => None,
        }))),
        _ => Arc::new(TimestampMicrosecondArray::from_iter(values.iter().map(
            |v| match v {
                Some(Value::Timestamp(t)) => Some(*t),
                _ => None,
            },
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};

    #[test]
    fn integers_widen_in_float_columns_and_absent_values_are_null() {
        let values = [Some(Value::Int(2)), None, Some(Value::Float(0.5))];
        let array = feature_array(&values, ColumnType::Float64);
        let floats = array.as_primitive::<arrow::datatypes::Float64Type>();
        assert_eq!(floats.value(0), 2.0);
        assert!(floats.is_null(1));
        assert_eq!(floats.value(2), 0.5);
        let ints = feature_array(&values[..2], ColumnType::Int32);
        assert_eq!(ints.data_type(), &DataType::Int64);
    }
}
