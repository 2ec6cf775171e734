//! [`FileTable`]: a file source's rows, read with DataFusion and read again when
//! the file changes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::prelude::{SessionConfig, SessionContext};
use freshet_sql::files::{format_from_extension, open_frame};
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
        let format = spec.format.unwrap_or_else(|| format_of(Path::new(path)));
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

    async fn read(&self) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        read_file(&self.path, self.format).await
    }
}

/// The format a file's extension names; JSON lines when it names none.
pub fn format_of(path: &Path) -> FileFormat {
    format_from_extension(&path.to_string_lossy()).unwrap_or(FileFormat::Json)
}

/// The columns of a local file, as [`read_file`] will read them (CSV and
/// JSON types inferred from a sample of rows).
pub async fn file_schema(path: &Path, format: FileFormat) -> Result<SchemaRef> {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    let frame = open_frame(&ctx, path, format).await?;
    Ok(Arc::new(frame.schema().as_arrow().clone()))
}

/// Reads a whole local file with DataFusion (CSV with a header row), its rows in
/// file order: one partition, so no scan is split and interleaved.
pub async fn read_file(path: &Path, format: FileFormat) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    let frame = open_frame(&ctx, path, format).await?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await?;
    Ok((schema, batches))
}
