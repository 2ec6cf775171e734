//! `freshet ingest --source S FILE|-`: streams a JSON-lines, CSV or Parquet file in
//! chunks of `--batch-rows` rows, one request each, without loading it whole.
//!
//! A file is sent twice unless `--skip-bad-rows` is given: first with
//! `validate_only`, so that a bad row anywhere refuses the whole file before
//! anything is written; standard input, which cannot be read twice, is sent once.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use prost::Message;

use super::{connect, ClientArgs};
use crate::proto::{self, PayloadFormat};
use crate::{ApiError, Result, RowProblem};

/// What `freshet ingest` takes.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// The stream source.
    #[arg(long)]
    pub source: String,
    /// The file, or `-` for standard input.
    pub input: String,
    /// The input format [default: from the extension; jsonl for stdin].
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    /// Rows per request.
    #[arg(long, default_value_t = 10_000)]
    pub batch_rows: usize,
    /// Keep good rows and send bad ones to the source's rejected-events topic.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Return only once the events are reflected in online feature values.
    #[arg(long)]
    pub wait: bool,
}

/// Input file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// One request's worth of rows.
struct Chunk {
    format: PayloadFormat,
    data: Vec<u8>,
    /// Index (0-based) in the input of the chunk's first row: for JSON lines the
    /// first line, for CSV the first record after the header, for Parquet the row.
    first_row: u64,
}

fn file_error(path: &str, error: impl ToString) -> ApiError {
    ApiError::File {
        path: path.to_string(),
        reason: error.to_string(),
    }
}

fn detect_format(input: &str, given: Option<InputFormat>) -> Result<InputFormat> {
    if let Some(format) = given {
        return Ok(format);
    }
    if input == "-" {
        return Ok(InputFormat::Jsonl);
    }
    let extension = Path::new(input)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "jsonl" | "ndjson" | "json" => Ok(InputFormat::Jsonl),
        "csv" => Ok(InputFormat::Csv),
        "parquet" => Ok(InputFormat::Parquet),
        _ => Err(file_error(
            input,
            "cannot tell the format from the extension; pass --format jsonl, csv or parquet",
        )),
    }
}

fn open_input(input: &str) -> Result<Box<dyn Read>> {
    if input == "-" {
        Ok(Box::new(std::io::stdin()))
    } else {
        Ok(Box::new(
            File::open(input).map_err(|e| file_error(input, e))?,
        ))
    }
}

/// Produces the chunks of an input, lazily.
fn chunks(
    input: &str,
    format: InputFormat,
    batch_rows: usize,
) -> Result<Box<dyn Iterator<Item = Result<Chunk>>>> {
    let batch_rows = batch_rows.max(1);
    let path = input.to_string();
    match format {
        InputFormat::Jsonl => {
            let mut reader = BufReader::new(open_input(input)?);
            let mut next_line = 0u64;
            Ok(Box::new(std::iter::from_fn(move || {
                let first_row = next_line;
                let mut data = Vec::new();
                for _ in 0..batch_rows {
                    match reader.read_until(b'\n', &mut data) {
                        Ok(0) => break,
                        Ok(_) => next_line += 1,
                        Err(e) => return Some(Err(file_error(&path, e))),
                    }
                }
                (!data.is_empty()).then_some(Ok(Chunk {
                    format: PayloadFormat::JsonLines,
                    data,
                    first_row,
                }))
            })))
        }
        InputFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(open_input(input)?);
            let header = reader
                .byte_headers()
                .map_err(|e| file_error(input, e))?
                .clone();
            let mut records = reader.into_byte_records();
            let mut next_row = 0u64;
            Ok(Box::new(std::iter::from_fn(move || {
                let first_row = next_row;
                let mut writer = csv::Writer::from_writer(Vec::new());
                if let Err(e) = writer.write_byte_record(&header) {
                    return Some(Err(file_error(&path, e)));
                }
                let mut rows = 0;
                for record in records.by_ref().take(batch_rows) {
                    let written = record.map_err(|e| file_error(&path, e)).and_then(|record| {
                        writer
                            .write_byte_record(&record)
                            .map_err(|e| file_error(&path, e))
                    });
                    if let Err(error) = written {
                        return Some(Err(error));
                    }
                    rows += 1;
                }
                next_row += rows;
                if rows == 0 {
                    return None;
                }
                Some(
                    writer
                        .into_inner()
                        .map_err(|e| file_error(&path, e))
                        .map(|data| Chunk {
                            format: PayloadFormat::Csv,
                            data,
                            first_row,
                        }),
                )
            })))
        }
        InputFormat::Parquet => {
            if input == "-" {
                return Err(file_error(
                    input,
                    "Parquet cannot be read from standard input; name the file",
                ));
            }
            let file = File::open(input).map_err(|e| file_error(input, e))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|builder| builder.with_batch_size(batch_rows).build())
                .map_err(|e| file_error(input, e))?;
            let mut next_row = 0u64;
            Ok(Box::new(reader.map(move |batch| {
                let batch = batch.map_err(|e| file_error(&path, e))?;
                let first_row = next_row;
                next_row += batch.num_rows() as u64;
                let mut writer =
                    arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema())
                        .map_err(|e| file_error(&path, e))?;
                writer.write(&batch).map_err(|e| file_error(&path, e))?;
                let data = writer.into_inner().map_err(|e| file_error(&path, e))?;
                Ok(Chunk {
                    format: PayloadFormat::ArrowIpc,
                    data,
                    first_row,
                })
            })))
        }
    }
}

