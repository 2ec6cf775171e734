//! Local data files read with DataFusion: the format an extension names, and a
//! [`DataFrame`] over a file. Validation reads their schemas; the engine reads
//! their rows (file tables, label files).

use std::path::Path;

use datafusion::dataframe::DataFrame;
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};

use crate::model::FileFormat;

/// The format a file name's extension names: `.parquet`, `.csv`, or
/// `.json`/`.jsonl`/`.ndjson` (JSON lines); `None` for any other.
pub fn format_from_extension(name: &str) -> Option<FileFormat> {
    let extension = name.rsplit('.').next()?.to_ascii_lowercase();
    match extension.as_str() {
        "parquet" => Some(FileFormat::Parquet),
        "csv" => Some(FileFormat::Csv),
        "json" | "jsonl" | "ndjson" => Some(FileFormat::Json),
        _ => None,
    }
}

/// A DataFrame over the file at `path` (CSV with a header row).
pub async fn open_frame(
    ctx: &SessionContext,
    path: &Path,
    format: FileFormat,
) -> datafusion::error::Result<DataFrame> {
    let path_text = path.display().to_string();
    let extension = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    match format {
        FileFormat::Parquet => {
            ctx.read_parquet(
                &path_text,
                ParquetReadOptions::default().file_extension(&extension),
            )
            .await
        }
        FileFormat::Csv => {
            ctx.read_csv(&path_text, CsvReadOptions::new().file_extension(&extension))
                .await
        }
        FileFormat::Json => {
            ctx.read_json(
                &path_text,
                JsonReadOptions::default().file_extension(&extension),
            )
            .await
        }
    }
}
