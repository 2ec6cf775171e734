//! [`Labels`]: the label rows of a training set, read from a file, from inline
//! Arrow IPC or from a relation's rows, checked (every column present, every key
//! and timestamp readable, with the row named when not) and put in output form:
//! entity keys (one column per entity), label timestamp, label values.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, TimestampMicrosecondArray};
use arrow::compute::{cast, concat};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use freshet_sql::types::ColumnType;

use crate::ingest::parse_timestamp;
use crate::pipeline::{file_schema, format_of, read_file};
use crate::{EngineError, Result};
use freshet_sql::files::{describe_read_error, FileLocation};

/// A label column holding one entity's keys.
#[derive(Debug, Clone)]
pub struct EntityColumn {
    /// The entity.
    pub entity: String,
    /// The column of the label rows holding its keys.
    pub column: String,
    /// The type of its keys.
    pub key_type: ColumnType,
}

/// Which columns of the label rows mean what.
#[derive(Debug, Clone)]
pub struct LabelColumns {
    /// The entities the labels carry keys of, each in its own column (a
    /// purchase has a user and an item); at least one.
    pub entities: Vec<EntityColumn>,
    /// The timestamp column.
    pub time_column: String,
    /// The label value columns; `None` means every other column.
    pub value_columns: Option<Vec<String>>,
}

/// Checked label rows.
#[derive(Debug, Clone)]
pub struct Labels {
    /// Key columns (one per entity, in [`LabelColumns::entities`] order, cast
    /// to the entity's key type), timestamp (µs, no zone) and value columns,
    /// in output order.
    pub batch: RecordBatch,
    /// How many key columns lead the batch.
    pub entities: usize,
}

impl Labels {
    /// The keys of entity `entity` (its place in [`LabelColumns::entities`]).
    pub fn keys(&self, entity: usize) -> &ArrayRef {
        self.batch.column(entity)
    }

    /// Only the key and timestamp columns, the ones placing label rows
    /// needs: the other columns' buffers are freed with `self` (columns are
    /// shared, not copied).
    pub fn placing(self) -> Result<Labels> {
        let columns: Vec<usize> = (0..=self.entities).collect();
        Ok(Labels {
            batch: self.batch.project(&columns)?,
            entities: self.entities,
        })
    }

    /// The timestamp of each row, µs.
    pub fn times(&self) -> &[i64] {
        self.batch
            .column(self.entities)
            .as_primitive::<TimestampMicrosecondType>()
            .values()
    }
}

fn invalid(origin: &str, why: String) -> EngineError {
    EngineError::InvalidRequest(format!("labels {origin}: {why}"))
}

/// A label file, known to exist and its columns read; its rows are read
/// when they are needed ([`LabelFile::read`]), so a build does not hold them
/// while it replays the log.
#[derive(Debug, Clone)]
pub struct LabelFile {
    location: FileLocation,
    /// Its columns.
    pub schema: SchemaRef,
}

/// Opens a label file: `file:///abs/path`, a path, or `s3://bucket/key` (a
/// glob or prefix too); `.csv` (with a header), `.parquet`, otherwise JSON
/// lines.
pub async fn open_label_file(uri: &str) -> Result<LabelFile> {
    let location = if uri.starts_with("s3://") {
        FileLocation::parse(uri, Path::new("/"))
            .map_err(|reason| EngineError::InvalidRequest(format!("labels: {reason}")))?
    } else {
        let path = Path::new(uri.strip_prefix("file://").unwrap_or(uri));
        if !path.is_file() {
            return Err(EngineError::InvalidRequest(format!(
                "labels file '{}' does not exist",
                path.display()
            )));
        }
        FileLocation::Local(path.to_path_buf())
    };
    let schema = file_schema(&location, format_of(&location))
        .await
        .map_err(|e| unreadable(&location, e))?;
    Ok(LabelFile { location, schema })
}

impl LabelFile {
    /// Reads its rows, in file order.
    pub async fn read(&self) -> Result<Vec<RecordBatch>> {
        let (_, batches) = read_file(&self.location, format_of(&self.location))
            .await
            .map_err(|e| unreadable(&self.location, e))?;
        Ok(batches)
    }
}

fn unreadable(location: &FileLocation, error: EngineError) -> EngineError {
    EngineError::InvalidRequest(format!(
        "labels file '{}': {}",
        location.table_path(),
        describe_read_error(&error)
    ))
}

/// Reads inline label rows: an Arrow IPC stream.
pub fn read_label_ipc(bytes: &[u8]) -> Result<Vec<RecordBatch>> {
    crate::ipc_stream::read_stream(bytes)
        .map(|(_, batches)| batches)
        .map_err(|reason| {
            EngineError::InvalidRequest(format!("inline labels: not an Arrow IPC stream: {reason}"))
        })
}

