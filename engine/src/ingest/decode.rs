//! Decoding a request payload (JSON lines, CSV or Arrow IPC) into an Arrow batch of
//! the source's schema, with an error for every value that does not fit, located by
//! row and column. Events are decoded and validated here, once; the log stores the
//! result.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::{cast_with_options, filter_record_batch, CastOptions};
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use freshet_sql::types::ColumnSchema;

use super::cell::{from_json, from_text, Cell, ColumnBuilder};
use crate::{EngineError, Result};

/// The encodings an ingest payload can come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// One JSON object per line; row `n` is line `n + 1`.
    JsonLines,
    /// CSV with a header row naming the columns; row `n` is the record after the header.
    Csv,
    /// An Arrow IPC stream; rows are numbered across its batches.
    ArrowIpc,
}

impl PayloadFormat {
    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            PayloadFormat::JsonLines => "JSON lines",
            PayloadFormat::Csv => "CSV",
            PayloadFormat::ArrowIpc => "Arrow IPC",
        }
    }
}

/// Why one row was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 0-based row index in the payload.
    pub row: u64,
    /// The column at fault, when the problem is one value.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
}

/// A decoded payload: the rows that fit, and what was wrong with the others.
pub struct Decoded {
    /// Rows that fit the schema, in payload order.
    pub valid: RecordBatch,
    /// Every problem found, by row.
    pub errors: Vec<RowError>,
    /// Each refused row's index and its original text.
    pub bad_rows: Vec<(u64, String)>,
    /// Rows in the payload.
    pub total_rows: u64,
}

/// Decodes `data` against `schema`; `event_time` must be present in every row.
pub fn decode(
    format: PayloadFormat,
    data: &[u8],
    schema: &ColumnSchema,
    event_time: &str,
) -> Result<Decoded> {
    match format {
        PayloadFormat::JsonLines => decode_rows(json_rows(data, schema)?, schema, event_time),
        PayloadFormat::Csv => decode_rows(csv_rows(data, schema)?, schema, event_time),
        PayloadFormat::ArrowIpc => decode_arrow(data, schema, event_time),
    }
}

/// One row of a text payload, converted cell by cell.
struct TextRow {
    row: u64,
    raw: String,
    cells: Vec<Cell>,
    errors: Vec<RowError>,
}

fn json_rows(data: &[u8], schema: &ColumnSchema) -> Result<Vec<TextRow>> {
    let text = std::str::from_utf8(data).map_err(|e| EngineError::Payload {
        format: PayloadFormat::JsonLines.name(),
        reason: format!("not UTF-8: {e}"),
    })?;
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = index as u64;
        let mut errors = Vec::new();
        let mut cells = vec![Cell::Null; schema.columns.len()];
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(object)) => {
                for (position, (name, column_type)) in schema.columns.iter().enumerate() {
                    match from_json(
                        object.get(name).unwrap_or(&serde_json::Value::Null),
                        *column_type,
                    ) {
                        Ok(cell) => cells[position] = cell,
                        Err(reason) => errors.push(RowError {
                            row,
                            column: Some(name.clone()),
                            reason,
                        }),
                    }
                }
                for field in object.keys().filter(|field| schema.get(field).is_none()) {
                    errors.push(RowError {
                        row,
                        column: Some(field.clone()),
                        reason: "not a column of the source schema".into(),
                    });
                }
            }
            Ok(_) => errors.push(RowError {
                row,
                column: None,
                reason: "an event must be a JSON object".into(),
            }),
            Err(e) => errors.push(RowError {
                row,
                column: None,
                reason: format!("invalid JSON: {e}"),
            }),
        }
        rows.push(TextRow {
            row,
            raw: line.to_string(),
            cells,
            errors,
        });
    }
    Ok(rows)
}

fn csv_rows(data: &[u8], schema: &ColumnSchema) -> Result<Vec<TextRow>> {
    let payload_error = |reason: String| EngineError::Payload {
        format: PayloadFormat::Csv.name(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(data);
    let header = reader
        .headers()
        .map_err(|e| payload_error(format!("bad header: {e}")))?
        .clone();
    let mut positions = Vec::with_capacity(schema.columns.len());
    for (name, _) in &schema.columns {
        positions.push(header.iter().position(|h| h == name));
    }
    if let Some(unknown) = header.iter().find(|h| schema.get(h).is_none()) {
        return Err(payload_error(format!(
            "header column '{unknown}' is not a column of the source schema"
        )));
    }
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let row = index as u64;
        let mut errors = Vec::new();
        let mut cells = vec![Cell::Null; schema.columns.len()];
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                errors.push(RowError {
                    row,
                    column: None,
                    reason: format!("invalid CSV: {e}"),
                });
                rows.push(TextRow {
                    row,
                    raw: String::new(),
                    cells,
                    errors,
                });
                continue;
            }
        };
        if record.len() != header.len() {
            errors.push(RowError {
                row,
                column: None,
                reason: format!(
                    "{} fields, but the header has {}",
                    record.len(),
                    header.len()
                ),
            });
        } else {
            for (position, ((name, column_type), at)) in
                schema.columns.iter().zip(&positions).enumerate()
            {
                let text = at.and_then(|at| record.get(at)).unwrap_or("");
                match from_text(text, *column_type) {
                    Ok(cell) => cells[position] = cell,
                    Err(reason) => errors.push(RowError {
                        row,
                        column: Some(name.clone()),
                        reason,
                    }),
                }
            }
        }
        rows.push(TextRow {
            row,
            raw: record.iter().collect::<Vec<_>>().join(","),
            cells,
            errors,
        });
    }
    Ok(rows)
}

