//! Turning computed feature values into the Arrow columns of a training set.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use freshet_sql::types::ColumnType;

use super::value_bits::{join, tag_bits, BOOL, FLOAT, INT, NONE, STRING, TIMESTAMP};
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

/// One feature's values by label row, held in 9 bytes a row (the value's
/// bits and a tag) until they are written out; strings are held aside. A
/// training set holds one per feature for every label row, so this is most of
/// its memory beyond the spilled events.
#[derive(Debug, Clone, Default)]
pub struct ValueColumn {
    bits: Vec<u64>,
    tags: Vec<u8>,
    strings: Vec<String>,
}

impl ValueColumn {
    /// A column of `rows` values, all absent.
    pub fn new(rows: usize) -> Self {
        ValueColumn {
            bits: vec![0; rows],
            tags: vec![NONE; rows],
            strings: Vec::new(),
        }
    }

    /// How many rows it has.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// Sets row `row`'s value.
    pub fn set(&mut self, row: usize, value: Option<Value>) {
        let (tag, mut bits) = tag_bits(value.as_ref());
        if let Some(Value::Str(text)) = value {
            if self.tags[row] == STRING {
                // The row's slot is reused, so setting a row again keeps one string.
                bits = self.bits[row];
                self.strings[bits as usize] = text;
            } else {
                bits = self.strings.len() as u64;
                self.strings.push(text);
            }
        }
        self.tags[row] = tag;
        self.bits[row] = bits;
    }

    /// Row `row`'s value.
    pub fn get(&self, row: usize) -> Option<Value> {
        join(self.tags[row], self.bits[row], |slot| {
            self.strings[slot as usize].clone()
        })
        .expect("set only stores tags of value_bits")
    }

    /// The column as Arrow data of `column_type`'s output type; a value of
    /// another type is NULL except integers in a float column, which are
    /// widened.
    pub fn to_array(&self, column_type: ColumnType) -> ArrayRef {
        let rows = 0..self.len();
        let value = |row: usize, tag: u8| (self.tags[row] == tag).then_some(self.bits[row]);
        match output_type(column_type) {
            DataType::Boolean => Arc::new(BooleanArray::from_iter(
                rows.map(|r| value(r, BOOL).map(|b| b != 0)),
            )),
            DataType::Int64 => Arc::new(Int64Array::from_iter(
                rows.map(|r| value(r, INT).map(|b| b as i64)),
            )),
            DataType::Float64 => Arc::new(Float64Array::from_iter(rows.map(|r| {
                value(r, FLOAT)
                    .map(f64::from_bits)
                    .or_else(|| value(r, INT).map(|b| b as i64 as f64))
            }))),
            DataType::Utf8 => {
                Arc::new(StringArray::from_iter(rows.map(|r| {
                    value(r, STRING).map(|i| self.strings[i as usize].as_str())
                })))
            }
            _ => Arc::new(TimestampMicrosecondArray::from_iter(
                rows.map(|r| value(r, TIMESTAMP).map(|b| b as i64)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};

    #[test]
    fn integers_widen_in_float_columns_and_absent_values_are_null() {
        let mut column = ValueColumn::new(3);
        column.set(0, Some(Value::Int(2)));
        column.set(2, Some(Value::Float(0.5)));
        let array = column.to_array(ColumnType::Float64);
        let floats = array.as_primitive::<arrow::datatypes::Float64Type>();
        assert_eq!(floats.value(0), 2.0);
        assert!(floats.is_null(1));
        assert_eq!(floats.value(2), 0.5);
        let ints = column.to_array(ColumnType::Int32);
        assert_eq!(ints.data_type(), &DataType::Int64);
        assert!(ints.is_null(2), "a float is not an integer");
    }

    #[test]
    fn every_value_reads_back_as_it_was_set() {
        let values = [
            Some(Value::Int(-7)),
            Some(Value::Float(-0.0)),
            Some(Value::Float(f64::NAN)),
            Some(Value::Bool(true)),
            Some(Value::Timestamp(-1)),
            Some(Value::Str("x".into())),
            None,
        ];
        let mut column = ValueColumn::new(values.len());
        for (row, value) in values.iter().enumerate() {
            column.set(row, value.clone());
        }
        for (row, value) in values.iter().enumerate() {
            match (column.get(row), value) {
                (Some(Value::Float(a)), Some(Value::Float(b))) => {
                    assert_eq!(a.to_bits(), b.to_bits())
                }
                (got, want) => assert_eq!(&got, want),
            }
        }
        // Setting a row again replaces its value.
        column.set(0, None);
        assert_eq!(column.get(0), None);
    }
}
