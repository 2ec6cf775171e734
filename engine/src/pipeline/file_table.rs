//! [`FileTable`]: a file source's rows, read with DataFusion and read again when
//! the file changes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};
use freshet_sql::model::{FileFormat, Source};
use tracing::info;

use super::batch_table::BatchTable;
use crate::{EngineError, Result};

/// A file source loaded into a [`BatchTable`].
pub struct FileTable {
    name: String,
    path: PathBuf,
    format: FileFormat,
    /// The table the plans read.
    pub table: Arc<BatchTable>,
    loaded: Option<SystemTime>,
}

impl FileTable {
    /// Loads the file of `source` (a `file://` file source).
    pub async fn open(source: &Source) -> Result<FileTable> {
        let spec = source.file.as_ref().ok_or_else(|| {
            EngineError::Unsupported(format!("source '{}' is not a file source", source.name))
        })?;
        let path = spec.uri.strip_prefix("file://").ok_or_else(|| {
            EngineError::Unsupported(format!(
                "file source '{}': only file:// URIs are read by this build ({})",
                source.name, spec.uri
            ))
        })?;
        let format = spec.format.unwrap_or(match path.rsplit('.').next() {
            Some("parquet") => FileFormat::Parquet,
            Some("csv") => FileFormat::Csv,
            _ => FileFormat::Json,
        });
        let mut table = FileTable {
            name: source.name.clone(),
            path: PathBuf::from(path),
            format,
            table: BatchTable::new(Arc::new(arrow::datatypes::Schema::empty())),
            loaded: None,
        };
        let (schema, batches) = table.read().await?;
        table.table = BatchTable::new(schema);
        table.table.set(batches);
        table.loaded = table.modified();
        Ok(table)
    }

    fn modified(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
    }

    /// Reads the file again if it changed since it was loaded; a file that now
    /// fails to read keeps the rows last read, with a warning.
    pub async fn refresh(&mut self) {
        let modified = self.modified();
        if modified.is_none() || modified == self.loaded {
            return;
        }
        match self.read().await {
            Ok((schema, batches)) if schema == self.table.schema_ref() => {
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                self.table.set(batches);
                self.loaded = modified;
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

    async fn read(
        &self,
    ) -> Result<(
        arrow::datatypes::SchemaRef,
        Vec<arrow::record_batch::RecordBatch>,
    )> {
        let ctx = SessionContext::new();
        let path = self.path.display().to_string();
        let extension = self
            .path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let frame = match self.format {
            FileFormat::Parquet => {
                ctx.read_parquet(
                    &path,
                    ParquetReadOptions::default().file_extension(&extension),
                )
                .await
            }
            FileFormat::Csv => {
                ctx.read_csv(&path, CsvReadOptions::new().file_extension(&extension))
                    .await
            }
            FileFormat::Json => {
                ctx.read_json(&path, JsonReadOptions::default().file_extension(&extension))
                    .await
            }
        }?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await?;
        Ok((schema, batches))
    }
}
