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
    /// Building an Arrow batch failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The result type of the engine crate.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