fn missing_event_time(row: u64, event_time: &str) -> RowError {
    RowError {
        row,
        column: Some(event_time.to_string()),
        reason: "the event time is missing".into(),
    }
}

fn decode_rows(rows: Vec<TextRow>, schema: &ColumnSchema, event_time: &str) -> Result<Decoded> {
    let event_time_at = schema
        .columns
        .iter()
        .position(|(name, _)| name == event_time);
    let mut builders: Vec<ColumnBuilder> = schema
        .columns
        .iter()
        .map(|(_, t)| ColumnBuilder::new(*t))
        .collect();
    let total_rows = rows.len() as u64;
    let mut errors = Vec::new();
    let mut bad_rows = Vec::new();
    for mut row in rows {
        if row.errors.is_empty() && event_time_at.is_some_and(|at| row.cells[at] == Cell::Null) {
            row.errors.push(missing_event_time(row.row, event_time));
        }
        if row.errors.is_empty() {
            for (builder, cell) in builders.iter_mut().zip(&row.cells) {
                builder.append(cell);
            }
        } else {
            bad_rows.push((row.row, row.raw));
            errors.extend(row.errors);
        }
    }
    let columns: Vec<ArrayRef> = builders.into_iter().map(ColumnBuilder::finish).collect();
    let valid = RecordBatch::try_new(Arc::new(schema.to_arrow()), columns)?;
    Ok(Decoded {
        valid,
        errors,
        bad_rows,
        total_rows,
    })
}

fn decode_arrow(data: &[u8], schema: &ColumnSchema, event_time: &str) -> Result<Decoded> {
    let payload_error = |reason: String| EngineError::Payload {
        format: PayloadFormat::ArrowIpc.name(),
        reason,
    };
    let reader = StreamReader::try_new(std::io::Cursor::new(data), None)
        .map_err(|e| payload_error(e.to_string()))?;
    let target: SchemaRef = Arc::new(schema.to_arrow());
    let input_schema = reader.schema();
    if let Some(unknown) = input_schema
        .fields()
        .iter()
        .find(|f| schema.get(f.name()).is_none())
    {
        return Err(payload_error(format!(
            "column '{}' is not a column of the source schema",
            unknown.name()
        )));
    }
    let mut valid_batches = Vec::new();
    let mut errors = Vec::new();
    let mut bad_rows = Vec::new();
    let mut first_row = 0u64;
    let safe = CastOptions {
        safe: true,
        ..CastOptions::default()
    };
    for batch in reader {
        let batch = batch.map_err(|e| payload_error(e.to_string()))?;
        let rows = batch.num_rows();
        let mut row_errors: BTreeMap<usize, Vec<RowError>> = BTreeMap::new();
        let mut columns = Vec::with_capacity(schema.columns.len());
        for (name, column_type) in &schema.columns {
            let column = match batch.column_by_name(name) {
                None => arrow::array::new_null_array(&column_type.arrow_type(), rows),
                Some(input) => {
                    let cast = cast_with_options(input, &column_type.arrow_type(), &safe).map_err(
                        |e| {
                            payload_error(format!(
                                "column '{name}' ({}) cannot become {column_type}: {e}",
                                input.data_type()
                            ))
                        },
                    )?;
                    for row in 0..rows {
                        if cast.is_null(row) && !input.is_null(row) {
                            row_errors.entry(row).or_default().push(RowError {
                                row: first_row + row as u64,
                                column: Some(name.clone()),
                                reason: format!("value does not fit {column_type}"),
                            });
                        }
                    }
                    cast
                }
            };
            if name == event_time {
                for row in (0..rows).filter(|row| column.is_null(*row)) {
                    let problems = row_errors.entry(row).or_default();
                    // A value that failed its cast is already reported as such.
                    if !problems
                        .iter()
                        .any(|e| e.column.as_deref() == Some(event_time))
                    {
                        problems.push(missing_event_time(first_row + row as u64, event_time));
                    }
                }
            }
            columns.push(column);
        }
        let converted = RecordBatch::try_new(target.clone(), columns)?;
        if row_errors.is_empty() {
            valid_batches.push(converted);
        } else {
            let keep: BooleanArray = (0..rows)
                .map(|row| Some(!row_errors.contains_key(&row)))
                .collect();
            valid_batches.push(filter_record_batch(&converted, &keep)?);
            let options = FormatOptions::default();
            let formatters = batch
                .columns()
                .iter()
                .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            for (row, problems) in row_errors {
                let raw = batch
                    .schema()
                    .fields()
                    .iter()
                    .zip(&formatters)
                    .map(|(field, formatter)| format!("{}={}", field.name(), formatter.value(row)))
                    .collect::<Vec<_>>()
                    .join(", ");
                bad_rows.push((first_row + row as u64, raw));
                errors.extend(problems);
            }
        }
        first_row += rows as u64;
    }
    let valid = arrow::compute::concat_batches(&target, &valid_batches)?;
    Ok(Decoded {
        valid,
        errors,
        bad_rows,
        total_rows: first_row,
    })
}
