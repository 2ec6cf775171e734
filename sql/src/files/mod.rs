//! Data files read with DataFusion, on local disk or on S3: where a URI points
//! ([`FileLocation`]), the format an extension names, and a [`DataFrame`] over
//! a file. Validation reads their schemas; the engine reads their rows (file
//! tables, label files).

mod location;
mod session;

use datafusion::dataframe::DataFrame;
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};

use crate::model::FileFormat;

pub use freshet_objects::{configure_s3, s3_settings, s3_store, S3Settings};
pub use location::{FileLocation, Fingerprint};
pub use session::session;

/// Why a file could not be read, in words a user can act on: an S3 refusal
/// of the credentials or a missing object is said as such
/// ([`freshet_objects::explain_store_error`]); any other error keeps its own
/// text (DataFusion's without a backtrace).
pub fn describe_read_error(error: &(dyn std::error::Error + 'static)) -> String {
    if let Some(explained) = freshet_objects::explain_store_error(error) {
        return explained;
    }
    match error.downcast_ref::<datafusion::error::DataFusionError>() {
        Some(datafusion_error) => datafusion_error.strip_backtrace(),
        None => error.to_string(),
    }
}

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

/// A DataFrame over the file (or files: a glob, an S3 prefix) at `location`
/// (CSV with a header row). `ctx` must read S3 when the location is on S3:
/// make it with [`session`].
pub async fn open_frame(
    ctx: &SessionContext,
    location: &FileLocation,
    format: FileFormat,
) -> datafusion::error::Result<DataFrame> {
    let paths = match location
        .glob_matches()
        .await
        .map_err(datafusion::error::DataFusionError::Execution)?
    {
        Some(objects) => objects,
        None => vec![location.table_path()],
    };
    let extension = location.extension();
    match format {
        FileFormat::Parquet => {
            ctx.read_parquet(
                paths,
                ParquetReadOptions::default().file_extension(&extension),
            )
            .await
        }
        FileFormat::Csv => {
            ctx.read_csv(paths, CsvReadOptions::new().file_extension(&extension))
                .await
        }
        FileFormat::Json => {
            ctx.read_json(paths, JsonReadOptions::default().file_extension(&extension))
                .await
        }
    }
}
