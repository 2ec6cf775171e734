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
    /// The server answered with an error: its code, then its message.
    #[error("{}: {}", code_name(.0.code()), .0.message())]
    Status(tonic::Status),
    /// The server refused rows of an input, each with where and why; nothing
    /// of the refused request was written.
    #[error("{}", refusal_text(.summary, .rows, .written_before))]
    RowsRefused {
        /// What was refused, in words.
        summary: String,
        /// The problems the server reported.
        rows: Vec<RowProblem>,
        /// Rows of earlier requests that were written (standard input is sent
        /// in one pass, so a refusal can come after them).
        written_before: u64,
    },
    /// A local file could not be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

/// One refused row of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The row's 1-based number in the input: the line of a JSON-lines
    /// file, the record (after the header) of a CSV file, the row of a
    /// Parquet file.
    pub row: u64,
    /// Whether the input counts lines (JSON lines) rather than rows.
    pub is_line: bool,
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// Why the row was refused.
    pub reason: String,
}

impl RowProblem {
    /// Where the row is, in words (`line 3`, `row 3`).
    pub fn place(&self) -> String {
        let unit = if self.is_line { "line" } else { "row" };
        format!("{unit} {}", self.row)
    }

    /// The problem as JSON: `{"row": 3, "column": "ts", "reason": "..."}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "row": self.row,
            "column": self.column,
            "reason": self.reason,
        })
    }
}

/// How many refused rows a message lists.
const LISTED_ROWS: usize = 20;

fn refusal_text(summary: &str, rows: &[RowProblem], written_before: &u64) -> String {
    let mut text = format!("{}: {summary}", code_name(tonic::Code::InvalidArgument));
    for problem in rows.iter().take(LISTED_ROWS) {
        match &problem.column {
            Some(column) => text.push_str(&format!(
                "\n  {}, column '{column}': {}",
                problem.place(),
                problem.reason
            )),
            None => text.push_str(&format!("\n  {}: {}", problem.place(), problem.reason)),
        }
    }
    if rows.len() > LISTED_ROWS {
        text.push_str(&format!("\n  ... and {} more", rows.len() - LISTED_ROWS));
    }
    if *written_before > 0 {
        text.push_str(&format!(
            "\n{written_before} earlier rows were written (standard input is sent in one pass)"
        ));
    }
    text
}

/// The canonical name of a gRPC status code (`NOT_FOUND`), as error messages
/// and `--json` output give it.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

impl ApiError {
    /// The error as the CLI's `--json` output gives it:
    /// `{"error": {"code": "NOT_FOUND", "message": "...", "rows": [...]}}`.
    /// `code` is the gRPC status code of the server's answer; an error found
    /// before any answer has the code it would have had (a bad flag or file:
    /// `INVALID_ARGUMENT`; no server: `UNAVAILABLE`). `message` says it once,
    /// without the code; `rows` lists refused input rows (empty otherwise).
    pub fn into_json(self) -> serde_json::Value {
        let (code, message, rows) = match self {
            ApiError::RowsRefused { summary, rows, .. } => (
                tonic::Code::InvalidArgument,
                summary,
                rows.iter().map(RowProblem::to_json).collect(),
            ),
            ApiError::Config(_) | ApiError::File { .. } => {
                (tonic::Code::InvalidArgument, self.to_string(), Vec::new())
            }
            ApiError::Transport(error) => {
                (tonic::Code::Unavailable, with_causes(&error), Vec::new())
            }
            other => {
                let status = tonic::Status::from(other);
                (status.code(), status.message().to_string(), Vec::new())
            }
        };
        serde_json::json!({
            "error": { "code": code_name(code), "message": message, "rows": rows }
        })
    }
}

/// An error and its causes, joined by `: `.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(&format!(": {next}"));
        cause = next.source();
    }
    text
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
            ApiError::RowsRefused { .. } => Status::invalid_argument(message),
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