/// Checks `batches` against `columns` and puts them in output form; `origin`
/// names where they came from in errors.
pub fn prepare(columns: &LabelColumns, batches: Vec<RecordBatch>, origin: &str) -> Result<Labels> {
    let Some(first) = batches.first() else {
        return Err(invalid(origin, "there are no label rows".into()));
    };
    let schema = first.schema();
    if batches.iter().all(|b| b.num_rows() == 0) {
        return Err(invalid(origin, "there are no label rows".into()));
    }
    let Located {
        keys: key_columns,
        time: time_column,
        values: value_columns,
    } = locate(columns, &schema, origin)?;
    // Each column is put together from the batches on its own, and the
    // batches' parts of it are freed once it is: a large label set is not
    // held twice.
    let mut uses = vec![0usize; schema.fields().len()];
    for at in key_columns.iter().chain([&time_column]) {
        uses[*at] += 1;
    }
    for (_, at) in &value_columns {
        uses[*at] += 1;
    }
    let mut parts = Parts::new(batches, &schema, uses)?;
    let mut fields = Vec::new();
    let mut arrays = Vec::new();
    for (entity, at) in columns.entities.iter().zip(key_columns) {
        let array = key_column(entity, &parts.take(at)?, origin)?;
        if let Some(row) = (0..array.len()).find(|r| array.is_null(*r)) {
            return Err(invalid(
                origin,
                format!(
                    "row {}: column '{}' (the key of entity '{}') is null",
                    row + 1,
                    entity.column,
                    entity.entity
                ),
            ));
        }
        fields.push(Field::new(&entity.column, array.data_type().clone(), false));
        arrays.push(array);
    }
    let times = label_times(&parts.take(time_column)?, &columns.time_column, origin)?;
    fields.push(Field::new(
        &columns.time_column,
        DataType::Timestamp(TimeUnit::Microsecond, None),
        false,
    ));
    arrays.push(Arc::new(TimestampMicrosecondArray::from(times)));
    for (name, at) in value_columns {
        let array = parts.take(at)?;
        fields.push(Field::new(&name, array.data_type().clone(), true));
        arrays.push(array);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
    Ok(Labels {
        batch,
        entities: columns.entities.len(),
    })
}

/// Where the columns [`LabelColumns`] names are in a schema.
struct Located {
    keys: Vec<usize>,
    time: usize,
    values: Vec<(String, usize)>,
}

/// Checks that `schema` has every column `columns` names, naming the first
/// missing one and its role.
pub fn check_columns(columns: &LabelColumns, schema: &Schema, origin: &str) -> Result<()> {
    locate(columns, schema, origin).map(|_| ())
}

fn locate(columns: &LabelColumns, schema: &Schema, origin: &str) -> Result<Located> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let index = |name: &str, role: &str| {
        schema.index_of(name).map_err(|_| {
            invalid(
                origin,
                format!(
                    "no column '{name}' ({role}); the columns are {}",
                    names.join(", ")
                ),
            )
        })
    };
    let mut keys = Vec::with_capacity(columns.entities.len());
    for entity in &columns.entities {
        let role = format!("the key of entity '{}'", entity.entity);
        keys.push(index(&entity.column, &role)?);
    }
    let time = index(&columns.time_column, "the label timestamp")?;
    let value_names: Vec<String> = match &columns.value_columns {
        Some(list) => list.clone(),
        None => names
            .iter()
            .filter(|n| {
                **n != columns.time_column && !columns.entities.iter().any(|e| e.column == **n)
            })
            .map(|n| n.to_string())
            .collect(),
    };
    let mut values = Vec::with_capacity(value_names.len());
    for name in value_names {
        let at = index(&name, "a label value")?;
        values.push((name, at));
    }
    Ok(Located { keys, time, values })
}

/// The columns of label batches, each concatenated when first taken, its
/// parts freed then (and the whole kept only while another take of it is to
/// come).
struct Parts {
    parts: Vec<Vec<Option<ArrayRef>>>,
    taken: Vec<Option<ArrayRef>>,
    uses: Vec<usize>,
}

impl Parts {
    fn new(batches: Vec<RecordBatch>, schema: &SchemaRef, uses: Vec<usize>) -> Result<Parts> {
        let mut parts = Vec::with_capacity(batches.len());
        for batch in batches {
            if batch.schema().fields() != schema.fields() {
                return Err(EngineError::InvalidRequest(
                    "label rows: batches with different columns".into(),
                ));
            }
            parts.push(batch.columns().iter().cloned().map(Some).collect());
        }
        Ok(Parts {
            parts,
            taken: vec![None; schema.fields().len()],
            uses,
        })
    }

