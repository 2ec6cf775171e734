//! The one error type of the api crate, and its mapping to gRPC status codes.

use freshet_engine::EngineError;
use freshet_registry::RegistryError;
use freshet_sql::SqlError;
use freshet_storage::StorageError;

/// Everything that can go wrong in the server or the client library.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Definitions did not parse or validate.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The server's configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The gRPC transport failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The server answered with an error.
    #[error("{}", .0.message())]
    Status(tonic::Status),
    /// A local file could not be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        ApiError::Status(status)
    }
}

/// The result type of the api crate.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> Self {
        use tonic::Status;
        let message = error.to_string();
        match error {
            ApiError::Sql(error) | ApiError::Engine(EngineError::Definitions(error)) => {
                sql_status(&error, message)
            }
            ApiError::Engine(EngineError::Registry(error)) => match error {
                RegistryError::Definitions(error) => sql_status(&error, message),
                RegistryError::NotFound { .. } => Status::not_found(message),
                RegistryError::Storage(_) | RegistryError::CorruptRecord { .. } => {
                    Status::internal(message)
                }
            },
            ApiError::Engine(
                EngineError::NotAStream { .. }
                | EngineError::Payload { .. }
                | EngineError::InvalidRequest(_),
            ) => Status::invalid_argument(message),
            ApiError::Engine(EngineError::Storage(StorageError::InvalidArgument(_))) => {
                Status::invalid_argument(message)
            }
            ApiError::Engine(EngineError::Refused(_)) => Status::failed_precondition(message),
            ApiError::Engine(EngineError::Stopped(_)) => Status::unavailable(message),
            ApiError::Status(status) => status,
            _ => Status::internal(message),
        }
    }
}

/// Bad definitions are the caller's to fix; anything else from `sql` is ours.
fn sql_status(error: &SqlError, message: String) -> tonic::Status {
    match error {
        SqlError::Parse { .. } | SqlError::Invalid(_) => tonic::Status::invalid_argument(message),
        SqlError::Internal(_) | SqlError::File { .. } => tonic::Status::internal(message),
    }
}
