//! The one error type of the api crate, and its mapping to gRPC status codes.

use freshet_engine::EngineError;
use freshet_registry::RegistryError;
use freshet_sql::SqlError;
use freshet_storage::StorageError;
use prost::Message;

use crate::proto;

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
    /// The server refused definitions; every problem, located.
    #[error("{}: {message}", code_name(tonic::Code::InvalidArgument))]
    DefinitionsRefused {
        /// The server's message (every problem, in words).
        message: String,
        /// The problems, one by one.
        problems: Vec<proto::DefinitionProblem>,
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

    /// The problem in words: `line 3, column 'ts': reason` (no column part
    /// when no column is at fault).
    pub fn describe(&self) -> String {
        match &self.column {
            Some(column) => format!("{}, column '{column}': {}", self.place(), self.reason),
            None => format!("{}: {}", self.place(), self.reason),
        }
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
        text.push_str(&format!("\n  {}", problem.describe()));
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
    /// without the code; `rows` lists refused input rows and `problems` refused
    /// definitions (each empty otherwise).
    pub fn into_json(self) -> serde_json::Value {
        let mut problems = Vec::new();
        let (code, message, rows) = match self {
            ApiError::DefinitionsRefused {
                message,
                problems: found,
            } => {
                problems = found.iter().map(problem_json).collect();
                (tonic::Code::InvalidArgument, message, Vec::new())
            }
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
            "error": {
                "code": code_name(code),
                "message": message,
                "rows": rows,
                "problems": problems,
            }
        })
    }
}

/// A definitions problem as JSON: `{"file", "object", "field", "sql_line",
/// "sql_column", "reason"}` (absent parts are null).
fn problem_json(problem: &proto::DefinitionProblem) -> serde_json::Value {
    let text = |s: &String| (!s.is_empty()).then(|| s.clone());
    let number = |n: u64| (n > 0).then_some(n);
    serde_json::json!({
        "file": problem.file,
        "object": text(&problem.object),
        "field": text(&problem.field),
        "sql_line": number(problem.sql_line),
        "sql_column": number(problem.sql_column),
        "reason": problem.reason,
    })
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
            ApiError::RowsRefused { .. } | ApiError::DefinitionsRefused { .. } => {
                Status::invalid_argument(message)
            }
            _ => Status::internal(message),
        }
    }
}

/// Bad definitions are the caller's to fix, with every problem in the
/// details ([`proto::DefinitionsRefused`]); anything else from `sql` is ours.
fn sql_status(error: &SqlError, message: String) -> tonic::Status {
    let problems = match error {
        SqlError::Parse { file, message } => vec![proto::DefinitionProblem {
            file: file.clone(),
            reason: message.clone(),
            ..Default::default()
        }],
        SqlError::Invalid(errors) => errors
            .iter()
            .map(|e| proto::DefinitionProblem {
                file: e.file.clone(),
                object: e.object.clone(),
                field: e.field.clone(),
                sql_line: e.sql_position.map_or(0, |(line, _)| line),
                sql_column: e.sql_position.map_or(0, |(_, column)| column),
                reason: e.message.clone(),
            })
            .collect(),
        SqlError::Internal(_) | SqlError::File { .. } => return tonic::Status::internal(message),
    };
    let details = proto::DefinitionsRefused { problems }.encode_to_vec();
    tonic::Status::with_details(tonic::Code::InvalidArgument, message, details.into())
}