/// A refused row of a chunk, numbered in the whole input.
fn problem(format: PayloadFormat, first_row: u64, error: &proto::RowError) -> RowProblem {
    RowProblem {
        row: first_row + error.row + 1,
        is_line: format == PayloadFormat::JsonLines,
        column: (!error.column.is_empty()).then(|| error.column.clone()),
        reason: error.reason.clone(),
    }
}

/// Totals over all chunks.
#[derive(Default)]
struct Totals {
    accepted: u64,
    rejected: u64,
    late: u64,
    errors: Vec<RowProblem>,
}

/// Sends every chunk; returns the totals or the refusal of a chunk.
async fn send_all(
    client: &mut proto::feature_store_client::FeatureStoreClient<tonic::transport::Channel>,
    args: &IngestArgs,
    format: InputFormat,
    validate_only: bool,
) -> Result<Totals> {
    let mut totals = Totals::default();
    for chunk in chunks(&args.input, format, args.batch_rows)? {
        let chunk = chunk?;
        let request = proto::IngestRequest {
            source: args.source.clone(),
            format: chunk.format as i32,
            data: chunk.data,
            skip_bad_rows: args.skip_bad_rows,
            validate_only,
            wait: args.wait && !validate_only,
        };
        match client.ingest(request).await {
            Ok(response) => {
                let response = response.into_inner();
                totals.accepted += response.accepted;
                totals.rejected += response.rejected;
                totals.late += response.late;
                totals.errors.extend(
                    response
                        .errors
                        .iter()
                        .map(|e| problem(chunk.format, chunk.first_row, e)),
                );
            }
            Err(status) => {
                let Ok(details) = proto::IngestResponse::decode(status.details()) else {
                    return Err(status.into());
                };
                let written_before = if validate_only { 0 } else { totals.accepted };
                return Err(ApiError::RowsRefused {
                    summary: format!(
                        "{}: ingest into '{}' refused, nothing {}written: {} problem(s)",
                        args.input,
                        args.source,
                        if written_before == 0 { "" } else { "more " },
                        details.errors.len()
                    ),
                    rows: details
                        .errors
                        .iter()
                        .map(|e| problem(chunk.format, chunk.first_row, e))
                        .collect(),
                    written_before,
                });
            }
        }
    }
    Ok(totals)
}

/// Runs `freshet ingest`.
pub async fn ingest(args: &IngestArgs, client_args: &ClientArgs) -> Result<()> {
    let format = detect_format(&args.input, args.format)?;
    let mut client = connect(client_args).await?;
    if !args.skip_bad_rows && args.input != "-" {
        send_all(&mut client, args, format, true).await?;
    }
    let totals = send_all(&mut client, args, format, false).await?;
    if client_args.json {
        println!(
            "{}",
            serde_json::json!({
                "source": args.source,
                "accepted": totals.accepted,
                "rejected": totals.rejected,
                "late": totals.late,
                "errors": totals.errors.iter().map(RowProblem::to_json).collect::<Vec<_>>(),
            })
        );
    } else {
        println!(
            "ingested {} event(s) into '{}'; {} rejected; {} late (kept in the rejected-events topic)",
            totals.accepted, args.source, totals.rejected, totals.late
        );
        for error in totals.errors.iter().take(20) {
            println!("  rejected {}", error.describe());
        }
        if totals.errors.len() > 20 {
            println!("  ... and {} more", totals.errors.len() - 20);
        }
    }
    Ok(())
}
