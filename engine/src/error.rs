//! The one error type of the engine crate.

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The source named is not a stream source that can take events.
    #[error("source '{source_name}' {reason}")]
    NotAStream {
        /// The source.
        source_name: String,
        /// Why it cannot take events.
        reason: String,
    },
    /// The request as a whole could not be read (not a row-level problem).
    #[error("cannot read the {format} payload: {reason}")]
    Payload {
        /// The payload format.
        format: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The storage layer failed.
    #[error(transparent)]
    Storage(#[from] freshet_storage::StorageError),
    /// Running a plan failed.
    #[error("query error: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Stored definitions no longer validate (a bug or a corrupt registry).
    #[error(transparent)]
    Definitions(#[from] freshet_sql::SqlError),
    /// The registry could not be read or written, or does not hold what a
    /// request names.
    #[error(transparent)]
    Registry(#[from] freshet_registry::RegistryError),
    /// A request names something unknown or asks for something not allowed.
    #[error("{0}")]
    InvalidRequest(String),
    /// A request that is valid but not allowed in the current state (retiring
    /// the active version, waiting on a failed one).
    #[error("{0}")]
    Refused(String),
    /// Something the engine cannot run.
    #[error("{0}")]
    Unsupported(String),
    /// A wait ended because the processing it waited on stopped or restarted;
    /// the request can be retried.
    #[error("{0}")]
    Stopped(String),
    /// Something that should not happen: a task that panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
    /// Stored state could not be decoded.
    #[error("corrupt state: {0}")]
    Corrupt(String),
    /// A training set's spill file could not be written or read.
    #[error("training-set spill file {}: {source}", .path.display())]
    Spill {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Building an Arrow batch failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The result type of the engine crate.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
