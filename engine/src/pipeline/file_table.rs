//! [`FileTable`]: a file source's rows, read with DataFusion and read again when
//! the file changes (a local file's modification time; an S3 object's ETag,
//! looked at every [`S3Settings::poll_interval`](freshet_sql::files::S3Settings::poll_interval)).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_sql::files::{
    format_from_extension, open_frame, s3_settings, session, FileLocation, Fingerprint,
};
use freshet_sql::model::{FileFormat, Source};
use tracing::info;

use super::batch_table::BatchTable;
use crate::{EngineError, Result};

/// A file source loaded into a [`BatchTable`].
pub struct FileTable {
    name: String,
    location: FileLocation,
    format: FileFormat,
    /// The table the plans read.
    pub table: Arc<BatchTable>,
    loaded: Option<Fingerprint>,
    /// How often the location is looked at, and when it was last.
    poll: Duration,
    polled: Instant,
}

impl FileTable {
    /// Loads the file of `source` (a `file://` or `s3://` file source).
    pub async fn open(source: &Source) -> Result<FileTable> {
        let spec = source.file.as_ref().ok_or_else(|| {
            EngineError::Unsupported(format!("source '{}' is not a file source", source.name))
        })?;
        let location = FileLocation::parse(&spec.uri, Path::new("/")).map_err(|reason| {
            EngineError::Unsupported(format!("file source '{}': {reason}", source.name))
        })?;
        let format = spec.format.unwrap_or_else(|| format_of(&location));
        let poll = match location {
            FileLocation::Local(_) => Duration::ZERO,
            FileLocation::S3 { .. } => s3_settings().poll_interval,
        };
        let mut table = FileTable {
            name: source.name.clone(),
            location,
            format,
            table: BatchTable::new(Arc::new(arrow::datatypes::Schema::empty())),
            loaded: None,
            poll,
            polled: Instant::now(),
        };
        let loaded = table.fingerprint().await?;
        let (schema, batches) = table.read().await?;
        table.table = BatchTable::new(schema);
        table.table.set(batches);
        table.loaded = loaded;
        Ok(table)
    }

    async fn fingerprint(&self) -> Result<Option<Fingerprint>> {
        self.location.fingerprint().await.map_err(|reason| {
            EngineError::InvalidRequest(format!("file source '{}': {reason}", self.name))
        })
    }

    /// Reads the file again if it changed since it was loaded (looked at no
    /// more often than the poll interval); a file that now fails to read
    /// keeps the rows last read, with a warning.
    pub async fn refresh(&mut self) {
        if self.polled.elapsed() < self.poll {
            return;
        }
        self.polled = Instant::now();
        let fingerprint = match self.fingerprint().await {
            Ok(fingerprint) => fingerprint,
            Err(error) => {
                tracing::warn!(source = %self.name, %error, "file unreachable; keeping the rows last read");
                return;
            }
        };
        if fingerprint.is_none() || fingerprint == self.loaded {
            return;
        }
        match self.read().await {
            Ok((schema, batches)) if schema == self.table.schema_ref() => {
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                self.table.set(batches);
                self.loaded = fingerprint;
                info!(source = %self.name, rows, "file table reloaded");
            }
            Ok(_) => {
                tracing::warn!(source = %self.name, "file changed its columns; keeping the rows last read")
            }
            Err(error) => {
                tracing::warn!(source = %self.name, %error, "file unreadable; keeping the rows last read")
            }
        }
    }

    async fn read(&self) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        read_file(&self.location, self.format).await
    }
}

/// The format a file's extension names; JSON lines when it names none.
pub fn format_of(location: &FileLocation) -> FileFormat {
    format_from_extension(&location.extension()).unwrap_or(FileFormat::Json)
}

/// The columns of a file, as [`read_file`] will read them (CSV and JSON types
/// inferred from a sample of rows).
pub async fn file_schema(location: &FileLocation, format: FileFormat) -> Result<SchemaRef> {
    let frame = open_frame(&session()?, location, format).await?;
    Ok(Arc::new(frame.schema().as_arrow().clone()))
}

/// Reads a whole file (local or on S3) with DataFusion (CSV with a header
/// row), its rows in file order: one partition, so no scan is split and
/// interleaved.
pub async fn read_file(
    location: &FileLocation,
    format: FileFormat,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let frame = open_frame(&session()?, location, format).await?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await?;
    Ok((schema, batches))
}