    fn take(&mut self, column: usize) -> Result<ArrayRef> {
        self.uses[column] = self.uses[column].saturating_sub(1);
        let more = self.uses[column] > 0;
        if let Some(array) = &self.taken[column] {
            let array = array.clone();
            if !more {
                self.taken[column] = None;
            }
            return Ok(array);
        }
        let pieces: Vec<ArrayRef> = self
            .parts
            .iter_mut()
            .filter_map(|batch| batch[column].take())
            .collect();
        let refs: Vec<&dyn Array> = pieces.iter().map(|a| a.as_ref()).collect();
        let array = concat(&refs)?;
        if more {
            self.taken[column] = Some(array.clone());
        }
        Ok(array)
    }
}

/// The key column cast to the entity's key type (integers to int64, text to utf8).
fn key_column(entity: &EntityColumn, array: &ArrayRef, origin: &str) -> Result<ArrayRef> {
    let wanted = match entity.key_type {
        ColumnType::Int32 | ColumnType::Int64 => DataType::Int64,
        ColumnType::String => DataType::Utf8,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::Float32 | ColumnType::Float64 => DataType::Float64,
    };
    let fits = match (array.data_type(), &wanted) {
        (from, to) if from == to => true,
        (from, DataType::Int64) => from.is_integer(),
        (DataType::LargeUtf8 | DataType::Utf8View, DataType::Utf8) => true,
        (DataType::Timestamp(_, _), DataType::Timestamp(_, _)) => true,
        _ => false,
    };
    if !fits {
        return Err(invalid(
            origin,
            format!(
                "column '{}' holds {} but the keys of entity '{}' are {}",
                entity.column,
                array.data_type(),
                entity.entity,
                entity.key_type
            ),
        ));
    }
    Ok(cast(array, &wanted)?)
}

