//! Decoding a request payload (JSON lines, CSV or Arrow IPC) into an Arrow batch of
//! the source's schema, with an error for every value that does not fit, located by
//! row and column. Events are decoded and validated here, once; the log stores the
//! result.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::{cast_with_options, filter_record_batch, CastOptions};
use arrow::datatypes::SchemaRef;
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
    let (input_schema, batches) = crate::ipc_stream::read_stream(data).map_err(payload_error)?;
    let target: SchemaRef = Arc::new(schema.to_arrow());
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
    for batch in batches {
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

#[cfg(test)]
mod fuzz {
    //! The three decoders under arbitrary input: never a panic, and every row
    //! of a decoded payload either kept or refused with an error naming it.

    use std::sync::Arc;

    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use freshet_sql::types::ColumnType;
    use proptest::prelude::*;

    use super::*;

    /// Cases per property.
    const CASES: u32 = 100_000;

    fn schema() -> ColumnSchema {
        ColumnSchema {
            columns: vec![
                ("user_id".into(), ColumnType::Int64),
                ("amount".into(), ColumnType::Float64),
                ("name".into(), ColumnType::String),
                ("ok".into(), ColumnType::Bool),
                ("ts".into(), ColumnType::Timestamp),
            ],
        }
    }

    /// Decodes and checks what any outcome must hold: every row kept or
    /// refused, and every error at a row of the payload (text rows are
    /// numbered by line, blank lines included; Arrow rows across batches).
    fn check(format: PayloadFormat, data: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(decoded) = decode(format, data, &schema(), "ts") {
            prop_assert_eq!(
                decoded.valid.num_rows() as u64 + decoded.bad_rows.len() as u64,
                decoded.total_rows
            );
            let rows = match format {
                PayloadFormat::ArrowIpc => decoded.total_rows,
                _ => data.split(|b| *b == b'\n').count() as u64,
            };
            for error in &decoded.errors {
                prop_assert!(error.row < rows, "{:?}", error);
            }
            prop_assert_eq!(decoded.valid.num_columns(), schema().columns.len());
        }
        Ok(())
    }

    /// Values that are sometimes right for a column and often not.
    fn json_value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| format!("{v:?}")),
            Just("1e400".to_string()),
            Just("null".to_string()),
            any::<bool>().prop_map(|v| v.to_string()),
            "[a-z0-9 ,:{}\\[\\]\"\\\\é-]{0,12}".prop_map(|s| format!("{s:?}")),
            Just("\"2026-11-01T10:00:00Z\"".to_string()),
            Just("\"2026-11-01 10:00:00.123456\"".to_string()),
            Just("[1, 2]".to_string()),
            Just("{\"a\": 1}".to_string()),
        ]
    }

    fn json_line() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("user_id"),
            Just("amount"),
            Just("name"),
            Just("ok"),
            Just("ts"),
            Just("other")
        ];
        prop_oneof![
            4 => proptest::collection::vec((key, json_value()), 0..7).prop_map(|fields| {
                let body: Vec<String> =
                    fields.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
            1 => "[ -~]{0,30}",
        ]
    }

    fn csv_cell() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| v.to_string()),
            Just(String::new()),
            Just("true".to_string()),
            Just("2026-11-01T10:00:00Z".to_string()),
            Just("\"a,\"\"b\"\"\nc\"".to_string()),
            "[ -~]{0,10}",
        ]
    }

    /// An Arrow IPC stream of a batch whose columns may or may not fit.
    fn arrow_payload(rows: usize, typed: bool, seed: i64) -> Vec<u8> {
        let ids: ArrayRef = if typed {
            Arc::new(Int64Array::from_iter_values(
                (0..rows as i64).map(|r| r ^ seed),
            ))
        } else {
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|r| format!("{}", (r as i64).wrapping_mul(seed))),
            ))
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("user_id", ids.data_type().clone(), true),
            Field::new("amount", DataType::Float64, true),
            Field::new("ok", DataType::Boolean, true),
            Field::new("ts", DataType::Int64, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            ids,
            Arc::new(Float64Array::from_iter_values(
                (0..rows).map(|r| r as f64 / 3.0),
            )),
            Arc::new(BooleanArray::from_iter((0..rows).map(|r| Some(r % 2 == 0)))),
            Arc::new(Int64Array::from_iter_values(
                (0..rows as i64).map(|r| r.wrapping_mul(seed)),
            )),
        ];
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        crate::ipc_stream::write_stream(&batch).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("FRESHET_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(CASES)
        ))]

        #[test]
        fn arbitrary_bytes_in_every_format(
            bytes in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            for format in [PayloadFormat::JsonLines, PayloadFormat::Csv, PayloadFormat::ArrowIpc] {
                check(format, &bytes)?;
            }
        }

        #[test]
        fn json_lines_of_right_and_wrong_values(
            lines in proptest::collection::vec(json_line(), 0..6),
        ) {
            check(PayloadFormat::JsonLines, lines.join("\n").as_bytes())?;
        }

        #[test]
        fn csv_with_any_header_and_cells(
            header in proptest::collection::vec(
                prop_oneof![Just("user_id"), Just("amount"), Just("name"), Just("ok"),
                            Just("ts"), Just("other"), Just("")],
                0..7,
            ),
            rows in proptest::collection::vec(proptest::collection::vec(csv_cell(), 0..7), 0..5),
        ) {
            let mut text = header.join(",");
            for row in rows {
                text.push('\n');
                text.push_str(&row.join(","));
            }
            check(PayloadFormat::Csv, text.as_bytes())?;
        }

        #[test]
        fn arrow_streams_whole_or_damaged(
            rows in 0usize..4,
            typed in any::<bool>(),
            seed in any::<i64>(),
            at in any::<usize>(),
            byte in any::<u8>(),
            damage in 0u8..3,
        ) {
            let mut bytes = arrow_payload(rows, typed, seed);
            let at = at % bytes.len();
            match damage {
                0 => {}
                1 => bytes[at] = byte,
                _ => bytes.truncate(at),
            }
            check(PayloadFormat::ArrowIpc, &bytes)?;
        }
    }
}
