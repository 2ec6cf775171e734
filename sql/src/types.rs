//! Column and feature value types as users name them, and their Arrow equivalents.

use std::fmt;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A column type in a source schema or a feature's value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// `bool`: true or false.
    #[serde(alias = "boolean")]
    Bool,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `float32`.
    Float32,
    /// `float64`.
    #[serde(alias = "double")]
    Float64,
    /// `string`: UTF-8 text.
    #[serde(alias = "utf8")]
    String,
    /// `timestamp`: an instant, microseconds since the Unix epoch, UTC.
    Timestamp,
}

impl ColumnType {
    /// The Arrow type values of this type are stored as.
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float32 => DataType::Float32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::String => DataType::Utf8,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }

    /// The user-facing type of an Arrow type, if Freshet has one.
    pub fn from_arrow(data_type: &DataType) -> Option<ColumnType> {
        Some(match data_type {
            DataType::Boolean => ColumnType::Bool,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::UInt8
            | DataType::UInt16 => ColumnType::Int32,
            DataType::Int64 | DataType::UInt32 => ColumnType::Int64,
            DataType::Float16 | DataType::Float32 => ColumnType::Float32,
            DataType::Float64 => ColumnType::Float64,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::String,
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
                ColumnType::Timestamp
            }
            _ => return None,
        })
    }

    /// Whether values of this type are numbers.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ColumnType::Int32 | ColumnType::Int64 | ColumnType::Float32 | ColumnType::Float64
        )
    }

    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Bool => "bool",
            ColumnType::Int32 => "int32",
            ColumnType::Int64 => "int64",
            ColumnType::Float32 => "float32",
            ColumnType::Float64 => "float64",
            ColumnType::String => "string",
            ColumnType::Timestamp => "timestamp",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An ordered list of named, typed columns, written in YAML as a mapping
/// `{ user_id: int64, ts: timestamp }` whose order is kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnSchema {
    /// The columns in declaration order.
    pub columns: Vec<(String, ColumnType)>,
}

impl ColumnSchema {
    /// The type of column `name`, if present.
    pub fn get(&self, name: &str) -> Option<ColumnType> {
        self.columns
            .iter()
            .find(|(column, _)| column == name)
            .map(|(_, column_type)| *column_type)
    }

    /// The Arrow schema of the columns, all nullable.
    pub fn to_arrow(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|(name, column_type)| Field::new(name, column_type.arrow_type(), true))
                .collect::<Vec<_>>(),
        )
    }

    /// The columns of an Arrow schema that Freshet can represent; the others are
    /// returned by name.
    pub fn from_arrow(schema: &Schema) -> (ColumnSchema, Vec<String>) {
        let mut columns = Vec::new();
        let mut unsupported = Vec::new();
        for field in schema.fields() {
            match ColumnType::from_arrow(field.data_type()) {
                Some(column_type) => columns.push((field.name().clone(), column_type)),
                None => unsupported.push(format!("{} ({})", field.name(), field.data_type())),
            }
        }
        (ColumnSchema { columns }, unsupported)
    }
}

impl Serialize for ColumnSchema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.columns.len()))?;
        for (name, column_type) in &self.columns {
            map.serialize_entry(name, column_type)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ColumnSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SchemaVisitor;
        impl<'de> Visitor<'de> for SchemaVisitor {
            type Value = ColumnSchema;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of column name to type (bool, int32, int64, float32, float64, string, timestamp)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ColumnSchema, A::Error> {
                let mut columns: Vec<(String, ColumnType)> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if columns.iter().any(|(existing, _)| *existing == name) {
                        return Err(de::Error::custom(format!(
                            "column '{name}' is declared twice"
                        )));
                    }
                    let column_type = map.next_value::<ColumnType>()?;
                    columns.push((name, column_type));
                }
                Ok(ColumnSchema { columns })
            }
        }
        deserializer.deserialize_map(SchemaVisitor)
    }
}