/// Each row's timestamp in µs: timestamp and date columns as they are, text as
/// RFC 3339 (or the other forms ingest accepts), integers as epoch milliseconds.
fn label_times(array: &ArrayRef, name: &str, origin: &str) -> Result<Vec<i64>> {
    if let Some(row) = (0..array.len()).find(|r| array.is_null(*r)) {
        return Err(invalid(
            origin,
            format!("row {}: timestamp column '{name}' is null", row + 1),
        ));
    }
    let unreadable = |row: usize, why: String| {
        invalid(
            origin,
            format!("row {}: timestamp column '{name}': {why}", row + 1),
        )
    };
    match array.data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            let micros = cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            Ok(micros
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .values()
                .to_vec())
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = cast(array, &DataType::Utf8)?;
            let text = text.as_string::<i32>();
            (0..text.len())
                .map(|row| parse_timestamp(text.value(row)).map_err(|why| unreadable(row, why)))
                .collect()
        }
        data_type if data_type.is_integer() => {
            let millis = cast(array, &DataType::Int64)?;
            let millis: &Int64Array = millis.as_primitive();
            (0..millis.len())
                .map(|row| {
                    millis.value(row).checked_mul(1000).ok_or_else(|| {
                        unreadable(row, format!("{} ms is out of range", millis.value(row)))
                    })
                })
                .collect()
        }
        other => Err(invalid(
            origin,
            format!("timestamp column '{name}' holds {other}, not timestamps"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;
    use arrow::datatypes::Int64Type;

    fn columns() -> LabelColumns {
        LabelColumns {
            entities: vec![EntityColumn {
                entity: "user".into(),
                column: "user_id".into(),
                key_type: ColumnType::Int64,
            }],
            time_column: "ts".into(),
            value_columns: None,
        }
    }

    fn batch(ts: Vec<Option<&str>>) -> RecordBatch {
        let n = ts.len() as i64;
        RecordBatch::try_from_iter([
            (
                "churned",
                Arc::new(Int64Array::from((0..n).collect::<Vec<_>>())) as ArrayRef,
            ),
            (
                "user_id",
                Arc::new(arrow::array::Int32Array::from(vec![5; ts.len()])) as ArrayRef,
            ),
            ("ts", Arc::new(StringArray::from(ts)) as ArrayRef),
        ])
        .unwrap()
    }

    fn column_names(labels: &Labels) -> Vec<String> {
        labels
            .batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    #[test]
    fn rows_come_out_as_key_time_then_values() {
        let labels = prepare(
            &columns(),
            vec![batch(vec![
                Some("1970-01-01T00:00:01Z"),
                Some("1970-01-01"),
            ])],
            "test",
        )
        .unwrap();
        let names = column_names(&labels);
        assert_eq!(names, ["user_id", "ts", "churned"]);
        assert_eq!(labels.times(), [1_000_000, 0]);
        assert_eq!(labels.keys(0).as_primitive::<Int64Type>().values(), &[5, 5]);
    }

    #[test]
    fn batches_are_joined_and_a_column_named_twice_comes_out_twice() {
        let mut both = columns();
        both.value_columns = Some(vec!["churned".into(), "user_id".into()]);
        let labels = prepare(
            &both,
            vec![
                batch(vec![Some("1970-01-01")]),
                batch(vec![]),
                batch(vec![Some("1970-01-02"), Some("1970-01-03")]),
            ],
            "test",
        )
        .unwrap();
        assert_eq!(
            column_names(&labels),
            ["user_id", "ts", "churned", "user_id"]
        );
        assert_eq!(labels.times(), [0, 86_400_000_000, 172_800_000_000]);
        assert_eq!(
            labels.keys(0).as_primitive::<Int64Type>().values(),
            &[5, 5, 5]
        );
        let churned = labels.batch.column(2).as_primitive::<Int64Type>();
        assert_eq!(churned.values(), &[0, 0, 1]);
        let again = labels
            .batch
            .column(3)
            .as_primitive::<arrow::datatypes::Int32Type>();
        assert_eq!(again.values(), &[5, 5, 5]);
    }

    #[test]
    fn several_entities_come_out_as_one_key_column_each() {
        let mut two = columns();
        two.entities.push(EntityColumn {
            entity: "item".into(),
            column: "item_id".into(),
            key_type: ColumnType::String,
        });
        let rows = RecordBatch::try_from_iter([
            (
                "churned",
                Arc::new(Int64Array::from(vec![1, 0])) as ArrayRef,
            ),
            (
                "item_id",
                Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef,
            ),
            (
                "user_id",
                Arc::new(Int64Array::from(vec![5, 6])) as ArrayRef,
            ),
            (
                "ts",
                Arc::new(StringArray::from(vec!["2026-01-01", "2026-01-02"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let labels = prepare(&two, vec![rows.clone()], "test").unwrap();
        let names = column_names(&labels);
        assert_eq!(names, ["user_id", "item_id", "ts", "churned"]);
        assert_eq!(labels.keys(0).as_primitive::<Int64Type>().values(), &[5, 6]);
        let items = labels.keys(1).as_string::<i32>();
        assert_eq!(items.iter().flatten().collect::<Vec<_>>(), ["a", "b"]);
        two.entities[1].column = "sku".into();
        let missing = prepare(&two, vec![rows], "test").unwrap_err().to_string();
        assert!(
            missing.contains("no column 'sku' (the key of entity 'item')"),
            "{missing}"
        );
    }

    /// A file big enough for DataFusion to split its scan (over 10 MB) still
    /// comes back in file order.
    #[tokio::test]
    async fn a_large_label_file_keeps_its_row_order() {
        use datafusion::parquet::arrow::ArrowWriter;
        use datafusion::parquet::file::properties::WriterProperties;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.parquet");
        let rows = 2_000_000i64;
        let noise: Vec<i64> = (0..rows)
            .map(|i| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as i64)
            .collect();
        let batch = RecordBatch::try_from_iter([
            (
                "n",
                Arc::new(Int64Array::from_iter_values(0..rows)) as ArrayRef,
            ),
            ("noise", Arc::new(Int64Array::from(noise)) as ArrayRef),
        ])
        .unwrap();
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(100_000))
            .build();
        let mut writer = ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            batch.schema(),
            Some(properties),
        )
        .unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 10 << 20);
        let read = open_label_file(&path.display().to_string())
            .await
            .unwrap()
            .read()
            .await
            .unwrap();
        let all = arrow::compute::concat_batches(&read[0].schema(), &read).unwrap();
        let n: &Int64Array = all.column(0).as_primitive();
        assert_eq!(n.len(), rows as usize);
        assert!(n.values().iter().enumerate().all(|(i, v)| *v == i as i64));
    }

    #[test]
    fn bad_timestamps_and_missing_columns_name_the_row_or_column() {
        let null = prepare(
            &columns(),
            vec![batch(vec![Some("2026-01-01"), None])],
            "f.csv",
        )
        .unwrap_err()
        .to_string();
        assert!(null.contains("row 2") && null.contains("'ts'"), "{null}");
        let text = prepare(&columns(), vec![batch(vec![Some("yesterday")])], "f.csv")
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("row 1") && text.contains("yesterday"),
            "{text}"
        );
        let mut other = columns();
        other.entities[0].column = "account".into();
        let missing = prepare(&other, vec![batch(vec![Some("2026-01-01")])], "f.csv")
            .unwrap_err()
            .to_string();
        assert!(missing.contains("'account'"), "{missing}");
    }
}
